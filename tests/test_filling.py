"""What a returned workbook must not get away with (issue #9, points 1, 2 and 4).

- Feedback never manufactures data: what the agency typed stays, as text, so a file whose
  agency fixes only the other red cells is still invalid.
- An untouched template is not a report (``workbook.unfilled``); 本年度无相关数据 declares an
  all-zero report in one step; a wholly blank table is a warning naming it.
- The 校验 sheet never says 全部通过 while a check cannot be computed (LibreOffice recalculates),
  and its conclusion says what ``validate`` says.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from xlsxgov import office
from xlsxgov import spec as spec_mod
from xlsxgov.feedback import ISSUES_SHEET, write_feedback
from xlsxgov.layout import layout
from xlsxgov.template import (
    CHECK_FIRST_ROW, CHECK_SHEET, CONCLUSION_CELL, COVER_SHEET, META_SHEET, RULE_COL, SCOPE_COL, UNFILLED_CONCLUSION,
    VERDICT_COL, Meta, instance_inputs, scope_text, write_template,
)
from xlsxgov.validate import validate_paths

CODE = "91350100M000100Y43"
SPEC = spec_mod.load("gov2021")
T2, T3, T4 = (SPEC.table(t) for t in ("t2", "t3", "t4"))


def a1(table, row: str, col: str) -> str:
    return layout(SPEC)[table.id].place(table.cell(row, col)).a1


def cover_a1(path: Path, name: str) -> str:
    wb = openpyxl.load_workbook(path, read_only=True)
    refs = {row[1]: row[3] for row in wb[META_SHEET].iter_rows(values_only=True) if row and row[0] == "cover"}
    wb.close()
    return refs[name]


# A balanced report: 3 applications from natural persons, all disclosed; 2 regulations issued.
BALANCED = {
    (T3, "new", "natural"): 3,
    (T3, "disclosed", "natural"): 3,
    (T2, "regulations", "issued"): 2,
    (T2, "regulations", "valid"): 5,
    (T4, "cases", "review_upheld"): 1,
}


def typed(path: Path, cells: dict, *, cover: dict | None = None) -> Path:
    """A template with ``cells`` {(table, row id, col id): value} typed in by openpyxl, as an
    agency's office suite would store them (text stays text: pasted past the validation)."""
    write_template(path, SPEC, Meta(year=2025, agency="测试局", code=CODE))
    wb = openpyxl.load_workbook(path)
    for (table, row, col), v in cells.items():
        wb[table.sheet][a1(table, row, col)].value = v
    for name, v in (cover or {}).items():
        wb[COVER_SHEET][cover_a1(path, name)].value = v
    wb.save(path)
    return path


def findings(path: Path, rule: str | None = None):
    (rep,) = validate_paths([path])
    return rep, [f for f in rep.findings if rule is None or f.rule == rule]


# ---------------------------------------------------------------------------------------------
# 1. Feedback never manufactures data


def test_feedback_keeps_what_was_typed_and_stays_invalid(tmp_path: Path) -> None:
    cells = dict(BALANCED)
    cells[(T3, "new", "business")] = "abc"  # text in a count cell
    cells[(T3, "new", "research")] = 2.5  # not a whole number
    cells[(T3, "carried_in", "natural")] = 4  # breaks t3.balance for 自然人: the "other red cell"
    cells[(T3, "disclosed", "total")] = 99  # a total typed over its formula
    src = typed(tmp_path / "agency.xlsx", cells)
    rep, _ = findings(src)
    assert rep.status == "invalid"
    assert {f.rule for f in rep.findings if f.severity == "error"} >= {"cell.count", "t3.balance", "t3.row_total"}
    fb = write_feedback(rep.submission, rep.findings, tmp_path / "fb.xlsx")

    wb = openpyxl.load_workbook(fb)
    ws = wb[T3.sheet]
    assert ws[a1(T3, "new", "business")].value == "abc"
    assert ws[a1(T3, "new", "research")].value == "2.5"  # as typed, as text: never 0, never rounded
    assert "abc" in ws[a1(T3, "new", "business")].comment.text
    total = ws[a1(T3, "disclosed", "total")]
    assert total.value == 99  # the total typed stays (test_feedback_typed_total.py): never decided for the agency
    assert "99" in total.comment.text and "各分项之和为 3" in total.comment.text
    assert ws[a1(T3, "new", "legal")].value is None  # a blank stays blank, not 0
    # One selected sheet, and it is the list of what to fix (Excel treats two as a group).
    selected = [s.title for s in wb.worksheets if s.sheet_view.tabSelected]
    assert selected == [ISSUES_SHEET] and wb.active.title == ISSUES_SHEET

    # The agency fixes only the other red cell (the balance) and sends the file back.
    ws[a1(T3, "carried_in", "natural")].value = 0
    wb.save(tmp_path / "fixed-other-cells.xlsx")
    back, bad = findings(tmp_path / "fixed-other-cells.xlsx", "cell.count")
    assert back.status == "invalid"
    assert {f.cell for f in bad} == {a1(T3, "new", "business"), a1(T3, "new", "research")}
    assert not [f for f in back.findings if f.rule == "t3.balance"]

    # Only when those cells hold numbers and the total is corrected is the file valid.
    ws[a1(T3, "new", "business")].value = 0
    ws[a1(T3, "new", "research")].value = 0
    total.value = 3
    wb.save(tmp_path / "fixed.xlsx")
    done, _ = findings(tmp_path / "fixed.xlsx")
    assert done.status == "valid", [f.message for f in done.findings if f.severity == "error"]


