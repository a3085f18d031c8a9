"""The fill-in template, checked the way its users will meet it: in LibreOffice, against the
official labels of FORMATS.md, against the Python evaluation of the same spec, and with the five
seed reports written into it.

LibreOffice runs three times in the whole module (module-scoped fixtures): one batch that
recalculates and re-saves every workbook as .xlsx, and the blank templates opened with the
default settings (no recalculation) and saved as .ods and as .xlsx.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet.protection import hash_password
from python_calamine import CalamineWorkbook

from xlsxgov import expr as ex
from xlsxgov import office
from xlsxgov import spec as specmod
from xlsxgov.compute import CellKey, CheckResult, complete, instance_is_money, instance_resolver, key, run_checks, to_display
from xlsxgov.layout import layout
from xlsxgov.spec import Spec
from xlsxgov.template import (
    CHECK_FIRST_ROW, CHECK_SHEET, CONCLUSION_CELL, COVER_SHEET, LEFT_COL, META_SHEET, RIGHT_COL, RULE_COL, SCOPE_COL,
    SEVERITY_COL, UNFILLED_CONCLUSION, VERDICT_COL, Meta, scope_text, write_template,
)
from xlsxgov.values import FEN_PER_WANYUAN, Kind, parse_cell

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seeddata import load_seed  # noqa: E402

EDITIONS = ("gov2021", "gov2019", "legacy2008")
RANDOM_SEEDS = (11, 12, 13)
SEED_NUMBERS = (0, 1, 2, 3, 4)
# Where each seed report breaks a rule (FORMATS.md / seeds README): instance keys.
SEED_FAILURES = {
    0: set(),
    1: set(),
    2: {"t3.balance[research]", "t3.balance[total]"},
    3: {"stats.refused_reasons[value]"},
    4: set(),
}
XLSXGOV = Path(sys.executable).with_name("xlsxgov")


# ---------------------------------------------------------------------------------------------
# Helpers


def sheet_grid(path: Path, sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def at(grid: list[list], r: int, c: int):
    return grid[r][c] if r < len(grid) and c < len(grid[r]) else ""


def base_value(raw, money: bool) -> int:
    """A number read back from a sheet, in base units (money 分), insisting on exactness."""
    assert isinstance(raw, (int, float)) and not isinstance(raw, bool), repr(raw)
    if money:
        yuan = Decimal(repr(float(raw))) * FEN_PER_WANYUAN
        assert yuan == yuan.to_integral_value(), raw
        return int(yuan)
    assert float(raw).is_integer(), raw
    return int(raw)


def cell_map(path: Path) -> dict[CellKey, tuple[str, str]]:
    """(table, row, col) -> (sheet, A1), from the workbook's own metadata sheet."""
    wb = openpyxl.load_workbook(path, read_only=True)
    out = {}
    for row in wb[META_SHEET].iter_rows(values_only=True):
        if row and row[0] == "cell":
            out[(row[1], row[2], row[3])] = (row[4], row[5])
    wb.close()
    return out


def fill(template: Path, dest: Path, spec: Spec, inputs: dict[CellKey, int]) -> Path:
    """Type input values (base units) into a copy of ``template`` with openpyxl, formulas kept."""
    where = cell_map(template)
    wb = openpyxl.load_workbook(template)
    for cell in spec.cells():
        if cell.is_input and cell.kind is not Kind.TEXT:
            sheet, a1 = where[key(cell)]
            wb[sheet][a1].value = to_display(cell, inputs.get(key(cell), 0))
    wb.save(dest)
    return dest


def random_inputs(spec: Spec, rng: random.Random, parity: int) -> dict[CellKey, int]:
    """Random inputs; every other rule of the spec's own (not the totals) is then made to hold."""
    inputs: dict[CellKey, int] = {}
    for cell in spec.cells():
        if not cell.is_input or cell.kind is Kind.TEXT:
            continue
        if cell.kind is Kind.COUNT:
            v = rng.choice([0, rng.randint(0, 9), rng.randint(0, 9), rng.randint(10, 5000)])
        elif cell.kind is Kind.DELTA:
            v = rng.choice([rng.randint(-9, 9), rng.randint(-300, 300)])
        else:  # money in 分: most values have 6 decimals in 万元 (5949.088667 万元)
            v = rng.choice([0, rng.randint(1, 999_999), rng.randint(1_000_000, 10**11), 5949088667, 4166241619, 7539443252])
        inputs[key(cell)] = v
    own = [inst for inst in spec.instances() if inst.check.implicit_total is None]
    for i, inst in enumerate(own):
        if (i + parity) % 2 == 0:
            _make_hold(spec, inst, inputs, rng)
    return inputs


def _sides(spec: Spec, inst, inputs) -> tuple[int, int]:
    resolve = instance_resolver(inst, complete(spec, inputs))
    return ex.evaluate_linear(inst.check.expr.left, resolve), ex.evaluate_linear(inst.check.expr.right, resolve)


