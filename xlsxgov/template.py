"""Write the fill-in workbook of an edition with xlsxwriter.

One writer serves every workbook that has the statutory tables: the blank template, a template
personalised for an agency, the feedback workbook (an agency's values with the bad cells marked)
and the consolidated regional workbook. All of them carry the same formulas, validations,
conditional formats, 校验 sheet and metadata, so any of them can be read back as an input.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell

from . import __version__
from . import expr as ex
from .compute import CellKey, CheckResult, complete, instance_is_money, key, run_checks, to_display
from .layout import Box, TableLayout, layout
from .spec import Cell, CheckInstance, Spec, total_term_cells
from .values import Kind

COVER_SHEET = "封面"
CHECK_SHEET = "校验"
META_SHEET = "_xlsxgov"
FORMAT_MARK = "xlsxgov"

# Cover fields: (meta key, label). Their cells are listed in the metadata sheet, so the reader
# never guesses; the order here is the order on the cover.
COVER_FIELDS = [
    ("agency", "单位名称"),
    ("code", "统一社会信用代码"),
    ("region", "所属地区"),
    ("year", "报告年度"),
    ("edition_name", "表格版本"),
    ("contact", "联系人"),
    ("phone", "联系电话"),
    ("filled_on", "填报日期"),
]
COVER_FIRST_ROW = 2
COVER_VALUE_COL = 1

KIND_PROMPTS = {
    Kind.COUNT: ("请填写数量", "请填写大于或等于0的整数。没有请填0，不要填写单位或文字。"),
    Kind.DELTA: ("请填写增减数", "请填写整数：增加填正数，减少填负数（例如减少4项填-4）。没有变化填0。"),
    Kind.MONEY: ("请填写金额（万元）", "单位为万元，最多保留四位小数，例如24850元填2.485。没有请填0，不要填写“元”等单位。"),
}
KIND_ERRORS = {
    Kind.COUNT: "此处只能填写大于或等于0的整数，请勿输入单位、文字或小数。",
    Kind.DELTA: "此处只能填写整数（减少填负数），请勿输入单位或文字。",
    Kind.MONEY: "此处只能填写大于或等于0的数字（单位万元），请勿输入“元”等单位或文字。",
}

INSTRUCTIONS = [
    "填表说明：",
    "1. 请在各表白色单元格中填写本单位本年度数据；灰色单元格为自动计算的合计，无需填写。",
    "2. 数量请填写整数，没有请填0，不要填写“件”“元”等单位或文字；金额单位为万元。",
    "3. 填写时表格会自动检查勾稽关系：出现红色单元格表示数据不平衡，请核对后修改。",
    "4. 全部填完后请查看“校验”表，所有项目应显示“通过”。",
    "5. 请勿修改表格结构、工作表名称，请勿插入或删除行列。保存为 .xlsx 格式后报送。",
]


@dataclass
class Meta:
    """What a workbook says about itself (cover and metadata sheet)."""

    edition: str = ""
    year: int | None = None
    agency: str = ""
    code: str = ""
    region: str = ""
    contact: str = ""
    phone: str = ""
    filled_on: str = ""
    portal_link: str = ""  # the agency's secret link to the web portal, printed on the cover
    kind: str = "template"  # template | feedback | consolidated
    consolidates: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Styles:
    title: object
    header: object
    label: list  # by indentation depth
    unit: object
    input: dict
    total: dict
    note: object
    bad_input: dict
    cover_label: object
    cover_value: object
    cover_fixed: object
    check_header: object
    check_cell: object
    check_number: object
    plain: object
    bad_fill: object


def _styles(wb: xlsxwriter.Workbook) -> Styles:
    base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "border": 1}

    def fmt(**kw):
        return wb.add_format({**base, **kw})

    num = {Kind.COUNT: "0", Kind.DELTA: "0", Kind.MONEY: "General", Kind.TEXT: "@"}
    return Styles(
        title=wb.add_format({"font_name": "黑体", "font_size": 16, "bold": True, "align": "center", "valign": "vcenter"}),
        header=fmt(bold=True, align="center", text_wrap=True, bg_color="#DDEBF7"),
        label=[fmt(text_wrap=True, align="left", indent=d) for d in range(6)],
        unit=fmt(align="center"),
        input={k: fmt(locked=False, align="right", num_format=v) for k, v in num.items()},
        total={k: fmt(align="right", num_format=v, bg_color="#E7E6E6", bold=True) for k, v in num.items()},
        note=wb.add_format({"font_name": "宋体", "font_size": 10, "italic": True, "text_wrap": True, "valign": "top"}),
        bad_input={k: fmt(locked=False, align="right", num_format=v, bg_color="#FFC7CE", font_color="#9C0006") for k, v in num.items()},
        cover_label=fmt(bold=True, align="right", bg_color="#DDEBF7"),
        cover_value=fmt(locked=False, align="left", num_format="@"),
        cover_fixed=fmt(align="left", bg_color="#E7E6E6"),
        check_header=fmt(bold=True, align="center", text_wrap=True, bg_color="#DDEBF7"),
        check_cell=fmt(text_wrap=True),
        check_number=fmt(align="right", num_format="General"),
        plain=wb.add_format({"font_name": "宋体", "font_size": 11}),
        bad_fill=wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
    )


@dataclass
class Written:
    """What a writer hands to hooks that add sheets after the statutory ones."""

    workbook: xlsxwriter.Workbook
    styles: Styles
    spec: Spec
    values: dict[CellKey, int]
    results: list[CheckResult]


def write_workbook(
    path: Path | str,
    spec: Spec,
    meta: Meta,
    *,
    values: Mapping[CellKey, int] | None = None,
    marks: Mapping[CellKey, Sequence[str]] | None = None,
    password: str | None = None,
    extra_sheets: Sequence[Callable[[Written], None]] = (),
) -> Path:
    """Write a workbook of ``spec``'s tables. ``values`` are input values in base units (money in
    元); totals are always recomputed. ``marks`` paint cells red with a comment (feedback)."""
    path = Path(path)
    all_values = complete(spec, values or {})
    results = run_checks(spec, all_values)
    marks = marks or {}
    meta.edition = spec.edition
    wb = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False},
    )
    wb.set_properties({"title": f"{meta.year or ''}年度政府信息公开工作年度报告数据", "company": meta.agency, "comments": f"{FORMAT_MARK} {spec.edition}"})
    styles = _styles(wb)
    layouts = layout(spec)
    cover_cells = _write_cover(wb, styles, spec, meta, password)
    for table in spec.tables:
        _write_table(wb, styles, layouts[table.id], all_values, results, marks, password)
    _write_checks(wb, styles, spec, layouts, results, password)
    written = Written(wb, styles, spec, all_values, results)
    for hook in extra_sheets:
        hook(written)
    _write_meta(wb, spec, meta, layouts, cover_cells)
    wb.close()
    return path


def write_template(path: Path | str, spec: Spec, meta: Meta, *, password: str | None = None) -> Path:
    """The blank (or agency-personalised) template: every input 0, every check 通过."""
    return write_workbook(path, spec, meta, password=password)


# ---------------------------------------------------------------------------------------------
# Cover


def _write_cover(wb, st: Styles, spec: Spec, meta: Meta, password: str | None) -> dict[str, str]:
    ws = wb.add_worksheet(COVER_SHEET)
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 56)
    year = f"{meta.year}年度" if meta.year else ""
    ws.merge_range(0, 0, 0, 1, f"{year}政府信息公开工作年度报告统计表", st.title)
    ws.set_row(0, 30)
    field_values = {
        "agency": meta.agency,
        "code": meta.code,
        "region": meta.region,
        "year": str(meta.year or ""),
        "edition_name": spec.name,
        "contact": meta.contact,
        "phone": meta.phone,
        "filled_on": meta.filled_on,
    }
    fixed = {"year", "edition_name"} if meta.year else {"edition_name"}
    cells = {}
    for i, (name, label) in enumerate(COVER_FIELDS):
        r = COVER_FIRST_ROW + i
        ws.write_string(r, 0, label, st.cover_label)
        ws.write_string(r, COVER_VALUE_COL, field_values[name], st.cover_fixed if name in fixed else st.cover_value)
        ws.set_row(r, 20)
        cells[name] = xl_rowcol_to_cell(r, COVER_VALUE_COL)
    if meta.kind == "consolidated":
        r = COVER_FIRST_ROW + len(COVER_FIELDS)
        ws.write_string(r, 0, "汇总单位数", st.cover_label)
        ws.write_number(r, COVER_VALUE_COL, meta.consolidates or 0, st.cover_fixed)
        cells["consolidates"] = xl_rowcol_to_cell(r, COVER_VALUE_COL)
    r = COVER_FIRST_ROW + len(COVER_FIELDS) + 2
    portal = [f"网上报送：{meta.portal_link}（本单位专属链接，上传后立即显示校验结果，请勿转发）"] if meta.portal_link else []
    for i, line in enumerate(INSTRUCTIONS + [f"本表依据：{spec.basis}"] + portal):
        ws.merge_range(r + i, 0, r + i, 1, line, st.note)
        ws.set_row(r + i, 30 if len(line) > 40 else 18)
    _protect(ws, password)
    ws.set_paper(9)
    ws.fit_to_pages(1, 1)
    ws.center_horizontally()
    ws.activate()
    return cells


# ---------------------------------------------------------------------------------------------
# Statutory tables


def _write_table(wb, st: Styles, lay: TableLayout, values, results, marks, password) -> None:
    table = lay.table
    ws = wb.add_worksheet(table.sheet)
    _set_widths(ws, lay)
    for box in lay.boxes:
        _write_box(ws, st, box)
    for note in lay.notes:
        ws.merge_range(note.r1, note.c1, note.r2, note.c2, note.text, st.note)
        ws.set_row(note.r1, 30)
    ws.set_row(0, 30)
    refs = _cell_refs(lay, absolute=False)
    for cell in table.cells:
        place = lay.place(cell)
        k = key(cell)
        shown = to_display(cell, values[k])
        cell_marks = marks.get(k)
        if cell.is_input:
            style = (st.bad_input if cell_marks else st.input)[cell.kind]
            _write_value(ws, place.r, place.c, place.c2, shown, style)
            _validate(ws, cell, place.r, place.c)
        else:
            formula = "=" + ex.excel_side(cell.total, lambda term, c=cell: [refs[d.key] for d in total_term_cells(c, term)])
            style = st.total[cell.kind]
            if place.c2 > place.c:
                ws.merge_range(place.r, place.c, place.r, place.c2, "", style)
            ws.write_formula(place.r, place.c, formula, style, shown)
        if cell_marks:
            ws.write_comment(place.r, place.c, "\n".join(cell_marks), {"x_scale": 2.5, "y_scale": 2, "author": "xlsxgov"})
    _conditional_formats(ws, st, lay, refs)
    first_header, last_header = lay.header_rows
    ws.freeze_panes(last_header + 1, lay.data_start_col)
    ws.repeat_rows(first_header, last_header)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    _protect(ws, password)


def _write_box(ws, st: Styles, box: Box) -> None:
    style = {
        "title": st.title,
        "block_header": st.header,
        "corner": st.header,
        "col_header": st.header,
        "row_label": st.label[min(box.depth, 5)],
        "unit": st.unit,
    }[box.role]
    if box.role == "row_label" and box.r1 == box.r2 and box.c1 == box.c2:
        style = st.label[min(box.depth, 5)]
    if box.merged:
        ws.merge_range(box.r1, box.c1, box.r2, box.c2, box.text, style)
    else:
        ws.write_string(box.r1, box.c1, box.text, style)


def _write_value(ws, r: int, c: int, c2: int, value, style) -> None:
    if c2 > c:
        ws.merge_range(r, c, r, c2, "", style)
    ws.write_number(r, c, value, style)


def _set_widths(ws, lay: TableLayout) -> None:
    table = lay.table
    if table.label_columns > 1:
        widths = [14] * (table.label_columns - 1) + [44]
    elif table.label_columns == 1:
        widths = [64 if any(b.unit_header for b in table.blocks) else 24]
    else:
        widths = []
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    if lay.data_start_col > table.label_columns:
        ws.set_column(table.label_columns, lay.data_start_col - 1, 7)
    data_width = 11 if table.data_width > 7 else 14
    ws.set_column(lay.data_start_col, lay.width - 1, data_width)
    # Wrapped labels need taller rows; Excel does not grow them by itself for files it did not write.
    col_chars = {c: w for c, w in enumerate(widths)}
    for c in range(lay.data_start_col, lay.width):
        col_chars[c] = data_width
    heights: dict[int, float] = {}
    for box in lay.boxes:
        if box.role in ("title",):
            continue
        width = sum(col_chars.get(c, 10) for c in range(box.c1, box.c2 + 1))
        rows = box.r2 - box.r1 + 1
        lines = math.ceil(_display_width(box.text) / max(width - 1, 1))
        need = 15 * max(lines, 1) / rows + 4
        for r in range(box.r1, box.r2 + 1):
            heights[r] = max(heights.get(r, 20), need)
    for r, h in heights.items():
        ws.set_row(r, h)


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _validate(ws, cell: Cell, r: int, c: int) -> None:
    if cell.kind is Kind.TEXT:
        return
    title, prompt = KIND_PROMPTS[cell.kind]
    options = {
        "input_title": title,
        "input_message": prompt,
        "error_title": "输入有误",
        "error_message": KIND_ERRORS[cell.kind],
        "error_type": "stop",
    }
    if cell.kind is Kind.COUNT:
        options.update(validate="integer", criteria=">=", value=0)
    elif cell.kind is Kind.DELTA:
        options.update(validate="integer", criteria="between", minimum=-999_999_999, maximum=999_999_999)
    else:
        options.update(validate="decimal", criteria=">=", value=0)
    ws.data_validation(r, c, r, c, options)


def _cell_refs(lay: TableLayout, *, absolute: bool) -> dict[tuple[str, str], str]:
    return {k: xl_rowcol_to_cell(p.r, p.c, absolute, absolute) for k, p in lay.places.items()}


def _conditional_formats(ws, st: Styles, lay: TableLayout, refs) -> None:
    """Paint the cells of a failing rule red while the agency types."""
    abs_refs = _cell_refs(lay, absolute=True)
    for check in lay.table.checks:
        if check.implicit_total is not None:
            continue  # a formula cannot disagree with itself; the 校验 sheet still lists it
        for inst in check.instances():
            condition = instance_formula(inst, lambda c: abs_refs[c.key])
            for cell in inst.cells():
                p = lay.place(cell)
                ws.conditional_format(p.r, p.c, p.r, p.c, {"type": "formula", "criteria": f"=NOT({condition})", "format": st.bad_fill})


def instance_formula(inst: CheckInstance, ref: Callable[[Cell], str]) -> str:
    expr = inst.check.expr

    def resolve(term: ex.Term):
        return [ref(c) for c in inst.cells_of(term)]

    left, right = ex.excel_side(expr.left, resolve), ex.excel_side(expr.right, resolve)
    if instance_is_money(inst):
        left, right = f"ROUND({left},4)", f"ROUND({right},4)"
    return f"{left}{ex.EXCEL_OPERATORS[expr.op]}{right}"


# ---------------------------------------------------------------------------------------------
# 校验 sheet

CHECK_HEADERS = ["序号", "规则编号", "级别", "表", "范围", "检查内容", "左边", "关系", "右边", "结果"]
CHECK_FIRST_ROW = 3
VERDICT_COL = 9
RELATIONS = {"==": "=", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}


def _write_checks(wb, st: Styles, spec: Spec, layouts, results: list[CheckResult], password) -> None:
    ws = wb.add_worksheet(CHECK_SHEET)
    widths = [6, 30, 6, 8, 22, 50, 10, 6, 10, 10]
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.merge_range(0, 0, 0, len(CHECK_HEADERS) - 1, "勾稽关系校验", st.title)
    ws.set_row(0, 30)
    first, last = CHECK_FIRST_ROW, CHECK_FIRST_ROW + len(results) - 1
    verdicts = f"{xl_rowcol_to_cell(first, VERDICT_COL, True, True)}:{xl_rowcol_to_cell(max(last, first), VERDICT_COL, True, True)}"
    failing = sum(1 for r in results if not r.passed)
    summary = f'=IF(COUNTIF({verdicts},"不通过")=0,"全部通过","有"&COUNTIF({verdicts},"不通过")&"项不通过")'
    ws.write_string(1, 0, "结论", st.cover_label)
    ws.merge_range(1, 1, 1, 3, "", st.check_cell)
    ws.write_formula(1, 1, summary, st.check_cell, "全部通过" if not failing else f"有{failing}项不通过")
    for c, text in enumerate(CHECK_HEADERS):
        ws.write_string(CHECK_FIRST_ROW - 1, c, text, st.check_header)
    for i, res in enumerate(results):
        r = CHECK_FIRST_ROW + i
        inst = res.instance
        lay = layouts[inst.check.table.id]
        sheet = quote_sheetname(inst.check.table.sheet)
        money = instance_is_money(inst)

        def resolve(term: ex.Term, inst=inst, lay=lay, sheet=sheet):
            return [f"{sheet}!{lay.place(c).a1}" for c in inst.cells_of(term)]

        expr = inst.check.expr
        left_f, right_f = ex.excel_side(expr.left, resolve), ex.excel_side(expr.right, resolve)
        if money:
            left_f, right_f = f"ROUND({left_f},4)", f"ROUND({right_f},4)"
        scale = 10_000 if money else 1
        left_v, right_v = _shown(res.left, scale), _shown(res.right, scale)
        ws.write_number(r, 0, i + 1, st.check_cell)
        ws.write_string(r, 1, inst.check.id, st.check_cell)
        ws.write_string(r, 2, "错误" if inst.check.severity == "error" else "提示", st.check_cell)
        ws.write_string(r, 3, inst.check.table.short, st.check_cell)
        ws.write_string(r, 4, inst.scope_label, st.check_cell)
        ws.write_string(r, 5, inst.check.message, st.check_cell)
        ws.write_formula(r, 6, "=" + left_f, st.check_number, left_v)
        ws.write_string(r, 7, RELATIONS[expr.op], st.check_cell)
        ws.write_formula(r, 8, "=" + right_f, st.check_number, right_v)
        lhs, rhs = xl_rowcol_to_cell(r, 6), xl_rowcol_to_cell(r, 8)
        ws.write_formula(r, VERDICT_COL, f'=IF({lhs}{ex.EXCEL_OPERATORS[expr.op]}{rhs},"通过","不通过")', st.check_cell, res.verdict)
    ws.conditional_format(first, VERDICT_COL, max(last, first), VERDICT_COL, {"type": "cell", "criteria": "==", "value": '"不通过"', "format": st.bad_fill})
    ws.freeze_panes(CHECK_FIRST_ROW, 0)
    ws.repeat_rows(CHECK_FIRST_ROW - 1)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    _protect(ws, password)


def _shown(value: int, scale: int):
    if scale == 1:
        return value
    return value // scale if value % scale == 0 else value / scale


# ---------------------------------------------------------------------------------------------
# Metadata


def _write_meta(wb, spec: Spec, meta: Meta, layouts, cover_cells: dict[str, str]) -> None:
    """A hidden sheet the reader trusts first: who, which edition, and where every cell is."""
    ws = wb.add_worksheet(META_SHEET)
    rows: list[list] = [
        ["format", FORMAT_MARK],
        ["edition", spec.edition],
        ["spec_version", str(spec.version)],
        ["generator", f"xlsxgov {__version__}"],
        ["kind", meta.kind],
        ["year", str(meta.year or "")],
        ["agency", meta.agency],
        ["code", meta.code],
        ["region", meta.region],
        ["generated_at", dt.datetime.now().isoformat(timespec="seconds")],
    ]
    if meta.consolidates is not None:
        rows.append(["consolidates", str(meta.consolidates)])
    for k, v in meta.extra.items():
        rows.append([k, v])
    for name, ref in cover_cells.items():
        rows.append(["cover", name, COVER_SHEET, ref])
    for table in spec.tables:
        lay = layouts[table.id]
        for cell in table.cells:
            rows.append(["cell", table.id, cell.row.id, cell.col.id, table.sheet, lay.place(cell).a1])
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            ws.write_string(r, c, v)
    ws.very_hidden()
    _protect(ws, None)


def _protect(ws, password: str | None) -> None:
    ws.protect(password or "", {"format_columns": True, "format_rows": True, "select_locked_cells": True, "select_unlocked_cells": True})