# ---------------------------------------------------------------------------------------------
# 2. An untouched template is not a report


def test_a_row_the_form_cites_as_an_item_is_named_without_a_second_row_word(tmp_path: Path) -> None:
    """表三's 第一项 is already a row's name: the row-total message says "表三 第一项：", not
    "第一项行" (a trial's finding); other rows keep their 行 ("（一）予以公开行")."""
    cells = dict(BALANCED)
    cells[(T3, "new", "total")] = 99  # typed over the row total of 第一项
    cells[(T3, "disclosed", "total")] = 98  # and of （一）予以公开
    _, bad = findings(typed(tmp_path / "agency.xlsx", cells), "t3.row_total")
    messages = sorted(f.message for f in bad)
    assert len(messages) == 2, messages
    assert messages[0].startswith("表三 第一项：") or messages[1].startswith("表三 第一项："), messages
    assert any(m.startswith("表三 （一）予以公开行：") for m in messages), messages
    assert not any("项行" in m for m in messages), messages


def test_untouched_template_is_unfilled(tmp_path: Path) -> None:
    rep, bad = findings(typed(tmp_path / "blank.xlsx", {}), "workbook.unfilled")
    assert rep.status == "invalid" and len(bad) == 1 and bad[0].severity == "error"
    assert "本年度无相关数据" in bad[0].message
    assert not [f for f in rep.findings if f.rule == "blank"]  # one finding, not 200 notes


def test_no_data_declared_in_one_step(tmp_path: Path) -> None:
    path = typed(tmp_path / "nodata.xlsx", {}, cover={"no_data": "是"})
    rep, notes = findings(path, "cover.no_data")
    assert rep.status == "valid" and [f.severity for f in notes] == ["info"]
    assert all(v == 0 for v in rep.submission.values.values())
    # The cover offers it as a list.
    dvs = openpyxl.load_workbook(path)[COVER_SHEET].data_validations.dataValidation
    (dv,) = [d for d in dvs if cover_a1(path, "no_data") in str(d.sqref)]
    assert dv.type == "list" and "是" in dv.formula1


def test_no_data_with_numbers_is_an_error(tmp_path: Path) -> None:
    rep, bad = findings(typed(tmp_path / "both.xlsx", BALANCED, cover={"no_data": "是"}), "cover.no_data")
    assert rep.status == "invalid" and [f.severity for f in bad] == ["error"]
    assert "表三" in bad[0].message


def test_one_blank_table_is_a_warning_naming_it(tmp_path: Path) -> None:
    cells = {k: v for k, v in BALANCED.items() if k[0] is not T4}
    rep, warned = findings(typed(tmp_path / "no-t4.xlsx", cells), "workbook.table_blank")
    assert rep.status == "valid"
    assert [f.severity for f in warned] == ["warning"]
    assert "表四" in warned[0].message and T4.title in warned[0].message
    assert not [f for f in rep.findings if f.rule == "blank" and f.cells[0][0] == "t4"]


def test_a_few_blank_cells_stay_zero_with_a_note(tmp_path: Path) -> None:
    cells = {(t, r, c): 0 for t in (T2, T3, T4) for cell in t.input_cells for (r, c) in [cell.key]}
    cells.update(BALANCED)
    del cells[(T3, "new", "legal")]
    rep, notes = findings(typed(tmp_path / "few.xlsx", cells), "blank")
    assert rep.status == "valid"
    assert [(f.severity, f.cell) for f in notes] == [("info", a1(T3, "new", "legal"))]
    assert not [f for f in rep.findings if f.rule in ("workbook.unfilled", "workbook.table_blank")]


