"""``xlsxgov extract`` and ``xlsxgov audit``: read the statutory tables from report documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from ..safetext import for_markup as escape  # data, never markup nor terminal control
from rich.table import Table as RichTable

from ..vocab import STATUS_LABELS
from .base import app, console, fail, say
from .files import _print_reports


@app.command("extract")
def extract_command(
    files: list[Path] = typer.Argument(..., help="年度报告文件：.docx .html .htm .mht .pdf .txt，以及经 LibreOffice 转换的 .doc .wps .rtf .odt", metavar="报告"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出（与 validate --json 结构相同）"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="写出填好数据的模板：一个报告时可为 .xlsx 文件，否则为目录"),
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="应使用的表格版本；不一致时报错"),
    show_info: bool = typer.Option(False, "--info", help="同时显示提示信息（空白按0处理、数字拆分等）"),
) -> None:
    """从年度报告文档中读出法定表格（按表格标签定位）并校验。退出码 0 全部合格，1 有错误，2 有文件无法读取。

    示例：
      xlsxgov extract 教育局2025年报.docx -o 教育局.xlsx
      xlsxgov extract 年报 -o 读出的表格
    """
    from .. import spec as spec_mod
    from ..extract import extract_paths
    from ..template import Meta, write_workbook

    if edition:
        spec_mod.load(edition)
    reports = extract_paths(files, edition=edition)
    if output is not None:
        to_dir = len(files) > 1 or output.is_dir() or output.suffix.lower() != ".xlsx"
        if to_dir:
            output.mkdir(parents=True, exist_ok=True)
        for rep in reports:
            sub = rep.submission
            if sub is None:
                continue
            target = output / f"{rep.path.stem}.xlsx" if to_dir else output
            write_workbook(target, sub.spec, Meta(year=sub.year, agency=sub.agency), values=sub.inputs)
            if not as_json:
                say(f"已写出 {escape(str(target))}")
    if as_json:
        print(json.dumps({"files": [r.as_json() for r in reports]}, ensure_ascii=False, indent=1))
    else:
        _print_reports(reports, show_info=show_info)
    if any(r.status == "unreadable" for r in reports):
        raise typer.Exit(2)
    if any(r.status == "invalid" for r in reports):
        raise typer.Exit(1)


@app.command("audit")
def audit_command(
    items: list[Path] = typer.Argument(..., help="存放已公开年度报告的文件夹或报告文件", metavar="文件夹或报告"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="审查结果工作簿（.xlsx）：“报告”“问题”两个工作表"),
) -> None:
    """审查一个地区一年已公开的年度报告：每份报告一行（单位、年度、表格版本、状态、不通过的规则）。

    示例：
      xlsxgov audit 年报 -o 审查.xlsx
    """
    from ..extract.audit import audit_paths, failing_rules, write_audit

    reports = audit_paths(items)
    if not reports:
        fail("没有找到年度报告文件（.docx .html .htm .mht .pdf .txt .doc .wps .rtf .odt）")
    t = RichTable(header_style="bold")
    for h in ("文件", "单位", "年度", "版本", "状态", "不通过的规则"):
        t.add_column(h, overflow="fold")
    for rep in reports:
        sub = rep.submission
        t.add_row(escape(rep.path.name), escape(sub.agency) if sub else "", str(sub.year or "") if sub else "", sub.edition if sub else "",
                  STATUS_LABELS[rep.status], failing_rules(rep) or escape(rep.reason or ""))
    console.print(t)
    counts = {s: sum(1 for r in reports if r.status == s) for s in ("valid", "invalid", "unreadable")}
    say(f"共 {len(reports)} 份报告：合格 {counts['valid']}，有错误 {counts['invalid']}，无法读取 {counts['unreadable']}")
    if output is not None:
        write_audit(reports, output)
        say(f"已写出 {escape(str(output))}")
