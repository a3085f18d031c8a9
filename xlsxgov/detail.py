"""The 明细 sheet of a consolidated workbook: one row per agency, every cell of the edition a column.

This module alone knows the sheet's layout: ``consolidate`` writes it (``DetailSheet``), ``export
--detail`` and the cross-year checks read it (``read_detail``).

Layout (0-based rows): rows 0-1 are headers. The six fixed columns (``FIXED``: 序号 单位名称
统一社会信用代码 状态 汇总单位数 文件) are merged over both rows; then one column per cell of the
spec, in ``spec.cells()`` order, under "表 row label" in row 0 (merged over the row's columns)
and the column label in row 1 (with （万元） for money, which is written in 万元). From row 2
on, one agency per row: numbers as numbers, every text (names, codes, file names) as a text
cell, never a formula. A text cell of the spec stays blank.

Why the rows are written as XML: 10,000 agencies are two million cells, and one xlsxwriter call
per cell (plus its XML writing at close) took 8 s of a 12 s consolidation. xlsxwriter writes the
workbook with the 明细 headers, print setup, panes and filter; the agency rows are then written
straight into that sheet's XML part while the package is copied (``DetailSheet.finish``), the
large part compressed at zlib level 1 (level 6 cost three times the time for a file 20 % smaller).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from .compute import CellKey, key
from .locate import normalise
from .spec import Cell, Spec
from .values import FEN_PER_WANYUAN, MAX_NUMBER, Kind, wanyuan_to_money
from .vocab import STATUS_LABELS, status_label

if TYPE_CHECKING:
    import numpy as np

    from .template import Written

DETAIL_SHEET = "明细"
FIXED = [("序号", 6), ("单位名称", 28), ("统一社会信用代码", 22), ("状态", 10), ("汇总单位数", 8), ("文件", 24)]
CONSOLIDATED_MARK = "（汇总表）"  # after the status of a row that is itself a consolidation
HEADER_ROWS = 2
_ROWS_PER_CHUNK = 500


def column_headers(cell: Cell) -> tuple[str, str]:
    """The two header texts of ``cell``'s column: "表 row label" (row 0) and the column label,
    with （万元） for money (row 1)."""
    money = cell.kind is Kind.MONEY and "万元" not in cell.col_label  # a label may name its unit already
    return f"{cell.table.short} {cell.row_label}", cell.col_label + ("（万元）" if money else "")


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass
class DetailAgency:
    """The fixed columns of one agency row: name, code, status (valid | invalid | …, shown by its
    label), whether the submission is itself a consolidation, how many agencies it stands for,
    and the file as its sender named it."""

    name: str
    code: str
    status: str
    consolidated: bool
    agencies: int
    file: str


class DetailSheet:
    """The 明细 sheet of one workbook: ``agencies[i]`` with the cell values of row ``i`` of ``values``.

    ``values``: ``compute.complete_many``'s (columns, array) of the agencies, in base units (money
    in 分). Use ``hook`` as one of ``template.write_workbook``'s ``extra_sheets`` (it adds the sheet
    with its headers and print setup at that place), then ``finish`` the written file.
    """

    def __init__(self, spec: Spec, agencies: Sequence[DetailAgency], values: tuple[Mapping[CellKey, int], np.ndarray]):
        self.spec = spec
        self.agencies = list(agencies)
        self.columns, self.values = values
        if len(self.agencies) != len(self.values):
            raise ValueError(f"{len(self.agencies)} agencies but {len(self.values)} rows of values")
        self.cells = list(spec.cells())

    @property
    def last_col(self) -> int:
        return len(FIXED) + len(self.cells) - 1

    def hook(self, w: Written) -> None:
        """Add the sheet (headers, widths, panes, filter, print setup) to the workbook being written."""
        from .template import footer_text, print_setup

        ws = w.workbook.add_worksheet(DETAIL_SHEET)
        st = w.styles
        cells, fixed = self.cells, len(FIXED)
        for c, (label, width) in enumerate(FIXED):
            ws.merge_range(0, c, 1, c, label, st.check_header)
            ws.set_column(c, c, width)
        ws.set_column(fixed, self.last_col, 12)
        # Row 0: table + row label, merged over the row's consecutive columns.
        start = 0
        for i in range(1, len(cells) + 1):
            prev = cells[start]
            if i < len(cells) and cells[i].table is prev.table and cells[i].row is prev.row:
                continue
            text = column_headers(prev)[0]
            if i - 1 > start:
                ws.merge_range(0, fixed + start, 0, fixed + i - 1, text, st.check_header)
            else:
                ws.write_string(0, fixed + start, text, st.check_header)
            start = i
        for j, cell in enumerate(cells):
            ws.write_string(1, fixed + j, column_headers(cell)[1], st.check_header)
        ws.set_row(0, 45)
        ws.set_row(1, 45)
        ws.freeze_panes(2, 2)
        ws.autofilter(1, 0, 1 + max(len(self.agencies), 1), self.last_col)
        # Hundreds of columns cannot fit one page width: pages run across, each repeating the
        # header rows and the 序号 and 单位名称 columns so every page says whose numbers it shows.
        print_setup(ws, landscape=True, repeat=(0, 1), repeat_cols=(0, 1), footer=footer_text(w.meta))
        ws.fit_to_pages(0, 0)
        ws.set_print_scale(85)

    def finish(self, written: Path, out: Path) -> None:
        """Copy the workbook package at ``written`` to ``out`` (a new file), writing the agency
        rows into the 明细 part on the way. Raises ValueError when ``written`` has no 明细 sheet
        (``hook`` was not used)."""
        with zipfile.ZipFile(written) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
            part = _sheet_part(zin, DETAIL_SHEET)
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename != part:
                    zout.writestr(_copied(info), data)  # small parts: zlib's default level
                    continue
                xml = data.decode("utf-8")
                end = xml.index("</sheetData>")
                head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{_col_name(self.last_col)}{HEADER_ROWS + len(self.agencies)}"/>', xml[:end], count=1)
                with zout.open(info.filename, "w") as fh:  # by name: the ZipFile's compresslevel 1
                    fh.write(head.encode("utf-8"))
                    for chunk in self._rows():
                        fh.write(chunk.encode("utf-8"))
                    fh.write(xml[end:].encode("utf-8"))

    def _rows(self) -> Iterator[str]:
        """The agency rows' XML, ``_ROWS_PER_CHUNK`` rows per string."""
        fixed = len(FIXED)
        # Per spec cell: its column in ``values`` (None: a text cell, left blank), whether money.
        plan = [(self.columns.get(key(c)) if c.kind is not Kind.TEXT else None, c.kind is Kind.MONEY) for c in self.cells]
        used = [j for j, (col, _) in enumerate(plan) if col is not None]
        order = [plan[j][0] for j in used]
        money = [i for i, j in enumerate(used) if plan[j][1]]
        # One template per row: "\x01" stands for the row number (values are numbers only).
        template = "".join(f'<c r="{_col_name(fixed + j)}\x01"><v>{{}}</v></c>' for j in used).format
        values = self.values[:, order] if order else None
        chunk: list[str] = []
        for i, agency in enumerate(self.agencies):
            r = str(HEADER_ROWS + i + 1)
            cells = values[i].tolist() if values is not None else []
            for m in money:  # 万元: an int when whole, else the float nearest the exact 6-decimal amount
                v = int(cells[m])
                cells[m] = v // FEN_PER_WANYUAN if v % FEN_PER_WANYUAN == 0 else v / FEN_PER_WANYUAN
            status = status_label(agency.status) + (CONSOLIDATED_MARK if agency.consolidated else "")
            chunk.append(
                f'<row r="{r}"><c r="A{r}"><v>{i + 1}</v></c>'
                + _text("B", r, agency.name) + _text("C", r, agency.code) + _text("D", r, status)
                + f'<c r="E{r}"><v>{int(agency.agencies)}</v></c>' + _text("F", r, agency.file)
                + template(*cells).replace("\x01", r) + "</row>"
            )
            if len(chunk) == _ROWS_PER_CHUNK:
                yield "".join(chunk)
                chunk = []
        if chunk:
            yield "".join(chunk)


