"""Chinese for what Typer and Click print themselves: help chrome, usage lines, parse errors.

Every ``xlsxgov`` command is built with ``ZhCommand`` / ``ZhGroup`` (``typer.Typer(cls=ZhGroup)``,
``@app.command(cls=ZhCommand)``); their help (``format_help``) first sets Typer's help panel titles.
What is translated, and where:

- usage line: ``用法：xlsxgov template [选项]`` (``format_usage``, the options and subcommand
  metavars);
- help panels: 参数 / 选项 / 命令 / 错误 titles, ``[必填]``, ``[默认：…]`` (Typer's
  ``rich_utils`` constants, which it reads when it renders);
- the value column: ``<整数>`` ``<路径>`` ``<文本>`` instead of ``<int>`` ``<path>`` ``<str>``, nothing
  for a flag instead of ``<bool>`` (``get_params`` gives every parameter without a metavar one);
- ``--help`` itself: 显示本帮助并退出;
- errors (missing option or argument, unknown option or command, a value of the wrong type, an
  option without its value, extra arguments): ``main`` catches Click's exception and prints one
  Chinese line naming the option, with the usage line and where to find help (``zh_message``).

Typer vendors Click since 0.2x (``typer._click``); the classes used here are those (pyproject
pins the Typer versions this was written against).
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer._click import exceptions as click_exc
from typer.core import TyperArgument, TyperCommand, TyperGroup

ABORTED_TEXT = "已中止。"
_localised = False


def _localise_help() -> None:
    """Put the Chinese into Typer's help renderer (``typer.rich_utils``), once, when help is
    first rendered: Typer imports that module (and Rich's Markdown) only for help, and so does
    this, which saves every command run that prints no help about 50 ms of start-up."""
    global _localised
    if _localised:
        return
    from typer import rich_utils

    rich_utils.DEPRECATED_STRING = "（已弃用）"
    rich_utils.DEFAULT_STRING = "[默认：{}]"
    rich_utils.ENVVAR_STRING = "[环境变量：{}]"
    rich_utils.REQUIRED_LONG_STRING = "[必填]"
    rich_utils.ARGUMENTS_PANEL_TITLE = "参数"
    rich_utils.OPTIONS_PANEL_TITLE = "选项"
    rich_utils.COMMANDS_PANEL_TITLE = "命令"
    rich_utils.ERRORS_PANEL_TITLE = "错误"
    rich_utils.ABORTED_TEXT = ABORTED_TEXT
    rich_utils.RICH_HELP = "查看帮助：{command_path} {help_option}"
    rich_utils._make_rich_text = _folding(rich_utils._make_rich_text)
    rich_utils._get_parameter_help = _folding(rich_utils._get_parameter_help)
    _localised = True


def _folding(render):
    """Wrap a Typer help renderer so that its text folds instead of ending in "…": Chinese has
    no spaces to wrap at, and Rich crops a run longer than the column."""

    def wrapped(*args, **kwargs):
        out = render(*args, **kwargs)
        if isinstance(out, Text):
            out.overflow = "fold"
        return out

    return wrapped


USAGE_PREFIX = "用法："
OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."
HELP_TEXT = "显示本帮助并退出"

# Value placeholder in the help table, by the parameter's Python type.
TYPE_METAVARS = {int: "整数", float: "数字", str: "文本", bool: ""}
PATH_METAVAR = "路径"


def _metavar(param: Any) -> str | None:
    """The Chinese placeholder for a parameter without an explicit metavar (None: leave it)."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    args = getattr(annotation, "__args__", None)
    if args:  # Optional[X], list[X]
        annotation = next((a for a in args if a is not type(None)), annotation)
    name = getattr(annotation, "__name__", "")
    if name in ("Path", "PosixPath", "WindowsPath"):
        return PATH_METAVAR
    return TYPE_METAVARS.get(annotation)


def _no_type(ctx) -> None:
    return None


class _ZhMixin:
    """The Chinese parts shared by commands and groups (see the module docstring)."""

    def get_help_option(self, ctx):  # noqa: D401 - Click API
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.help = HELP_TEXT
            opt.metavar = ""
        return opt

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for p in params:
            if isinstance(p, TyperArgument):
                # The Chinese name says what it is; Typer would add <path> beside it.
                p.metavar = p.metavar or _metavar(p) or "值"
                p.display_type_rich = _no_type
            elif p.metavar is None:
                p.metavar = _metavar(p)
        return params

    def format_help(self, ctx, formatter) -> None:
        _localise_help()
        super().format_help(ctx, formatter)

    def format_usage(self, ctx, formatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix=USAGE_PREFIX)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode: bool = True, **extra):
        """Run the command; in standalone mode print Click's errors in Chinese and exit."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exc.NoArgsIsHelpError as exc:
            sys.exit(exc.exit_code)  # Typer printed the help already
        except click_exc.ClickException as exc:
            show_error(exc)
            sys.exit(exc.exit_code)
        except typer.Abort:
            Console(stderr=True).print(ABORTED_TEXT, highlight=False)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


class ZhCommand(_ZhMixin, TyperCommand):
    """A Typer command whose usage, help chrome and parse errors are Chinese."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.options_metavar = OPTIONS_METAVAR