# ---------------------------------------------------------------------------------------------
# 4. The 校验 sheet, recalculated by LibreOffice, says what validate says


@pytest.mark.office
def test_check_sheet_cannot_compute_text_and_agrees_with_validate(soffice, tmp_path: Path) -> None:
    pasted = dict(BALANCED)
    pasted[(T3, "new", "business")] = "abc"
    warned = dict(BALANCED)
    warned[(T2, "regulations", "issued")] = 9  # 9 > 5 + 0: the t2 warning, nothing else
    files = {
        "pasted": typed(tmp_path / "pasted.xlsx", pasted),
        "warned": typed(tmp_path / "warned.xlsx", warned),
        "nodata": typed(tmp_path / "nodata.xlsx", {}, cover={"no_data": "是"}),
        "blank": typed(tmp_path / "blank.xlsx", {}),
    }
    rep, _ = findings(files["pasted"])
    files["feedback"] = write_feedback(rep.submission, rep.findings, tmp_path / "feedback.xlsx")
    recalculated = dict(zip(files, office.convert_many(list(files.values()), "xlsx", tmp_path / "lo", recalc=True)))
    sheets = {}
    for name, path in recalculated.items():
        grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(CHECK_SHEET).to_python(skip_empty_area=False)
        sheets[name] = grid
    # Text pasted into 表三 商业企业: every check over that cell reads 无法计算, none says 通过.
    insts = SPEC.instances()
    business = ("t3", "new", "business")
    for name in ("pasted", "feedback"):
        rows = sheets[name][CHECK_FIRST_ROW:CHECK_FIRST_ROW + len(insts)]
        for inst, row in zip(insts, rows):
            assert row[RULE_COL] == inst.check.id and row[SCOPE_COL] == scope_text(inst)
            want = "无法计算" if business in instance_inputs(inst) else "通过"
            assert row[VERDICT_COL] == want, (name, inst.key, row)
        stuck = sum(1 for inst in insts if business in instance_inputs(inst))
        assert stuck >= 2
        assert sheets[name][CONCLUSION_CELL[0]][CONCLUSION_CELL[1]] == f"不通过：有{stuck}项错误（其中{stuck}项无法计算：有单元格不是数字）"
    # The conclusion says what validate says.
    for name, path in recalculated.items():
        (rep,) = validate_paths([path])
        text = sheets[name][CONCLUSION_CELL[0]][CONCLUSION_CELL[1]]
        assert (rep.status == "invalid") == (text.startswith("不通过") or text == UNFILLED_CONCLUSION), (name, text, rep.status)
    assert sheets["warned"][CONCLUSION_CELL[0]][CONCLUSION_CELL[1]] == "通过，有1项警告，请核对"
    assert sheets["nodata"][CONCLUSION_CELL[0]][CONCLUSION_CELL[1]] == "全部通过"
    assert sheets["blank"][CONCLUSION_CELL[0]][CONCLUSION_CELL[1]] == UNFILLED_CONCLUSION
    # The feedback file, as written (no recalculation), already says so too.
    cached = CalamineWorkbook.from_path(str(files["feedback"])).get_sheet_by_name(CHECK_SHEET).to_python(skip_empty_area=False)
    assert cached[CONCLUSION_CELL[0]][CONCLUSION_CELL[1]] == sheets["feedback"][CONCLUSION_CELL[0]][CONCLUSION_CELL[1]]


@pytest.mark.office
def test_text_in_a_part_is_one_error_whichever_program_saved_the_file(soffice, tmp_path: Path) -> None:
    """Found by a new user's trial: "见附件" typed in a part gave 1 error in the file as typed and
    4 more (#VALUE! on each total over it) once LibreOffice had recalculated it. The part's error
    explains its totals' error value: one mistake, one error, the same count either way."""
    pasted = dict(BALANCED)
    pasted[(T3, "partial", "natural")] = "见附件"
    typed_file = typed(tmp_path / "typed.xlsx", pasted)
    (saved,) = office.convert_many([typed_file], "xlsx", tmp_path / "lo", recalc=True)
    t3 = CalamineWorkbook.from_path(str(saved)).get_sheet_by_name(T3.sheet).to_python(skip_empty_area=False)
    total = layout(SPEC)["t3"].place(T3.cell("results_total", "natural"))
    assert t3[total.r][total.c] in ("", None)  # LibreOffice shows #VALUE! there (calamine: blank)
    reports = validate_paths([typed_file, saved])
    for rep in reports:
        errors = [f for f in rep.findings if f.severity == "error"]
        assert [(f.rule, f.cell) for f in errors] == [("cell.count", a1(T3, "partial", "natural"))], [f.message for f in errors]


