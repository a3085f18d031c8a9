"""The workbook sent back to an agency: its values in a fresh template, bad cells marked.

Built with the same writer as the template (never the agency's file round-tripped through
openpyxl, which drops validations and cached values), so the agency can fix and resend it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from .findings import Finding
from .vocab import SEVERITY_LABELS
from .reader import Submission
from .template import Meta, Written, write_workbook

ISSUES_SHEET = "问题清单"


def feedback_path(directory: Path, sub: Submission) -> Path:
    stem = re.sub(r'[\\/:*?"<>|\s]+', "_", f"{sub.code or ''}_{sub.agency or sub.path.stem}").strip("_")
    return directory / f"{stem or sub.path.stem}_问题反馈.xlsx"


def write_feedback(sub: Submission, findings: Sequence[Finding], path: Path) -> Path:
    marks: dict = {}
    for f in findings:
        if f.severity == "info":
            continue
        for k in f.cells:
            marks.setdefault(k, []).append(f"【{SEVERITY_LABELS[f.severity]}】{f.message}")
    inputs = {k: v for k, v in sub.inputs.items() if k not in sub.bad_cells}
    meta = Meta(
        year=sub.year,
        agency=sub.agency,
        code=sub.code,
        region=sub.meta.get("region", ""),
        contact=sub.meta.get("contact", ""),
        phone=sub.meta.get("phone", ""),
        kind="feedback",
        extra={"source_file": sub.path.name},
    )

    def issues_sheet(w: Written) -> None:
        ws = w.workbook.add_worksheet(ISSUES_SHEET)
        headers = ["序号", "级别", "规则编号", "工作表", "单元格", "问题说明"]
        for c, (h, width) in enumerate(zip(headers, [6, 8, 24, 30, 16, 100])):
            ws.write_string(0, c, h, w.styles.check_header)
            ws.set_column(c, c, width)
        for i, f in enumerate(findings, start=1):
            row = [str(i), SEVERITY_LABELS.get(f.severity, f.severity), f.rule, f.sheet, f.cell, f.message]
            for c, v in enumerate(row):
                ws.write_string(i, c, v, w.styles.check_cell)
        ws.freeze_panes(1, 0)
        ws.activate()  # the agency opens the file on the list of what to fix
        ws.autofilter(0, 0, max(len(findings), 1), len(headers) - 1)

    # Cells whose text could not be read are shown as typed, so the agency sees what to fix.
    raw_marks = {k: marks.setdefault(k, []) for k in sub.bad_cells}
    for k in raw_marks:
        if not marks[k]:
            marks[k].append(f"无法识别的内容：“{sub.raw.get(k)}”")
    return write_workbook(path, sub.spec, meta, values=inputs, marks=marks, extra_sheets=[issues_sheet])
