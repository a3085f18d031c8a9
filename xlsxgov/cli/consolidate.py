"""``xlsxgov consolidate``: one regional consolidation from a campaign folder or from files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from ..safetext import for_markup as escape  # data, never markup nor terminal control

from .base import app, fail, say
from .files import load_previous


@app.command("consolidate")
def consolidate_command(
    files: list[Path] = typer.Argument(..., help="报送任务目录，或各单位报送的工作簿、下级的汇总工作簿，或存放它们的文件夹", metavar="目录或文件"),
    output: Path = typer.Option(..., "-o", "--output", help="输出的汇总工作簿（.xlsx）"),
    region: str = typer.Option("", "--region", help="汇总地区名称，例如 某某区（报送任务默认取任务的地区）"),
    include_invalid: bool = typer.Option(False, "--include-invalid", help="有错误的文件也计入汇总（默认不计入）"),
    year: Optional[int] = typer.Option(None, "--year", help="汇总年度；其他年度的文件不计入"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年数据：上年的汇总工作簿、工作簿、文件夹或报送任务目录，用于跨年度校验"),
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="只汇总这一版本的报表，其他版本的文件列入“未报送”表（报送任务取任务的版本）"),
) -> None:
    """汇总多个单位的报表为一个地区汇总工作簿（可再向上一级汇总）。

    参数为一个报送任务目录时，汇总各单位当前合格的报表，名册中未报送、有错误或无法读取的单位列入“未报送”表。

    示例：
      xlsxgov consolidate 任务 -o 汇总.xlsx
      xlsxgov consolidate 甲县汇总.xlsx 乙县汇总.xlsx -o 某市汇总.xlsx --region 某市
    """
    from ..consolidate import consolidate

    if output.suffix.lower() != ".xlsx":
        fail(f"输出文件 {output} 必须以 .xlsx 结尾")
    prev = load_previous(previous)
    result = consolidate(
        files, output, region=region, include_invalid=include_invalid, year=year, previous=prev, edition=edition,
    )
    say(f"已汇总 {len(result.included)} 份报表（共 {result.consolidates} 个单位），{result.spec.name}，{result.year or ''}年度")
    if result.left_out:
        say(f"未汇总 {len(result.left_out)} 个文件：")
        for x in result.left_out:
            say(f"  [magenta]{escape(x.name)}[/magenta]：{escape(x.reason)}")
    if result.missing:
        say(f"未报送 {len(result.missing)} 个单位：{escape('、'.join(m.name for m in result.missing))}")
    for w in result.warnings:
        say(f"[yellow]注意：[/yellow]{escape(w)}")
    if prev is not None:
        shown = [f for f in result.cross_year if f.severity != "info"]
        notes = len(result.cross_year) - len(shown)
        say(f"跨年度校验（上年数据：{escape(str(previous))}）：警告 {len(shown)} 项，提示 {notes} 项")
        for f in shown:
            say(f"  [yellow]警告[/yellow] {escape(f.rule)} {escape(f.where)}：{escape(f.message)}")
    say(f"汇总工作簿：{escape(str(result.path))}")
