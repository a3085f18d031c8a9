"""The workbook ``extract -o`` writes: the report's tables in the template, as printed.

Design (what the trial of ``extract -o`` asked for): the workbook says what the document
printed in every cell, or marks where it cannot, and reading it back (``validate``) gives the
same verdict the document got:

- a number printed: that number (money in 万元);
- a blank printed: a blank cell, never 0 (``validate`` then says what it says of any blank,
  e.g. a whole table blank, ``workbook.table_blank``);
- ``/`` (or another word meaning nothing): a blank cell with a comment quoting it;
- text that is no number: that text, red with a comment (the file stays invalid, as feedback);
- a total: its formula where the printed number is what the formula gives (or the total was
  printed blank: then a comment says so); where the report printed another number, that number
  in place of the formula, red with a comment giving the sum of the parts. The formula's cached
  result would not do: a spreadsheet recomputes it and the printed number is gone. So the file
  is what an agency typing the printed figures over the template would have sent, and
  ``validate`` reports the same total errors as ``extract`` (``validate --feedback`` then
  restores the formulas, as for any agency);
- a row whose run-together digits could not be split, a value not found in a table that was
  read: blank, red, with a comment;
- every finding of the extraction (with its place in the document) in the sheet 问题清单,
  which the file opens on; cells named by an error or warning are red with the message.

The hidden metadata says ``source = report``: the report never prints the agency's 统一社会信用代码,
so a workbook written from one is not refused for the missing code (``reader``, ``cover.code``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..compute import to_display, totals_off_formula
from ..feedback import ISSUES_HEADERS, cell_marks, issues_sheet
from ..findings import Finding
from ..reader import Submission, blank_value
from ..template import COVER_FIELDS, COVER_FIRST_ROW, COVER_SHEET, Meta, Written, write_cover_note, write_workbook

REPORT_SOURCE = "report"  # meta "source" of a submission read from a report document

# 问题清单 of an extracted workbook: the places are in the report document, not in the workbook.
EXTRACT_ISSUES_HEADERS = [ISSUES_HEADERS[0], ISSUES_HEADERS[1], ("报告中", 10), ("位置", 24), ISSUES_HEADERS[4], ISSUES_HEADERS[5]]


def write_extracted(sub: Submission, findings: Sequence[Finding], path: Path | str, *, code: str = "") -> Path:
    """Write the tables of report ``sub`` (``extract_report``) to the workbook ``path`` as
    described in the module docstring; ``findings`` are the report's (``FileReport.findings``),
    listed in 问题清单; ``code``: the 统一社会信用代码 for the cover (the report does not print it)."""
    spec = sub.spec
    marks = cell_marks(findings)
    notes: dict = {}
    inputs: dict = {}
    texts: dict = {}
    read_tables = {k[0] for k, place in sub.where.items() if place != ("", "")}
    for cell in spec.cells():
        k = (cell.table.id, cell.row.id, cell.col.id)
        raw, found = sub.raw.get(k), sub.where.get(k, ("", "")) != ("", "")
        if not found and k not in sub.bad_cells and cell.table.id in read_tables:
            # A row printed with fewer values than columns, a label not found: blank, and said.
            marks.setdefault(k, []).insert(0, "报告中找不到此格的数值，未填写（见“问题清单”）")
        if not cell.is_input:
            if sub.typed.get(k) is None and found and k not in sub.bad_cells and blank_value(raw):
                notes.setdefault(k, []).append("报告中此合计印为空白，此处为各分项之和")
            continue
        if k in sub.bad_cells:
            if blank_value(raw):  # not read: digits run together that could not be split
                marks.setdefault(k, []).insert(0, "报告中本行的数字连在一起，无法确定如何拆分，未读取；请对照报告填写")
            else:
                texts[k] = str(raw)
                marks.setdefault(k, []).insert(0, f"报告中印的是“{raw}”，不是可以识别的数字")
        elif sub.typed.get(k) is not None:
            inputs[k] = sub.inputs[k]
        elif not blank_value(raw):
            notes.setdefault(k, []).append(f"报告中此格印为“{str(raw).strip()}”，按空白处理")
    printed_totals = {k: v for k, v in sub.typed.items() if v is not None and k not in sub.bad_cells and not spec.table(k[0]).cell(k[1], k[2]).is_input}
    typed_totals = totals_off_formula(spec, inputs, printed_totals)
    sums = sub.values
    for k, shown in typed_totals.items():
        cell = spec.table(k[0]).cell(k[1], k[2])
        marks.setdefault(k, []).insert(0, f"报告中印的合计为 {to_display(cell, shown)}，各分项之和为 {to_display(cell, sums[k])}；此格保留报告印出的数字（不是公式）")
    meta = Meta(year=sub.year, agency=sub.agency, code=code, extra={"source": REPORT_SOURCE, "source_file": sub.path.name})
    source = (f"取自年度报告“{sub.path.name}”：数字、空白和“/”照报告原样；报告印出的合计与各分项之和不符的，"
              f"保留印出的数字并标红；读取时的发现见“问题清单”")

    def cover_note(w: Written) -> None:
        ws = w.workbook.get_worksheet_by_name(COVER_SHEET)
        write_cover_note(ws, w.styles, COVER_FIRST_ROW + len(COVER_FIELDS), "数据来源", source)  # the free row under the fields

    return write_workbook(path, spec, meta, values=inputs, texts=texts, marks=marks, notes=notes, typed_totals=typed_totals,
                          extra_sheets=[cover_note, issues_sheet(findings, EXTRACT_ISSUES_HEADERS)], in_memory=True)
