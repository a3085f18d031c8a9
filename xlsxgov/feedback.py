"""The workbook sent back to an agency: its values in a fresh template, bad cells marked.

Built with the same writer as the template (never the agency's file round-tripped through
openpyxl, which drops validations and cached values), so the agency can fix and resend it.
It never manufactures data (issue #9, point 1): a cell the agency left blank stays blank, and
what the agency typed that is not a usable number is written back as the text it typed, marked,
so the returned file stays invalid until the agency corrects that very cell; a total typed over
its formula stays the number typed, for the same reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

from .compute import CellKey, to_display, totals_off_formula
from .findings import Finding
from .reader import Submission, blank_value
from .template import NO_DATA_FIELD, Meta, Written, footer_text, print_setup, text_rows, write_workbook
from .vocab import SEVERITY_LABELS

ISSUES_SHEET = "问题清单"
ISSUES_HEADERS = [("序号", 5), ("级别", 6), ("工作表", 26), ("单元格", 12), ("问题说明", 80), ("规则编号", 16)]


def feedback_path(directory: Path, sub: Submission, taken: set[str] | None = None) -> Path:
    """``<code>_<agency>_问题反馈.xlsx`` in ``directory``; a long agency name is cut (the name
    stays under the file system's 255-byte limit, issue #14).

    ``taken``: the names (lower case: Windows and macOS file names ignore case) already given in
    this run, to which the name given is added. A name taken (two files of one agency, e.g.
    公安局.ods and 公安局.xls) becomes ``…_问题反馈_<source stem>_<its extension>.xlsx``, then
    ``问题反馈<n>_…`` (one file name in two folders): no feedback of the run replaces another."""
    from .campaign.mail import safe_filename

    def clean(text: str) -> str:
        return re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("_")

    stem = clean(f"{sub.code or ''}_{(sub.agency or sub.path.stem)[:40]}") or clean(sub.path.stem[:40])
    source = clean(f"{sub.path.stem[:40]}_{sub.path.suffix.lstrip('.')}") or "文件"  # ga.xls: ga_xls, never read as ga.xlsx's
    tries = [f"{stem}_问题反馈.xlsx", f"{stem}_问题反馈_{source}.xlsx"]
    names = (safe_filename(t) for t in tries)
    if taken is None:
        return directory / next(names)
    name = next((n for n in names if n.lower() not in taken), None)
    number = 2
    while name is None or name.lower() in taken:  # one file name in two folders; the number first, where no cut reaches
        name = safe_filename(f"问题反馈{number}_{stem}_{source}.xlsx")
        number += 1
    taken.add(name.lower())
    return directory / name


class FeedbackFolder:
    """The feedback workbooks of one run over many files (``validate --feedback``) in
    ``directory``: one per file with an error or a warning, each at its own path
    (``feedback_path`` with the names of the run taken), never one replacing another of the same
    run. ``written``: (source file, feedback workbook) in the order written."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.written: list[tuple[Path, Path]] = []
        self._taken: set[str] = set()

    def write(self, sub: Submission, findings: Sequence[Finding]) -> Path | None:
        """Write the feedback of ``sub`` when a finding is an error or a warning (None otherwise);
        OSError and xlsxwriter's errors as ``write_workbook`` raises them."""
        if not any(f.severity != "info" for f in findings):
            return None
        path = write_feedback(sub, findings, feedback_path(self.directory, sub, self._taken))
        self.written.append((sub.path, path))
        return path


def typed_text(raw: Any) -> str:
    """What the agency typed, as text: numbers without a spurious ``.0``."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def issues_sheet(findings: Sequence[Finding], headers: Sequence[tuple[str, float]] = ISSUES_HEADERS) -> Callable[[Written], None]:
    """A ``write_workbook`` hook adding the sheet 问题清单: one row per finding (number, severity,
    where, message, rule id; ``headers`` names the columns and their widths), the sheet the file
    opens on (the only selected one)."""

    def hook(w: Written) -> None:
        ws = w.workbook.add_worksheet(ISSUES_SHEET)
        for c, (h, width) in enumerate(headers):
            ws.write_string(0, c, h, w.styles.check_header)
            ws.set_column(c, c, width)
        for i, f in enumerate(findings, start=1):
            row = [str(i), SEVERITY_LABELS.get(f.severity, f.severity), f.sheet, f.cell, f.message, f.rule]
            for c, v in enumerate(row):
                ws.write_string(i, c, v, w.styles.check_rule if c == 5 else w.styles.check_cell)
            ws.set_row(i, text_rows([(f.message, headers[4][1]), (f.sheet, headers[2][1]), (f.cell, headers[3][1])]))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(findings), 1), len(headers) - 1)
        print_setup(ws, landscape=True, repeat=(0, 0), footer=footer_text(w.meta))
        ws.activate()  # the file opens on the list of what to look at (the only selected sheet)

    return hook


def cell_marks(findings: Sequence[Finding]) -> dict[CellKey, list[str]]:
    """Cell key -> the messages of the errors and warnings naming it (``【错误】…``), in order:
    the comment and red fill a feedback workbook (and ``extract -o``'s) puts on that cell."""
    marks: dict[CellKey, list[str]] = {}
    for f in findings:
        if f.severity == "info":
            continue
        for k in f.cells:
            marks.setdefault(k, []).append(f"【{SEVERITY_LABELS[f.severity]}】{f.message}")
    return marks


def write_feedback(sub: Submission, findings: Sequence[Finding], path: Path) -> Path:
    """Write the feedback workbook of ``sub`` to ``path``.

    Cells: what the agency typed (blank stays blank; a value that could not be read is written
    as the text typed, red, with a comment); cells named by an error or warning are red with the
    messages as a comment; a total typed over its formula keeps the number typed (not the
    formula; red, unlocked, and a comment giving the sum of its parts), so the file stays
    invalid until the agency corrects the parts or the total. Sheets: the cover, the tables, 校验, and 问题清单 (opened
    first, the only selected sheet)."""
    marks = cell_marks(findings)
    texts = {k: typed_text(sub.raw.get(k)) for k in sub.bad_cells if not blank_value(sub.raw.get(k))}
    inputs = {k: v for k, v in sub.inputs.items() if k not in sub.bad_cells and not blank_value(sub.raw.get(k))}
    for k in texts:
        marks.setdefault(k, []).insert(0, f"您填写的是“{texts[k]}”，不是可以识别的数字，请改为数字")
    # A total typed over its formula stays the number typed (issue of a new user's trial: the
    # formula restored made the returned file pass, the agency never confirming the sum): which
    # of the total and its parts is wrong is for the agency to say, so the file stays invalid
    # until it does, as ``extract -o`` keeps a printed total its parts do not give.
    typed_totals = totals_off_formula(sub.spec, inputs, {k: v for k, v in sub.typed.items() if k not in sub.bad_cells})
    sums = sub.values
    for k, typed in typed_totals.items():
        cell = sub.spec.table(k[0]).cell(k[1], k[2])
        marks.setdefault(k, []).insert(
            0, f"您在合计单元格中填写了 {to_display(cell, typed)}，各分项之和为 {to_display(cell, sums[k])}；"
            f"此格保留您填写的数字（不是公式），请改正各分项或改正此合计"
        )
    meta = Meta(
        year=sub.year,
        agency=sub.agency,
        code=sub.code,
        region=sub.meta.get("region", ""),
        contact=sub.meta.get("contact", ""),
        phone=sub.meta.get("phone", ""),
        filled_on=sub.meta.get("filled_on", ""),
        kind="feedback",
        no_data=sub.meta.get(NO_DATA_FIELD, ""),
        extra={"source_file": sub.path.name},
    )

    return write_workbook(path, sub.spec, meta, values=inputs, texts=texts, marks=marks, typed_totals=typed_totals,
                          extra_sheets=[issues_sheet(findings)], in_memory=True)
