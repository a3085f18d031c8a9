"""Edition specs: load ``templates/*.yaml``, validate them, and answer questions about cells.

A spec is the single source of truth of one edition of the statutory tables. Everything else
(template layout, formulas, validation, reader, consolidation, HTML) is derived from the
objects built here. A bad spec is rejected with a message naming the file and the problem.

Longer than 600 lines on purpose: the model and the one builder that checks every key of it
belong together, so that what a spec may say and how it is checked are read side by side.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import yaml

from . import expr as ex
from .errors import SpecError
from .vocab import DEFAULT_EDITION
from .values import Kind

def _spec_dir() -> Path:
    """The shipped specs: ``xlsxgov/specs`` in an installed wheel (the build maps ``templates/``
    there), else ``templates/`` of the source checkout, the one place they are edited."""
    here = Path(__file__).resolve().parent
    packaged = here / "specs"
    return packaged if packaged.is_dir() else here.parent / "templates"


SPEC_DIR = _spec_dir()
SPECS_ENV = "XLSXGOV_SPECS"  # extra folders of edition specs (os.pathsep separated)
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
RULE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
SEVERITIES = ("error", "warning")


# ---------------------------------------------------------------------------------------------
# The model


@dataclass(eq=False)
class Column:
    id: str | None  # header groups may have no id
    label: str
    kind: Kind | None = None
    short: str | None = None
    note: str | None = None
    total: ex.Linear | None = None
    rule: str | None = None
    message: str | None = None
    children: list["Column"] = field(default_factory=list)
    path: tuple[str, ...] = ()  # labels from the top header down to this one

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def leaves(self) -> list["Column"]:
        return [self] if self.is_leaf else [leaf for c in self.children for leaf in c.leaves()]

    @property
    def display(self) -> str:
        return self.short or self.label


@dataclass(eq=False)
class Row:
    id: str
    label: str
    short: str | None = None
    kind: Kind | None = None
    unit: str | None = None
    note: str | None = None
    total: ex.Linear | None = None
    rule: str | None = None
    message: str | None = None
    children: list["Row"] = field(default_factory=list)
    depth: int = 0
    path: tuple[str, ...] = ()
    has_cells: bool = True

    def leaves(self) -> list["Row"]:
        return [self] if not self.children else [leaf for c in self.children for leaf in c.leaves()]

    def walk(self) -> Iterator["Row"]:
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def display(self) -> str:
        return self.short or self.label

    @property
    def named(self) -> str:
        """The row as a message names it: ``（一）予以公开行``. A display that cites an item of
        the form (``第一项``, ``第三项（七）总计``: 表三's own 勾稽 note, FORMATS.md "表三") already
        names a row, so it stands alone; "第一项行" is not Chinese."""
        return self.display if _ITEM_CITATION.match(self.display) else f"{self.display}行"


# "第一项", "第三项（七）总计": how the official form cites its own numbered items.
_ITEM_CITATION = re.compile(r"第[一二三四五六七八九十\d]+项")


@dataclass(eq=False)
class Cell:
    table: "Table"
    block: "Block"
    row: Row
    col: Column
    kind: Kind
    total: ex.Linear | None  # the formula, in the names of `total_axis`
    total_axis: str | None  # "row": names are column ids of this row; "column": row ids of this column
    rule: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.row.id, self.col.id)

    @property
    def is_input(self) -> bool:
        return self.total is None

    @property
    def col_label(self) -> str:
        return "/".join(self.col.path)

    @property
    def row_label(self) -> str:
        return "/".join(self.row.path)

    @property
    def named(self) -> str:
        """The cell as a message names it: ``表三 第一项/自然人``. In a table whose one data row
        has no label (表四), by the column's path, ``表四 行政诉讼/复议后起诉/结果维持``: three
        of its columns are each called 结果维持 (found by a trial)."""
        if self.row.display:
            return f"{self.table.short} {self.row.display}/{self.col.display}"
        return f"{self.table.short} {self.col_label}"


@dataclass(eq=False)
class Block:
    id: str
    header: str | None
    corner: str | None
    unit_header: str | None
    column_tree: list[Column]
    row_tree: list[Row]

    @property
    def columns(self) -> list[Column]:
        return [leaf for c in self.column_tree for leaf in c.leaves()]

    @property
    def rows(self) -> list[Row]:
        """Every row node in reading order (headings included)."""
        return [r for top in self.row_tree for r in top.walk()]

    @property
    def data_rows(self) -> list[Row]:
        return [r for r in self.rows if r.has_cells]

    @property
    def header_depth(self) -> int:
        def depth(c: Column) -> int:
            return 1 + max((depth(ch) for ch in c.children), default=0)

        return max((depth(c) for c in self.column_tree), default=0)


@dataclass(eq=False)
class Check:
    id: str
    severity: str
    for_each: str  # "row" or "column"
    expr: ex.Comparison
    message: str
    table: "Table"
    blocks: list[Block]
    rows: list[str] | None = None  # restrict for_each=row to these row ids
    columns: list[str] | None = None  # restrict for_each=column to these column ids
    implicit_total: Cell | None = None  # set for the check every computed cell carries
    _instances: list["CheckInstance"] | None = field(default=None, repr=False)

    def instances(self) -> list["CheckInstance"]:
        # A loaded spec never changes, so each rule's instances are built once and shared: the
        # validator compiles them and keys its caches on them.
        if self._instances is None:
            self._instances = self._build_instances()
        return self._instances

    def _build_instances(self) -> list["CheckInstance"]:
        out = []
        for block in self.blocks:
            if self.for_each == "row":
                scopes = [r for r in block.data_rows if self.rows is None or r.id in self.rows]
            else:
                scopes = [c for c in block.columns if self.columns is None or c.id in self.columns]
            for scope in scopes:
                instance = CheckInstance(self, block, scope)
                if instance.applies():
                    out.append(instance)
        return out


@dataclass(eq=False)
class CheckInstance:
    """One rule applied to one row or one column: the unit a finding and a 校验 line speak of."""

    check: Check
    block: Block
    scope: Row | Column
    _cells_by_term: dict = field(default_factory=dict, repr=False)

    def applies(self) -> bool:
        if self.check.implicit_total is not None:
            cell = self.check.implicit_total
            return self.scope is (cell.row if self.check.for_each == "row" else cell.col)
        return all(self.cells_of(t) for t in self.terms())

    def terms(self) -> list[ex.Term]:
        e = self.check.expr
        return [t for t in e.left.terms + e.right.terms if t.name is not None]

    def cells_of(self, term: ex.Term) -> list[Cell]:
        cached = self._cells_by_term.get(term)
        if cached is None:
            try:
                cached = self._cells_of(term)
            except KeyError:  # a block of a multi-block check without this row or column
                cached = []
            self._cells_by_term[term] = cached
        return cached

    def _cells_of(self, term: ex.Term) -> list[Cell]:
        table = self.check.table
        if self.check.for_each == "row":
            cols = self.block.column_group(term.name) if term.is_sum else [self.block.column(term.name)]
            return [c for c in (table.cell(self.scope.id, col.id) for col in cols) if c is not None]
        rows = self.block.row_group(term.name) if term.is_sum else [self.block.row(term.name)]
        return [c for c in (table.cell(row.id, self.scope.id) for row in rows) if c is not None]

    def cells(self) -> list[Cell]:
        seen: dict[int, Cell] = {}
        for term in self.terms():
            for c in self.cells_of(term):
                seen.setdefault(id(c), c)
        return list(seen.values())

    def term_label(self, term: ex.Term) -> str:
        if self.check.for_each == "row":
            node = self.block.column_node(term.name)
        else:
            node = self.block.row(term.name)
        if term.is_sum and node.children and self.check.implicit_total is None and term.name in self.check.expr.left.names() + self.check.expr.right.names() and not all(
            t.is_sum for t in self.check.expr.left.terms + self.check.expr.right.terms if t.name == term.name
        ):
            return f"{node.display}所含各项"  # the same name stands for the row itself elsewhere in the rule
        return node.display

    @property
    def scope_label(self) -> str:
        if isinstance(self.scope, Row):
            if self.scope.display:
                return self.scope.named
            # 表四's single data row has no label: name the column group the total belongs to.
            target = self.check.implicit_total
            if target is not None and len(target.col.path) > 1:
                return "/".join(target.col.path[:-1])
            return self.check.table.short
        return f"{self.scope.display}列"

    @property
    def key(self) -> str:
        target = self.check.implicit_total
        if target is not None:  # several totals may share a rule and a row (表四's three groups)
            return f"{self.check.id}[{target.row.id}.{target.col.id}]"
        return f"{self.check.id}[{self.scope.id}]"


@dataclass(eq=False)
class Table:
    id: str
    short: str
    title: str
    sheet: str
    label_columns: int
    kind: Kind
    blocks: list[Block]
    checks: list[Check] = field(default_factory=list)
    note: str | None = None
    guide: str = ""  # what the table counts, for the cover's 填报说明 (from the official form)
    cells: list[Cell] = field(default_factory=list)
    _cell_index: dict[tuple[str, str], Cell] = field(default_factory=dict)

    def cell(self, row_id: str, col_id: str) -> Cell | None:
        return self._cell_index.get((row_id, col_id))

    @property
    def data_width(self) -> int:
        return max(len(b.columns) for b in self.blocks)

    @property
    def input_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.is_input]

    def row(self, row_id: str) -> Row:
        for block in self.blocks:
            for r in block.rows:
                if r.id == row_id:
                    return r
        raise KeyError(row_id)

    def block_of_row(self, row_id: str) -> Block:
        for block in self.blocks:
            if any(r.id == row_id for r in block.rows):
                return block
        raise KeyError(row_id)


@dataclass(frozen=True)
class CrossYear:
    """An edition's part in the cross-year rules (crossyear.py), from its ``cross_year:`` block.

    Every edition with the block takes part in ``t3.carry_over`` (table t3, rows carried_in and
    carried_over, same column ids across editions). ``stock_column``: the table t2 column of
    现行有效件数 (None: the edition has none, so ``t2.valid_stock`` cannot use it as last year);
    ``stock_rows``: this edition's t2 row ids → the row ids ``t2.valid_stock`` compares.
    """

    stock_column: str | None = None
    stock_rows: Mapping[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class Spec:
    """One edition of the statutory tables, as its spec file declares it (README, "Edition specs")."""

    edition: str
    name: str
    basis: str
    version: int
    years: tuple[int | None, int | None]  # first and last report year the edition is for (None: open)
    tables: list[Table]
    path: Path
    cross_year: CrossYear | None = None  # None: the edition takes no part in cross-year rules

    def table(self, table_id: str) -> Table:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)

    @property
    def checks(self) -> list[Check]:
        return [c for t in self.tables for c in t.checks]

    def cells(self) -> Iterator[Cell]:
        for t in self.tables:
            yield from t.cells

    def instances(self) -> list[CheckInstance]:
        return [i for c in self.checks for i in c.instances()]


# Block lookups live on Block; attached here to keep the dataclass declarations readable.
def _block_row(self: Block, row_id: str) -> Row:
    # An index built on first lookup: a block is complete before anything looks a row up by id,
    # and validation names rows in every failure message (thousands per batch).
    index = self.__dict__.get("_rows_by_id")
    if index is None:
        index = self.__dict__["_rows_by_id"] = {}
        for r in self.rows:
            index.setdefault(r.id, r)  # the first in reading order, as a scan would find
    return index[row_id]


def _block_row_group(self: Block, row_id: str) -> list[Row]:
    return [r for r in self.row(row_id).leaves() if r.has_cells] or [self.row(row_id)]


def _block_column_node(self: Block, col_id: str) -> Column:
    def walk(nodes: list[Column]) -> Iterator[Column]:
        for n in nodes:
            yield n
            yield from walk(n.children)

    index = self.__dict__.get("_columns_by_id")
    if index is None:  # as for rows: built on first lookup
        index = self.__dict__["_columns_by_id"] = {}
        for c in walk(self.column_tree):
            index.setdefault(c.id, c)
    return index[col_id]


def _block_column(self: Block, col_id: str) -> Column:
    node = self.column_node(col_id)
    if not node.is_leaf:
        raise KeyError(col_id)
    return node


def _block_column_group(self: Block, col_id: str) -> list[Column]:
    return self.column_node(col_id).leaves()


Block.row = _block_row  # type: ignore[attr-defined]
Block.row_group = _block_row_group  # type: ignore[attr-defined]
Block.column_node = _block_column_node  # type: ignore[attr-defined]
Block.column = _block_column  # type: ignore[attr-defined]
Block.column_group = _block_column_group  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Loading


def spec_dirs() -> list[Path]:
    """Where edition specs are found: the shipped ones, then every folder of the environment
    variable XLSXGOV_SPECS (os.pathsep separated), so that a new edition is one YAML file."""
    extra = [Path(p) for p in os.environ.get(SPECS_ENV, "").split(os.pathsep) if p]
    return [SPEC_DIR, *extra]


def _edition_file(edition: str) -> Path | None:
    for folder in spec_dirs():
        path = folder / f"{edition}.yaml"
        if path.is_file():
            return path
    return None


def available_editions() -> list[str]:
    """Every edition id a spec file declares, newest first (by the first report year it is for).

    The order is the one the reader tries when it recognises an edition by its labels. Every
    workbook read asks; the folders are listed again only when one of them changed."""
    return list(_editions_in(tuple((folder, _listing_stamp(folder)) for folder in spec_dirs())))


def _listing_stamp(folder: Path) -> int:
    """Changes when a file is added to, removed from or renamed in ``folder`` (its mtime)."""
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return -1


@lru_cache(maxsize=8)
def _editions_in(folders: tuple[tuple[Path, int], ...]) -> tuple[str, ...]:
    names = {p.stem for folder, _ in folders for p in folder.glob("*.yaml")}
    specs = []
    for name in names:
        try:
            specs.append(load(name))
        except SpecError:  # a broken extra file is reported when asked for by name, not here
            continue
    specs.sort(key=lambda s: (-(s.years[0] or 0), s.edition))
    return tuple(s.edition for s in specs)


@cache
def load(edition: str = DEFAULT_EDITION) -> Spec:
    """The spec of an edition by id (its file ``<id>.yaml`` in ``spec_dirs()``) or of a YAML path.

    Raises SpecError (Chinese, naming the file and the problem) for an unknown id or a bad file."""
    path = Path(edition)
    if path.suffix not in (".yaml", ".yml"):
        found = _edition_file(edition)
        if found is None:
            raise SpecError(f"未知的表格版本“{edition}”；可用版本：{'、'.join(available_editions())}")
        spec = load_file(found)
        if spec.edition != edition:
            raise SpecError(f"{found}：文件名应与其中的 edition“{spec.edition}”一致")
        return spec
    return load_file(path)


# libyaml's safe loader when PyYAML was built with it: the same documents, five times faster, and
# every command that reads a workbook loads all the spec files (the reader tries each edition).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_file(path: Path) -> Spec:
    """Load and check one spec file; SpecError naming the file and the problem."""
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}：无法读取规格文件：{exc}") from None
    try:
        return _Builder(path).spec(data)
    except SpecError as exc:
        raise SpecError(f"{path}：{exc}") from None
    except ex.ExprError as exc:
        raise SpecError(f"{path}：{exc}") from None


class _Builder:
    def __init__(self, path: Path):
        self.path = path

    # -- helpers ------------------------------------------------------------------------------
    def _keys(self, data: Any, where: str, required: Sequence[str], optional: Sequence[str]) -> dict:
        if not isinstance(data, dict):
            raise SpecError(f"{where}：应为映射（key: value）")
        unknown = set(data) - set(required) - set(optional)
        if unknown:
            raise SpecError(f"{where}：未知的键 {', '.join(sorted(map(str, unknown)))}")
        missing = [k for k in required if k not in data or data[k] in (None, "")]
        if missing:
            raise SpecError(f"{where}：缺少 {', '.join(missing)}")
        return data

    def _id(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise SpecError(f"{where}：id“{value}”无效（只能用小写字母、数字、下划线，字母开头）")
        return value

    def _kind(self, value: Any, where: str) -> Kind | None:
        if value is None:
            return None
        try:
            return Kind(value)
        except ValueError:
            raise SpecError(f"{where}：未知的单元格类型“{value}”（可用：count、delta、money、text）") from None

    # -- spec ---------------------------------------------------------------------------------
    def spec(self, data: Any) -> Spec:
        d = self._keys(data, "规格", ["edition", "name", "tables", "version"], ["basis", "years", "cross_year"])
        edition = self._id(d["edition"], "edition")
        years = tuple(d.get("years") or (None, None))
        tables = [self.table(t, i) for i, t in enumerate(d["tables"])]
        ids = [t.id for t in tables]
        self._unique(ids, "表 id")
        self._unique([t.sheet for t in tables], "工作表名称")
        spec = Spec(edition, str(d["name"]), str(d.get("basis", "")), int(d["version"]), years, tables, self.path)
        if "cross_year" in d:
            spec.cross_year = self.cross_year(d["cross_year"], spec)
        return spec

    def cross_year(self, data: Any, spec: Spec) -> CrossYear:
        """The ``cross_year:`` block; every table, row and column it names must exist."""
        where = "cross_year"
        d = self._keys(data if data is not None else {}, where, [], ["stock_column", "stock_rows"])
        stock_rows = d.get("stock_rows") or {}
        if not isinstance(stock_rows, dict):
            raise SpecError(f"{where}：stock_rows 应为映射（本版本的行 id: 核对现行有效件数时对应的行 id）")
        try:
            t2, t3 = spec.table("t2"), spec.table("t3")
        except KeyError as exc:
            raise SpecError(f"{where}：跨年度校验需要表 {exc.args[0]}") from None
        for row_id in ("carried_in", "carried_over"):
            if not any(r.id == row_id for b in t3.blocks for r in b.rows):
                raise SpecError(f"{where}：表 t3 没有行“{row_id}”（上年结转的跨年度校验需要）")
        stock = d.get("stock_column")
        t2_rows = {r.id for b in t2.blocks for r in b.rows}
        t2_cols = {c.id for b in t2.blocks for c in b.columns}
        if stock is not None and stock not in t2_cols:
            raise SpecError(f"{where}：表 t2 没有列“{stock}”")
        for row_id in stock_rows:
            if row_id not in t2_rows:
                raise SpecError(f"{where}：表 t2 没有行“{row_id}”")
        return CrossYear(stock_column=stock, stock_rows={str(k): str(v) for k, v in stock_rows.items()})

    def _unique(self, values: list[str], what: str) -> None:
        seen = set()
        for v in values:
            if v in seen:
                raise SpecError(f"{what}“{v}”重复")
            seen.add(v)

    def table(self, data: Any, index: int) -> Table:
        d = self._keys(
            data,
            f"第{index + 1}张表",
            ["id", "short", "title", "blocks"],
            ["sheet", "label_columns", "kind", "checks", "note", "guide"],
        )
        table_id = self._id(d["id"], f"第{index + 1}张表")
        where = f"表 {table_id}"
        sheet = str(d.get("sheet") or d["title"])
        if len(sheet) > 31 or re.search(r"[\[\]:*?/\\]", sheet):
            raise SpecError(f"{where}：工作表名称“{sheet}”超过31个字符或含有 []:*?/\\")
        label_columns = int(d.get("label_columns", 1))
        kind = self._kind(d.get("kind", "count"), where)
        table = Table(table_id, str(d["short"]), str(d["title"]), sheet, label_columns, kind, [], note=d.get("note"), guide=str(d.get("guide") or ""))
        table.blocks = [self.block(b, table, where) for b in d["blocks"]]
        self._unique([r.id for b in table.blocks for r in b.rows], f"{where} 行 id")
        self._unique([b.id for b in table.blocks], f"{where} 块 id")
        self._build_cells(table, where)
        table.checks = self._implicit_checks(table) + [
            self.check(c, table, f"{where} 第{i + 1}条校验") for i, c in enumerate(d.get("checks") or [])
        ]
        self._check_cycles(table, where)
        return table

    def block(self, data: Any, table: Table, where: str) -> Block:
        d = self._keys(data, where, ["id", "columns", "rows"], ["header", "corner", "unit_header"])
        block_id = self._id(d["id"], where)
        where = f"{where} 块 {block_id}"
        columns = [self.column(c, where, ()) for c in d["columns"]]
        col_ids = [c.id for top in columns for c in _walk_columns(top) if c.id]
        self._unique(col_ids, f"{where} 列 id")
        if not all(c.id for top in columns for c in top.leaves()):
            raise SpecError(f"{where}：每个末级列都需要 id")
        rows = [self.row(r, where, 0, (), table.label_columns) for r in d["rows"]]
        if table.label_columns > 1:
            depth = max(r.depth for top in rows for r in top.walk()) + 1
            if depth > table.label_columns:
                raise SpecError(f"{where}：行的嵌套层数 {depth} 超过 label_columns={table.label_columns}")
        return Block(block_id, d.get("header"), d.get("corner"), d.get("unit_header"), columns, rows)

    def column(self, data: Any, where: str, path: tuple[str, ...]) -> Column:
        d = self._keys(data, where, ["label"], ["id", "kind", "short", "note", "total", "rule", "message", "children"])
        label = str(d["label"])
        col = Column(
            id=self._id(d["id"], where) if d.get("id") is not None else None,
            label=label,
            kind=self._kind(d.get("kind"), where),
            short=d.get("short"),
            note=d.get("note"),
            path=path + (label,),
        )
        col.children = [self.column(c, where, col.path) for c in d.get("children") or []]
        self._total(col, d, f"{where} 列“{label}”")
        return col

    def row(self, data: Any, where: str, depth: int, path: tuple[str, ...], label_columns: int) -> Row:
        d = self._keys(
            data, where, ["id"], ["label", "short", "kind", "unit", "note", "total", "rule", "message", "children"]
        )
        row_id = self._id(d["id"], where)
        label = str(d.get("label") or "")
        if not label and label_columns > 0:
            raise SpecError(f"{where} 行 {row_id}：缺少 label")
        r = Row(
            id=row_id,
            label=label,
            short=d.get("short"),
            kind=self._kind(d.get("kind"), where),
            unit=d.get("unit"),
            note=d.get("note"),
            depth=depth,
            path=path + ((label,) if label else ()),
        )
        r.children = [self.row(c, where, depth + 1, r.path, label_columns) for c in d.get("children") or []]
        # In a form with several label columns a parent is a heading (a merged label cell to the
        # left of its children); in a one-label-column form a parent is a row of its own.
        r.has_cells = not (r.children and label_columns > 1)
        self._total(r, d, f"{where} 行 {row_id}")
        return r

    def _total(self, node: Row | Column, d: dict, where: str) -> None:
        if d.get("total") is None:
            if d.get("rule") or d.get("message"):
                raise SpecError(f"{where}：rule/message 只能与 total 一起使用")
            return
        node.total = ex.parse_sum(str(d["total"]))
        if not d.get("rule") or not RULE_PATTERN.match(str(d["rule"])):
            raise SpecError(f"{where}：合计需要规则编号 rule（形如 t3.row_total）")
        node.rule = str(d["rule"])
        node.message = str(d.get("message") or f"{node.label}应等于其各组成部分之和")

    def _build_cells(self, table: Table, where: str) -> None:
        for block in table.blocks:
            for row in block.data_rows:
                for col in block.columns:
                    kind = row.kind or col.kind or table.kind
                    if col.total is not None:
                        total, axis, rule = col.total, "row", col.rule
                    elif row.total is not None:
                        total, axis, rule = row.total, "column", row.rule
                    else:
                        total, axis, rule = None, None, None
                    cell = Cell(table, block, row, col, kind, total, axis, rule)
                    table.cells.append(cell)
                    table._cell_index[cell.key] = cell
            for row in block.rows:
                if row.total is not None and not row.has_cells:
                    raise SpecError(f"{where} 行 {row.id}：标题行不能有合计公式")
        # Names inside totals must resolve to cells of the same row or column.
        for cell in table.cells:
            if cell.total is None:
                continue
            for term in cell.total.terms:
                if term.name is None:
                    continue
                try:
                    refs = _total_term_cells(cell, term)
                except KeyError:
                    axis = "列" if cell.total_axis == "row" else "行"
                    raise SpecError(f"{where}：合计“{cell.row.label}/{cell.col.label}”引用了不存在的{axis}“{term.name}”") from None
                if not refs:
                    raise SpecError(f"{where}：合计“{cell.row.label}/{cell.col.label}”中的“{term.name}”没有数据单元格")
                kinds = {r.kind for r in refs} | {cell.kind}
                if Kind.MONEY in kinds and len(kinds) > 1:
                    raise SpecError(f"{where}：合计“{cell.row.label}/{cell.col.label}”混合了金额与件数")

    def _implicit_checks(self, table: Table) -> list[Check]:
        """Every computed cell carries the rule 'typed total = recomputed parts'."""
        checks = []
        for cell in table.cells:
            # A cell at the crossing of a total row and a total column is a total both ways, and
            # both rules hold for it, although its formula is the column's.
            for axis, node in (("row", cell.col), ("column", cell.row)):
                if node.total is None:
                    continue
                target = ex.Linear((ex.Term(1, node.id),))
                checks.append(
                    Check(
                        id=node.rule,
                        severity="error",
                        for_each=axis,
                        expr=ex.Comparison(target, "==", node.total),
                        message=node.message,
                        table=table,
                        blocks=[cell.block],
                        implicit_total=cell,
                    )
                )
        return checks

    def check(self, data: Any, table: Table, where: str) -> Check:
        d = self._keys(data, where, ["id", "severity", "for_each", "rule", "message"], ["block", "rows", "columns"])
        rule_id = str(d["id"])
        if not RULE_PATTERN.match(rule_id):
            raise SpecError(f"{where}：规则编号“{rule_id}”无效（形如 t3.balance）")
        where = f"{where}（{rule_id}）"
        if d["severity"] not in SEVERITIES:
            raise SpecError(f"{where}：severity 只能是 error 或 warning")
        if d["for_each"] not in ("row", "column"):
            raise SpecError(f"{where}：for_each 只能是 row 或 column")
        blocks = table.blocks
        if d.get("block"):
            wanted = d["block"] if isinstance(d["block"], list) else [d["block"]]
            blocks = [b for b in table.blocks if b.id in wanted]
            unknown = set(wanted) - {b.id for b in blocks}
            if unknown:
                raise SpecError(f"{where}：不存在的块“{'、'.join(sorted(unknown))}”")
        check = Check(
            id=rule_id,
            severity=d["severity"],
            for_each=d["for_each"],
            expr=ex.parse_check(str(d["rule"])),
            message=str(d["message"]),
            table=table,
            blocks=blocks,
            rows=d.get("rows"),
            columns=d.get("columns"),
        )
        for name in check.expr.names():
            if not any(self._has_axis_node(b, name, check.for_each) for b in blocks):
                axis = "列" if check.for_each == "row" else "行"
                raise SpecError(f"{where}：引用了不存在的{axis}“{name}”")
        for name in (check.rows or []) + (check.columns or []):
            if not any(self._has_node(b, name) for b in blocks):
                raise SpecError(f"{where}：rows/columns 中的“{name}”不存在")
        if not check.instances():
            raise SpecError(f"{where}：规则在表中没有任何适用的单元格")
        return check

    @staticmethod
    def _has_axis_node(block: Block, name: str, for_each: str) -> bool:
        try:
            block.column_node(name) if for_each == "row" else block.row(name)
            return True
        except KeyError:
            return False

    @staticmethod
    def _has_node(block: Block, name: str) -> bool:
        try:
            block.row(name)
            return True
        except KeyError:
            pass
        try:
            block.column_node(name)
            return True
        except KeyError:
            return False

    def _check_cycles(self, table: Table, where: str) -> None:
        """A total may use other totals, but never (through them) itself."""
        deps = {id(c): [d for t in c.total.terms if t.name for d in _total_term_cells(c, t)] for c in table.cells if c.total}
        state: dict[int, int] = {}

        def visit(cell: Cell, chain: list[Cell]) -> None:
            if state.get(id(cell)) == 2 or cell.total is None:
                return
            if state.get(id(cell)) == 1:
                names = " → ".join(f"{c.row.label}/{c.col.label}" for c in chain + [cell])
                raise SpecError(f"{where}：合计公式循环引用自身：{names}")
            state[id(cell)] = 1
            for dep in deps[id(cell)]:
                visit(dep, chain + [cell])
            state[id(cell)] = 2

        for cell in table.cells:
            visit(cell, [])


def _walk_columns(col: Column) -> Iterator[Column]:
    yield col
    for ch in col.children:
        yield from _walk_columns(ch)


def _total_term_cells(cell: Cell, term: ex.Term) -> list[Cell]:
    table, block = cell.table, cell.block
    if cell.total_axis == "row":
        cols = block.column_group(term.name) if term.is_sum else [block.column(term.name)]
        return [c for c in (table.cell(cell.row.id, col.id) for col in cols) if c is not None]
    rows = block.row_group(term.name) if term.is_sum else [block.row(term.name)]
    return [c for c in (table.cell(row.id, cell.col.id) for row in rows) if c is not None]


def total_term_cells(cell: Cell, term: ex.Term) -> list[Cell]:
    """The cells a term of ``cell``'s total formula stands for."""
    return _total_term_cells(cell, term)


def evaluation_order(table: Table) -> list[Cell]:
    """Computed cells ordered so that every total comes after the totals it uses."""
    order: list[Cell] = []
    done: set[int] = set()

    def visit(cell: Cell) -> None:
        if id(cell) in done or cell.total is None:
            return
        done.add(id(cell))
        for t in cell.total.terms:
            if t.name:
                for dep in _total_term_cells(cell, t):
                    visit(dep)
        order.append(cell)

    for cell in table.cells:
        visit(cell)
    return order
