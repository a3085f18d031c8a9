"""What every command module of the CLI shares: the Typer app, the consoles, ``fail`` and ``say``."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from ..safetext import for_markup as escape  # data, never markup nor terminal control
from typer.core import TyperGroup

from .. import spec as spec_mod
from ..errors import XlsxgovError

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``错误：message`` on stderr (the message is data, never Rich markup) and exit with ``code``."""
    err_console.print(f"[red]错误：[/red]{escape(message)}", highlight=False)
    raise typer.Exit(code)


def say(text: str) -> None:
    """Print a line on stdout; ``text`` may hold markup written by the command (escape file data)."""
    console.print(text, highlight=False)


class Group(TyperGroup):
    """A command group that turns every ``XlsxgovError`` into its Chinese message and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except XlsxgovError as exc:
            fail(exc.message_zh)


def new_app(help: str) -> typer.Typer:
    """A Typer app (top level or ``campaign``) whose commands report library errors through ``fail``."""
    return typer.Typer(help=help, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, cls=Group)


app = new_app("政府信息公开工作年度报告统计表：生成模板、校验、汇总。")

EditionOption = typer.Option(
    spec_mod.DEFAULT_EDITION, "-e", "--edition", help="表格版本：gov2021（默认）、gov2019、legacy2008，或规格文件路径"
)
