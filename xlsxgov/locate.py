"""Find a statutory table's cells on a sheet by their official labels.

Used when a workbook has no xlsxgov metadata (tables pasted into a plain workbook, a form typed
by hand) or when its layout moved (rows inserted, sheets renamed). Labels are compared after
normalising what real files vary in: full/half-width forms, brackets, quotes, spaces, breaks.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

from .spec import Block, Spec, Table

Grid = Sequence[Sequence[object]]

_PUNCT = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "、": ",", "，": ",", "：": ":", "；": ";", "。": "."})
_SPACES = re.compile(r"[\s\u3000\u200b]+")


def normalise(text: object) -> str:
    """The comparable form of a label: NFKC (full-width → half-width), no spaces, one kind of each punctuation."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text)).translate(_PUNCT)
    return _SPACES.sub("", s)


def agency_key(text: object) -> str:
    """The one form in which agencies are matched, everywhere: a 统一社会信用代码 or a name as
    ``normalise`` gives it (NFKC: full-width letters, digits and brackets to ASCII; no spaces of
    any kind; one kind of each punctuation mark), in upper case. Used by the roster (duplicate
    names and codes), ``campaign import`` (whose file is it), assign/withdraw/history, cross-year
    matching, consolidation's 未报送 and the portal's search, so "ｘ县　财政局" is "X县财政局"
    in all of them."""
    return normalise(text).upper()


def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(b) < 4 or not a:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.85


@dataclass
class Located:
    table: Table
    sheet: str
    cells: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (row_id, col_id) → (r, c)
    missing: list[str] = field(default_factory=list)  # labels not found

    @property
    def complete(self) -> bool:
        return len(self.cells) == len(self.table.cells)


class _Index:
    """Normalised text of every non-empty cell of a grid."""

    def __init__(self, grid: Grid):
        self.grid = grid
        self.text: dict[tuple[int, int], str] = {}
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if isinstance(v, str) and v.strip():
                    self.text[(r, c)] = normalise(v)

    def find(self, label: str, *, after_row: int = -1, exact_only: bool = False) -> tuple[int, int] | None:
        want = normalise(label)
        best = None
        for (r, c), t in sorted(self.text.items()):
            if r <= after_row:
                continue
            if t == want:
                return (r, c)
            if not exact_only and best is None and _similar(t, want):
                best = (r, c)
        return best

    def find_in_rows(self, label: str, rows: range, min_col: int) -> tuple[int, int] | None:
        want = normalise(label)
        hits = [(c, r) for (r, c), t in self.text.items() if r in rows and c >= min_col and t == want]
        if not hits:
            hits = [(c, r) for (r, c), t in self.text.items() if r in rows and c >= min_col and _similar(t, want)]
        if not hits:
            return None
        c, r = min(hits)
        return (r, c)


def locate_table(table: Table, grid: Grid, sheet: str) -> Located:
    """Positions of every cell of ``table`` on ``grid`` found from the labels alone."""
    index = _Index(grid)
    found = Located(table, sheet)
    start = -1
    title = index.find(table.title, exact_only=True)
    if title:
        start = title[0]
    for block in table.blocks:
        start = _locate_block(table, block, index, start, found)
    return found


def _locate_block(table: Table, block: Block, index: _Index, start: int, found: Located) -> int:
    if block.header:
        hit = index.find(block.header, after_row=start)
        if hit:
            start = hit[0]
    # Rows: each data row's label, in order, below the previous one.
    row_pos: dict[str, int] = {}
    cursor = start
    label_rows = [r for r in block.data_rows if r.label]
    for row in label_rows:
        hit = index.find(row.label, after_row=cursor)
        if hit is None:
            found.missing.append(row.label)
            continue
        row_pos[row.id] = hit[0]
        cursor = hit[0]
    first_data = min(row_pos.values(), default=None)
    # Column headers sit between the block start and its first data row.
    header_end = first_data if first_data is not None else None
    header_rows = range(start + 1, header_end if header_end is not None else start + 1 + 8)
    col_pos: dict[str, int] = {}
    min_col = 0
    last_header_row = start
    for col in block.columns:
        hit = index.find_in_rows(col.label, header_rows, min_col)
        if hit is None:
            found.missing.append(col.label)
            continue
        col_pos[col.id] = hit[1]
        min_col = hit[1] + 1
        last_header_row = max(last_header_row, hit[0])
    if not block.data_rows or not block.data_rows[0].label:
        # A table without row labels (表四): its one data row follows the last header row.
        row_pos = {r.id: last_header_row + 1 for r in block.data_rows}
    for row in block.data_rows:
        for col in block.columns:
            if row.id in row_pos and col.id in col_pos:
                found.cells[(row.id, col.id)] = (row_pos[row.id], col_pos[col.id])
    return max(list(row_pos.values()) + [last_header_row, start])


def edition_scores(spec_list: Sequence[Spec], texts: set[str]) -> dict[str, int]:
    """How many labels that are unique to each edition appear among ``texts`` (normalised)."""
    labels = {s.edition: _labels(s) for s in spec_list}
    scores = {}
    for s in spec_list:
        others = set().union(*(labels[o.edition] for o in spec_list if o is not s)) if len(spec_list) > 1 else set()
        unique = labels[s.edition] - others
        scores[s.edition] = len(unique & texts)
    return scores


def _labels(spec: Spec) -> set[str]:
    out = set()
    for t in spec.tables:
        out.add(normalise(t.title))
        for b in t.blocks:
            for r in b.rows:
                if r.label:
                    out.add(normalise(r.label))
            for c in b.columns:
                for p in c.path:
                    out.add(normalise(p))
    return out
