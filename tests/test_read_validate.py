"""Reading and validation end to end: seeds through LibreOffice, typed forms, hostile files,
the 校验 sheet against the validator, and a property test on random values."""

from __future__ import annotations

import random
import re
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from hostile_files import HOSTILE
from hostile_files import write_corpus
from seeddata import load_seed
from xlsxgov import office, spec as spec_mod
from xlsxgov.compute import complete, key, to_display
from xlsxgov.layout import layout
from xlsxgov.reader import Unreadable, read_workbook
from xlsxgov.template import (
    CHECK_FIRST_ROW, CHECK_SHEET, CONCLUSION_CELL, META_SHEET, RULE_COL, SEVERITY_COL, VERDICT_COL, Meta, write_template, write_workbook,
)
from xlsxgov.validate import validate_paths
from xlsxgov.values import Kind, money_to_wanyuan, parse_cell

CODE = "91350100M000100Y43"
SEEDS = (0, 1, 2, 3, 4)
FORMATS = ("xlsx", "xls", "ods")
EDITIONS = ("gov2021", "gov2019", "legacy2008")


# --------------------------------------------------------------------------- helpers


def place(spec, cell):
    p = layout(spec)[cell.table.id].place(cell)
    return p.r + 1, p.c + 1  # openpyxl is one-based


def fill(path: Path, spec, meta: Meta, cells: dict, *, totals: bool = True) -> Path:
    """Template, then openpyxl writes ``cells`` {key: value} (inputs, and totals when asked)."""
    write_template(path, spec, meta)
    wb = openpyxl.load_workbook(path)
    for cell in spec.cells():
        k = key(cell)
        if k not in cells or (not cell.is_input and not totals):
            continue
        r, c = place(spec, cell)
        v = cells[k]
        wb[cell.table.sheet].cell(r, c).value = None if v == "" else v
    wb.save(path)
    return path


def fill_seed(n: int, directory: Path) -> Path:
    sd = load_seed(n)
    s = spec_mod.load(sd.edition)
    return fill(directory / f"seed{n:03d}.xlsx", s, Meta(year=sd.year, agency=sd.agency, code=CODE), sd.raw)


def published(cell, raw) -> int | float:
    """The published text in display units (万元 for money); blank and dashes are 0."""
    return to_display(cell, parse_cell(raw, cell.kind).value or 0)


def error_scopes(findings) -> set[tuple[str, frozenset]]:
    return {(f.rule, frozenset(c[2] for c in f.cells)) for f in findings if f.severity == "error"}


def random_inputs(spec, rng: random.Random, *, valid: bool) -> dict:
    """Input values in base units; with ``valid`` the error rules (balance, refused ≥ reasons) hold."""
    vals = {}
    for cell in spec.cells():
        if not cell.is_input:
            continue
        if cell.kind is Kind.MONEY:
            vals[key(cell)] = rng.choice([0, rng.randint(0, 10**9)])
        elif cell.kind is Kind.DELTA:
            vals[key(cell)] = rng.randint(-9, 9)
        else:
            vals[key(cell)] = rng.choice([0, rng.randint(0, 30), rng.randint(0, 3000)])
    if not valid:
        return vals
    for inst in spec.instances():
        cid = inst.check.id
        if cid == "stats.refused_reasons":
            (left,) = inst.check.expr.left.terms
            (right,) = inst.check.expr.right.terms
            parent = [c for c in inst.cells_of(left)][0]
            kids = inst.cells_of(right)
            vals[key(parent)] = sum(vals[key(c)] for c in kids) + rng.randint(0, 5)
    for inst in spec.instances():
        if inst.check.id != "t3.balance":
            continue
        byname = {t.name: inst.cells_of(t) for t in inst.terms()}
        new, cin, cout = byname["new"][0], byname["carried_in"][0], byname["carried_over"][0]
        if not new.is_input:
            continue  # the 总计 column follows from the others
        results = complete(spec, vals)[key(byname["results_total"][0])]
        total = results + vals[key(cout)]
        vals[key(cin)] = rng.randint(0, total)
        vals[key(new)] = total - vals[key(cin)]
    return vals


def display_number(cell, v: int):
    """A base-unit value as a number to type into a cell (万元 for money)."""
    return money_to_wanyuan(v) if cell.kind is Kind.MONEY else v


