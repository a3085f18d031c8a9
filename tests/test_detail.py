"""The 明细 sheet (xlsxgov/detail.py): what its XML writer puts in a real workbook on disk is, read
back by calamine, openpyxl, the module's own reader and LibreOffice, exactly what each agency's
facts say: every number in the unit the form prints, names, codes and file names as text (never a
formula, whatever they look like), blank for a text cell of the spec."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape
from python_calamine import CalamineWorkbook

from xlsxgov import office
from xlsxgov import spec as spec_mod
from xlsxgov.compute import complete, key, to_display
from xlsxgov.consolidate import consolidate_submissions
from xlsxgov.detail import DETAIL_SHEET, FIXED, read_detail
from xlsxgov.locate import agency_key
from xlsxgov.reader import Submission
from xlsxgov.validate import validate_paths
from xlsxgov.values import MAX_NUMBER, Kind
from xlsxgov.vocab import status_label

from test_consolidate import random_inputs  # noqa: E402

YEAR = 2024
HOSTILE = ["=1+1", "@SUM(A1:A3)", "+86-1", "-2+3", "=HYPERLINK(\"http://x\",\"点我\")", "<r>注入</r>", "甲&乙局",
           "名称_x0041_", "带\x07控制符", "回车\r换行\n制表\t", "  前后空格  ", "0012", ""]


@st.composite
def agencies(draw):
    """An edition and 1-5 agencies: inputs (money to the 分, negative deltas), hostile names,
    codes with leading zeros, status, and some rows that are themselves consolidations."""
    spec = spec_mod.load(draw(st.sampled_from(["gov2021", "gov2019", "legacy2008"])))
    text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
    rows = []
    codes: set[str] = set()
    for i in range(draw(st.integers(1, 5))):
        rng = draw(st.randoms(use_true_random=False))  # 200 cells: drawn from a seed, so that shrinking stays quick
        scale = draw(st.sampled_from([40, 10**6, MAX_NUMBER]))
        inputs = {}
        for cell in spec.cells():
            if not cell.is_input or cell.kind is Kind.TEXT:
                continue
            if cell.kind is Kind.MONEY:  # 分, up to MAX_NUMBER 万元; whole 万元 now and then
                v = rng.choice([0, rng.randint(0, 10**8), rng.randint(0, MAX_NUMBER) * 10**6, rng.randint(0, MAX_NUMBER * 10**6)])
            elif cell.kind is Kind.DELTA:
                v = rng.randint(-scale, scale)
            else:
                v = rng.randint(0, scale)
            inputs[key(cell)] = v
        consolidated = draw(st.booleans())
        code = draw(st.one_of(st.sampled_from(["", "0012", "91350100MA2XYZ1234"]), text))
        if agency_key(code) in codes:  # one report per agency: consolidation refuses two with one code
            code = ""
        codes.add(agency_key(code))
        meta = {
            "agency": draw(text), "code": code,
            "year": str(YEAR), "kind": "consolidated" if consolidated else "template",
            "consolidates": str(draw(st.integers(0, 300))) if consolidated else "", "file_name": draw(text),
        }
        rows.append((Submission(Path(f"/x/{i}.xlsx"), spec, meta, inputs, {}, {}, {}), draw(st.sampled_from(["valid", "invalid"]))))
    return spec, rows


def expected_rows(spec, rows) -> list[list]:
    """What each 明细 row must show: 序号, the fixed texts, then every cell as the form prints it."""
    out = []
    for i, (sub, status) in enumerate(rows):
        consolidated = sub.meta["kind"] == "consolidated"
        count = int(sub.meta["consolidates"] or 0) if consolidated else 1
        values = complete(spec, sub.inputs)
        cells = [None if c.kind is Kind.TEXT else to_display(c, values[key(c)]) for c in spec.cells()]
        label = status_label(status) + ("（汇总表）" if consolidated else "")
        file = sub.meta["file_name"] or sub.path.name  # the file as its sender named it, else its own name
        out.append([i + 1, sub.meta["agency"], sub.meta["code"], label, count, file, *cells])
    return out


def blank_as_none(v):
    return None if v == "" else v


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(agencies())
def test_detail_rows_read_back_as_the_facts(case):
    spec, rows = case
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "region.xlsx"
        consolidate_submissions([s for s, _ in rows], path, region="测试区", year=YEAR,
                                statuses={str(s.path): status for s, status in rows})
        want = expected_rows(spec, rows)
        width = len(FIXED) + sum(1 for _ in spec.cells())

        grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(DETAIL_SHEET).to_python(skip_empty_area=False)
        assert len(grid) == 2 + len(rows)
        for got, exp in zip(grid[2:], want):
            got = [blank_as_none(v) for v in list(got) + [""] * (width - len(got))]
            exp = [blank_as_none(v) for v in exp]
            assert got == exp  # numbers compare as floats; texts exactly, control characters included

        ws = openpyxl.load_workbook(path, read_only=True)[DETAIL_SHEET]
        for got, exp in zip(ws.iter_rows(min_row=3, max_col=width), want):
            assert [type(c.value) is str for c in got[1:4]] == [bool(v) for v in exp[1:4]]  # text cells, never formulas
            assert all(c.data_type != "f" for c in got)
            values = [unescape(c.value) if isinstance(c.value, str) else c.value for c in got]  # openpyxl leaves _xHHHH_ as is
            assert values == [blank_as_none(v) for v in exp]

        sheet = read_detail(path, spec)
        assert sheet is not None and not sheet.missing
        named = [(r, exp) for r, exp in zip(rows, want) if exp[1].strip() or exp[2].strip()]  # rows with neither are skipped
        assert [(r.name, r.code, r.status, r.consolidated) for r in sheet.rows] == [
            (exp[1].strip(), exp[2].strip(), status, sub.meta["kind"] == "consolidated") for (sub, status), exp in named
        ]
        for row, (_, exp) in zip(sheet.rows, named):
            assert [row.cells[key(c)] for c in spec.cells()] == [blank_as_none(v) for v in exp[len(FIXED):]]


def test_hostile_names_stay_text_in_libreoffice(tmp_path, soffice):
    """LibreOffice opens the workbook (and saves it again): every name is the text it was, no
    formula was evaluated, every number is where it was; the regional workbook validates."""
    spec = spec_mod.load("gov2021")
    rows = []
    for i, name in enumerate(HOSTILE[:-1]):
        inputs = random_inputs(spec, random.Random(i))  # every rule passes: the regional workbook is valid
        meta = {"agency": name, "code": f"{i:018d}", "year": str(YEAR), "kind": "template", "file_name": f"{name}.xlsx"}
        rows.append((Submission(tmp_path / f"{i}.xlsx", spec, meta, inputs, {}, {}, {}), "valid"))
    path = tmp_path / "region.xlsx"
    consolidate_submissions([s for s, _ in rows], path, region="测试区", year=YEAR)
    (report,) = validate_paths([path])
    assert report.status == "valid", [f.message for f in report.findings if f.severity == "error"]
    saved = office.convert(path, "xlsx", tmp_path / "lo", recalc=True, timeout=180)
    grid = CalamineWorkbook.from_path(str(saved)).get_sheet_by_name(DETAIL_SHEET).to_python(skip_empty_area=False)
    width = len(FIXED) + sum(1 for _ in spec.cells())
    for got, exp in zip(grid[2:], expected_rows(spec, rows)):
        got = [blank_as_none(v) for v in list(got) + [""] * (width - len(got))]
        # LibreOffice keeps every character but one: a lone \r inside a cell becomes \n when it saves.
        exp = [blank_as_none(v.replace("\r", "\n") if isinstance(v, str) else v) for v in exp]
        got = [v.replace("\r", "\n") if isinstance(v, str) else v for v in got]
        assert got == exp
    assert len(grid) == 2 + len(rows)


@pytest.mark.parametrize("moved", [False, True])
def test_reader_finds_columns_by_their_headers(tmp_path, moved):
    """A clerk who moves a column of 明细 does not make the reader misread it: columns are found
    by their headers; a header that is gone is reported as missing."""
    spec = spec_mod.load("gov2021")
    inputs = {key(c): j for j, c in enumerate(spec.cells()) if c.is_input and c.kind is not Kind.TEXT}
    sub = Submission(tmp_path / "a.xlsx", spec, {"agency": "甲局", "code": "1", "year": str(YEAR)}, inputs, {}, {}, {})
    path = tmp_path / "region.xlsx"
    consolidate_submissions([sub], path, year=YEAR)
    wb = openpyxl.load_workbook(path)
    ws = wb[DETAIL_SHEET]
    first = len(FIXED) + 1  # the first cell column (1-based)
    if moved:  # swap the first two cell columns (both under 表二 规章), labels and values together
        for r in (2, 3):
            a, b = ws.cell(r, first), ws.cell(r, first + 1)
            a.value, b.value = b.value, a.value
    else:  # a header that no longer names a cell
        ws.cell(2, first).value = "别的栏目"
    wb.save(path)
    sheet = read_detail(path, spec)
    cells = list(spec.cells())
    values = complete(spec, inputs)
    if moved:
        assert not sheet.missing
        assert [sheet.rows[0].cells[key(c)] for c in cells[:2]] == [values[key(c)] for c in cells[:2]]
    else:
        assert [key(c) for c in sheet.missing] == [key(cells[0])]


def test_a_money_header_names_its_unit_once():
    """Found by a trial: 明细 read "本年收费金额（单位：万元）（万元）"."""
    from xlsxgov.detail import column_headers
    from xlsxgov.values import Kind

    for edition in spec_mod.available_editions():
        for cell in spec_mod.load(edition).cells():
            label = column_headers(cell)[1]
            assert label.count("万元") == (1 if cell.kind is Kind.MONEY else cell.col_label.count("万元")), (edition, label)
