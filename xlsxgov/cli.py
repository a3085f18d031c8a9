"""The ``xlsxgov`` command: a thin Typer layer, every command one call into the library."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import spec as spec_mod
from .template import Meta, write_template

app = typer.Typer(
    help="政府信息公开工作年度报告统计表：生成模板、校验、汇总。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

EditionOption = typer.Option(spec_mod.DEFAULT_EDITION, "-e", "--edition", help="表格版本：gov2021（默认）、gov2019、legacy2008，或规格文件路径")


def _load_spec(edition: str) -> spec_mod.Spec:
    try:
        return spec_mod.load(edition)
    except spec_mod.SpecError as exc:
        err_console.print(f"[red]错误：[/red]{exc}")
        raise typer.Exit(2) from None


@app.command("template")
def template_command(
    output: Path = typer.Option(..., "-o", "--output", help="输出的 .xlsx 文件"),
    edition: str = EditionOption,
    year: Optional[int] = typer.Option(None, "--year", help="报告年度，例如 2024"),
    agency: str = typer.Option("", "--agency", help="单位名称"),
    code: str = typer.Option("", "--code", help="统一社会信用代码"),
    region: str = typer.Option("", "--region", help="所属地区"),
    password: Optional[str] = typer.Option(None, "--password", help="工作表保护密码（默认不设密码）"),
) -> None:
    """生成填报模板（每张法定表格一个工作表，带数据验证、合计公式、勾稽校验和保护）。"""
    spec = _load_spec(edition)
    if output.suffix.lower() != ".xlsx":
        err_console.print(f"[red]错误：[/red]输出文件 {output} 必须以 .xlsx 结尾")
        raise typer.Exit(2)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_template(output, spec, Meta(year=year, agency=agency, code=code, region=region), password=password)
    console.print(f"已生成模板：{output}（{spec.name}）")


def main() -> None:  # pragma: no cover - console script entry
    app()
