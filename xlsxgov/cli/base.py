"""What every command module of the CLI shares: the Typer app, the consoles, ``fail`` and ``say``."""

from __future__ import annotations

import os
from typing import NoReturn

import typer
from rich.console import Console

from ..errors import XlsxgovError
from ..vocab import DEFAULT_EDITION
from .zh import ZhCommand, ZhGroup

console = Console()
err_console = Console(stderr=True)
for _stream in (console, err_console):
    if not _stream.is_terminal:  # piped or redirected: its width cannot change, and Rich would
        _stream.width = _stream.width  # look it up in the environment on every line printed


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``错误：message`` on stderr (the message is data, never Rich markup) and exit with ``code``."""
    from rich.text import Text

    from .text import wrap

    from ..safetext import for_terminal

    # The message's own line breaks stay; anything else that could steer the terminal is shown
    # escaped. Lines are wrapped (never inside a number) only when the width is known: on a
    # terminal or with COLUMNS set; piped into a file or a program, each line stays whole.
    lines = ["错误：" + "\n".join(for_terminal(line) for line in str(message).split("\n"))]
    if err_console.is_terminal or os.environ.get("COLUMNS"):
        lines = wrap(lines[0], err_console.width)
    text = Text("\n".join(lines))
    text.stylize("red", 0, 3)
    err_console.print(text, highlight=False)
    raise typer.Exit(code)


def exit_code(statuses) -> int:
    """The exit code of a command over files (``validate``, ``extract``, ``audit``), from the
    statuses of their reports: 2 when a file could not be read, else 1 when one has errors, else 0."""
    seen = set(statuses)
    return 2 if "unreadable" in seen else 1 if "invalid" in seen else 0


def say(text: str) -> None:
    """Print a line on stdout; ``text`` may hold markup written by the command (escape file data).

    Broken at the console's width where a Chinese reader expects it (``text.wrap``: between
    characters, never inside a number, a path or a cell list): Rich breaks only at spaces, so a
    line such as ``反馈工作簿：demo/campaign/feedback（4 份…）`` was cut after the "4"."""
    from rich.text import Text

    from .text import wrap

    styled = Text.from_markup(text)
    plain = styled.plain
    lines = wrap(plain, console.width)
    starts, pos = [], 0
    for line in lines:
        start = plain.find(line, pos) if line else pos
        if start < 0:  # not a plain cut of the text (cannot happen): Rich lays it out
            console.print(styled, highlight=False)
            return
        starts.append(start)
        pos = start + len(line)
    parts = list(styled.divide(starts[1:]))
    for part in parts:
        part.rstrip()
    console.print(Text("\n").join(parts), highlight=False, soft_wrap=True)


class Group(ZhGroup):
    """A command group that turns every ``XlsxgovError`` into its Chinese message and exit code 2
    (and, as a ``ZhGroup``, prints Typer's and Click's own text in Chinese)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except XlsxgovError as exc:
            fail(exc.message_zh)


class App(typer.Typer):
    """A Typer app whose commands are ``ZhCommand``s unless told otherwise."""

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", ZhCommand)
        return super().command(*args, **kwargs)


def new_app(help: str) -> typer.Typer:
    """A Typer app (top level or a group such as ``campaign``) whose commands report library errors
    through ``fail`` and speak Chinese in their help and parse errors (zh.py)."""
    return App(help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=Group)


app = new_app("政府信息公开工作年度报告统计表：生成模板、校验、汇总。")

EditionOption = typer.Option(
    DEFAULT_EDITION, "-e", "--edition", help="表格版本：gov2021（默认）、gov2019、legacy2008，或规格文件路径"
)
