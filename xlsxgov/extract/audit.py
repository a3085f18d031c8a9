"""The yearly review of published reports: extract and validate every report of a folder.

``audit_paths`` expands folders into the report documents they hold (``SUFFIXES``), runs
``extract_paths`` and gives one ``FileReport`` per document; ``write_audit`` writes the review
workbook: sheet ``报告`` (one row per report: file, agency, year, edition, status, the failing
rules) and sheet ``问题`` (every finding that is not a mere note).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import xlsxwriter

from ..validate import FileReport
from ..vocab import SEVERITY_LABELS, STATUS_LABELS
from . import SUFFIXES, extract_paths


def report_files(items: Sequence[Path | str]) -> list[Path]:
    """The report documents named or held (recursively) by ``items``, sorted within a folder."""
    out: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            out.extend(sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(("~$", ".~lock"))))
        else:
            out.append(item)
    return out


def audit_paths(items: Sequence[Path | str]) -> list[FileReport]:
    return extract_paths(report_files(items))


def failing_rules(rep: FileReport) -> str:
    return "、".join(dict.fromkeys(f.rule for f in rep.findings if f.severity == "error"))


def write_audit(reports: Sequence[FileReport], output: Path | str) -> Path:
    """The review workbook (sheets 报告 and 问题). Text from the reports is written as strings,
    never as formulas."""
    output = Path(output)
    wb = xlsxwriter.Workbook(str(output), {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
    plain = wb.add_format({"valign": "top", "border": 1})
    ws = wb.add_worksheet("报告")
    cols = [("文件", 30), ("单位", 26), ("年度", 6), ("版本", 11), ("状态", 8), ("错误", 5), ("警告", 5), ("不通过的规则", 34), ("原因", 34), ("路径", 50)]
    for c, (name, width) in enumerate(cols):
        ws.write_string(0, c, name, head)
        ws.set_column(c, c, width)
    for r, rep in enumerate(reports, 1):
        sub = rep.submission
        # Year and counts are numbers (sorted and summed as such in Excel); a blank when unknown.
        rules_text, reason = failing_rules(rep), rep.reason or ""
        row = [rep.path.name, sub.agency if sub else "", (sub.year if sub else None), sub.edition if sub else "",
               STATUS_LABELS[rep.status], rep.errors if sub else None, rep.warnings if sub else None, rules_text, reason, str(rep.path)]
        lines = max(1, len(rules_text) // 30 + 1, len(reason) // 30 + 1)
        ws.set_row(r, 15 * lines)
        for c, v in enumerate(row):
            if v is None:
                ws.write_blank(r, c, None, plain)
            elif isinstance(v, int):
                ws.write_number(r, c, v, plain)
            else:
                ws.write_string(r, c, v, wrap if c in (7, 8) else plain)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(1, len(reports)), len(cols) - 1)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws2 = wb.add_worksheet("问题")
    cols2 = [("文件", 30), ("单位", 24), ("级别", 8), ("规则", 18), ("位置", 22), ("说明", 90)]
    for c, (name, width) in enumerate(cols2):
        ws2.write_string(0, c, name, head)
        ws2.set_column(c, c, width)
    r = 1
    for rep in reports:
        for f in rep.findings:
            if f.severity == "info":
                continue
            place = " ".join(x for x in (f.sheet, f.cell) if x)
            row = [rep.path.name, rep.submission.agency if rep.submission else "", SEVERITY_LABELS[f.severity], f.rule, place, f.message]
            ws2.set_row(r, 15 * max(1, len(f.message) // 45 + 1, len(place) // 11 + 1))
            for c, v in enumerate(row):
                ws2.write_string(r, c, v, wrap)
            r += 1
    ws2.freeze_panes(1, 0)
    ws2.set_landscape()
    ws2.fit_to_pages(1, 0)
    ws2.repeat_rows(0)
    wb.close()
    return output