def _make_hold(spec: Spec, inst, inputs: dict[CellKey, int], rng: random.Random) -> None:
    """Adjust one plain input term so that both sides are equal (which also satisfies <= and >=)."""
    left, right = _sides(spec, inst, inputs)
    diff = left - right
    if diff == 0 or inst.check.expr.op in ("<", ">"):
        return
    candidates = []
    for side, linear in ((1, inst.check.expr.left), (-1, inst.check.expr.right)):
        for term in linear.terms:
            cells = inst.cells_of(term) if term.name and not term.is_sum else []
            if len(cells) == 1 and cells[0].is_input:
                candidates.append((side * term.sign, cells[0]))
    rng.shuffle(candidates)
    for coef, cell in candidates:
        old = inputs[key(cell)]
        new = old - coef * diff
        if new < 0 and cell.kind is not Kind.DELTA:
            continue
        inputs[key(cell)] = new
        left, right = _sides(spec, inst, inputs)
        if left == right:
            return
        inputs[key(cell)] = old


@dataclass
class Case:
    name: str
    spec: Spec
    source: Path
    inputs: dict[CellKey, int]
    values: dict[CellKey, int] = field(init=False)
    results: list[CheckResult] = field(init=False)

    def __post_init__(self) -> None:
        self.values = complete(self.spec, self.inputs)
        self.results = run_checks(self.spec, self.values)


# ---------------------------------------------------------------------------------------------
# Module fixtures: files are built once; LibreOffice runs once per batch.


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("template")


@pytest.fixture(scope="module")
def templates(workdir: Path) -> dict[str, Path]:
    out = {}
    for edition in EDITIONS:
        out[edition] = write_template(workdir / f"blank-{edition}.xlsx", specmod.load(edition), Meta(year=2024, agency="测试局"))
    return out


@pytest.fixture(scope="module")
def random_cases(workdir: Path, templates: dict[str, Path]) -> list[Case]:
    cases = []
    for edition in EDITIONS:
        spec = specmod.load(edition)
        for parity, seed in enumerate(RANDOM_SEEDS):
            inputs = random_inputs(spec, random.Random(f"{edition}-{seed}"), parity)
            dest = fill(templates[edition], workdir / f"random-{edition}-{seed}.xlsx", spec, inputs)
            cases.append(Case(dest.stem, spec, dest, inputs))
    return cases


@pytest.fixture(scope="module")
def seed_cases(workdir: Path) -> dict[int, Case]:
    cases = {}
    for n in SEED_NUMBERS:
        seed = load_seed(n)
        spec = specmod.load(seed.edition)
        inputs = {}
        for cell in spec.cells():
            if cell.is_input and cell.kind is not Kind.TEXT:
                parsed = parse_cell(seed.raw.get(key(cell), ""), cell.kind)
                assert parsed.ok, (n, key(cell), parsed.message)
                inputs[key(cell)] = parsed.value or 0
        blank = write_template(workdir / f"seedblank-{n:03d}.xlsx", spec, Meta(year=seed.year, agency=seed.agency))
        dest = fill(blank, workdir / f"seed-{n:03d}.xlsx", spec, inputs)
        cases[n] = Case(dest.stem, spec, dest, inputs)
    return cases


@pytest.fixture(scope="module")
def odd_files(workdir: Path) -> dict[str, Path]:
    spec = specmod.load("gov2021")
    return {
        "formula_agency": write_template(workdir / "agency-formula.xlsx", spec, Meta(year=2024, agency="=1+1", region="@SUM(1)")),
        "password": write_template(workdir / "password.xlsx", spec, Meta(year=2024, agency="测试局"), password="s3cret"),
    }


@pytest.fixture(scope="module")
def recalculated(soffice, workdir, templates, random_cases, seed_cases, odd_files) -> dict[str, Path]:
    """Every workbook of the module, recalculated and re-saved as .xlsx by one LibreOffice run."""
    srcs = [*templates.values(), *(c.source for c in random_cases), *(c.source for c in seed_cases.values()), *odd_files.values()]
    outs = office.convert_many(srcs, "xlsx", workdir / "lo-recalc", recalc=True)
    return {src.stem: out for src, out in zip(srcs, outs)}


@pytest.fixture(scope="module")
def blank_default(soffice, workdir, templates) -> dict[tuple[str, str], Path]:
    """The blank templates opened with LibreOffice's default (never recalculate), saved as ods and xlsx."""
    out = {}
    srcs = list(templates.values())
    for fmt in ("ods", "xlsx"):
        for edition, path in zip(templates, office.convert_many(srcs, fmt, workdir / f"lo-default-{fmt}", recalc=False)):
            out[(edition, fmt)] = path
    return out


# ---------------------------------------------------------------------------------------------
# Official labels (FORMATS.md, gov2021), copied verbatim.

GOV2021_LABELS = {
    "二、主动公开政府信息情况": [
        "二、主动公开政府信息情况",
        "第二十条第（一）项",
        "第二十条第（五）项",
        "第二十条第（六）项",
        "第二十条第（八）项",
        "信息内容",
        "本年制发件数",
        "本年废止件数",
        "现行有效件数",
        "本年处理决定数量",
        "本年收费金额（单位：万元）",
        "规章",
        "行政规范性文件",
        "行政许可",
        "行政处罚",
        "行政强制",
        "行政事业性收费",
    ],
    "三、收到和处理政府信息公开申请情况": [
        "三、收到和处理政府信息公开申请情况",
        "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
        "申请人情况",
        "自然人",
        "法人或其他组织",
        "总计",
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
    ],
    "四、政府信息公开行政复议、行政诉讼情况": [
        "四、政府信息公开行政复议、行政诉讼情况",
        "行政复议",
        "行政诉讼",
        "结果维持",
        "结果纠正",
        "其他结果",
        "尚未审结",
        "总计",
        "未经复议直接起诉",
        "复议后起诉",
    ],
}

