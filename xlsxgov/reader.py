"""Read a returned workbook (.xlsx .xlsm .xls .ods, whatever saved it) into a Submission.

Cells are found through the template's metadata sheet first; when it is missing, or the layout
moved (rows inserted, sheets renamed or reordered, tables pasted into a plain workbook), they are
found by their official labels and a note says what moved. Every value goes through
``values.parse_cell``; totals are recomputed from their parts, and what the file says for a
total is kept so the validator can report a typed total that disagrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator, Mapping
from functools import cache, lru_cache
from typing import Any

from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

from . import __version__
from . import spec as spec_mod
from .compute import CellKey, complete, input_expansion, key, to_display
from .findings import Finding
from .locate import _Index, edition_scores, locate_table, normalise
from .spec import Cell, Spec
from .template import CHECK_SHEET, COVER_FIELDS, COVER_SHEET, FORMAT_MARK, META_SHEET
from .values import FEN_PER_WANYUAN, MAX_NUMBER, Kind, parse_cell, raw_text
from .workbook import SheetScan, Unreadable, WorkbookScan, contained, open_workbook
from . import expr as expr_mod

@dataclass
class Fact:
    table: str
    row: str
    col: str
    row_label: str
    col_label: str
    sheet: str
    cell: str
    value: int | float | None  # in the unit the form prints (万元 for money)
    raw: Any
    is_input: bool

    def as_json(self) -> dict:
        raw = self.raw
        if raw is not None and not isinstance(raw, (str, int, float, bool)):
            raw = str(raw)
        return {
            "table": self.table,
            "row": self.row,
            "col": self.col,
            "row_label": self.row_label,
            "col_label": self.col_label,
            "sheet": self.sheet,
            "cell": self.cell,
            "value": self.value,
            "raw": raw,
        }


@dataclass
class Submission:
    path: Path
    spec: Spec
    meta: dict[str, str]  # agency, code, region, year, kind, consolidates, contact, phone …
    inputs: dict[CellKey, int]  # parsed input values in base units (分 for money); unusable → 0
    typed: dict[CellKey, int | None]  # what the file holds at every cell (None: blank or unusable)
    raw: dict[CellKey, Any]
    where: dict[CellKey, tuple[str, str]]  # (sheet, A1)
    findings: list[Finding] = field(default_factory=list)
    bad_cells: set[CellKey] = field(default_factory=set)  # values that could not be read
    _values: dict[CellKey, int] | None = None

    def __getstate__(self) -> dict:
        # Slim across processes (parallel.chunk_map): the spec goes as its id and file, loaded
        # once per process; computed totals are recomputed on demand.
        state = dict(self.__dict__)
        state["spec"] = (self.spec.edition, str(self.spec.path))
        state["_values"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        edition, path = state["spec"]
        spec = spec_mod.load(edition)
        if str(spec.path) != path:  # a spec given by its path, not found by its id
            spec = spec_mod.load(path)
        self.__dict__.update(state, spec=spec)

    @property
    def edition(self) -> str:
        return self.spec.edition

    @property
    def agency(self) -> str:
        return self.meta.get("agency", "")

    @property
    def sent_as(self) -> str:
        """The file as its sender named it: a campaign's submission carries the name it was sent
        under and its mail in ``meta["file_name"]`` (its path is the archive's hash name); any
        other file its own name."""
        return self.meta.get("file_name") or (self.path.name if self.path else "")

    @property
    def code(self) -> str:
        return self.meta.get("code", "")

    @property
    def year(self) -> int | None:
        m = re.search(r"(19|20)\d\d", self.meta.get("year", ""))
        return int(m.group(0)) if m else None

    @property
    def values(self) -> dict[CellKey, int]:
        """Inputs as read and every total recomputed from them."""
        if self._values is None:
            self._values = complete(self.spec, self.inputs)
        return self._values

    def facts(self) -> list[Fact]:
        """One fact per cell, in the spec's cell order (the campaign ledger relies on that order)."""
        return [Fact(cell.table.id, cell.row.id, cell.col.id, cell.row_label, cell.col_label, sheet, a1, value, raw, cell.is_input)
                for cell, sheet, a1, value, raw in self.cell_values()]

    def cell_values(self) -> Iterator[tuple[Cell, str, str, int | float | None, Any]]:
        """Per cell, in the spec's cell order: (cell, sheet, A1 reference ("" where not found),
        value in the unit the form prints (None where it could not be read), what the cell held).
        The one computation behind ``facts()`` and the rows the campaign ledger records."""
        values, where, raw, bad = self.values, self.where, self.raw, self.bad_cells
        for k, cell in _keyed_cells(self.spec):
            sheet, a1 = where.get(k, NOWHERE)
            v = values.get(k)
            yield cell, sheet, a1, None if v is None or k in bad else to_display(cell, v), raw.get(k)


NOWHERE = ("", "")  # (sheet, A1) of a cell not found in the file


@cache
def _keyed_cells(spec: Spec) -> tuple[tuple[CellKey, Cell], ...]:
    return tuple((key(cell), cell) for cell in spec.cells())


# ---------------------------------------------------------------------------------------------


def read_workbook(path: Path | str, *, edition: str | None = None, full: bool = False) -> Submission:
    """Read one returned workbook, opened by content (``workbook.open_workbook``).

    ``full=True`` parses the whole metadata sheet instead of checking it (see ``read_grids``);
    both give the same Submission (tests/test_fastpaths.py).
    Raises :class:`Unreadable` (one-line Chinese reason) and nothing else for any content:
    parser failures, including python-calamine panics, are contained here.
    """
    path = Path(path)
    opened = open_workbook(path)
    try:
        sub = read_grids(path, _Grids(opened.book, opened.scan), edition=edition, scan=opened.scan, full=full)
    except Unreadable:
        raise
    except BaseException as exc:  # one strange file costs that file only (code "internal": a bug)
        raise contained("读取工作簿", exc, "internal") from None
    for note in opened.notes:
        sub.findings.append(Finding("info", "workbook.format", "", "", note))
    return sub


class _Grids(Mapping[str, list[list[Any]]]):
    """The sheets of a workbook, each read on first use: a file read through its metadata never
    pays for the 校验 sheet or for sheets it does not need."""

    def __init__(self, wb, scan: WorkbookScan | None = None):
        self._wb = wb
        self._scan = scan
        self._names = list(dict.fromkeys(wb.sheet_names))
        self._read: dict[str, list[list[Any]]] = {}

    def __getitem__(self, name: str) -> list[list[Any]]:
        if name not in self._read:
            if name not in self._names:
                raise KeyError(name)
            if self._scan is not None:
                self._scan.sheet(name)  # budgets checked before calamine builds the grid
            try:
                self._read[name] = self._wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except BaseException as exc:  # calamine panics are BaseExceptions
                raise contained(f"读取工作表“{name}”", exc) from None
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def read_grids(path: Path, grids: Mapping[str, list[list[Any]]], *, edition: str | None = None,
               scan: WorkbookScan | None = None, full: bool = False) -> Submission:
    """Read the statutory tables from ``grids`` (sheet name -> rows of calamine values).

    ``scan`` says what the file stores where calamine shows a blank (error values, formulas
    saved without a result): such a cell is never read as 0. Cell places come from the
    metadata sheet: for a template this xlsxgov wrote, the places are the spec's layout and the
    sheet is only checked (``_meta_fast``: its first rows, not parsed whole, issue #13);
    ``full=True`` or any other file parses it whole. Either way the places are then checked
    against the labels on the sheets (``_positions``). ``full=True`` also sends every value
    through ``parse_cell``, plain numbers included.
    """
    findings: list[Finding] = []
    if scan is not None:
        _duplicate_sheets(scan)
    plain = not full  # the plain-number shortcut below is a fast path too
    fast = None if full else _meta_fast(scan)
    if fast is not None:
        meta, cover_map, meta_places = fast
    else:
        meta, cover_map, cell_rows = _metadata(grids.get(META_SHEET))
        meta_places = _meta_places(cell_rows)
    if meta.get("edition") in spec_mod.available_editions():
        spec = spec_mod.load(meta["edition"])
    else:
        spec = _detect_edition(grids)
        if spec is None:
            raise Unreadable("找不到政府信息公开年度报告的法定表格（没有识别出任何表格标签），请使用下发的模板填报", "no_tables")
    if edition and spec_mod.load(edition).edition != spec.edition:
        expected = spec_mod.load(edition)
        findings.append(Finding("error", "workbook.edition", "", "", f"表格版本不符：应使用{expected.name}，但报送的是{spec.name}，请使用下发的模板重新填写"))
    meta = {**meta, **_cover(grids, cover_map)}
    typed: dict[CellKey, int | None] = {}
    raw: dict[CellKey, Any] = {}
    where: dict[CellKey, tuple[str, str]] = {}
    inputs: dict[CellKey, int] = {}
    bad: set[CellKey] = set()
    found = 0
    placed = [(table, recorded := meta_places.get(table.id, {}), _positions(table, grids, recorded, findings)) for table in spec.tables]
    others = _other_sheets(spec, grids, placed)
    for table, recorded, positions in placed:
        if others:
            positions = _filled_copy(table, grids, positions, others, findings)
        if positions and positions is not recorded:  # located by labels: rows may have been inserted
            _note_extra_rows(table, grids, positions, findings)
        sheets: dict[str, list[list[Any]]] = {}
        stored: dict[str, SheetScan] = {}
        for k, kind, is_input, what, place in _placed_plan(table, positions, positions is recorded):
            if place is None:
                where[k], raw[k], typed[k] = ("", ""), None, None
                continue
            found += 1
            sheet, r, c, at = place
            grid = sheets.get(sheet)
            if grid is None:
                grid = sheets[sheet] = grids[sheet]
            line = grid[r] if r < len(grid) else ()
            value = line[c] if c < len(line) else None
            where[k], raw[k] = at, value
            # Plain numbers, nearly every cell: the same answer parse_cell gives, without its call.
            if plain and value.__class__ is float and value.is_integer() and 0 <= value <= MAX_NUMBER and kind is not Kind.TEXT:
                typed[k] = v = int(value) * FEN_PER_WANYUAN if kind is Kind.MONEY else int(value)
                if is_input:
                    inputs[k] = v
                continue
            a1 = at[1]
            if scan is not None and (value is None or value == ""):
                st = stored.get(sheet)
                if st is None:
                    st = stored[sheet] = scan.sheet(sheet)
                if st.errors or st.formulas:
                    shown = st.errors.get((r, c))
                    if shown is not None:
                        raw[k], typed[k] = shown, None
                        if is_input:
                            inputs[k] = 0
                            bad.add(k)
                        findings.append(Finding("error", "cell.error_value", sheet, a1, f"{what}{'' if is_input else '（合计）'}：单元格显示错误值 {shown}，请检查该单元格的公式或改填数字", (k,)))
                        continue
                    formula = st.formulas.get((r, c))
                    if formula is not None:
                        raw[k] = "=" + formula
                        if not is_input:  # a total is recomputed from its parts anyway
                            typed[k] = None
                            continue
                        value = _plain_arithmetic(formula)
                        if value is None:
                            typed[k], inputs[k] = None, 0
                            bad.add(k)
                            findings.append(Finding("error", "cell.formula_without_result", sheet, a1, f"{what}：{FORMULA_WITHOUT_RESULT}", (k,)))
                            continue
                        findings.append(Finding("info", "cell.formula_evaluated", sheet, a1, f"{what}：单元格含公式“={formula}”但没有保存计算结果，已按公式算得 {value}", (k,)))
            parsed = parse_cell(value, kind)
            if parsed.severity is None:  # the common case: a clean number
                typed[k] = parsed.value
                if is_input:
                    inputs[k] = parsed.value
                continue
            typed[k] = parsed.value if parsed.severity != "error" and not blank_value(value) else None
            if is_input:
                inputs[k] = parsed.value or 0
                if parsed.severity == "error":
                    bad.add(k)
                    findings.append(Finding("error", f"cell.{kind.value}", sheet, a1, f"{what}：{parsed.message}", (k,)))
                elif parsed.severity == "info":
                    rule = "blank" if parsed.code == "blank" else "cell.normalised"
                    findings.append(Finding("info", rule, sheet, a1, f"{what}：{parsed.message}", (k,)))
            elif parsed.severity == "error" and not blank_value(value):
                findings.append(Finding("error", f"cell.{kind.value}", sheet, a1, f"{what}（合计）：{parsed.message}", (k,)))
    if not found:
        raise Unreadable("工作簿中找不到法定表格的数据单元格，请使用下发的模板填报", "no_tables")
    if any(f.rule == "cell.error_value" for f in findings):
        _blame_text_parts(spec, findings, raw, where, bad)
    sub = Submission(path, spec, meta, inputs, typed, raw, where, findings, bad)
    _cover_findings(sub)
    return sub


def _other_sheets(spec: Spec, grids, placed) -> list[str]:
    """Sheets that are none of the workbook's own (cover, 校验, metadata) and hold no statutory
    table as located: a copy of a table may be there. Usually none: the template's own names
    are ruled out first, so a file as issued costs nothing more here."""
    others = [n for n in grids if n not in _own_sheet_names(spec)]
    if not others:
        return others
    used = {sheet for _, _, positions in placed for sheet, _, _ in positions.values()}
    return [n for n in others if n not in used]


@cache
def _own_sheet_names(spec: Spec) -> frozenset[str]:
    return frozenset({t.sheet for t in spec.tables} | {META_SHEET, CHECK_SHEET, COVER_SHEET})


def _filled_copy(table, grids, positions, others: list[str], findings: list[Finding]):
    """Where to read ``table`` when another sheet holds a copy of it (found by a new user's
    trial: the agency filled a copy of 表三 and left the original blank, and the report passed
    with 表三 read as zeros). The original blank and one copy filled: the copy is read, with a
    warning; several filled copies: an error, nothing guessed; the original filled and a copy
    filled too: the original is read, with a warning naming the copy."""
    filled = []
    for name in others:
        located = locate_table(table, grids[name], name)
        places = {k: (name, r, c) for k, (r, c) in located.cells.items()}
        if located.complete and _has_numbers(table, grids, places):
            filled.append(places)
    if not filled:
        return positions
    names = "、".join(f"“{copy[next(iter(copy))][0]}”" for copy in filled)
    sheet = next(iter(positions.values()))[0] if positions else ""
    if positions and _has_numbers(table, grids, positions):
        findings.append(Finding("warning", "workbook.table_copy", sheet, "", f"工作表{names}中另有一份填写了数字的{table.short}，未读取；已按工作表“{sheet}”读取，请核对哪一份是要报送的"))
        return positions
    if len(filled) > 1:
        findings.append(Finding("error", "workbook.table_copies", "", "", f"{table.short}在工作表{names}中各填写了一份，无法确定报送的是哪一份，请只保留一份后重新报送"))
        return positions
    copy = filled[0][next(iter(filled[0]))][0]
    findings.append(Finding("warning", "workbook.table_copy", copy, "", f"{table.short}填写在工作表{names}中{f'（工作表“{sheet}”为空白）' if sheet else ''}，已按该工作表读取，请核对"))
    return filled[0]


def _has_numbers(table, grids, positions) -> bool:
    """Any input cell of ``table`` at ``positions`` holding something (a number, or text)."""
    for cell in table.cells:
        place = positions.get(cell.key) if cell.is_input else None
        if place is None:
            continue
        sheet, r, c = place
        grid = grids[sheet]
        line = grid[r] if r < len(grid) else ()
        if c < len(line) and not blank_value(line[c]):
            return True
    return False


def _note_extra_rows(table, grids, positions, findings: list[Finding]) -> None:
    """A row inserted inside a table located by its labels, holding numbers in the table's
    columns, is not a row of the form: its numbers are not counted, and a warning says so
    (``workbook.extra_row``) instead of leaving them out silently (found by a second trial)."""
    by_sheet: dict[str, tuple[set[int], set[int]]] = {}
    for sheet, r, c in positions.values():
        rows, cols = by_sheet.setdefault(sheet, (set(), set()))
        rows.add(r)
        cols.add(c)
    for sheet, (rows, cols) in by_sheet.items():
        grid = grids.get(sheet) or []
        first_col = min(cols)
        for r in range(min(rows), min(max(rows), len(grid) - 1) + 1):
            if r in rows:
                continue
            line = grid[r]
            numbers = [line[c] for c in sorted(cols) if c < len(line) and isinstance(line[c], (int, float)) and not isinstance(line[c], bool) and line[c]]
            if not numbers:
                continue
            label = next((str(v).strip() for v in line[:first_col] if isinstance(v, str) and v.strip()), "")
            shown = "、".join(str(raw_text(v)) for v in numbers[:6]) + ("……" if len(numbers) > 6 else "")
            findings.append(Finding(
                "warning", "workbook.extra_row", sheet, _a1(r, first_col),
                f"{table.short}第{r + 1}行{f'“{label}”' if label else ''}不是表格中的栏目，其中的数字（{shown}）未计入统计；"
                f"如属于表格中某一项，请填入该项"))



FORMULA_WITHOUT_RESULT = "单元格含公式但没有计算结果，请用 Excel/WPS 打开并保存后重新报送"


def _plain_arithmetic(formula: str) -> int | None:
    """The value of a formula of whole numbers joined by + and - (``3+4``), through the
    project's whitelisted expression parser; None for anything else (cell references,
    functions, other operators), which the clerk must recalculate in Excel/WPS."""
    text = formula.strip().lstrip("=")
    if not text or len(text) > 200:
        return None
    try:
        linear = expr_mod.parse_sum(text)
    except (expr_mod.ExprError, RecursionError, MemoryError, ValueError):
        return None
    if linear.names():
        return None
    return sum(t.sign * t.constant for t in linear.terms)


def _duplicate_sheets(scan: WorkbookScan) -> None:
    """Two sheets whose names are the same (as Excel compares them) make "the" 表三 ambiguous."""
    seen: set[str] = set()
    for name in scan.names:
        keys = _sheet_name_keys(name)
        if keys & seen:
            raise Unreadable(f"工作簿中有两个同名的工作表“{name}”，无法确定以哪一个为准，请删除多余的工作表后重新报送", "duplicate_sheets")
        seen |= keys


@lru_cache(maxsize=1024)
def _sheet_name_keys(name: str) -> frozenset[str]:
    """How a sheet's name collides with another's: as Excel compares names, and, for a
    statutory sheet, normalised as the reader finds it (cached: a batch repeats its names)."""
    folded = name.casefold()
    norm = normalise(name)
    return frozenset({folded, "statutory:" + norm} if norm in _statutory_sheet_names() else {folded})


@cache
def _statutory_sheet_names() -> frozenset[str]:
    names = {normalise(n) for n in (COVER_SHEET, META_SHEET)}
    for e in spec_mod.available_editions():
        names |= {normalise(t.sheet) for t in spec_mod.load(e).tables}
    return frozenset(names)


_PLACED: dict[int, tuple[Any, tuple]] = {}  # id(places) -> (places, plan): places live in caches


def _placed_plan(table, positions, cacheable: bool) -> tuple:
    """Per cell of ``table``: (cell key, kind, is input, message name, (sheet, row, col,
    (sheet, A1)) or None when not located). Cached for the places of the spec's layout and
    of a metadata sheet (``cacheable``: dicts that live in caches); afresh for any other."""
    hit = _PLACED.get(id(positions))
    if hit is not None and hit[0] is positions:
        return hit[1]
    plan = tuple(
        (k, kind, is_input, what, None if (pos := positions.get(cell_key)) is None else (*pos, (pos[0], _a1(pos[1], pos[2]))))
        for cell_key, k, kind, is_input, what in _read_plan(table)
    )
    if cacheable:
        if len(_PLACED) > 512:  # metadata places evicted from their cache and parsed again
            _PLACED.clear()
        _PLACED[id(positions)] = (positions, plan)  # the dict is kept alive here: its id stays its own
    return plan


@cache
def _read_plan(table) -> tuple[tuple[tuple[str, str], CellKey, Kind, bool, str], ...]:
    """Per cell of ``table``: (row/col key, cell key, kind, is input, how a message names it)."""
    return tuple(
        (cell.key, key(cell), cell.kind, cell.is_input, cell.named)
        for cell in table.cells
    )


def blank_value(value: Any) -> bool:
    """A cell left empty (None, or only spaces)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _metadata(grid) -> tuple[dict[str, str], dict[str, tuple[str, str]], tuple[tuple[str, ...], ...]]:
    """(key/value metadata, cover field places, the raw 'cell' rows) of the hidden sheet."""
    meta: dict[str, str] = {}
    cover: dict[str, tuple[str, str]] = {}
    cells: list[tuple[str, ...]] = []
    if not grid:
        return meta, cover, ()
    for row in grid:
        head = row[0] if row else None
        if head == "cell":
            cells.append(tuple(row[1:6]))
            continue
        vals = [("" if v is None else str(v)) for v in row] + [""] * 6
        if vals[0] == "cover":
            cover[vals[1]] = (vals[2], vals[3])
        elif vals[0]:
            meta[vals[0]] = vals[1]
    if meta.get("format") != FORMAT_MARK:
        return {}, {}, ()
    return meta, cover, tuple(cells)


_META_HEAD = 16 * 1024  # the metadata rows before the first cell row: about 3 KB of XML
_META_ROW_RE = re.compile(rb'<row r="([0-9]{1,7})"[^>]*?(?:/>|>(.*?)</row>)', re.S)
_META_CELL_RE = re.compile(rb'<c r="([A-Z]{1,3})[0-9]{1,7}"( t="s")?[^>]*?(?:/>|>(?:<v>([0-9]{1,9})</v>)?</c>)')
_META_DIM_RE = re.compile(rb'<dimension ref="A1:[A-Z]{1,3}([0-9]{1,7})"/>')


def _meta_fast(scan: WorkbookScan | None):
    """(meta, cover places, cell places) of a template this very xlsxgov wrote, without parsing
    its metadata sheet: the rows before the first ``cell`` row are read from the head of the
    sheet's XML, and the cell places are the spec's layout. None (read the sheet whole) unless
    every check holds: format mark, known edition, this spec version and generator, every
    value a plain shared string, and the sheet's extent exactly those rows plus one row per
    cell of the spec, as the writer (``template._write_meta``) lays them out."""
    if scan is None or scan.head is None or META_SHEET not in scan.names:
        return None
    xml = scan.head(META_SHEET, _META_HEAD)
    dim = _META_DIM_RE.search(xml or b"")
    start = xml.find(b"<sheetData>") if dim else -1
    if start < 0:
        return None
    strings = scan.strings()
    meta: dict[str, str] = {}
    cover: dict[str, tuple[str, str]] = {}
    head_rows = 0
    for row in _META_ROW_RE.finditer(xml, start):  # lazily: the rows after the head are not wanted
        number, body = row.groups()
        if int(number) != head_rows + 1:
            return None  # rows missing or out of order: not as the writer lays them out
        vals: list[str] = []
        for col, shared, index in _META_CELL_RE.findall(body):
            if len(vals) >= len(_COLS) or col != _COLS[len(vals)] or not shared or not index:
                return None
            text = strings[int(index)]
            if text is None:
                return None
            vals.append(text)
        vals += [""] * 6
        if vals[0] == "cell":
            break
        head_rows += 1
        if vals[0] == "cover":
            cover[vals[1]] = (vals[2], vals[3])
        elif vals[0]:
            meta[vals[0]] = vals[1]
    else:
        return None  # no cell row within the head
    if meta.get("format") != FORMAT_MARK or meta.get("generator") != _GENERATOR:
        return None
    if meta.get("edition") not in spec_mod.available_editions():
        return None
    spec = spec_mod.load(meta["edition"])
    if meta.get("spec_version") != str(spec.version) or int(dim.group(1)) != head_rows + _cell_count(spec):
        return None
    return meta, cover, _layout_places(spec)


_GENERATOR = f"xlsxgov {__version__}"  # as template._write_meta records it
_COLS = (b"A", b"B", b"C", b"D", b"E", b"F")


@cache
def _cell_keys(table) -> frozenset:
    return frozenset(cell.key for cell in table.cells)


@cache
def _cell_count(spec: Spec) -> int:
    return sum(1 for _ in spec.cells())


@cache
def _layout_places(spec: Spec) -> dict[str, dict[tuple[str, str], tuple[str, int, int]]]:
    """table id -> (row id, col id) -> (sheet, row, col) as ``template._write_meta`` records them."""
    from .layout import layout

    lay = layout(spec)
    return {t.id: {c.key: (t.sheet, *_rowcol(lay[t.id].place(c).a1)) for c in t.cells} for t in spec.tables}


@lru_cache(maxsize=32)
def _meta_places(cell_rows: tuple[tuple[str, ...], ...]) -> dict[str, dict[tuple[str, str], tuple[str, int, int]]]:
    """table id -> (row id, col id) -> (sheet, row, col) as the metadata records them. Cached:
    every template of an edition carries the same rows, so this is parsed once per batch."""
    out: dict[str, dict[tuple[str, str], tuple[str, int, int]]] = {}
    for row in cell_rows:
        vals = [("" if v is None else str(v)) for v in row] + [""] * 5
        place = _recorded_place(vals[4])
        if place is None:  # a damaged reference: that cell is located by its labels instead
            continue
        out.setdefault(vals[0], {})[(vals[1], vals[2])] = (vals[3], *place)
    return out


_A1_RE = re.compile(r"[A-Z]{1,3}[1-9][0-9]{0,6}")


def _recorded_place(a1: str) -> tuple[int, int] | None:
    """(row, col) of a reference the metadata sheet records, None when it is damaged (xlsxwriter
    would warn and answer A1 for it)."""
    return _rowcol(a1) if _A1_RE.fullmatch(a1) else None


def _detect_edition(grids) -> Spec | None:
    texts = {normalise(v) for g in grids.values() for row in g for v in row if isinstance(v, str) and v.strip()}
    specs = [spec_mod.load(e) for e in spec_mod.available_editions()]  # newest first: ties go to it
    scores = edition_scores(specs, texts)
    best = max(scores, key=scores.get)
    return spec_mod.load(best) if scores[best] > 0 else None


def _positions(table, grids, recorded, findings: list[Finding]) -> dict[tuple[str, str], tuple[str, int, int]]:
    """Where each cell of ``table`` is: from the metadata when it still fits the sheet, else by labels."""
    if recorded.keys() == _cell_keys(table):
        from_meta = recorded  # the usual case: kept as is (cached), so its read plan is cached too
    else:
        from_meta = {cell.key: recorded[cell.key] for cell in table.cells if cell.key in recorded}
    if from_meta and _meta_fits(table, grids, from_meta):
        return from_meta
    candidates = [n for n in grids if n not in (META_SHEET, CHECK_SHEET, COVER_SHEET)]
    best = None
    for name in candidates:
        located = locate_table(table, grids[name], name)
        if best is None or len(located.cells) > len(best.cells):
            best = located
    if best is None or not best.cells:
        findings.append(Finding("error", "workbook.table_missing", "", "", f"找不到{table.short}“{table.title}”，请使用下发的模板填报"))
        return {}
    if from_meta:
        findings.append(Finding("info", "workbook.moved", best.sheet, "", f"{table.short}的位置与模板不同（可能插入了行列或改了工作表名称），已按表格标签在工作表“{best.sheet}”中定位"))
    if not best.complete:
        labels = "、".join(dict.fromkeys(best.missing))[:200]
        findings.append(Finding("error", "workbook.labels_missing", best.sheet, "", f"{table.short}中找不到以下栏目：{labels}"))
    return {k: (best.sheet, r, c) for k, (r, c) in best.cells.items()}


def _meta_fits(table, grids, places) -> bool:
    """The metadata is trusted only if each labelled row still carries its label on the same line."""
    deepest: dict[str, int] = {}
    for sheet, r, _ in places.values():
        if r >= deepest.get(sheet, -1):
            deepest[sheet] = r
    for sheet, r in deepest.items():
        grid = grids.get(sheet)
        if grid is None or r >= len(grid):
            return False
    for cell_key, label in _row_label_cells(table):
        if cell_key not in places:  # a damaged metadata sheet lost this row's place
            return False
        sheet, r, c = places[cell_key]
        line = grids[sheet][r][:c]
        if label in line:  # as the template wrote it; normalising is for what people changed
            continue
        want = normalise(label)
        if not any(normalise(v) == want for v in line):
            return False
    return True


@cache
def _row_label_cells(table) -> tuple[tuple[tuple[str, str], str], ...]:
    """(first cell of each labelled data row, the row's label)."""
    out = []
    for row in (r for b in table.blocks for r in b.data_rows if r.label):
        cell = table.cell(row.id, table.block_of_row(row.id).columns[0].id)
        out.append((cell.key, row.label))
    return tuple(out)


def _blame_text_parts(spec: Spec, findings: list[Finding], raw: Mapping[CellKey, Any], where: Mapping[CellKey, tuple[str, str]],
                      refused: set[CellKey]) -> None:
    """A total that shows an error value (#VALUE!) because one of its parts holds text the reader
    took for a number or a blank ("五", "5件", "无": a 提示 on that part) gets its error put on those parts, which
    the agency can edit, naming what they hold: the total is a protected formula cell, and the
    sheet's own formulas cannot add text (found by a new user's trial, issue #9 leftover).
    ``refused``: the inputs that are errors themselves (read_grids' ``bad``)."""
    # Text read as a number ("五", "5件") or as a blank ("无", "—", "/"): either way a formula of
    # the sheet cannot add it.
    read_as_numbers = {f.cells[0] for f in findings if len(f.cells) == 1 and (
        f.rule == "cell.normalised" or (f.rule == "blank" and isinstance(raw.get(f.cells[0]), str) and raw[f.cells[0]].strip()))}
    # A part that is an error already ("见附件", "=1+1", its own #REF!) explains its totals' error
    # value: one mistake is one error, whichever program last saved the file (LibreOffice
    # recalculates the totals to #VALUE!, openpyxl keeps the old result; found by a trial).
    if refused:
        findings[:] = [f for f in findings if not _explained_total(spec, f, refused)]
    if not read_as_numbers:
        return
    for i, f in enumerate(findings):
        if f.rule != "cell.error_value" or len(f.cells) != 1:
            continue
        t, r, c = f.cells[0]
        table = spec.table(t)
        cell = table.cell(r, c)
        if cell is None or cell.is_input:
            continue
        parts = [k for k in input_expansion(cell) if k in read_as_numbers and where.get(k, NOWHERE)[1]]
        if not parts:
            continue
        held = "、".join(f"{spec.table(k[0]).short} {where[k][1]}“{raw.get(k)}”" for k in parts)
        head = f.message.split("：", 1)[0]
        findings[i] = Finding(
            "error", f.rule, where[parts[0]][0], ",".join(where[k][1] for k in parts),
            f"{head}显示错误值 {raw.get(f.cells[0])}，因为{held}填写的是文字，表格中的公式无法相加：请改填阿拉伯数字（没有的填 0）",
            tuple(parts),
        )


def _explained_total(spec: Spec, finding: Finding, refused: set[CellKey]) -> bool:
    """``finding`` is a total's error value and one of the inputs it adds up is in ``refused``."""
    if finding.rule != "cell.error_value" or len(finding.cells) != 1:
        return False
    t, r, c = finding.cells[0]
    cell = spec.table(t).cell(r, c)
    return cell is not None and not cell.is_input and not refused.isdisjoint(input_expansion(cell))


@cache
def _rowcol(a1: str) -> tuple[int, int]:
    return xl_cell_to_rowcol(a1)


@lru_cache(maxsize=65536)
def _a1(r: int, c: int) -> str:
    return xl_rowcol_to_cell(r, c)


COVER_LABELS = {name: label for name, label in COVER_FIELDS}
COVER_ALIASES = {"agency": ("单位名称", "填报单位"), "code": ("统一社会信用代码",), "year": ("报告年度", "年度"), "region": ("所属地区", "地区")}


def _cover(grids, cover_map) -> dict[str, str]:
    out: dict[str, str] = {}
    damaged = False
    for name, (sheet, a1) in cover_map.items():
        grid = grids.get(sheet)
        place = _recorded_place(a1)
        if place is None:
            damaged = True
            continue
        if grid is None:
            continue
        r, c = place
        if r < len(grid) and c < len(grid[r]):
            v = grid[r][c]
            out[name] = "" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)).strip()
    if not cover_map:
        out.update(_cover_by_labels(grids))
    elif damaged:  # the metadata lost a cover field's place: that field is found by its label
        for name, value in _cover_by_labels(grids).items():
            out.setdefault(name, value)
    return out


