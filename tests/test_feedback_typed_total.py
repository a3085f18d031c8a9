"""A total the agency typed over its formula, in the feedback workbook sent back to it.

Found by a new user's trial: the feedback workbook restored the formula (its comment quoting the
number typed), so the file sent back unchanged passed with the sum of the parts, the agency never
having said whether the parts or the total were wrong. The feedback keeps the number typed (red,
unlocked, a comment giving the sum of the parts), as ``extract -o`` keeps a printed total, so the
file stays invalid until the agency corrects the parts or the total.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
from python_calamine import CalamineWorkbook

from xlsxgov import office
from xlsxgov.template import CHECK_SHEET, CONCLUSION_CELL

from test_filling import BALANCED, T3, a1, findings, typed  # noqa: E402

EXE = str(Path(sys.executable).with_name("xlsxgov"))
TOTAL = a1(T3, "new", "total")  # 表三 第一项 总计: the parts give 3 (自然人)


def feedback_of_typed_total(tmp_path: Path) -> tuple[Path, Path]:
    """The agency's file (20 typed over the total of 第一项) and the feedback ``validate --feedback`` wrote."""
    cells = dict(BALANCED)
    cells[(T3, "new", "total")] = 20
    src = typed(tmp_path / "发改局.xlsx", cells)
    proc = subprocess.run([EXE, "validate", str(src), "--feedback", str(tmp_path / "fb")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (fb,) = (tmp_path / "fb").glob("*.xlsx")
    return src, fb


def errors(path: Path) -> list[tuple[str, str]]:
    rep, _ = findings(path)
    return [(f.rule, f.cell) for f in rep.findings if f.severity == "error"]


def test_feedback_sent_back_unchanged_stays_invalid(tmp_path: Path) -> None:
    src, fb = feedback_of_typed_total(tmp_path)
    ((rule, where),) = errors(src)
    assert rule == "t3.row_total" and TOTAL in where
    assert errors(fb) == errors(src)  # sent back unchanged: the same error as the agency's own file
    proc = subprocess.run([EXE, "validate", str(fb)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "合格" not in proc.stdout.split("\n")[0]

    wb = openpyxl.load_workbook(fb)
    cell = wb[T3.sheet][TOTAL]
    assert cell.value == 20 and cell.data_type == "n"  # the number typed, not a formula
    assert "20" in cell.comment.text and "各分项之和为 3" in cell.comment.text and "改正各分项或改正此合计" in cell.comment.text
    assert cell.protection.locked is False  # the sheet is protected: the agency can still correct it
    assert cell.fill.fgColor.rgb.endswith("FFC7CE")

    # The agency corrects the total, or the parts: either way the file passes.
    cell.value = 3
    wb.save(tmp_path / "total-fixed.xlsx")
    assert errors(tmp_path / "total-fixed.xlsx") == []
    wb = openpyxl.load_workbook(fb)
    wb[T3.sheet][a1(T3, "new", "natural")].value = 20
    wb[T3.sheet][a1(T3, "disclosed", "natural")].value = 20
    wb.save(tmp_path / "parts-fixed.xlsx")
    assert errors(tmp_path / "parts-fixed.xlsx") == []


def test_feedback_keeps_the_typed_total_once_an_office_recalculates_it(soffice, tmp_path: Path) -> None:
    """Not a cached result LibreOffice would replace: the number stays, and the workbook's own 校验
    sheet, recalculated, says 不通过 as validate does."""
    _, fb = feedback_of_typed_total(tmp_path)
    (saved,) = office.convert_many([fb], "xlsx", tmp_path / "lo", recalc=True)
    assert [r for r, _ in errors(saved)] == ["t3.row_total"]
    t3 = openpyxl.load_workbook(saved)[T3.sheet]
    assert t3[TOTAL].value == 20
    checks = CalamineWorkbook.from_path(str(saved)).get_sheet_by_name(CHECK_SHEET).to_python(skip_empty_area=False)
    assert str(checks[CONCLUSION_CELL[0]][CONCLUSION_CELL[1]]).startswith("不通过")