# --------------------------------------------------------------------------- seeds via LibreOffice


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory, soffice):
    d = tmp_path_factory.mktemp("seeds")
    srcs = [fill_seed(n, d) for n in SEEDS]
    out = {}
    for fmt in FORMATS:
        conv = office.convert_many(srcs, fmt, d / fmt, recalc=True)
        out[fmt] = dict(zip(SEEDS, conv))
    return out


@pytest.fixture(scope="module")
def seed_reports(seed_files):
    return {fmt: dict(zip(SEEDS, validate_paths(list(files.values())))) for fmt, files in seed_files.items()}


@pytest.mark.office
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("n", SEEDS)
def test_seed_facts_equal_published(seed_files, fmt, n):
    sd = load_seed(n)
    sub = read_workbook(seed_files[fmt][n])
    assert sub.edition == sd.edition
    assert sub.agency == sd.agency and sub.year == sd.year and sub.code == CODE
    facts = {(f.table, f.row, f.col): f for f in sub.facts()}
    s = sub.spec
    for cell in s.cells():
        k = key(cell)
        fact = facts[k]
        if cell.is_input or n not in (2, 3):  # 002 and 003 carry wrong typed totals
            assert fact.value == published(cell, sd.raw[k]), (k, sd.raw[k], fact.raw)
        assert fact.sheet == cell.table.sheet and fact.cell
    if n == 2:
        assert facts[("t2", "central_procurement", "purchase_amount")].value == 2.485
    if n == 4:
        assert facts[("t2", "central_procurement", "purchase_amount")].value == 83.8778


@pytest.mark.office
@pytest.mark.parametrize("fmt", FORMATS)
def test_seed_verdicts(seed_reports, fmt):
    reps = seed_reports[fmt]
    for n in (0, 1, 4):
        assert reps[n].status == "valid", [f for f in reps[n].findings if f.severity == "error"]
    assert reps[2].status == "invalid"
    assert error_scopes(reps[2].findings) == {
        ("t3.balance", frozenset({"research"})),
        ("t3.balance", frozenset({"total"})),
        ("t3.results_total", frozenset({"research"})),
        ("t3.results_total", frozenset({"total"})),
    }
    assert reps[3].status == "invalid"
    errs = [f for f in reps[3].findings if f.severity == "error"]
    assert sorted(f.rule for f in errs) == ["stats.answered", "stats.refused_reasons"]
    answered = next(f for f in errs if f.rule == "stats.answered")
    assert "14" in answered.message and "12" in answered.message


# --------------------------------------------------------------------------- property test


def _valid_workbook(path: Path, edition: str, rng: random.Random):
    s = spec_mod.load(edition)
    vals = random_inputs(s, rng, valid=True)
    meta = Meta(year=2024, agency=rng.choice(["市商务局", "区教育局", "县人民政府办公室"]), code=CODE)
    write_workbook(path, s, meta, values=vals)
    return s, vals


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edition=st.sampled_from(EDITIONS), rng=st.randoms(use_true_random=False))
def test_property_roundtrip_and_single_change(tmp_path, edition, rng):
    path = tmp_path / f"p_{edition}.xlsx"
    s, vals = _valid_workbook(path, edition, rng)
    (rep,) = validate_paths([path])
    assert rep.status == "valid", [f for f in rep.findings if f.severity == "error"]
    full = complete(s, vals)
    for f in rep.submission.facts():
        cell = s.table(f.table).cell(f.row, f.col)
        assert f.value == to_display(cell, full[key(cell)]), (f.table, f.row, f.col)
    # one input of a balance rule (or the refused parent) gets +1 → that rule fires at that cell
    rule = "stats.refused_reasons" if edition == "legacy2008" else "t3.balance"
    inst = rng.choice([i for i in s.instances() if i.check.id == rule and any(c.is_input for c in i.cells())])
    cell = rng.choice([c for c in inst.cells() if c.is_input]) if rule == "t3.balance" else inst.cells_of(inst.check.expr.right.terms[0])[0]
    if rule == "stats.refused_reasons":
        bump = vals[key(inst.cells()[0])] - sum(vals[key(c)] for c in inst.cells()[1:]) + 1
    else:
        bump = 1
    wb = openpyxl.load_workbook(path)
    r, c = place(s, cell)
    ws = wb[cell.table.sheet]
    ws.cell(r, c).value = vals[key(cell)] + bump
    wb.save(path)
    (rep,) = validate_paths([path])
    hits = [f for f in rep.findings if f.rule == rule and key(cell) in f.cells]
    assert hits and all(f.severity == "error" for f in hits), rep.findings


