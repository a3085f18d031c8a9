"""``xlsxgov validate`` and ``xlsxgov export``: check returned workbooks, export their data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from ..safetext import for_markup as escape  # data, never markup nor terminal control
from rich.table import Table as RichTable

from ..vocab import SEVERITY_LABELS, STATUS_LABELS
from .base import app, console, err_console, say


def load_previous(previous: Optional[Path]):
    """Last year's data for --previous (None without it); its problems are printed as notes.

    A bad path raises ``PreviousError`` (an ``XlsxgovError``), which ends the command."""
    from ..crossyear import load_previous as load

    if previous is None:
        return None
    prev = load(previous)
    for problem in prev.problems:
        err_console.print(f"[yellow]注意（上年数据）：[/yellow]{escape(problem)}", highlight=False)
    return prev


@app.command("validate")
def validate_command(
    files: list[Path] = typer.Argument(..., help="报送的工作簿（.xlsx .xlsm .xls .ods）"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出（结构见 README）"),
    feedback: Optional[Path] = typer.Option(None, "--feedback", help="为有问题的文件生成反馈工作簿的目录"),
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="应使用的表格版本；不一致时报错"),
    show_info: bool = typer.Option(False, "--info", help="同时显示提示信息（空白按0处理等）"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年数据：上年的工作簿、汇总工作簿、文件夹或报送任务目录，用于跨年度校验"),
) -> None:
    """校验报送的工作簿：勾稽关系、数值格式、封面信息。退出码 0 全部合格，1 有错误，2 有文件无法读取。"""
    from ..review import review_files

    reports = review_files(files, edition=edition, previous=load_previous(previous), feedback_dir=feedback)
    if as_json:
        print(json.dumps({"files": [r.as_json() for r in reports]}, ensure_ascii=False, indent=1))
    else:
        _print_reports(reports, show_info=show_info)
    if any(r.status == "unreadable" for r in reports):
        raise typer.Exit(2)
    if any(r.status == "invalid" for r in reports):
        raise typer.Exit(1)


def _print_reports(reports, *, show_info: bool) -> None:
    colours = {"valid": "green", "invalid": "red", "unreadable": "magenta"}
    detailed = len(reports) <= 5
    for rep in reports:
        sub = rep.submission
        who = f"{sub.agency or '（未填单位名称）'} {sub.year or ''}年 {sub.spec.name}" if sub else ""
        status = f"[{colours[rep.status]}]{STATUS_LABELS[rep.status]}[/]"
        line = f"{status} {escape(str(rep.path))}  {escape(who)}"
        if rep.status == "unreadable":
            line += f"  {escape(rep.reason)}"
        else:
            line += f"  错误 {rep.errors} 项，警告 {rep.warnings} 项"
        say(line)
        shown = [f for f in rep.findings if show_info or f.severity != "info"]
        if detailed and shown:
            t = RichTable(show_lines=False, header_style="bold")
            for h in ("级别", "规则", "位置", "说明"):
                t.add_column(h, overflow="fold")
            for f in shown:
                t.add_row(SEVERITY_LABELS[f.severity], escape(f.rule), escape(f.where), escape(f.message))
            console.print(t)
    if len(reports) > 1:
        counts = {s: sum(1 for r in reports if r.status == s) for s in ("valid", "invalid", "unreadable")}
        say(f"共 {len(reports)} 个文件：合格 {counts['valid']}，有错误 {counts['invalid']}，无法读取 {counts['unreadable']}")


@app.command("export")
def export_command(
    files: list[Path] = typer.Argument(..., help="报送的工作簿、汇总工作簿，或报送任务目录"),
    output: Path = typer.Option(..., "-o", "--output", help="输出文件：.csv、.xlsx 或 .parquet"),
    detail: bool = typer.Option(False, "--detail", help="汇总工作簿还导出“明细”表中各单位的数据（sheet 列为“明细”）"),
) -> None:
    """把工作簿中的全部数据导出为一张长表（每个单元格一行）。

    报送任务目录：导出名册中各单位当前报送的报表（合格和有错误的，status 列区分），单位名称和代码取自名册。"""
    from ..export import export_facts

    result = export_facts(files, output, detail=detail)
    for problem in result.unreadable:
        err_console.print(f"[magenta]无法读取：[/magenta]{escape(problem)}", highlight=False)
    if result.skipped:
        say(f"没有数据的单位 {len(result.skipped)} 个：{escape('；'.join(result.skipped))}")
    say(f"已导出 {result.rows} 行（{result.files} 个文件）到 {escape(str(output))}")
    if result.unreadable:
        raise typer.Exit(2)
