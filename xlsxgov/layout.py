"""Where everything of a statutory table sits on its sheet, derived from the spec.

The template writer, the reader's cell map, the feedback and consolidated workbooks and the
HTML renderer all place things through this one layout, so they cannot drift apart.
Coordinates are zero-based (row, col), as xlsxwriter uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from xlsxwriter.utility import xl_rowcol_to_cell

from .spec import Block, Cell, Column, Row, Spec, Table

TITLE_ROW = 0
FIRST_TABLE_ROW = 2  # a blank line between the title and the form, as printed


@dataclass(frozen=True)
class Box:
    """A (possibly merged) rectangle holding one label."""

    r1: int
    c1: int
    r2: int
    c2: int
    text: str
    role: str  # "title", "block_header", "corner", "col_header", "row_label", "unit", "note"
    depth: int = 0  # nesting depth for row labels (indentation)

    @property
    def merged(self) -> bool:
        return (self.r1, self.c1) != (self.r2, self.c2)


@dataclass(frozen=True)
class CellPlace:
    cell: Cell
    r: int
    c: int
    c2: int  # last column when the value spans several grid columns

    @property
    def a1(self) -> str:
        return xl_rowcol_to_cell(self.r, self.c)


@dataclass
class TableLayout:
    table: Table
    width: int
    boxes: list[Box] = field(default_factory=list)
    places: dict[tuple[str, str], CellPlace] = field(default_factory=dict)
    header_rows: tuple[int, int] = (0, 0)  # first/last row of the first block's column headers
    data_start_col: int = 0
    last_row: int = 0
    notes: list[Box] = field(default_factory=list)

    def place(self, cell: Cell) -> CellPlace:
        return self.places[cell.key]

    def a1(self, row_id: str, col_id: str) -> str:
        return self.places[(row_id, col_id)].a1


def layout(spec: Spec) -> dict[str, TableLayout]:
    return _layout_cached(spec)


@cache
def _layout_cached(spec: Spec) -> dict[str, TableLayout]:
    return {t.id: table_layout(t) for t in spec.tables}


def table_layout(table: Table) -> TableLayout:
    unit_cols = 1 if any(b.unit_header for b in table.blocks) else 0
    data_start = table.label_columns + unit_cols
    width = data_start + table.data_width
    lay = TableLayout(table, width, data_start_col=data_start)
    lay.boxes.append(Box(TITLE_ROW, 0, TITLE_ROW, width - 1, table.title, "title"))
    r = FIRST_TABLE_ROW
    for i, block in enumerate(table.blocks):
        if block.header:
            lay.boxes.append(Box(r, 0, r, width - 1, block.header, "block_header"))
            r += 1
        depth = block.header_depth
        if i == 0:
            lay.header_rows = (r, r + depth - 1)
        if table.label_columns and block.corner:
            lay.boxes.append(Box(r, 0, r + depth - 1, table.label_columns - 1, block.corner, "corner"))
        if unit_cols:
            lay.boxes.append(Box(r, table.label_columns, r + depth - 1, table.label_columns, block.unit_header or "", "unit"))
        spans = _column_spans(block, table.data_width)
        _column_headers(lay, block.column_tree, r, depth, data_start, spans)
        r += depth
        r = _rows(lay, block, r, spans, data_start, unit_cols)
    lay.last_row = r - 1
    notes = [t for t in [table.note] + _column_notes(table) if t]
    for k, text in enumerate(notes):
        lay.notes.append(Box(r + 1 + k, 0, r + 1 + k, width - 1, text, "note"))
    return lay


def _column_notes(table: Table) -> list[str]:
    return [f"注：{c.label}，{c.note}" for b in table.blocks for c in b.columns if c.note]


def _column_spans(block: Block, data_width: int) -> dict[int, tuple[int, int]]:
    """Grid offsets of each leaf column: a block with fewer columns than the widest block spreads
    its columns over the same width (the last one takes what is left), as the printed form does."""
    leaves = block.columns
    each = data_width // len(leaves)
    spans, start = {}, 0
    for k, leaf in enumerate(leaves):
        end = data_width - 1 if k == len(leaves) - 1 else start + each - 1
        spans[id(leaf)] = (start, end)
        start = end + 1
    return spans


def _column_headers(lay: TableLayout, nodes: list[Column], r: int, depth: int, c0: int, spans) -> None:
    for node in nodes:
        leaves = node.leaves()
        first, last = spans[id(leaves[0])][0], spans[id(leaves[-1])][1]
        r2 = r + depth - 1 if node.is_leaf else r
        lay.boxes.append(Box(r, c0 + first, r2, c0 + last, node.label, "col_header"))
        if node.children:
            _column_headers(lay, node.children, r + 1, depth - 1, c0, spans)


def _rows(lay: TableLayout, block: Block, r: int, spans, data_start: int, unit_cols: int) -> int:
    table = lay.table
    merged_style = table.label_columns > 1

    def emit(row: Row, r: int) -> int:
        if merged_style and row.children:
            first = r
            for child in row.children:
                r = emit(child, r)
            lay.boxes.append(Box(first, row.depth, r - 1, row.depth, row.label, "row_label", row.depth))
            return r
        if table.label_columns:
            c1 = row.depth if merged_style else 0
            lay.boxes.append(Box(r, c1, r, table.label_columns - 1, row.label, "row_label", row.depth))
        if unit_cols:
            lay.boxes.append(Box(r, table.label_columns, r, table.label_columns, row.unit or "", "unit"))
        if row.has_cells:
            for col in block.columns:
                cell = table.cell(row.id, col.id)
                a, b = spans[id(col)]
                lay.places[cell.key] = CellPlace(cell, r, data_start + a, data_start + b)
        r += 1
        if not merged_style:
            for child in row.children:
                r = emit(child, r)
        return r

    for top in block.row_tree:
        r = emit(top, r)
    return r
