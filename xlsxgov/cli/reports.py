"""``xlsxgov extract`` and ``xlsxgov audit``: read the statutory tables from report documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from ..safetext import for_markup as escape  # data, never markup nor terminal control
from rich.table import Table as RichTable

from ..vocab import STATUS_LABELS
from ..errors import os_reason
from .base import app, console, exit_code, fail, say
from .files import _print_reports


@app.command("extract")
def extract_command(
    files: list[Path] = typer.Argument(..., help="年度报告文件或存放报告的文件夹：.docx .html .htm .mht .pdf .txt，以及经 LibreOffice 转换的 .doc .wps .rtf .odt（按内容识别格式）", metavar="报告"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出（与 validate --json 结构相同）"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="写出按报告原样填好的模板：一个报告时可为 .xlsx 文件，否则为目录（每个报告一个工作簿）"),
    code: str = typer.Option("", "--code", help="写入封面的统一社会信用代码（报告中不印代码；只用于一个报告）"),
    edition: Optional[str] = typer.Option(None, "-e", "--edition", help="应使用的表格版本；不一致时报错"),
    show_info: bool = typer.Option(False, "--info", help="同时显示提示信息（空白按0处理、数字拆分等）"),
) -> None:
    """从年度报告文档中读出法定表格（按表格标签定位）并校验。退出码 0 全部合格，1 有错误，2 有文件无法读取。

    示例：
      xlsxgov extract 教育局2025年报.docx -o 教育局.xlsx
      xlsxgov extract 年报 -o 读出的表格
    """
    from .. import spec as spec_mod
    from ..campaign.roster import uscc_error
    from ..extract import extract_paths
    from xlsxwriter.exceptions import FileCreateError

    from ..extract.audit import report_files
    from ..extract.workbook import REPORT_SOURCE, write_extracted
    from ..feedback import write_feedback

    if edition:
        spec_mod.load(edition)
    paths = report_files(files)
    if not paths:
        fail("没有找到年度报告文件（.docx .html .htm .mht .pdf .txt .doc .wps .rtf .odt）")
    if code and (problem := uscc_error(code)):
        fail(f"--code 不是有效的统一社会信用代码：{problem}")
    if code and len(paths) > 1:
        fail(f"--code 只能用于一个报告（每个单位的代码不同），这里有 {len(paths)} 个报告")
    to_dir = output is not None and (len(paths) > 1 or output.is_dir() or output.suffix.lower() != ".xlsx")
    if to_dir and output.suffix.lower() == ".xlsx" and not output.is_dir():
        fail(f"读取 {len(paths)} 个报告时 -o 应为目录（每个报告写出一个工作簿），不能是文件 {output}")
    reports = extract_paths(paths, edition=edition)
    if output is not None:
        _writable_folder(output if to_dir else output.parent)
        taken: set[str] = set()
        for rep in reports:
            sub = rep.submission
            if sub is None:
                continue
            name = f"{rep.path.stem}.xlsx"
            if name.lower() in taken:  # 年报.pdf and 年报.docx: one workbook each
                name = f"{rep.path.stem}_{rep.path.suffix.lstrip('.')}.xlsx"
            taken.add(name.lower())
            target = output / name if to_dir else output
            try:
                if sub.meta.get("source") == REPORT_SOURCE:
                    write_extracted(sub, rep.findings, target, code=code)
                else:  # a workbook under a document's name: its feedback workbook, as validate --feedback
                    write_feedback(sub, rep.findings, target)
            except (OSError, FileCreateError) as exc:
                fail(f"无法写出 {target}：{os_reason(exc.args[0] if isinstance(exc, FileCreateError) else exc)}")
            if not as_json:
                say(f"已写出 {escape(str(target))}")
    if as_json:
        print(json.dumps({"files": [r.as_json() for r in reports]}, ensure_ascii=False, indent=1))
    else:
        _print_reports(reports, show_info=show_info)
    raise typer.Exit(exit_code(r.status for r in reports))


def _writable_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) or stop with a one-line Chinese reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        fail(f"无法写出到 {folder}：路径中有一段是文件，不是目录")
    except OSError as exc:
        fail(f"无法创建目录 {folder}：{os_reason(exc)}")


@app.command("audit")
def audit_command(
    items: list[Path] = typer.Argument(..., help="存放已公开年度报告的文件夹或报告文件", metavar="文件夹或报告"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="审查结果工作簿（.xlsx）：“报告”“问题”两个工作表"),
) -> None:
    """审查一个地区一年已公开的年度报告：每份报告一行（单位、年度、表格版本、状态、不通过的规则）。退出码 0 全部合格，1 有报告存在错误，2 有文件无法读取。

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
        from xlsxwriter.exceptions import FileCreateError

        _writable_folder(output.parent)
        try:
            write_audit(reports, output)
        except (OSError, FileCreateError) as exc:
            fail(f"无法写出 {output}：{os_reason(exc.args[0] if isinstance(exc, FileCreateError) else exc)}")
        say(f"已写出 {escape(str(output))}")
    raise typer.Exit(exit_code(r.status for r in reports))