# Table 三's rows, in order, as in FORMATS.md (the ▸ marks dropped).
GOV2021_T3_ROWS = [
    "一、本年新收政府信息公开申请数量",
    "二、上年结转政府信息公开申请数量",
    "三、本年度办理结果",
    "（一）予以公开",
    "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
    "（三）不予公开",
    "1.属于国家秘密",
    "2.其他法律行政法规禁止公开",
    "3.危及“三安全一稳定”",
    "4.保护第三方合法权益",
    "5.属于三类内部事务信息",
    "6.属于四类过程性信息",
    "7.属于行政执法案卷",
    "8.属于行政查询事项",
    "（四）无法提供",
    "1.本机关不掌握相关政府信息",
    "2.没有现成信息需要另行制作",
    "3.补正后申请内容仍不明确",
    "（五）不予处理",
    "1.信访举报投诉类申请",
    "2.重复申请",
    "3.要求提供公开出版物",
    "4.无正当理由大量反复申请",
    "5.要求行政机关确认或重新出具已获取信息",
    "（六）其他处理",
    "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
    "3.其他",
    "（七）总计",
    "四、结转下年度继续办理",
]

GOV2019_LABELS = {
    "二、主动公开政府信息情况": [
        "第二十条第（一）项",
        "第二十条第（五）项",
        "第二十条第（六）项",
        "第二十条第（八）项",
        "第二十条第（九）项",
        "信息内容",
        "本年新制作数量",
        "本年新公开数量",
        "对外公开总数量",
        "上一年项目数量",
        "本年增/减",
        "处理决定数量",
        "采购项目数量",
        "采购总金额",
        "规章",
        "规范性文件",
        "行政许可",
        "其他对外管理服务事项",
        "行政处罚",
        "行政强制",
        "行政事业性收费",
        "政府集中采购",
    ],
    "三、收到和处理政府信息公开申请情况": [r for r in GOV2021_T3_ROWS if not r.startswith(("1.申请人", "2.申请人", "3.其他"))],
}


def _source_sheet(path: Path, sheet: str):
    return openpyxl.load_workbook(path)[sheet]