# --------------------------------------------------------------------------- typed forms


COUNT_FORMS = {"１２": 12, "1,234": 1234, " 7 ": 7, "/": 0, "-": 0, "—": 0, "无": 0, None: 0}


@pytest.fixture(scope="module")
def typed_files(tmp_path_factory, soffice):
    d = tmp_path_factory.mktemp("typed")
    g19, g21 = spec_mod.load("gov2019"), spec_mod.load("gov2021")
    meta = Meta(year=2020, agency="某区商务局", code=CODE)
    t3 = [c for c in g19.table("t3").cells if c.is_input]
    counts = {key(c): form for c, form in zip(t3, list(COUNT_FORMS) + ["abc", "#REF!"])}
    delta = next(c for c in g19.cells() if c.kind is Kind.DELTA and c.is_input)
    money19 = next(c for c in g19.cells() if c.kind is Kind.MONEY)
    a = {**counts, key(delta): "减4", key(money19): "24850元"}
    money21 = next(c for c in g21.cells() if c.kind is Kind.MONEY)
    srcs = [
        fill(d / "forms19.xlsx", g19, meta, a, totals=False),
        fill(d / "wan21.xlsx", g21, meta, {key(money21): "83.8778万元"}, totals=False),
        fill(d / "bare21.xlsx", g21, meta, {key(money21): "26.55"}, totals=False),
        pasted(d / "pasted19.xlsx", "gov2019", rng=random.Random(7)),
        pasted(d / "pasted21.xlsx", "gov2021", rng=random.Random(8)),
    ]
    # openpyxl would store "#REF!" as an error value; force it to be text the agency typed
    wb = openpyxl.load_workbook(srcs[0])
    for k, form in counts.items():
        if form == "#REF!":
            cell = g19.table(k[0]).cell(k[1], k[2])
            xc = wb[cell.table.sheet].cell(*place(g19, cell))
            xc.value = "#REF!"
            xc.data_type = "s"
    wb.save(srcs[0])
    conv = office.convert_many(srcs, "xlsx", d / "lo", recalc=True)
    return {p.stem: p for p in conv}, {"counts": counts, "delta": delta, "money19": money19, "money21": money21}, {p.stem: p for p in srcs}


PASTED_VALUES: dict[str, dict] = {}


def pasted(path: Path, edition: str, rng: random.Random) -> Path:
    """The tables copied (values only) into a plain workbook: no metadata, a blank row on top,
    sheets renamed, header words broken by spaces and line breaks."""
    src = path.with_name(path.stem + "_src.xlsx")
    s, vals = _valid_workbook(src, edition, rng)
    PASTED_VALUES[path.stem] = complete(s, vals)
    wb_src = openpyxl.load_workbook(src, data_only=True)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for i, table in enumerate(s.tables):
        ws_src = wb_src[table.sheet]
        ws = wb.create_sheet(f"Sheet{i + 1}")
        for row in ws_src.iter_rows():
            for xc in row:
                v = xc.value
                if isinstance(v, str):
                    v = v.replace("商业企业", "商业 企业").replace("本年新制作数量", "本年新\n制作数量")
                ws.cell(xc.row + 1, xc.column).value = v
    wb.save(path)
    return path