@pytest.mark.office
def test_number_stored_as_text_counts_as_in_validate(soffice, tmp_path: Path) -> None:
    """A number stored as text ("12" pasted, or typed into a cell formatted as text) counts as
    that number in the workbook's own totals and 校验 sheet, as ``validate`` reads it: one
    verdict, not 无法计算 beside 合格. Text that is no number still reads 无法计算."""
    base = dict(BALANCED)
    base[(T3, "new", "business")] = 12
    base[(T3, "third_party", "business")] = 12  # inside sum(denied) of （七）总计
    texts = dict(base)
    texts[(T3, "new", "business")] = "12"
    texts[(T3, "third_party", "business")] = " 12 "
    texts[(T2, "regulations", "issued")] = "2"  # a lone reference on one side of a check
    files = {"numbers": typed(tmp_path / "numbers.xlsx", base), "texts": typed(tmp_path / "texts.xlsx", texts)}
    recalculated = dict(zip(files, office.convert_many(list(files.values()), "xlsx", tmp_path / "lo", recalc=True)))
    reports = {}
    for name, path in recalculated.items():
        (rep,) = validate_paths([path])
        reports[name] = rep
        grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(CHECK_SHEET).to_python(skip_empty_area=False)
        rows = grid[CHECK_FIRST_ROW:CHECK_FIRST_ROW + len(SPEC.instances())]
        assert rep.status == "valid", (name, [f.message for f in rep.findings if f.severity == "error"])
        assert [r[VERDICT_COL] for r in rows] == ["通过"] * len(rows), name
        assert grid[CONCLUSION_CELL[0]][CONCLUSION_CELL[1]] == "全部通过", name
        t3 = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(T3.sheet).to_python(skip_empty_area=False)
        for row, col in (("new", "total"), ("results_total", "business"), ("results_total", "total")):
            cell = T3.cell(row, col)
            place = layout(SPEC)["t3"].place(cell)
            assert t3[place.r][place.c] == rep.submission.values[("t3", row, col)], (name, row, col)
    assert reports["texts"].submission.values == reports["numbers"].submission.values
    # Text that is no number, beside a number stored as text: 无法计算 for its checks only.
    texts[(T3, "new", "legal")] = "abc"
    (path,) = office.convert_many([typed(tmp_path / "abc.xlsx", texts)], "xlsx", tmp_path / "lo2", recalc=True)
    (rep,) = validate_paths([path])
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(CHECK_SHEET).to_python(skip_empty_area=False)
    legal = ("t3", "new", "legal")
    for inst, row in zip(SPEC.instances(), grid[CHECK_FIRST_ROW:]):
        assert row[VERDICT_COL] == ("无法计算" if legal in instance_inputs(inst) else "通过"), (inst.key, row)
    assert rep.status == "invalid" and grid[CONCLUSION_CELL[0]][CONCLUSION_CELL[1]].startswith("不通过")


def test_untouched_template_imported_into_a_campaign_is_an_error(tmp_path: Path) -> None:
    """The same rule when the file arrives through ``campaign import``: the agency is 有错误,
    with workbook.unfilled recorded in the ledger (so ``remind`` chases it)."""
    import shutil
    import sqlite3

    from xlsxgov.campaign.importer import import_paths
    from xlsxgov.campaign.init import init_campaign
    from xlsxgov.campaign.issue import issue_templates
    from xlsxgov.campaign.status import campaign_status

    roster = tmp_path / "roster.csv"
    roster.write_text(f"单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n测试局,{CODE},某县,张三,a@example.com\n", encoding="utf-8")
    d = tmp_path / "c"
    init_campaign(d, year=2025, roster_path=roster, region="某县")
    issue_templates(d)
    (issued,) = (d / "outbox").glob("*.xlsx")
    shutil.copyfile(issued, tmp_path / "returned.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "returned.xlsx")
    wb[COVER_SHEET][cover_a1(tmp_path / "returned.xlsx", "contact")].value = "张三"  # touched the cover only
    wb.save(tmp_path / "returned.xlsx")
    import_paths(d, [tmp_path / "returned.xlsx"])
    (row,) = campaign_status(d)["agencies"]
    assert row["status"] == "invalid"
    conn = sqlite3.connect(d / "ledger.sqlite")
    rules = {r[0] for r in conn.execute("SELECT rule FROM findings WHERE severity='error'")}
    conn.close()
    assert "workbook.unfilled" in rules