def _strings(ws) -> list[str]:
    return [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def _span(ws, a1: str) -> tuple[int, int]:
    """(rows, columns) of the merged range anchored at ``a1`` ((1, 1) when not merged)."""
    for rng in ws.merged_cells.ranges:
        if rng.coord.split(":")[0] == a1:
            return rng.max_row - rng.min_row + 1, rng.max_col - rng.min_col + 1
    return 1, 1


def _find(ws, text: str) -> list[str]:
    return [c.coordinate for row in ws.iter_rows() for c in row if c.value == text]


@pytest.mark.parametrize("edition, labels", [("gov2021", GOV2021_LABELS), ("gov2019", GOV2019_LABELS)])
def test_official_labels_printed_verbatim(templates, edition, labels) -> None:
    wb = openpyxl.load_workbook(templates[edition])
    for sheet, expected in labels.items():
        strings = set(_strings(wb[sheet]))
        missing = [label for label in expected if label not in strings]
        assert not missing, (sheet, missing)


def test_gov2021_table3_rows_in_order_and_spans(templates) -> None:
    ws = _source_sheet(templates["gov2021"], "三、收到和处理政府信息公开申请情况")
    strings = _strings(ws)  # row-major reading order
    positions = [strings.index(label) for label in GOV2021_T3_ROWS]
    assert positions == sorted(positions)
    # Header: the corner spans 3 label columns x 3 header rows; 申请人情况 spans the 7 data columns.
    (corner,) = _find(ws, GOV2021_LABELS["三、收到和处理政府信息公开申请情况"][1])
    assert _span(ws, corner) == (3, 3)
    (applicants,) = _find(ws, "申请人情况")
    assert _span(ws, applicants) == (1, 7)
    assert _span(ws, _find(ws, "自然人")[0]) == (2, 1)
    assert _span(ws, _find(ws, "法人或其他组织")[0]) == (1, 5)
    assert _span(ws, _find(ws, "总计")[0]) == (2, 1)
    for label in ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"):
        assert _span(ws, _find(ws, label)[0]) == (1, 1), label
    # Rows 一 二 四 span the three label columns; （一）（二）（七） span two.
    for label in (GOV2021_T3_ROWS[0], GOV2021_T3_ROWS[1], GOV2021_T3_ROWS[-1]):
        assert _span(ws, _find(ws, label)[0]) == (1, 3), label
    for label in ("（一）予以公开", GOV2021_T3_ROWS[4], "（七）总计"):
        assert _span(ws, _find(ws, label)[0]) == (1, 2), label
    # 三、本年度办理结果 spans every result row, down to （七）.
    (results,) = _find(ws, "三、本年度办理结果")
    assert _span(ws, results) == (22, 1)
    assert ws[results].row + 21 == ws[_find(ws, "（七）总计")[0]].row


def test_gov2021_table4_header_spans(templates) -> None:
    ws = _source_sheet(templates["gov2021"], "四、政府信息公开行政复议、行政诉讼情况")
    assert _span(ws, _find(ws, "行政复议")[0]) == (1, 5)
    assert _span(ws, _find(ws, "行政诉讼")[0]) == (1, 10)
    assert _span(ws, _find(ws, "未经复议直接起诉")[0]) == (1, 5)
    assert _span(ws, _find(ws, "复议后起诉")[0]) == (1, 5)
    upheld = _find(ws, "结果维持")
    assert len(upheld) == 3
    assert [_span(ws, a1) for a1 in upheld] == [(2, 1), (1, 1), (1, 1)]


def test_gov2021_table2_single_value_columns_span_three(templates) -> None:
    ws = _source_sheet(templates["gov2021"], "二、主动公开政府信息情况")
    for label in ("本年处理决定数量", "本年收费金额（单位：万元）"):
        for a1 in _find(ws, label):
            assert _span(ws, a1) == (1, 3), (label, a1)
    for label in ("行政许可", "行政处罚", "行政强制", "行政事业性收费"):
        (a1,) = _find(ws, label)
        value_cell = ws.cell(ws[a1].row, ws[a1].column + 1).coordinate
        assert _span(ws, value_cell) == (1, 3), label


# ---------------------------------------------------------------------------------------------
# Every data cell can be found from its row label and column label alone: an independent
# locator that reads only the sheet (values and merged ranges), never layout.py.


class Locator:
    def __init__(self, ws) -> None:
        self.values = {(c.row - 1, c.column - 1): c.value for row in ws.iter_rows() for c in row if c.value is not None}
        self.extent = {}
        for rng in ws.merged_cells.ranges:
            self.extent[(rng.min_row - 1, rng.min_col - 1)] = (rng.max_row - 1, rng.max_col - 1)
        self.nrows = ws.max_row

    def where(self, text: str, rows=None, cols=None) -> list[tuple[int, int]]:
        return sorted(
            (r, c)
            for (r, c), v in self.values.items()
            if v == text and (rows is None or r in rows) and (cols is None or c in cols)
        )

    def span(self, r: int, c: int) -> tuple[int, int]:
        return self.extent.get((r, c), (r, c))

    def row_of(self, path: tuple[str, ...]) -> int:
        """The sheet row whose cells hold the row label; among equal labels, the one whose
        ancestors' labels are nearest above it."""
        best: list[tuple[int, int]] = []
        for r, _c in self.where(path[-1]):
            below, score = r, 0
            for ancestor in reversed(path[:-1]):
                above = [ar for ar, _ in self.where(ancestor) if ar <= below]
                if not above:
                    break
                score += below - max(above)
                below = max(above)
            else:
                best.append((score, r))
        assert best, f"row label {path} not found"
        best.sort()
        assert len(best) == 1 or best[0][0] < best[1][0], f"row label {path} is ambiguous: {best}"
        return best[0][1]

    def column_of(self, path: tuple[str, ...], data_row: int | None) -> tuple[int, int]:
        """(first grid column, last header row) of the leaf header: the nearest header above the
        data row carrying the top label, then each lower label walked left to right inside it."""
        above = range(data_row) if data_row is not None else range(self.nrows)
        hits = self.where(path[0], rows=above)
        assert hits, f"column label {path[0]} not found"
        top = max(r for r, _ in hits) if data_row is not None else min(r for r, _ in hits)
        (r, c1), *rest = [h for h in hits if h[0] == top]
        assert not rest, f"column label {path[0]} twice in one header row"
        r2, c2 = self.span(r, c1)
        for label in path[1:]:
            inside = self.where(label, rows=range(r2 + 1, self.nrows), cols=range(c1, c2 + 1))
            assert inside, f"column label {label} not found under {path}"
            nearest = min(hr for hr, _ in inside)
            r, c1 = min(h for h in inside if h[0] == nearest)  # walk left to right
            r2, c2 = self.span(r, c1)
        return c1, r2

    def locate(self, row_path: tuple[str, ...], col_path: tuple[str, ...]) -> tuple[int, int]:
        if row_path:
            r = self.row_of(row_path)
            c, _ = self.column_of(col_path, r)
            return r, c
        c, header_bottom = self.column_of(col_path, None)  # an unlabelled row: right below the header
        return header_bottom + 1, c


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_cell_found_from_its_labels(templates, edition) -> None:
    spec = specmod.load(edition)
    lays = layout(spec)
    wb = openpyxl.load_workbook(templates[edition])
    checked = 0
    for table in spec.tables:
        loc = Locator(wb[table.sheet])
        for cell in table.cells:
            place = lays[table.id].place(cell)
            assert loc.locate(cell.row.path, cell.col.path) == (place.r, place.c), (table.id, cell.key)
            checked += 1
    assert checked == sum(len(t.cells) for t in spec.tables)


@pytest.mark.parametrize("edition", EDITIONS)
def test_metadata_map_matches_layout(templates, edition) -> None:
    spec = specmod.load(edition)
    lays = layout(spec)
    expected = {key(c): (c.table.sheet, lays[c.table.id].place(c).a1) for c in spec.cells()}
    assert cell_map(templates[edition]) == expected


# ---------------------------------------------------------------------------------------------
# LibreOffice opens and re-saves every edition; validation, protection, formulas, merges survive.


def _dv_cells(ws) -> set[str]:
    covered = set()
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            min_col, min_row, max_col, max_row = range_boundaries(rng.coord)
            for r in range(min_row, max_row + 1):
                for c in range(min_col, max_col + 1):
                    covered.add(f"{get_column_letter(c)}{r}")
    return covered


@pytest.mark.office
@pytest.mark.parametrize("edition", EDITIONS)
def test_libreoffice_resave_keeps_the_template_working(recalculated, templates, edition) -> None:
    spec = specmod.load(edition)
    lays = layout(spec)
    out = recalculated[templates[edition].stem]
    source = openpyxl.load_workbook(templates[edition])
    wb = openpyxl.load_workbook(out)  # data_only=False: formulas as formulas
    assert wb.sheetnames == source.sheetnames
    for table in spec.tables:
        ws, src = wb[table.sheet], source[table.sheet]
        lay = lays[table.id]
        assert ws.protection.sheet is True, table.sheet
        dvs = ws.data_validations.dataValidation
        assert len(dvs) > 0
        covered = _dv_cells(ws)
        for cell in table.cells:
            a1 = lay.place(cell).a1
            if cell.is_input:
                assert a1 in covered, (table.id, cell.key, a1)
                assert ws[a1].protection.locked is False, (table.id, cell.key)
                assert ws[a1].value is None  # input cells start blank (issue #9, point 2)
            else:
                value = ws[a1].value
                assert isinstance(value, str) and value.startswith("="), (table.id, cell.key, value)
                assert ws[a1].protection.locked is not False
        kinds_by_type = {dv.type for dv in dvs}
        assert "whole" in kinds_by_type
        assert any(dv.errorStyle in (None, "stop") and dv.showErrorMessage for dv in dvs)
        # Every merged header of the template is still merged.
        before = {str(r) for r in src.merged_cells.ranges}
        after = {str(r) for r in ws.merged_cells.ranges}
        assert before <= after, before - after
        header_boxes = [b for b in lay.boxes if b.merged and b.role in ("corner", "col_header", "block_header", "row_label")]
        for b in header_boxes:
            rng = f"{get_column_letter(b.c1 + 1)}{b.r1 + 1}:{get_column_letter(b.c2 + 1)}{b.r2 + 1}"
            assert rng in after, (b.text, rng)
            assert ws.cell(b.r1 + 1, b.c1 + 1).value == b.text
    checks = wb[CHECK_SHEET]
    assert checks.protection.sheet is True
    assert wb[COVER_SHEET].protection.sheet is True
    for i in range(len(spec.instances())):
        r = CHECK_FIRST_ROW + i + 1
        for c in (LEFT_COL + 1, RIGHT_COL + 1, VERDICT_COL + 1):
            v = checks.cell(r, c).value
            assert isinstance(v, str) and v.startswith("="), (r, c, v)
    # The metadata sheet is still there (LibreOffice keeps it hidden, though only "hidden").
    assert wb[META_SHEET].sheet_state in ("hidden", "veryHidden")


# ---------------------------------------------------------------------------------------------
# Template and validator agree: LibreOffice's recalculated totals and verdicts equal Python's.


def assert_agrees(case: Case, recalculated_path: Path) -> None:
    lays = layout(case.spec)
    for table in case.spec.tables:
        grid = sheet_grid(recalculated_path, table.sheet)
        for cell in table.cells:
            if cell.kind is Kind.TEXT:
                continue
            p = lays[table.id].place(cell)
            got = base_value(at(grid, p.r, p.c), cell.kind is Kind.MONEY)
            assert got == case.values[key(cell)], (case.name, key(cell), p.a1, got, case.values[key(cell)])
    grid = sheet_grid(recalculated_path, CHECK_SHEET)
    failing = 0
    for i, res in enumerate(case.results):
        row = grid[CHECK_FIRST_ROW + i]
        inst = res.instance
        money = instance_is_money(inst)
        where = (case.name, i, inst.key)
        assert row[RULE_COL] == inst.check.id and row[SCOPE_COL] == scope_text(inst), where
        assert row[SEVERITY_COL] == {"error": "错误", "warning": "警告"}[inst.check.severity], where
        assert base_value(row[LEFT_COL], money) == res.left, (where, row[LEFT_COL], res.left)
        assert base_value(row[RIGHT_COL], money) == res.right, (where, row[RIGHT_COL], res.right)
        assert row[VERDICT_COL] == res.verdict, (where, row[VERDICT_COL], res.verdict)
        failing += not res.passed
    assert len(grid) >= CHECK_FIRST_ROW + len(case.results)
    assert at(grid, CHECK_FIRST_ROW + len(case.results), VERDICT_COL) == ""
    errors = sum(1 for r in case.results if not r.passed and r.instance.check.severity == "error")
    warnings = sum(1 for r in case.results if not r.passed and r.instance.check.severity == "warning")
    # The conclusion says what validate says: errors decide, warnings are listed as warnings.
    if errors:
        want = f"不通过：有{errors}项错误" + (f"，另有{warnings}项警告" if warnings else "")
    else:
        want = f"通过，有{warnings}项警告，请核对" if warnings else "全部通过"
    assert failing == errors + warnings
    assert at(grid, *CONCLUSION_CELL) == want, (case.name, want)


def test_random_inputs_exercise_both_outcomes(random_cases) -> None:
    """The random cases are not trivial: every rule of the spec's own (totals are formulas in a
    template, so they always hold there) both holds and fails somewhere, about half of the '=='
    instances hold, most totals are non-zero; gov2019 has negative deltas and 4-decimal money."""
    for edition in EDITIONS:
        cases = [c for c in random_cases if c.spec.edition == edition]
        own = [r for c in cases for r in c.results if r.instance.check.implicit_total is None]
        for rule in {r.instance.check.id for r in own}:
            outcomes = {r.passed for r in own if r.instance.check.id == rule}
            assert outcomes == {True, False}, (edition, rule, outcomes)
        eq = [r for r in own if r.instance.check.expr.op == "=="]
        if eq:
            held = sum(r.passed for r in eq) / len(eq)
            assert 0.25 <= held <= 0.75, (edition, held)
        totals = [c.values[key(cell)] for c in cases for cell in c.spec.cells() if not cell.is_input]
        assert sum(1 for v in totals if v) > len(totals) // 2, edition
    gov2019 = [c for c in random_cases if c.spec.edition == "gov2019"]
    assert any(v < 0 for c in gov2019 for k, v in c.inputs.items() if k[2] == "change")
    assert any(v % 10 for c in gov2019 for k, v in c.inputs.items() if k[2] == "purchase_amount")


@pytest.mark.office
@pytest.mark.parametrize("edition", EDITIONS)
def test_libreoffice_recalculation_agrees_with_python(recalculated, random_cases, edition) -> None:
    cases = [c for c in random_cases if c.spec.edition == edition]
    assert len(cases) == len(RANDOM_SEEDS)
    lays = layout(specmod.load(edition))
    for case in cases:
        # The filled file carries no answers: openpyxl drops the cached values of formulas (the
        # blank template's were 0 and 通过). Only LibreOffice's own calculation can match Python.
        for table in case.spec.tables:
            grid = sheet_grid(case.source, table.sheet)
            cached = {at(grid, lays[table.id].place(c).r, lays[table.id].place(c).c) for c in table.cells if not c.is_input}
            assert cached <= {""}, (case.name, table.id, cached)
        grid = sheet_grid(case.source, CHECK_SHEET)
        assert {grid[CHECK_FIRST_ROW + i][VERDICT_COL] for i in range(len(case.results))} == {""}
        assert_agrees(case, recalculated[case.name])


# ---------------------------------------------------------------------------------------------
# The seed reports written into templates


@pytest.mark.office
@pytest.mark.parametrize("number", SEED_NUMBERS)
def test_seed_in_template(recalculated, seed_cases, number) -> None:
    case = seed_cases[number]
    path = recalculated[case.name]
    assert_agrees(case, path)
    lays = layout(case.spec)
    # Totals equal their parts, in the recalculated sheet's own numbers.
    for table in case.spec.tables:
        grid = sheet_grid(path, table.sheet)

        def read(cell):
            p = lays[table.id].place(cell)
            return base_value(at(grid, p.r, p.c), cell.kind is Kind.MONEY)

        for cell in table.cells:
            if not cell.is_input:
                parts = ex.evaluate_linear(cell.total, lambda t, c=cell: [read(d) for d in specmod.total_term_cells(c, t)])
                assert read(cell) == parts, (number, cell.key)
    # 不通过 exactly where the seed breaks a rule.
    grid = sheet_grid(path, CHECK_SHEET)
    verdicts = {res.instance.key: grid[CHECK_FIRST_ROW + i][VERDICT_COL] for i, res in enumerate(case.results)}
    assert len(verdicts) == len(case.results)
    assert {k for k, v in verdicts.items() if v == "不通过"} == SEED_FAILURES[number]
    assert {v for k, v in verdicts.items() if k not in SEED_FAILURES[number]} == {"通过"}
    seed = load_seed(number)
    cover = openpyxl.load_workbook(path)[COVER_SHEET]
    assert cover[_cover_a1(case.source, "agency")].value == seed.agency
    assert cover[_cover_a1(case.source, "year")].value == str(seed.year)


@pytest.mark.office
def test_seed_money_is_written_in_wanyuan(recalculated, seed_cases) -> None:
    for number, a1_value in ((2, 2.485), (4, 83.8778)):
        case = seed_cases[number]
        p = layout(case.spec)["t2"].place(case.spec.table("t2").cell("central_procurement", "purchase_amount"))
        assert at(sheet_grid(recalculated[case.name], "二、主动公开政府信息情况"), p.r, p.c) == a1_value
    case = seed_cases[1]
    t2 = case.spec.table("t2")
    p = layout(case.spec)["t2"].place(t2.cell("penalty", "change"))
    assert at(sheet_grid(recalculated[case.name], t2.sheet), p.r, p.c) == -7


# ---------------------------------------------------------------------------------------------
# A blank template in LibreOffice with default settings: 0 totals, 通过 verdicts.


@pytest.mark.office
@pytest.mark.parametrize("fmt", ["ods", "xlsx"])
@pytest.mark.parametrize("edition", EDITIONS)
def test_blank_template_without_recalculation(blank_default, edition, fmt) -> None:
    spec = specmod.load(edition)
    path = blank_default[(edition, fmt)]
    lays = layout(spec)
    for table in spec.tables:
        grid = sheet_grid(path, table.sheet)
        for cell in table.cells:
            p = lays[table.id].place(cell)
            value = at(grid, p.r, p.c)
            if cell.is_input:  # blank, not 0 (issue #9, point 2)
                assert value in ("", None), (table.id, cell.key, value)
            else:
                assert isinstance(value, (int, float)) and value == 0, (table.id, cell.key, value)
    grid = sheet_grid(path, CHECK_SHEET)
    n = len(spec.instances())
    assert [grid[CHECK_FIRST_ROW + i][VERDICT_COL] for i in range(n)] == ["通过"] * n
    assert [base_value(grid[CHECK_FIRST_ROW + i][LEFT_COL], False) for i in range(n)] == [0] * n
    # The checks pass on an empty sheet, but the conclusion says it is not filled yet (validate:
    # workbook.unfilled).
    assert at(grid, *CONCLUSION_CELL) == UNFILLED_CONCLUSION


# ---------------------------------------------------------------------------------------------
# Text stays text; passwords; the CLI.


def _cover_a1(path: Path, name: str) -> str:
    wb = openpyxl.load_workbook(path, read_only=True)
    refs = {row[1]: row[3] for row in wb[META_SHEET].iter_rows(values_only=True) if row and row[0] == "cover"}
    wb.close()
    return refs[name]


def test_formula_like_agency_stays_text(odd_files) -> None:
    path = odd_files["formula_agency"]
    a1 = _cover_a1(path, "agency")
    cell = openpyxl.load_workbook(path)[COVER_SHEET][a1]
    assert cell.value == "=1+1" and cell.data_type == "s"
    cover = sheet_grid(path, COVER_SHEET)
    assert cover[cell.row - 1][cell.column - 1] == "=1+1"
    assert "@SUM(1)" in [v for row in cover for v in row]


@pytest.mark.office
def test_formula_like_agency_stays_text_in_libreoffice(recalculated, odd_files) -> None:
    path = recalculated[odd_files["formula_agency"].stem]
    a1 = _cover_a1(odd_files["formula_agency"], "agency")
    cell = openpyxl.load_workbook(path)[COVER_SHEET][a1]
    assert cell.value == "=1+1" and cell.data_type == "s"
    assert sheet_grid(path, COVER_SHEET)[cell.row - 1][cell.column - 1] == "=1+1"


def test_password(templates, odd_files) -> None:
    protected = openpyxl.load_workbook(odd_files["password"])
    plain = openpyxl.load_workbook(templates["gov2021"])
    for name in [COVER_SHEET, *(t.sheet for t in specmod.load("gov2021").tables), CHECK_SHEET]:
        assert protected[name].protection.sheet is True
        assert protected[name].protection.password == hash_password("s3cret"), name
        assert plain[name].protection.sheet is True
        assert not plain[name].protection.password, name


@pytest.mark.office
def test_password_survives_libreoffice(recalculated, odd_files) -> None:
    wb = openpyxl.load_workbook(recalculated[odd_files["password"].stem])
    for t in specmod.load("gov2021").tables:
        assert (wb[t.sheet].protection.password or "").upper() == hash_password("s3cret")


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    assert XLSXGOV.exists(), XLSXGOV
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([str(XLSXGOV), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def test_cli_template(tmp_path: Path) -> None:
    proc = _run_cli("template", "-e", "gov2019", "--year", "2020", "--agency", "测试局", "-o", "out.xlsx", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out.xlsx"
    assert out.is_file()
    spec = specmod.load("gov2019")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [COVER_SHEET, *(t.sheet for t in spec.tables), CHECK_SHEET, META_SHEET]
    assert wb[META_SHEET].sheet_state == "veryHidden"
    meta = {row[0]: row[1] for row in wb[META_SHEET].iter_rows(values_only=True) if row and row[0] != "cell"}
    assert meta["edition"] == "gov2019" and meta["year"] == "2020" and meta["agency"] == "测试局"
    assert wb[COVER_SHEET][_cover_a1(out, "agency")].value == "测试局"
    assert cell_map(out) == {key(c): (c.table.sheet, layout(spec)[c.table.id].place(c).a1) for c in spec.cells()}
    assert "out.xlsx" in proc.stdout


def test_cli_template_with_password(tmp_path: Path) -> None:
    proc = _run_cli("template", "-o", "pw.xlsx", "--password", "s3cret", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    wb = openpyxl.load_workbook(tmp_path / "pw.xlsx")
    assert wb["三、收到和处理政府信息公开申请情况"].protection.password == hash_password("s3cret")
    assert wb[META_SHEET]["B2"].value == "gov2021"


@pytest.mark.parametrize("args", [("-e", "gov1999", "-o", "x.xlsx"), ("-e", "gov2021", "-o", "x.pdf")])
def test_cli_template_refuses_with_a_message(tmp_path: Path, args) -> None:
    proc = _run_cli("template", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "错误" in proc.stderr
    assert (args[1] if args[1] == "gov1999" else "x.pdf") in proc.stderr
    assert not (tmp_path / "x.xlsx").exists() and not (tmp_path / "x.pdf").exists()


def test_cli_template_names_every_bad_option_at_once(tmp_path: Path) -> None:
    """A wrong year and a wrong code are both reported, so the clerk fixes the command once."""
    proc = _run_cli("template", "-o", "x.xlsx", "--code", "123", "--year", "3000", cwd=tmp_path)
    assert proc.returncode == 2
    assert "报告年度 3000" in proc.stderr and "--code" in proc.stderr and "18 位" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x.xlsx").exists()


def test_remembered_formulas_write_the_same_bytes(tmp_path, monkeypatch):
    """Formulas rewritten once and remembered (``template._Worksheet``) give the very workbook
    xlsxwriter's own rewriting gives, part for part (the write time aside): a template and a
    feedback-like workbook (values, a text typed in a count, marked cells) of every edition."""
    import re
    import zipfile

    from xlsxwriter.worksheet import Worksheet

    from xlsxgov import template as template_mod

    stamp = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ?")

    def parts(path: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(path) as z:
            return {i.filename: stamp.sub(b"T", z.read(i)) for i in z.infolist()}

    def write(path: Path, spec: Spec) -> dict[str, bytes]:
        inputs = [c for c in spec.cells() if c.is_input and c.kind is Kind.COUNT]
        template_mod.write_workbook(
            path, spec, Meta(year=2024, agency="某局", code="11350100MB0000000Y", region="某市"),
            values={key(c): i for i, c in enumerate(inputs[1:])}, texts={key(inputs[0]): "十二件"},
            marks={key(inputs[0]): ["您填写的不是数字"], key(inputs[3]): ["【错误】不平衡"]}, in_memory=True,
        )
        return parts(path)

    for edition in specmod.available_editions():
        spec = specmod.load(edition)
        remembered = [write(tmp_path / f"{edition}-{i}.xlsx", spec) for i in range(2)]  # cold, then warm
        with monkeypatch.context() as m:
            m.setattr(template_mod, "_Worksheet", Worksheet)
            plain = write(tmp_path / f"{edition}-plain.xlsx", spec)
        assert remembered[0] == remembered[1] == plain, edition


@pytest.mark.parametrize("edition", EDITIONS)
def test_each_input_validated_and_each_rule_painted_once(templates, edition) -> None:
    """Validations and conditional formats are written one per kind of input and one per rule
    instance, each over all its cells: read back, every number input has exactly one
    validation, of its kind (bounds, prompt and error as the kind says), no total has one, and
    every cell of a rule instance carries that instance's formula, no other cell does."""
    from xlsxgov.template import KIND_ERRORS, KIND_PROMPTS, instance_formula

    spec = specmod.load(edition)
    lays = layout(spec)
    wb = openpyxl.load_workbook(templates[edition])
    types = {Kind.COUNT: ("whole", "0"), Kind.DELTA: ("whole", None), Kind.MONEY: ("decimal", "0")}

    def cells_of(sqref) -> set[str]:
        out = set()
        for rng in sqref.ranges:
            c1, r1, c2, r2 = range_boundaries(rng.coord)
            out |= {f"{get_column_letter(c)}{r}" for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
        return out

    for table in spec.tables:
        ws, lay = wb[table.sheet], lays[table.id]
        validated: dict[str, list] = {}
        for dv in ws.data_validations.dataValidation:
            for a1 in cells_of(dv.sqref):
                validated.setdefault(a1, []).append(dv)
        expected_cf = set()
        for check in table.checks:
            if check.implicit_total is None:
                for inst in check.instances():
                    formula = "NOT(" + instance_formula(inst, lambda c: lay.place(c).a1) + ")"
                    expected_cf |= {(lay.place(c).a1, formula) for c in inst.cells()}
        for cell in table.cells:
            a1 = lay.place(cell).a1
            if not cell.is_input or cell.kind is Kind.TEXT:
                assert a1 not in validated, (table.id, cell.key)
                continue
            (dv,) = validated[a1]
            kind_type, low = types[cell.kind]
            # "between" and "stop" are the defaults, written as absent
            assert (dv.type, dv.operator or "between", dv.errorStyle or "stop") == (kind_type, "between", "stop"), (table.id, cell.key)
            assert low is None or dv.formula1 == low
            assert (dv.promptTitle, dv.prompt, dv.error) == (*KIND_PROMPTS[cell.kind], KIND_ERRORS[cell.kind])
        painted = {(a1, rule.formula[0].replace("$", "")) for rng, rules in ws.conditional_formatting._cf_rules.items()
                   for rule in rules for a1 in cells_of(rng.sqref)}
        assert painted == {(a1, f.replace("$", "")) for a1, f in expected_cf}, table.id