@pytest.mark.office
def test_typed_forms_read_as_specified(typed_files):
    files, cells, _ = typed_files
    sub = read_workbook(files["forms19"])
    s = sub.spec
    by_key = {(f.table, f.row, f.col): f for f in sub.facts()}
    for k, form in cells["counts"].items():
        fact = by_key[k]
        if form in COUNT_FORMS:
            assert fact.value == COUNT_FORMS[form], (form, fact)
    assert by_key[key(cells["delta"])].value == -4
    assert by_key[key(cells["money19"])].value == 2.485
    errors = [f for f in sub.findings if f.severity == "error"]
    abc_key = next(k for k, v in cells["counts"].items() if v == "abc")
    ref_key = next(k for k, v in cells["counts"].items() if v == "#REF!")
    abc = [f for f in errors if abc_key in f.cells]
    assert len(abc) == 1 and "abc" in abc[0].message
    assert abc[0].cell == sub.where[abc_key][1] and abc[0].sheet == s.table("t3").sheet
    assert any(ref_key in f.cells for f in errors)
    # LibreOffice recalculated the row totals over text cells ("abc", "无", "—"…): they show
    # #VALUE!, never read as 0. A total whose error comes from text read as a number ("12件")
    # has it put on those cells, which the agency can edit; any other stays at the total.
    # Text read as a blank ("无", "—") breaks the sheet's sums the same way (a second trial).
    normalised = {k for f in sub.findings if f.rule == "cell.normalised" for k in f.cells}
    normalised |= {k for f in sub.findings if f.rule == "blank" for k in f.cells if isinstance(sub.raw.get(k), str) and sub.raw[k].strip()}
    shown = [f for f in errors if f.rule == "cell.error_value"]
    assert all(all(k[2] == "total" for k in f.cells) or set(f.cells) <= normalised for f in shown), shown
    assert any(set(f.cells) <= normalised and "阿拉伯数字" in f.message for f in shown)
    # A total over "abc" or "#REF!" (errors themselves) is not a second error: the part explains it.
    from xlsxgov.compute import input_expansion

    totals_shown = [f for f in shown if all(k[2] == "total" for k in f.cells)]
    assert not [f for f in totals_shown if {abc_key, ref_key} & set(input_expansion(s.table(f.cells[0][0]).cell(*f.cells[0][1:])))]
    assert {k for f in errors for k in f.cells} == {abc_key, ref_key} | {k for f in shown for k in f.cells}
    blanks = {k for f in sub.findings if f.rule == "blank" for k in f.cells}
    assert {k for k, v in cells["counts"].items() if v in ("/", "-", "—", "无", None)} <= blanks
    (rep,) = validate_paths([files["forms19"]])
    assert rep.status == "invalid"
    assert read_workbook(files["wan21"]).facts()  # smoke
    assert {(f.table, f.row, f.col): f.value for f in read_workbook(files["wan21"]).facts()}[key(cells["money21"])] == 83.8778
    assert {(f.table, f.row, f.col): f.value for f in read_workbook(files["bare21"]).facts()}[key(cells["money21"])] == 26.55


@pytest.mark.office
@pytest.mark.parametrize("edition", ["gov2019", "gov2021"])
@pytest.mark.parametrize("saved_by", ["openpyxl", "libreoffice"])
def test_pasted_plain_workbook_read_by_labels(typed_files, edition, saved_by):
    files, _, originals = typed_files
    stem = "pasted19" if edition == "gov2019" else "pasted21"
    path = files[stem] if saved_by == "libreoffice" else originals[stem]
    assert META_SHEET not in CalamineWorkbook.from_path(str(path)).sheet_names
    sub = read_workbook(path)
    assert sub.edition == edition
    assert not [f for f in sub.findings if f.rule.startswith("workbook.")]
    full = PASTED_VALUES[stem]
    for f in sub.facts():
        cell = sub.spec.table(f.table).cell(f.row, f.col)
        assert f.value == to_display(cell, full[key(cell)]), f
        assert f.sheet.startswith("Sheet")


def test_rows_inserted_in_template_noted_as_moved(tmp_path):
    path = tmp_path / "moved.xlsx"
    s, vals = _valid_workbook(path, "gov2021", random.Random(3))
    wb = openpyxl.load_workbook(path)
    wb[s.table("t3").sheet].insert_rows(1, 2)
    wb.save(path)
    sub = read_workbook(path)
    assert any(f.rule == "workbook.moved" and f.severity == "info" for f in sub.findings)
    for k, v in vals.items():
        if k[0] == "t3":
            assert sub.inputs[k] == v