class ZhGroup(_ZhMixin, TyperGroup):
    """A Typer group whose usage, help chrome and parse errors are Chinese."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.options_metavar = OPTIONS_METAVAR
        self.subcommand_metavar = SUBCOMMAND_METAVAR


# Value errors (Typer checks values through pydantic): the part after the option's name.
_VALUE_MESSAGES = (
    (re.compile(r"valid integer"), "应为整数"),
    (re.compile(r"valid number|valid float"), "应为数字"),
    (re.compile(r"valid boolean"), "应为 是/否（true/false）"),
    (re.compile(r"greater than or equal to (\S+)"), "应不小于 {0}"),
    (re.compile(r"less than or equal to (\S+)"), "应不大于 {0}"),
    (re.compile(r"greater than (\S+)"), "应大于 {0}"),
    (re.compile(r"less than (\S+)"), "应小于 {0}"),
    (re.compile(r"(?:File|Directory|Path) (.+) does not exist"), "{0} 不存在"),
    (re.compile(r"(?:File|Directory|Path) (.+) is a file"), "{0} 是文件，应为目录"),
    (re.compile(r"(?:File|Directory|Path) (.+) is a directory"), "{0} 是目录，应为文件"),
)


def _value_message(text: str) -> str:
    for pattern, zh in _VALUE_MESSAGES:
        m = pattern.search(text)
        if m:
            return zh.format(*(g.strip(".'\"") for g in m.groups()))
    return f"格式不正确（{text}）"


def _param_name(param: Any) -> str:
    if param is None:
        return ""
    if isinstance(param, TyperArgument):
        return f"参数“{param.metavar or param.name}”"
    opts = sorted(param.opts, key=len, reverse=True)
    return "选项 " + (opts[0] if opts else param.name)


def zh_message(exc: Exception) -> str:
    """One Chinese line for a Click exception raised while parsing the command line."""
    if isinstance(exc, click_exc.MissingParameter):
        if isinstance(exc.param, TyperArgument):
            return f"缺少{_param_name(exc.param)}"
        return f"缺少必填的{_param_name(exc.param)}"
    if isinstance(exc, click_exc.NoSuchOption):
        text = f"没有选项 {exc.option_name}"
        if exc.possibilities:
            text += f"（是否想用 {'、'.join(sorted(exc.possibilities))}？）"
        return text
    if isinstance(exc, click_exc.BadParameter):
        return f"{_param_name(exc.param) or '参数'} 的值{_value_message(exc.message)}"
    if isinstance(exc, click_exc.BadOptionUsage):
        if "requires an argument" in exc.message or "requires" in exc.message:
            return f"选项 {exc.option_name} 后面需要一个值"
        if "does not take a value" in exc.message:
            return f"选项 {exc.option_name} 不带值"
        return f"选项 {exc.option_name} 用法不正确"
    msg = getattr(exc, "message", str(exc))
    m = re.match(r"No such command '(.+)'\.", msg)
    if m:
        return f"没有命令“{m.group(1)}”"
    m = re.match(r"Got unexpected extra arguments? \((.*)\)", msg)
    if m:
        return f"多余的参数：{m.group(1)}"
    if msg.startswith("Missing command"):
        return "缺少命令"
    return msg


def show_error(exc: Exception) -> None:
    """Print a parse error as the clerk reads it: usage, the problem in Chinese, where help is."""
    console = Console(stderr=True)
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        console.print(escape(ctx.get_usage()), highlight=False)
    console.print(f"[red]错误：[/red]{escape(zh_message(exc))}", highlight=False)
    if ctx is not None:
        console.print(f"查看帮助：{escape(ctx.command_path)} --help", highlight=False)