def _cover_by_labels(grids) -> dict[str, str]:
    """A workbook without metadata: take the value beside (or after '：' in) a cover label."""
    out: dict[str, str] = {}
    for name, aliases in COVER_ALIASES.items():
        for grid in grids.values():
            index = _Index(grid)
            for (r, c), text in index.text.items():
                hit = next((a for a in aliases if text.startswith(normalise(a))), None)
                if not hit:
                    continue
                rest = text[len(normalise(hit)):].lstrip(":")
                if rest:
                    out.setdefault(name, rest)
                elif c + 1 < len(grid[r]) and not blank_value(grid[r][c + 1]):
                    v = grid[r][c + 1]
                    out.setdefault(name, str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip())
    return out


def _cover_findings(sub: Submission) -> None:
    if not sub.agency:
        sub.findings.append(Finding("error", "cover.agency", COVER_SHEET, "", "封面未填写单位名称"))
    if not sub.year:
        sub.findings.append(Finding("error", "cover.year", COVER_SHEET, "", "封面未填写报告年度"))
    if not sub.code and sub.meta.get("kind") != "consolidated":
        if sub.meta.get("source") == "report":  # written by extract -o: reports never print the code
            sub.findings.append(Finding("warning", "cover.code", COVER_SHEET, "", "封面未填写统一社会信用代码（数据取自年度报告，报告中不印代码；可用 extract --code 写入）"))
        else:
            sub.findings.append(Finding("error", "cover.code", COVER_SHEET, "", "封面未填写统一社会信用代码"))