def test_a_row_inserted_inside_a_table_with_numbers_is_a_warning(tmp_path):
    """Found by a second trial: a row "其他主动公开文件 8" inserted in 表二 was skipped without a
    word (only 表二's position was noted). Its numbers are not the form's, and a warning says so;
    every cell of the form is still read right."""
    path = tmp_path / "inserted.xlsx"
    s, vals = _valid_workbook(path, "gov2021", random.Random(4))
    t2 = s.table("t2")
    sub0 = read_workbook(path)
    sheet, a1 = sub0.where[("t2", "regulations", "issued")]
    row = openpyxl.utils.cell.coordinate_from_string(a1)[1]
    wb = openpyxl.load_workbook(path)
    ws = wb[t2.sheet]
    ws.protection.sheet = False
    ws.insert_rows(row + 1)
    ws.cell(row + 1, 1).value = "其他主动公开文件"
    ws.cell(row + 1, openpyxl.utils.cell.column_index_from_string(re.match(r"[A-Z]+", a1).group(0))).value = 8
    wb.save(path)
    sub = read_workbook(path)
    (extra,) = [f for f in sub.findings if f.rule == "workbook.extra_row"]
    assert extra.severity == "warning" and "其他主动公开文件" in extra.message and "（8）" in extra.message
    assert extra.sheet == t2.sheet and extra.cell.endswith(str(row + 1))
    for k, v in vals.items():
        assert sub.inputs[k] == v, k
    assert not [f for f in sub0.findings if f.rule == "workbook.extra_row"]  # the template as issued: none


def test_a_table_filled_in_a_copy_of_its_sheet_is_read_from_the_copy(tmp_path):
    """Found by a new user's trial: the agency filled a copy of 表三 ("表三（填好的）") and left
    the original blank; the report passed with 表三 read as zeros. The copy is read (warning
    workbook.table_copy); with the original filled too, the original is read and the copy named;
    with two filled copies and a blank original, nothing is guessed (error)."""
    path = tmp_path / "filled.xlsx"
    s, vals = _valid_workbook(path, "gov2021", random.Random(5))
    t3 = s.table("t3")
    t3_inputs = {k: v for k, v in vals.items() if k[0] == "t3"}
    sub0 = read_workbook(path)

    def blank_original(wb):
        ws = wb[t3.sheet]
        for k in t3_inputs:
            ws[sub0.where[k][1]].value = None

    wb = openpyxl.load_workbook(path)
    wb.copy_worksheet(wb[t3.sheet]).title = "表三（填好的）"
    wb.save(tmp_path / "both.xlsx")
    blank_original(wb)
    wb.save(tmp_path / "copy.xlsx")
    wb.copy_worksheet(wb["表三（填好的）"]).title = "表三（第二份）"
    wb.save(tmp_path / "two_copies.xlsx")

    sub = read_workbook(tmp_path / "copy.xlsx")
    (note,) = [f for f in sub.findings if f.rule == "workbook.table_copy"]
    assert note.severity == "warning" and "表三（填好的）" in note.message and note.sheet == "表三（填好的）"
    assert {k: sub.inputs[k] for k in t3_inputs} == t3_inputs
    assert sub.where[next(iter(t3_inputs))][0] == "表三（填好的）"
    (report,) = validate_paths([tmp_path / "copy.xlsx"])
    assert "workbook.table_blank" not in {f.rule for f in report.findings}

    sub = read_workbook(tmp_path / "both.xlsx")
    (note,) = [f for f in sub.findings if f.rule == "workbook.table_copy"]
    assert "未读取" in note.message and sub.where[next(iter(t3_inputs))][0] == t3.sheet
    assert {k: sub.inputs[k] for k in t3_inputs} == t3_inputs

    (report,) = validate_paths([tmp_path / "two_copies.xlsx"])
    assert report.status == "invalid" and "workbook.table_copies" in {f.rule for f in report.findings}
    assert not [f for f in sub0.findings if f.rule.startswith("workbook.table_cop")]  # the template as issued


def test_a_cell_of_a_table_without_row_labels_is_named_by_its_column_path(tmp_path):
    """Found by a trial: three blank cells of 表四 were each called "表四 /结果维持"."""
    path = tmp_path / "t4.xlsx"
    s, vals = _valid_workbook(path, "gov2021", random.Random(6))
    t4 = s.table("t4")
    upheld = [c for c in t4.cells if c.is_input and c.col.display == "结果维持"]
    assert len(upheld) == 3
    sub0 = read_workbook(path)
    wb = openpyxl.load_workbook(path)
    for cell in upheld:
        wb[t4.sheet][sub0.where[key(cell)][1]].value = None
    wb.save(path)
    notes = {f.cells[0]: f.message for f in read_workbook(path).findings if f.rule == "blank" and f.cells}
    named = {notes[key(c)].split("：")[0] for c in upheld}
    assert named == {"表四 行政复议/结果维持", "表四 行政诉讼/未经复议直接起诉/结果维持", "表四 行政诉讼/复议后起诉/结果维持"}, named