def _col_name(col: int) -> str:
    """A 0-based column index as its letters (0 → A, 26 → AA)."""
    name = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        name = chr(65 + rest) + name
    return name


# Control characters (XML 1.0 cannot hold most of them, and a parser turns \r into \n), and text
# that looks like the _xHHHH_ escape of OOXML strings (ECMA-376 Part 1, 22.9.2.19 ST_Xstring):
# written as _xHHHH_ escapes, as Excel and xlsxwriter do.
_NOT_XML = re.compile("_x[0-9A-Fa-f]{4}_|[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape_char(m: re.Match) -> str:
    s = m.group(0)
    return "_x005F" + s if len(s) > 1 else f"_x{ord(s):04X}_"


def _text(col: str, r: str, text: str) -> str:
    """An inline text cell (left out when empty, as xlsxwriter leaves an empty string out)."""
    if not text:
        return ""
    text = _NOT_XML.sub(_escape_char, text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return f'<c r="{col}{r}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _copied(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    out = zipfile.ZipInfo(info.filename, info.date_time)
    out.compress_type = zipfile.ZIP_DEFLATED
    out.external_attr = info.external_attr
    return out


_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "p": "http://schemas.openxmlformats.org/package/2006/relationships",
}


def _sheet_part(z: zipfile.ZipFile, name: str) -> str:
    """The package part holding sheet ``name`` (through workbook.xml and its relationships)."""
    book = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    for sheet in book.iterfind("m:sheets/m:sheet", _NS):
        if sheet.get("name") == name:
            rid = sheet.get(f"{{{_NS['r']}}}id")
            for rel in rels.iterfind("p:Relationship", _NS):
                if rel.get("Id") == rid:
                    target = rel.get("Target", "")
                    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise ValueError(f"no sheet {name!r} in the workbook")


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass
class DetailRow:
    """One agency row as read: its place (0-based sheet row), fixed columns and cells.

    ``status``: valid | invalid | … (the label's status, else the text as found);
    ``cells``: spec cell key → the value as the sheet holds it (number or text; None when blank),
    for the cells whose column was found."""

    row: int
    name: str
    code: str
    status: str
    consolidated: bool
    cells: dict[CellKey, Any] = field(default_factory=dict)


@dataclass
class Detail:
    """A 明细 sheet as read: the column of every spec cell found by its headers, the cells not
    found (a sheet someone rearranged or of another edition), and the agency rows."""

    columns: dict[CellKey, int]
    missing: list[Cell]
    rows: list[DetailRow]

    def ref(self, row: DetailRow, k: CellKey) -> str:
        """The A1 reference of cell ``k`` in ``row`` (its column must have been found)."""
        return f"{_col_name(self.columns[k])}{row.row + 1}"


def read_detail(path: Path | str, spec: Spec) -> Detail | None:
    """The 明细 sheet of the workbook at ``path`` read as ``spec``'s cells, or None when the
    workbook has no 明细 sheet. Columns are matched to cells by their two header texts
    (``column_headers``, compared after ``locate.normalise``), so a sheet whose columns were
    moved is still read right; rows with neither name nor code are skipped. Raises
    reader.Unreadable (through workbook.read_sheet) when the sheet cannot be read."""
    from .workbook import read_sheet

    grid = read_sheet(path, DETAIL_SHEET)
    if grid is None:
        return None
    top = list(grid[0]) if grid else []
    sub = list(grid[1]) if len(grid) > 1 else []
    filled, last = [], ""
    for v in top:  # merged header cells hold their text in the first column only
        if v not in (None, ""):
            last = normalise(v)
        filled.append(last)
    found: dict[tuple[str, str], int] = {}
    for j in range(len(FIXED), max(len(filled), len(sub))):
        a = filled[j] if j < len(filled) else ""
        b = normalise(sub[j]) if j < len(sub) and sub[j] is not None else ""
        found.setdefault((a, b), j)
    columns: dict[CellKey, int] = {}
    missing: list[Cell] = []
    for cell in spec.cells():
        top_text, sub_text = column_headers(cell)
        j = found.get((normalise(top_text), normalise(sub_text)))
        if j is None:
            missing.append(cell)
        else:
            columns[key(cell)] = j
    status_ids = {text: str(s) for s, text in STATUS_LABELS.items()}
    rows = []
    for r in range(HEADER_ROWS, len(grid)):
        line = list(grid[r])
        name, code = _plain(_at(line, 1)), _plain(_at(line, 2))
        if not name and not code:
            continue
        status = _plain(_at(line, 3))
        consolidated = status.endswith(CONSOLIDATED_MARK)
        status = status.removesuffix(CONSOLIDATED_MARK)
        cells = {k: (None if _at(line, j) == "" else _at(line, j)) for k, j in columns.items()}
        rows.append(DetailRow(r, name, code, status_ids.get(status, status), consolidated, cells))
    return Detail(columns, missing, rows)


def _at(line: list, j: int) -> Any:
    return line[j] if j < len(line) and line[j] is not None else ""


def _plain(v: Any) -> str:
    """A fixed column's text (a code Excel turned into a number back to its digits)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def base_value(v: Any, kind: Kind) -> int:
    """A 明细 number (万元 for money) in base units; anything unusable (text, out of range) is 0."""
    if isinstance(v, str):
        try:
            v = float(v.replace(",", "").strip())
        except ValueError:
            return 0
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return 0
    if not math.isfinite(v) or abs(v) > MAX_NUMBER:
        return 0
    return wanyuan_to_money(v) if kind is Kind.MONEY else round(v)
