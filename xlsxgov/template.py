"""Write the fill-in workbook of an edition with xlsxwriter.

One writer serves every workbook that has the statutory tables: the blank template, a template
personalised for an agency, the feedback workbook (an agency's values with the bad cells marked)
and the consolidated regional workbook. All of them carry the same formulas, validations,
conditional formats, 校验 sheet and metadata, so any of them can be read back as an input.

Longer than 600 lines on purpose: the cover, the statutory sheets, the 校验 sheet and the
metadata sheet share one workbook's styles, layouts and cell references while they are written
(the 校验 formulas point at the statutory cells, the cover's 本年度无相关数据 feeds the
conclusion); split apart, each part would need the others' internals.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from . import __version__
from . import expr as ex
from .compute import CellKey, CheckResult, complete, input_expansion, instance_is_money, key, run_checks, to_display
from .vocab import SEVERITY_LABELS
from .layout import Box, TableLayout, layout
from .spec import Cell, CheckInstance, Row, Spec, total_term_cells
from .values import FEN_PER_WANYUAN, MAX_NUMBER, Kind

MONEY_DECIMALS = 6  # 万元 exact to the 分 (FORMATS.md, cell.money)

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
    ("no_data", "本年度无相关数据"),
]
# The one-step declaration of an agency whose three tables are all zero (offered as a list).
NO_DATA_FIELD = "no_data"
NO_DATA_YES = "是"
NO_DATA_CHOICES = [NO_DATA_YES, "否"]
COVER_FIRST_ROW = 2
COVER_VALUE_COL = 1

KIND_PROMPTS = {
    Kind.COUNT: ("请填写数量", "请填写大于或等于0的整数。没有请填0，不要填写单位或文字。"),
    Kind.DELTA: ("请填写增减数", "请填写整数：增加填正数，减少填负数（例如减少4项填-4）。没有变化填0。"),
    Kind.MONEY: ("请填写金额（万元）", "单位为万元，最多保留六位小数（精确到分），例如24850元填2.485，75394432.52元填7539.443252。没有请填0，不要填写“元”等单位。"),
}
KIND_ERRORS = {
    Kind.COUNT: "此处只能填写大于或等于0的整数，请勿输入单位、文字或小数。",
    Kind.DELTA: "此处只能填写整数（减少填负数），请勿输入单位或文字。",
    Kind.MONEY: "此处只能填写大于或等于0的数字（单位万元），请勿输入“元”等单位或文字。",
}

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
    office_line: str = ""  # whom to ask (the collecting office, letters.Office.cover_line), on the cover
    no_data: str = ""  # 本年度无相关数据: "是" declares all three tables zero
    # Who the printed footer names, as footer_name gives it; None: the agency, else the region.
    # A template stamped per agency later (campaign) passes a placeholder that the stamper
    # replaces in each sheet's XML.
    footer_who: str | None = None
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
    bad_total: dict
    typed_total: dict  # a total kept as the number typed over its formula: red, and unlocked so it can be corrected
    note: object
    guide_heading: object
    bad_input: dict
    text_input: object
    cover_label: object
    cover_value: object
    cover_fixed: object
    cover_note: object
    check_header: object
    check_cell: object
    check_number: object
    check_center: object
    check_rule: object
    conclusion: object
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
        bad_total={k: fmt(align="right", num_format=v, bg_color="#FFC7CE", font_color="#9C0006", bold=True) for k, v in num.items()},
        typed_total={k: fmt(locked=False, align="right", num_format=v, bg_color="#FFC7CE", font_color="#9C0006", bold=True) for k, v in num.items()},
        note=wb.add_format({"font_name": "宋体", "font_size": 10, "italic": True, "text_wrap": True, "valign": "top"}),
        guide_heading=wb.add_format({"font_name": "黑体", "font_size": 11, "bold": True, "valign": "vcenter"}),
        # What an agency typed that is not a number (feedback): kept as text, red and hatched.
        text_input=fmt(locked=False, align="right", num_format="@", bg_color="#FFC7CE", font_color="#9C0006", pattern=1, bold=True),
        bad_input={k: fmt(locked=False, align="right", num_format=v, bg_color="#FFC7CE", font_color="#9C0006") for k, v in num.items()},
        cover_label=fmt(bold=True, align="right", bg_color="#DDEBF7"),
        cover_value=fmt(locked=False, align="left", num_format="@"),
        cover_fixed=fmt(align="left", bg_color="#E7E6E6"),
        cover_note=fmt(align="left", bg_color="#E7E6E6", text_wrap=True),
        check_header=fmt(bold=True, align="center", text_wrap=True, bg_color="#DDEBF7"),
        check_cell=fmt(text_wrap=True),
        check_number=fmt(align="right", num_format="General"),
        check_center=fmt(align="center"),
        check_rule=fmt(font_size=8, text_wrap=True, font_color="#595959"),
        conclusion=fmt(bold=True, font_size=12, text_wrap=True),
        plain=wb.add_format({"font_name": "宋体", "font_size": 11}),
        bad_fill=wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
    )


_FORMULAS: dict[tuple[str, bool, bool], str] = {}
_FORMULAS_MAX = 20_000  # distinct formulas remembered (an edition has a few hundred)


class _Worksheet(Worksheet):
    """xlsxwriter's worksheet, remembering how each formula is rewritten for the file
    (``_prepare_formula``: some thirty regular expressions per formula, a third of the time of a
    feedback workbook). The same few hundred formulas recur in every workbook of an edition; the
    rewriting depends only on the formula and the two flags in the key."""

    def _prepare_formula(self, formula, expand_future_functions=False):
        k = (formula, expand_future_functions, self.use_future_functions)
        out = _FORMULAS.get(k)
        if out is None:
            out = super()._prepare_formula(formula, expand_future_functions)
            if len(_FORMULAS) < _FORMULAS_MAX:
                _FORMULAS[k] = out
        return out


@dataclass
class Written:
    """What a writer hands to hooks that add sheets after the statutory ones."""

    workbook: xlsxwriter.Workbook
    styles: Styles
    spec: Spec
    values: dict[CellKey, int]
    results: list[CheckResult]
    meta: Meta


def write_workbook(
    path: Path | str,
    spec: Spec,
    meta: Meta,
    *,
    values: Mapping[CellKey, int] | None = None,
    texts: Mapping[CellKey, str] | None = None,
    marks: Mapping[CellKey, Sequence[str]] | None = None,
    notes: Mapping[CellKey, Sequence[str]] | None = None,
    typed_totals: Mapping[CellKey, int] | None = None,
    password: str | None = None,
    extra_sheets: Sequence[Callable[[Written], None]] = (),
    in_memory: bool = False,
) -> Path:
    """Write a workbook of ``spec``'s tables.

    ``values``: input values in base units (money in 分); an input cell without a value is left
    blank (a blank template is not a report: validate says ``workbook.unfilled``), and counts as 0
    in the cached totals. Totals are always formulas, cached with the recomputed result.
    ``texts``: input cells written as the text an agency typed (feedback): the file stays invalid
    until the agency types a number there, and the 校验 lines involving them read 无法计算.
    ``marks`` paint cells red with a comment (feedback); ``notes`` are comments alone.
    ``typed_totals`` (base units): totals written as that number instead of their formula, red
    and unlocked, as an agency typing over the formula would leave them (``extract -o``: the
    total the report printed where its parts do not give it; feedback: the total the agency
    typed); the cached results of the totals built on them and
    of the 校验 sheet are what a spreadsheet computes from them (``compute.complete``). A hook of ``extra_sheets`` that calls
    ``activate()`` on its sheet makes the file open there; otherwise it opens on the cover.
    ``in_memory``: build every part in memory instead of one temporary file each (xlsxwriter's
    ``in_memory``): for workbooks of the form's own size (templates, feedback), not for a
    明细 sheet of thousands of agencies.
    """
    path = Path(path)
    given = dict(values or {})
    typed_totals = dict(typed_totals or {})
    all_values = complete(spec, given, typed_totals)
    results = run_checks(spec, all_values)
    marks = marks or {}
    texts = dict(texts or {})
    meta.edition = spec.edition
    wb = xlsxwriter.Workbook(
        str(path),
        {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False, "in_memory": in_memory},
    )
    wb.worksheet_class = _Worksheet
    wb.set_properties({"title": f"{meta.year or ''}年度政府信息公开工作年度报告数据", "company": meta.agency, "comments": f"{FORMAT_MARK} {spec.edition}"})
    styles = _styles(wb)
    layouts = layout(spec)
    fixed = _edition_text(spec)
    cover_cells = _write_cover(wb, styles, spec, meta, password)
    for table in spec.tables:
        _write_table(wb, styles, layouts[table.id], fixed, all_values, given, texts, marks, notes or {}, typed_totals, meta, password)
    _write_checks(wb, styles, spec, fixed, results, given, texts, meta, cover_cells, password)
    written = Written(wb, styles, spec, all_values, results, meta)
    for hook in extra_sheets:
        hook(written)
    _write_meta(wb, spec, meta, fixed, cover_cells)
    wb.close()
    return path


def write_template(path: Path | str, spec: Spec, meta: Meta, *, password: str | None = None) -> Path:
    """The blank (or agency-personalised) template: input cells blank, totals 0, every check 通过."""
    return write_workbook(path, spec, meta, password=password, in_memory=True)


FOOTER_NAME_MAX = 100  # characters of a name in a footer: Excel refuses footers over 255


def footer_name(name: str) -> str:
    """A name as a printed footer shows it: ``&`` (the footer's control character) doubled, and
    a name longer than FOOTER_NAME_MAX cut with "…" (the cover keeps it whole), since Excel
    repairs away a footer over 255 characters."""
    if len(name) > FOOTER_NAME_MAX:
        name = name[:FOOTER_NAME_MAX - 1] + "…"
    return name.replace("&", "&&")


def footer_text(meta: Meta) -> str:
    """The printed footer of every sheet: who (agency, else region), the sheet name and
    第 N 页 共 M 页, so a loose printed page still says whose numbers it shows."""
    who = meta.footer_who if meta.footer_who is not None else footer_name(meta.agency or meta.region or "")
    return (f"&L{who}" if who else "") + "&C&A&R第 &P 页 共 &N 页"


def text_rows(texts: Sequence[tuple[str, float]], *, line: float = 14, minimum: float = 18) -> float:
    """The height (points) of a row whose wrapped ``(text, column width in characters)`` cells
    must show in full: neither Excel nor LibreOffice grows rows of a file they did not write."""
    lines = max([1, *(math.ceil(_display_width(t) / max(w - 1, 1)) + t.count("\n") for t, w in texts)])
    return max(minimum, line * lines + 4)


def print_setup(ws, *, landscape: bool, repeat: tuple[int, int] | None = None, repeat_cols: tuple[int, int] | None = None,
                footer: str | None = None) -> None:
    """One print setup for every generated sheet: A4, fit to the page width (as many pages
    down as needed), centred, narrow margins, header rows (and columns) repeated on every page."""
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    if repeat is not None:
        ws.repeat_rows(*repeat)
    if repeat_cols is not None:
        ws.repeat_columns(*repeat_cols)
    ws.set_footer(footer if footer is not None else "&C&A&R第 &P 页 共 &N 页")


# ---------------------------------------------------------------------------------------------
# Cover


COVER_WIDTHS = (22, 60)  # the label and value columns of 封面, in Excel's character widths


def write_cover_note(ws: Worksheet, st: Styles, row: int, label: str, text: str) -> None:
    """A line of fixed text under the cover fields (``label`` | ``text``), wrapped within the
    value column, the row made tall enough for it (a Chinese character is two widths; Excel
    and LibreOffice do not grow a row for wrapped text written by xlsxwriter in every case)."""
    from rich.cells import cell_len

    lines = max(1, math.ceil(cell_len(text) / (COVER_WIDTHS[1] - 2)))
    ws.write_string(row, 0, label, st.cover_label)
    ws.write_string(row, COVER_VALUE_COL, text, st.cover_note)
    if lines > 1:
        ws.set_row(row, 15 * lines)


def _write_cover(wb, st: Styles, spec: Spec, meta: Meta, password: str | None) -> dict[str, str]:
    ws = wb.add_worksheet(COVER_SHEET)
    widths = COVER_WIDTHS
    ws.set_column(0, 0, widths[0])
    ws.set_column(1, 1, widths[1])
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
        "no_data": meta.no_data,
    }
    fixed = {"year", "edition_name"} if meta.year else {"edition_name"}
    if meta.kind == "consolidated":
        fixed.add(NO_DATA_FIELD)  # a sum, not an agency's declaration
    cells = {}
    for i, (name, label) in enumerate(COVER_FIELDS):
        r = COVER_FIRST_ROW + i
        ws.write_string(r, 0, label, st.cover_label)
        ws.write_string(r, COVER_VALUE_COL, field_values[name], st.cover_fixed if name in fixed else st.cover_value)
        ws.set_row(r, 20)
        cells[name] = xl_rowcol_to_cell(r, COVER_VALUE_COL)
        if name == NO_DATA_FIELD and meta.kind != "consolidated":
            ws.data_validation(r, COVER_VALUE_COL, r, COVER_VALUE_COL, {
                "validate": "list",
                "source": NO_DATA_CHOICES,
                "input_title": "本年度无相关数据",
                "input_message": "三张表的数据全部为0的，选“是”，不必逐格填0；有数据的不选或选“否”。",
                "error_title": "输入有误",
                "error_message": "请从列表中选择“是”或“否”。",
            })
    if meta.kind == "consolidated":
        r = COVER_FIRST_ROW + len(COVER_FIELDS)
        ws.write_string(r, 0, "汇总单位数", st.cover_label)
        ws.write_number(r, COVER_VALUE_COL, meta.consolidates or 0, st.cover_fixed)
        cells["consolidates"] = xl_rowcol_to_cell(r, COVER_VALUE_COL)
    r = COVER_FIRST_ROW + len(COVER_FIELDS) + 2
    chars = sum(widths) - 2
    portal = [(f"网上报送：{meta.portal_link}（本单位专属链接，上传后立即显示校验结果，请勿转发）", "text")] if meta.portal_link else []
    office = [(meta.office_line, "text")] if meta.office_line else []
    for text, style in office + portal + guide_lines(spec):
        ws.merge_range(r, 0, r, 1, text, st.guide_heading if style == "heading" else st.note)
        lines = max(1, math.ceil(_display_width(text) / chars))
        ws.set_row(r, 14 * lines + 3)
        r += 1
    _protect(ws, password)
    print_setup(ws, landscape=False, footer=footer_text(meta))
    ws.fit_to_pages(1, 1)  # the cover and its 填报说明 are one page
    return cells


def guide_lines(spec: Spec) -> list[tuple[str, str]]:
    """The 填报说明 on the cover: (text, "heading" | "text") lines.

    What each table counts comes from the spec (``guide:`` of each table, taken from the official
    form's own labels and notes: FORMATS.md); how to type numbers from the reading rules of
    ``values.py``; the deadline from the regulation's Article 49 (FORMATS.md)."""
    out: list[tuple[str, str]] = [("填报说明", "heading"), ("一、各表统计什么", "heading")]
    for table in spec.tables:
        out.append((f"{table.short}“{table.title}”：{table.guide}" if table.guide else f"{table.short}“{table.title}”", "text"))
    out += [
        ("二、怎样填写", "heading"),
        ("1. 白色单元格填写本单位本年度数据；灰色单元格是自动计算的合计，不要填写。", "text"),
        ("2. 数量填写整数（单位为件），不要填写“件”“元”等单位或文字；金额以万元为单位（例如24850元填2.485）。", "text"),
        ("3. 没有发生的事项填0。个别单元格空着按0计（会提示）；一张表整张空着会被提醒核对；三张表都空着的报表不能通过。"
         "三张表全部为0的，在上面“本年度无相关数据”一栏选“是”即可，不必逐格填0。", "text"),
        ("4. 请勿修改表格结构和工作表名称，请勿插入或删除行列；保存为 .xlsx 格式后报送。", "text"),
        ("三、“校验”表说不通过时怎么办", "heading"),
        ("1. 填写时数据不平衡的单元格会变红。填完后查看“校验”表：结论为“全部通过”即可报送。", "text"),
        ("2. 结果为“不通过”的项目（级别为错误）：按“检查内容”核对“左边”“右边”的数字，修改有关单元格，直到显示“通过”。", "text"),
        ("3. 结果为“无法计算”：有关单元格填了文字或其他不是数字的内容，请改为数字。", "text"),
        ("4. 级别为“警告”的项目不影响报送，但请核对数据，确认无误。", "text"),
        (f"本表依据：{spec.basis}。《中华人民共和国政府信息公开条例》第四十九条：县级以上人民政府部门应当在每年1月31日前"
         "向本级政府信息公开工作主管部门提交本部门上一年度政府信息公开工作年度报告。", "text"),
    ]
    return out


# ---------------------------------------------------------------------------------------------
# Statutory tables


def _write_table(wb, st: Styles, lay: TableLayout, fixed: _EditionText, values, given, texts, marks, notes, typed_totals, meta: Meta, password) -> None:
    table = lay.table
    ws = wb.add_worksheet(table.sheet)
    _set_widths(ws, lay)
    for box in lay.boxes:
        _write_box(ws, st, box)
    for note in lay.notes:
        ws.merge_range(note.r1, note.c1, note.r2, note.c2, note.text, st.note)
        ws.set_row(note.r1, 30)
    ws.set_row(0, 30)
    totals = fixed.totals
    for cell in table.cells:
        place = lay.place(cell)
        k = key(cell)
        cell_marks = marks.get(k)
        comment = [*(cell_marks or ()), *notes.get(k, ())]
        if cell.is_input:
            style = (st.bad_input if cell_marks else st.input)[cell.kind]
            if k in texts:
                _write_cell(ws, place.r, place.c, place.c2, texts[k], st.text_input)
            elif k in given:
                _write_cell(ws, place.r, place.c, place.c2, to_display(cell, values[k]), style)
            else:
                _write_cell(ws, place.r, place.c, place.c2, None, style)
        else:
            style = (st.bad_total if cell_marks else st.total)[cell.kind]
            if k in typed_totals:  # unlocked: the user corrects this number (or the parts) on the protected sheet
                _write_cell(ws, place.r, place.c, place.c2, to_display(cell, values[k]), st.typed_total[cell.kind])
            else:
                if place.c2 > place.c:
                    ws.merge_range(place.r, place.c, place.r, place.c2, "", style)
                ws.write_formula(place.r, place.c, totals[k], style, to_display(cell, values[k]))
        if comment:
            ws.write_comment(place.r, place.c, "\n".join(comment), {"x_scale": 2.5, "y_scale": 2, "author": "xlsxgov"})
    # One validation per kind of input and one conditional format per rule instance, each over
    # all its cells (a validation per cell was a quarter of the time of a feedback workbook).
    for r, c, kind, cells in fixed.validations[table.id]:
        ws.data_validation(r, c, r, c, dict(_validation(kind), multi_range=cells))
    for r, c, criteria, cells in fixed.conditions[table.id]:  # paint the cells of a failing rule red while the agency types
        ws.conditional_format(r, c, r, c, {"type": "formula", "criteria": criteria, "format": st.bad_fill, "multi_range": cells})
    first_header, last_header = lay.header_rows
    ws.freeze_panes(last_header + 1, lay.data_start_col)
    print_setup(ws, landscape=True, repeat=(first_header, last_header), footer=footer_text(meta))
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


def _write_cell(ws, r: int, c: int, c2: int, value, style) -> None:
    """A number, a text (always as a string, never a formula) or a blank, merged over c..c2."""
    if c2 > c:
        ws.merge_range(r, c, r, c2, "", style)
    if value is None:
        ws.write_blank(r, c, None, style)
    elif isinstance(value, str):
        ws.write_string(r, c, value, style)
    else:
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


@functools.cache
def _validation(kind: Kind) -> dict:
    """The data validation of an input cell of ``kind`` (not TEXT): its prompt, its error and
    its bounds (values.MAX_NUMBER: beyond it the reader says 数值过大). Shared: copy before use."""
    title, prompt = KIND_PROMPTS[kind]
    options = {
        "input_title": title,
        "input_message": prompt,
        "error_title": "输入有误",
        "error_message": KIND_ERRORS[kind],
        "error_type": "stop",
    }
    if kind is Kind.COUNT:
        options.update(validate="integer", criteria="between", minimum=0, maximum=MAX_NUMBER)
    elif kind is Kind.DELTA:
        options.update(validate="integer", criteria="between", minimum=-MAX_NUMBER, maximum=MAX_NUMBER)
    else:
        options.update(validate="decimal", criteria="between", minimum=0, maximum=MAX_NUMBER)
    return options


def _cell_refs(lay: TableLayout, *, absolute: bool) -> dict[tuple[str, str], str]:
    return {k: xl_rowcol_to_cell(p.r, p.c, absolute, absolute) for k, p in lay.places.items()}


def _conditions(lay: TableLayout) -> list[tuple[int, int, str, str]]:
    """(row, col of its first cell, formula, its cells as space-separated A1 ranges) of each
    conditional format that paints the cells of a failing rule instance red while the agency
    types (the formula's references are absolute: the same on every cell)."""
    abs_refs = _cell_refs(lay, absolute=True)
    out = []
    for check in lay.table.checks:
        if check.implicit_total is not None:
            continue  # a formula cannot disagree with itself; the 校验 sheet still lists it
        for inst in check.instances():
            condition = instance_formula(inst, lambda c: abs_refs[c.key])
            places = sorted({(p.c, p.r): p for p in map(lay.place, inst.cells())}.values(), key=lambda p: (p.c, p.r))
            out.append((places[0].r, places[0].c, f"=NOT({condition})", " ".join(ex.compress_refs([p.a1 for p in places]))))
    return out


def _validations(lay: TableLayout) -> list[tuple[int, int, Kind, str]]:
    """(row, col of its first cell, kind, its cells as space-separated A1 ranges) of the data
    validation of each kind of number input of a table (``_validation``)."""
    by_kind: dict[Kind, list] = {}
    for cell in lay.table.cells:
        if cell.is_input and cell.kind is not Kind.TEXT:
            by_kind.setdefault(cell.kind, []).append(lay.place(cell))
    out = []
    for kind, places in by_kind.items():
        places.sort(key=lambda p: (p.c, p.r))
        out.append((places[0].r, places[0].c, kind, " ".join(ex.compress_refs([p.a1 for p in places]))))
    return out


def instance_formula(inst: CheckInstance, ref: Callable[[Cell], str]) -> str:
    expr = inst.check.expr

    def resolve(term: ex.Term):
        return [ref(c) for c in inst.cells_of(term)]

    left, right = ex.excel_side(expr.left, resolve), ex.excel_side(expr.right, resolve)
    if instance_is_money(inst):
        left, right = f"ROUND({left},{MONEY_DECIMALS})", f"ROUND({right},{MONEY_DECIMALS})"
    return f"{left}{ex.EXCEL_OPERATORS[expr.op]}{right}"


# ---------------------------------------------------------------------------------------------
# 校验 sheet

CHECK_HEADERS = ["序号", "级别", "范围", "检查内容", "左边", "关系", "右边", "结果", "规则编号"]
CHECK_WIDTHS = [5, 6, 30, 46, 10, 5, 10, 9, 13]
CHECK_FIRST_ROW = 3
SEVERITY_COL, SCOPE_COL, LEFT_COL, RIGHT_COL, VERDICT_COL, RULE_COL = 1, 2, 4, 6, 7, 8
CONCLUSION_CELL = (1, 2)  # C2: what the sheet concludes, in validate's terms
# Helper counts beside the sheet (hidden columns), named by the conclusion formula.
COUNT_COLS = {"errors": 11, "warnings": 13, "uncomputable": 15, "filled": 17}
RELATIONS = {"==": "=", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}
PASSED, FAILED, UNCOMPUTABLE = "通过", "不通过", "无法计算"


def scope_text(inst: CheckInstance) -> str:
    """Where a check applies, as the 校验 sheet names it: the table and the row or column, e.g.
    ``表三 自然人列`` or ``表三 三、本年度办理结果/（一）予以公开``."""
    table = inst.check.table.short
    if inst.check.for_each == "row" and isinstance(inst.scope, Row) and inst.scope.label:
        return f"{table} {'/'.join(inst.scope.path)}"
    scope = inst.scope_label
    return scope if scope == table else f"{table} {scope}"


def instance_inputs(inst: CheckInstance) -> set[CellKey]:
    """Every cell a check depends on: the cells it names and the inputs behind their totals."""
    out: set[CellKey] = set()
    for cell in inst.cells():
        out.add(key(cell))
        out.update(input_expansion(cell))
    return out


def conclusion(results: Sequence[tuple[str, str]], filled: int, no_data: bool) -> str:
    """The 校验 sheet's conclusion from (severity, verdict) pairs, in validate's terms: errors
    (failed error checks, and every check that cannot be computed) decide; failed warning checks
    are listed as warnings; a workbook with no input filled is not a report (``workbook.unfilled``).
    The sheet computes the same with the formula written by ``_conclusion_formula``."""
    errors = sum(1 for sev, v in results if (sev == "error" and v == FAILED) or v == UNCOMPUTABLE)
    warnings = sum(1 for sev, v in results if sev == "warning" and v == FAILED)
    uncomputable = sum(1 for _, v in results if v == UNCOMPUTABLE)
    if filled == 0 and not no_data:
        return UNFILLED_CONCLUSION
    if errors:
        text = f"不通过：有{errors}项错误"
        if uncomputable:
            text += f"（其中{uncomputable}项无法计算：有单元格不是数字）"
        return text + (f"，另有{warnings}项警告" if warnings else "")
    return f"通过，有{warnings}项警告，请核对" if warnings else "全部通过"


UNFILLED_CONCLUSION = "尚未填写：各表没有任何数据。如本年度确无相关数据，请在封面“本年度无相关数据”一栏选“是”"


def _conclusion_formula(counts: dict[str, str], no_data_ref: str | None) -> str:
    e, w, k, n = counts["errors"], counts["warnings"], counts["uncomputable"], counts["filled"]
    declared = f'{no_data_ref}<>"{NO_DATA_YES}"' if no_data_ref else "TRUE"
    return (
        f'=IF(AND({n}=0,{declared}),"{UNFILLED_CONCLUSION}",'
        f'IF({e}>0,"不通过：有"&{e}&"项错误"&IF({k}>0,"（其中"&{k}&"项无法计算：有单元格不是数字）","")&IF({w}>0,"，另有"&{w}&"项警告",""),'
        f'IF({w}>0,"通过，有"&{w}&"项警告，请核对","全部通过")))'
    )


def _write_checks(wb, st: Styles, spec: Spec, fixed: _EditionText, results: list[CheckResult], given, texts, meta: Meta, cover_cells, password) -> None:
    ws = wb.add_worksheet(CHECK_SHEET)
    for c, w in enumerate(CHECK_WIDTHS):
        ws.set_column(c, c, w)
    ws.merge_range(0, 0, 0, len(CHECK_HEADERS) - 1, "勾稽关系校验", st.title)
    ws.set_row(0, 30)
    first, last = CHECK_FIRST_ROW, CHECK_FIRST_ROW + max(len(results), 1) - 1
    count_titles = {"errors": "错误项", "warnings": "警告项", "uncomputable": "无法计算项", "filled": "已填写单元格"}
    if len(results) != len(fixed.checks):
        raise ValueError("check results do not follow spec.instances()")
    verdicts: list[tuple[str, str]] = []
    for res, row in zip(results, fixed.checks):
        stuck = texts and row.inputs & texts.keys()
        verdicts.append((res.instance.check.severity, UNCOMPUTABLE if stuck else res.verdict))
    no_data = meta.no_data == NO_DATA_YES
    filled = len(fixed.inputs & (given.keys() | texts.keys()))
    cached = {
        "errors": sum(1 for s_, v in verdicts if (s_ == "error" and v == FAILED) or v == UNCOMPUTABLE),
        "warnings": sum(1 for s_, v in verdicts if s_ == "warning" and v == FAILED),
        "uncomputable": sum(1 for _, v in verdicts if v == UNCOMPUTABLE),
        "filled": filled,
    }
    refs = {}
    for name, c in COUNT_COLS.items():
        ws.write_string(1, c - 1, count_titles[name], st.plain)
        ws.write_formula(1, c, fixed.counts[name], st.plain, cached[name])
        refs[name] = xl_rowcol_to_cell(1, c)
    ws.set_column(min(COUNT_COLS.values()) - 1, max(COUNT_COLS.values()), None, None, {"hidden": True})
    no_data_ref = f"{quote_sheetname(COVER_SHEET)}!{cover_cells[NO_DATA_FIELD]}" if NO_DATA_FIELD in cover_cells else None
    ws.merge_range(1, 0, 1, CONCLUSION_CELL[1] - 1, "结论", st.cover_label)
    ws.merge_range(1, CONCLUSION_CELL[1], 1, len(CHECK_HEADERS) - 1, "", st.conclusion)
    ws.write_formula(*CONCLUSION_CELL, _conclusion_formula(refs, no_data_ref), st.conclusion, conclusion(verdicts, filled, no_data))
    ws.set_row(1, 24)
    for c, text in enumerate(CHECK_HEADERS):
        ws.write_string(CHECK_FIRST_ROW - 1, c, text, st.check_header)
    for i, (res, row) in enumerate(zip(results, fixed.checks)):
        r = CHECK_FIRST_ROW + i
        scale = FEN_PER_WANYUAN if row.money else 1
        ws.write_number(r, 0, i + 1, st.check_cell)
        ws.write_string(r, SEVERITY_COL, row.severity, st.check_cell)
        ws.write_string(r, SCOPE_COL, row.scope, st.check_cell)
        ws.write_string(r, 3, row.message, st.check_cell)
        ws.write_formula(r, LEFT_COL, row.left, st.check_number, _shown(res.left, scale))
        ws.write_string(r, 5, row.relation, st.check_center)
        ws.write_formula(r, RIGHT_COL, row.right, st.check_number, _shown(res.right, scale))
        ws.write_formula(r, VERDICT_COL, row.verdict, st.check_center, verdicts[i][1])
        ws.write_string(r, RULE_COL, row.rule, st.check_rule)
        ws.set_row(r, row.height)
    for text, fmt in ((f'"{FAILED}"', st.bad_fill), (f'"{UNCOMPUTABLE}"', st.bad_fill)):
        ws.conditional_format(first, VERDICT_COL, last, VERDICT_COL, {"type": "cell", "criteria": "==", "value": text, "format": fmt})
    for start in ("不通过", "尚未填写"):
        ws.conditional_format(*CONCLUSION_CELL, *CONCLUSION_CELL, {"type": "text", "criteria": "begins with", "value": start, "format": st.bad_fill})
    ws.freeze_panes(CHECK_FIRST_ROW, 0)
    ws.print_area(0, 0, last, len(CHECK_HEADERS) - 1)
    print_setup(ws, landscape=True, repeat=(CHECK_FIRST_ROW - 1, CHECK_FIRST_ROW - 1), footer=footer_text(meta))
    _protect(ws, password)


@dataclass(frozen=True)
class _CheckRow:
    """One line of the 校验 sheet as far as it does not depend on the values."""

    severity: str  # as shown (SEVERITY_LABELS)
    scope: str
    message: str
    left: str  # formulas, with their "="
    right: str
    relation: str
    verdict: str
    rule: str
    height: float
    money: bool  # its numbers are in 万元
    inputs: frozenset  # every cell it depends on (instance_inputs)


@dataclass(frozen=True)
class _EditionText:
    """Every formula, range and condition of an edition's workbook that does not depend on the
    values: worked out once per edition (``_edition_text``), since a campaign import writes a
    feedback workbook for every invalid file and ``campaign issue`` one template per agency."""

    totals: dict  # cell key -> the total's formula
    conditions: dict  # table id -> its conditional formats (``_conditions``)
    validations: dict  # table id -> its data validations (``_validations``)
    checks: list  # _CheckRow per spec.instances()
    counts: dict  # COUNT_COLS name -> formula
    inputs: frozenset  # keys of the number inputs
    meta_cells: list  # the metadata sheet's "cell" rows


@functools.cache
def _edition_text(spec: Spec) -> _EditionText:
    layouts = layout(spec)
    totals = {}
    for table in spec.tables:
        refs = _cell_refs(layouts[table.id], absolute=False)
        for cell in table.cells:
            if not cell.is_input:
                totals[key(cell)] = "=" + ex.excel_side(cell.total, lambda term, c=cell, refs=refs: [refs[d.key] for d in total_term_cells(c, term)])
    instances = spec.instances()
    first, last = CHECK_FIRST_ROW, CHECK_FIRST_ROW + max(len(instances), 1) - 1

    def column(c: int) -> str:
        return f"{xl_rowcol_to_cell(first, c, True, True)}:{xl_rowcol_to_cell(last, c, True, True)}"

    sev, ver = column(SEVERITY_COL), column(VERDICT_COL)
    labels = SEVERITY_LABELS
    counts = {
        "errors": f'=COUNTIFS({sev},"{labels["error"]}",{ver},"{FAILED}")+COUNTIF({ver},"{UNCOMPUTABLE}")',
        "warnings": f'=COUNTIFS({sev},"{labels["warning"]}",{ver},"{FAILED}")',
        "uncomputable": f'=COUNTIF({ver},"{UNCOMPUTABLE}")',
        "filled": "=" + "+".join(_filled_count(spec, layouts)),
    }
    checks = []
    for i, inst in enumerate(instances):
        r = CHECK_FIRST_ROW + i
        lay = layouts[inst.check.table.id]
        sheet = quote_sheetname(inst.check.table.sheet)
        money = instance_is_money(inst)

        def resolve(term: ex.Term, inst=inst, lay=lay, sheet=sheet):
            return [f"{sheet}!{lay.place(c).a1}" for c in inst.cells_of(term)]

        expr = inst.check.expr
        left_f, right_f = ex.excel_side(expr.left, resolve), ex.excel_side(expr.right, resolve)
        if money:
            left_f, right_f = f"ROUND({left_f},{MONEY_DECIMALS})", f"ROUND({right_f},{MONEY_DECIMALS})"
        inputs = instance_inputs(inst)
        depends = "+".join(f"SUMPRODUCT(--({r}))" for r in _ranges(inst.check.table, lay, inputs))
        scope = scope_text(inst)
        lhs, rhs = xl_rowcol_to_cell(r, LEFT_COL), xl_rowcol_to_cell(r, RIGHT_COL)
        # A check over a cell holding text that is no number (pasted past the validation)
        # cannot be computed, also when the text hides behind a total typed over its formula;
        # a number stored as text counts as that number, as validate reads it (ex.excel_side).
        verdict = (
            f'=IF(OR(ISERROR({lhs}),ISERROR({rhs}),ISERROR({depends})),"{UNCOMPUTABLE}",'
            f'IF({lhs}{ex.EXCEL_OPERATORS[expr.op]}{rhs},"{PASSED}","{FAILED}"))'
        )
        height = text_rows([(scope, CHECK_WIDTHS[SCOPE_COL]), (inst.check.message, CHECK_WIDTHS[3]), (inst.check.id, CHECK_WIDTHS[RULE_COL] * 1.3)])
        checks.append(_CheckRow(labels[inst.check.severity], scope, inst.check.message, "=" + left_f, "=" + right_f,
                                RELATIONS[expr.op], verdict, inst.check.id, height, money, frozenset(inputs)))
    meta_cells = [["cell", table.id, cell.row.id, cell.col.id, table.sheet, layouts[table.id].place(cell).a1]
                  for table in spec.tables for cell in table.cells]
    return _EditionText(
        totals=totals,
        conditions={t.id: _conditions(layouts[t.id]) for t in spec.tables},
        validations={t.id: _validations(layouts[t.id]) for t in spec.tables},
        checks=checks,
        counts=counts,
        inputs=frozenset(key(c) for c in spec.cells() if c.is_input and c.kind is not Kind.TEXT),
        meta_cells=meta_cells,
    )


def _ranges(table, lay: TableLayout, keys) -> list[str]:
    """``keys`` of ``table`` as sheet-qualified A1 ranges (vertical runs joined)."""
    sheet = quote_sheetname(table.sheet)
    places = sorted((lay.places[(k[1], k[2])] for k in keys if k[0] == table.id), key=lambda p: (p.c, p.r))
    return [f"{sheet}!{r}" for r in ex.compress_refs([p.a1 for p in places])]


def _filled_count(spec: Spec, layouts) -> list[str]:
    """COUNTA terms counting the input cells of every table that are not blank."""
    out = []
    for table in spec.tables:
        keys = {key(c) for c in table.cells if c.is_input and c.kind is not Kind.TEXT}
        ranges = _ranges(table, layouts[table.id], keys)
        for i in range(0, len(ranges), 200):  # a function takes at most 255 arguments
            out.append(f"COUNTA({','.join(ranges[i:i + 200])})")
    return out or ["0"]


def _shown(value: int, scale: int):
    if scale == 1:
        return value
    return value // scale if value % scale == 0 else value / scale


# ---------------------------------------------------------------------------------------------
# Metadata


def _write_meta(wb, spec: Spec, meta: Meta, fixed: _EditionText, cover_cells: dict[str, str]) -> None:
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
    rows += fixed.meta_cells
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            ws.write_string(r, c, v)
    ws.very_hidden()
    _protect(ws, None)


def _protect(ws, password: str | None) -> None:
    ws.protect(password or "", {"format_columns": True, "format_rows": True, "select_locked_cells": True, "select_unlocked_cells": True})