def test_wrong_edition_is_an_error(tmp_path):
    path = tmp_path / "g19.xlsx"
    _valid_workbook(path, "gov2019", random.Random(1))
    (rep,) = validate_paths([path], edition="gov2021")
    assert rep.status == "invalid"
    assert [f.rule for f in rep.findings if f.severity == "error"] == ["workbook.edition"]
    (rep,) = validate_paths([path], edition="gov2019")
    assert rep.status == "valid"


# --------------------------------------------------------------------------- 校验 sheet vs findings


@pytest.mark.office
def test_check_sheet_verdicts_equal_findings(tmp_path, soffice):
    rng = random.Random(20240601)
    srcs, specs = [], []
    for i in range(6):
        edition = EDITIONS[i % 3]
        s = spec_mod.load(edition)
        # small numbers so that some rules pass and some fail; every third file valid
        vals = random_inputs(s, rng, valid=(i // 3 == 0))
        if i // 3:
            vals = {k: (v if s.table(k[0]).cell(k[1], k[2]).kind is not Kind.COUNT else rng.randint(0, 3)) for k, v in vals.items()}
        cells = {key(c): display_number(c, vals[key(c)]) for c in s.cells() if c.is_input}
        srcs.append(fill(tmp_path / f"chk{i}_{edition}.xlsx", s, Meta(year=2023, agency=f"单位{i}", code=CODE), cells, totals=False))
        specs.append(s)
    conv = office.convert_many(srcs, "xlsx", tmp_path / "lo", recalc=True)
    reps = validate_paths(conv)
    fails_total = 0
    for s, path, rep in zip(specs, conv, reps):
        assert rep.submission is not None
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(CHECK_SHEET).to_python(skip_empty_area=False)
        conclusion = rows[CONCLUSION_CELL[0]][CONCLUSION_CELL[1]]
        rows = rows[CHECK_FIRST_ROW:]
        insts = s.instances()
        assert len([r for r in rows if r and r[RULE_COL]]) == len(insts)
        for inst, row in zip(insts, rows):
            assert row[RULE_COL] == inst.check.id
            assert row[SEVERITY_COL] == {"error": "错误", "warning": "警告"}[inst.check.severity]
            assert row[VERDICT_COL] in ("通过", "不通过"), row
            target = inst.check.implicit_total
            want = {key(c) for c in ([target] if target is not None else inst.cells())}
            found = any(f.severity != "info" and f.rule == inst.check.id and want <= set(f.cells) for f in rep.findings)
            assert (row[VERDICT_COL] == "不通过") == found, (path.name, inst.key, row, [f.message for f in rep.findings if f.rule == inst.check.id])
            fails_total += found
        # The sheet's conclusion says what validate says: errors decide, warnings are warnings.
        assert conclusion.startswith("不通过") == (rep.status == "invalid"), (path.name, conclusion, rep.status)
        assert ("警告" in conclusion) == (rep.warnings > 0), (path.name, conclusion, rep.warnings)
    assert fails_total > 0  # the random files did break some rules


# --------------------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    return write_corpus(d)


def _hostile(corpus):
    return [p for p, code in corpus[: len(HOSTILE)]]


def test_hostile_files_one_by_one(corpus):
    for path, _ in corpus:
        (rep,) = validate_paths([path])
        assert rep.status == "unreadable", path
        assert rep.reason and "\n" not in rep.reason and "Traceback" not in rep.reason, rep.reason
        assert "意外错误" not in rep.reason, rep.reason  # a library bug, not a verdict about the file
        with pytest.raises(Unreadable):
            read_workbook(path)


def test_hostile_files_mixed_with_good(corpus, tmp_path):
    good = [fill_seed(n, tmp_path) for n in SEEDS]
    hostile = _hostile(corpus)
    mixed = []
    for i, p in enumerate(hostile):
        mixed.append(p)
        if i < len(good):
            mixed.append(good[i])
    reps = {r.path: r for r in validate_paths(mixed)}
    assert len(reps) == len(mixed)
    for p in hostile:
        assert reps[p].status == "unreadable" and "\n" not in reps[p].reason
    status = {n: reps[g].status for n, g in zip(SEEDS, good)}
    assert status == {0: "valid", 1: "valid", 2: "invalid", 3: "invalid", 4: "valid"}
