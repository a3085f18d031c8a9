"""Validate submissions with pandera schemas generated from the edition spec.

One wide frame per table holds a whole batch (index: file × row, columns: the table's columns)
with what each file says: inputs as read and totals as typed. The schema is derived from the
spec: cell kinds become column checks, and every check instance (a total rule or a balance rule
on one row or column) becomes a DataFrame check, evaluated vectorised over all files at once.
Totals used inside a rule are recomputed from their parts, never trusted; only a total's own
rule compares what was typed with the recomputed parts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from . import expr as ex
from .compute import CellKey, input_expansion, input_keys, instance_is_money, key
from .values import format_money
from .findings import Finding, sort_findings
from .reader import NOWHERE, Submission, Unreadable, blank_value, read_workbook
from .template import COVER_SHEET, NO_DATA_YES
from .spec import Cell, CheckInstance, Spec, Table
from .values import Kind

if TYPE_CHECKING:  # pandas and pandera are imported where the full path runs: validate starts without them
    import pandas as pd
    import pandera.pandas as pa

KIND_RULES = {Kind.COUNT: "cell.count", Kind.DELTA: "cell.delta", Kind.MONEY: "cell.money"}
RELATION_FAIL = {"==": "不相等", "<=": "左边大于右边", ">=": "左边小于右边", "<": "左边不小于右边", ">": "左边不大于右边"}


@dataclass
class FileReport:
    """The verdict on one file: status (valid | invalid | unreadable), the submission read from it, its findings, and why it is unreadable."""

    path: Path
    status: str  # valid | invalid | unreadable
    submission: Submission | None = None
    findings: list[Finding] = field(default_factory=list)
    reason: str | None = None  # for unreadable

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def as_json(self, *, with_facts: bool = True) -> dict:
        sub = self.submission
        return {
            "path": str(self.path),
            "status": self.status,
            "edition": sub.edition if sub else None,
            "agency": sub.agency if sub else None,
            "year": sub.year if sub else None,
            "reason": self.reason,
            "findings": [f.as_json() for f in self.findings],
            "facts": [f.as_json() for f in sub.facts()] if sub and with_facts else [],
        }


# ---------------------------------------------------------------------------------------------
# Frames


def table_values(table: Table, subs: Sequence[Submission]) -> np.ndarray:
    """What each file says for ``table``: (files × rows, columns) in base units, rows and columns
    in the spec's order (``_plan(table).rows`` / ``.columns``); NaN where a value could not be
    read (the reader reported the text) or where no cell is."""
    plan = _plan(table)
    n_rows, n_cols = len(plan.rows), len(plan.columns)
    data = np.full((len(subs) * n_rows, n_cols), np.nan)
    flat = data.reshape(-1)
    per_file = n_rows * n_cols
    for f, sub in enumerate(subs):
        values = sub.values
        bad, inputs, typed = sub.bad_cells, sub.inputs, sub.typed
        base = f * per_file
        for k, is_input, at in _cell_slots(table):
            if k in bad:
                continue  # left NaN: the reader already reported the text
            if is_input:
                v = inputs.get(k, 0)
            else:
                t = typed.get(k)
                v = values[k] if t is None else t  # a blank total is computed, not a finding
            flat[base + at] = v
    return data


@cache
def _cell_slots(table: Table) -> tuple[tuple[tuple[str, str, str], bool, int], ...]:
    """(cell key, is input, position in a file's flattened rows × columns) per cell."""
    plan = _plan(table)
    row_index = {r: i for i, r in enumerate(plan.rows)}
    col_index = {c: i for i, c in enumerate(plan.columns)}
    return tuple((key(c), c.is_input, row_index[c.row.id] * len(plan.columns) + col_index[c.col.id]) for c in table.cells)


def table_frame(table: Table, subs: Sequence[Submission]) -> pd.DataFrame:
    """``table_values`` as the frame the pandera schema validates: index (file, row), columns =
    column ids."""
    import pandas as pd

    plan = _plan(table)
    index = pd.MultiIndex.from_product([range(len(subs)), plan.rows], names=["file", "row"])
    return pd.DataFrame(table_values(table, subs), index=index, columns=plan.columns)


@dataclass(frozen=True)
class _Side:
    """One side of a rule as a linear form over the flattened (row, column) cells of a table."""

    constant: float
    positions: np.ndarray
    coefs: np.ndarray

    def evaluate(self, grid: np.ndarray) -> np.ndarray:
        """Per file; NaN when a cell involved could not be read."""
        return (grid[:, self.positions] * self.coefs).sum(axis=1) + self.constant


@dataclass(frozen=True)
class _Plan:
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    sides: dict[str, tuple[_Side, _Side, str]]  # instance key -> (left, right, op)
    involved_rows: dict[str, np.ndarray]  # instance key -> bool per table row

    def grid(self, values: np.ndarray) -> np.ndarray:
        """(files, rows × columns): a file's cells side by side, from ``table_values``."""
        return values.reshape(-1, len(self.rows) * len(self.columns))

    def result(self, grid: np.ndarray, instance_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        left_side, right_side, op = self.sides[instance_key]
        left, right = left_side.evaluate(grid), right_side.evaluate(grid)
        with np.errstate(invalid="ignore"):
            passed = ex.compare(left, op, right) | np.isnan(left) | np.isnan(right)
        return left, right, passed


@cache
def _plan(table: Table) -> _Plan:
    """Each rule of ``table`` compiled to linear forms, once per table.

    A total's own rule compares the numbers as the file gives them (typed total against typed
    parts); every other rule uses totals recomputed from the inputs, never trusting a typed total.
    """
    rows = tuple(r.id for b in table.blocks for r in b.data_rows)
    columns = tuple(dict.fromkeys(c.id for b in table.blocks for c in b.columns))
    position = {(r, c): i * len(columns) + j for i, r in enumerate(rows) for j, c in enumerate(columns)}

    def side(linear: ex.Linear, inst: CheckInstance, typed: bool) -> _Side:
        coefs: dict[int, int] = {}
        constant = 0
        for term in linear.terms:
            if term.name is None:
                constant += term.sign * term.constant
                continue
            for cell in inst.cells_of(term):
                form = {key(cell): 1} if typed else input_expansion(cell)
                for (_, row_id, col_id), coef in form.items():
                    at = position[(row_id, col_id)]
                    coefs[at] = coefs.get(at, 0) + term.sign * coef
        kept = {at: c for at, c in coefs.items() if c}
        return _Side(float(constant), np.array(list(kept), dtype=np.intp), np.array(list(kept.values()), dtype=float))

    sides, involved = {}, {}
    for inst in (i for c in table.checks for i in c.instances()):
        typed = inst.check.implicit_total is not None
        expr = inst.check.expr
        sides[inst.key] = (side(expr.left, inst, typed), side(expr.right, inst, typed), expr.op)
        in_rule = {c.row.id for c in inst.cells()}
        involved[inst.key] = np.array([r in in_rule for r in rows])
    return _Plan(rows, columns, sides, involved)


# ---------------------------------------------------------------------------------------------
# Schemas


@cache
def _column_checks(table: Table) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(column id, ((rule name, "ge0" | "integer"), ...)) per column, from the cell kinds: one
    source for the pandera schema and for the vectorised fast path."""
    out = []
    for col_id in dict.fromkeys(c.id for b in table.blocks for c in b.columns):
        kinds = {c.kind for c in table.cells if c.col.id == col_id}
        checks = []
        if Kind.DELTA not in kinds:
            checks.append((KIND_RULES[Kind.MONEY] if kinds == {Kind.MONEY} else KIND_RULES[Kind.COUNT], "ge0"))
        if Kind.MONEY not in kinds:
            checks.append(("cell.integer", "integer"))
        out.append((col_id, tuple(checks)))
    return tuple(out)


@cache
def table_schema(table: Table) -> pa.DataFrameSchema:
    """The pandera schema of one statutory table, generated from the spec."""
    import pandera.pandas as pa

    columns = {}
    for col_id, col_checks in _column_checks(table):
        checks = [
            # Custom checks: pandera reports a built-in Check.ge under its own name, not ours.
            pa.Check(lambda s: s >= 0, name=name) if how == "ge0"
            else pa.Check(lambda s: (s % 1 == 0), name=name)
            for name, how in col_checks
        ]
        columns[col_id] = pa.Column(float, checks=checks, nullable=True, coerce=True)
    checks = []
    for inst in (i for c in table.checks for i in c.instances()):
        checks.append(pa.Check(_frame_check(table, inst.key), name=inst.key, ignore_na=False))
    return pa.DataFrameSchema(columns, checks=checks, name=table.id, coerce=True)


def _frame_check(table: Table, instance_key: str):
    plan = _plan(table)
    in_rule = plan.involved_rows[instance_key]

    def check(frame: pd.DataFrame) -> pd.Series:
        import pandas as pd

        _, _, passed = plan.result(plan.grid(frame.to_numpy(dtype=float)), instance_key)
        ok = passed[:, None] | ~in_rule[None, :]
        return pd.Series(ok.ravel(), index=frame.index)

    return check


# ---------------------------------------------------------------------------------------------
# Validation


@cache
def _numeric_input_keys(spec: Spec, table_id: str) -> tuple[CellKey, ...]:
    """The keys of one table's numeric input cells (``compute.input_keys``, that table's)."""
    return tuple(k for k in input_keys(spec) if k[0] == table_id)


def fill_findings(sub: Submission) -> list[Finding]:
    """The reader's findings with what an unfilled workbook or table means (issue #9, point 2).

    - no input cell filled: error ``workbook.unfilled`` (an untouched template is not a report),
      unless the cover's 本年度无相关数据 says 是: then one info note, every cell counted as 0;
    - 本年度无相关数据 = 是 but a non-zero number typed: error ``cover.no_data``;
    - one table left wholly blank while others are filled: warning ``workbook.table_blank``
      naming the table;
    - a few blank cells: the reader's info notes (``blank``, counted as 0) stay as they are.
    The per-cell ``blank`` notes of a wholly blank table (or workbook) are folded into its one
    finding. A consolidated workbook is a sum, not a report typed by an agency: left as read."""
    findings = list(sub.findings)
    if sub.meta.get("kind") == "consolidated":
        return findings
    no_data = str(sub.meta.get("no_data", "")).strip() == NO_DATA_YES
    located: dict[str, list] = {}
    where, raw = sub.where, sub.raw
    for table in sub.spec.tables:
        keys = [k for k in _numeric_input_keys(sub.spec, table.id) if where.get(k, NOWHERE)[1]]
        if keys:
            located[table.id] = keys
    filled = {t: [k for k in keys if not blank_value(raw.get(k))] for t, keys in located.items()}
    blank_tables = {t for t, keys in filled.items() if not keys}
    if not located:
        return findings
    if len(blank_tables) == len(located) or no_data:
        folded = set(located) if no_data else blank_tables
    else:
        folded = blank_tables
    inputs = _input_key_set(sub.spec)
    findings = [f for f in findings if not (_input_blank(f, inputs) and f.cells[0][0] in folded)]
    if len(blank_tables) == len(located):
        if no_data:
            findings.append(Finding("info", "cover.no_data", COVER_SHEET, "", "封面选择了“本年度无相关数据”：各表均按0计"))
        else:
            findings.append(Finding(
                "error", "workbook.unfilled", "", "",
                "各表均未填写任何数据（空白模板不是报表）：请填写后报送；如本年度确无相关数据，请在封面“本年度无相关数据”一栏选“是”",
            ))
        return findings
    if no_data:
        typed = [k for keys in filled.values() for k in keys if sub.inputs.get(k) or k in sub.bad_cells]
        if typed:
            tables = "、".join(dict.fromkeys(sub.spec.table(k[0]).short for k in typed))
            findings.append(Finding(
                "error", "cover.no_data", COVER_SHEET, "",
                f"封面选择了“本年度无相关数据”，但{tables}中填有数字：确无数据的请删去这些数字，有数据的请把封面这一栏改为“否”",
                tuple(typed[:50]),
            ))
        else:
            findings.append(Finding("info", "cover.no_data", COVER_SHEET, "", "封面选择了“本年度无相关数据”：未填写的单元格均按0计"))
        return findings
    for table in sub.spec.tables:
        if table.id in blank_tables:
            sheet = sub.where[located[table.id][0]][0]
            findings.append(Finding(
                "warning", "workbook.table_blank", sheet, "",
                f"{table.short}“{table.title}”整张表没有填写，已按0计：请核对，确无数据的请填0",
            ))
    return _fold_blank_notes(sub, findings)


BLANK_NOTES_SHOWN = 5  # more blank cells than this in one table: one note for the table


def _input_blank(f: Finding, inputs: frozenset[CellKey]) -> bool:
    """A reader's note on one blank input cell (``inputs``: ``_input_key_set`` of the spec;
    notes on blank totals, computed, stay as they are)."""
    return f.rule == "blank" and len(f.cells) == 1 and f.cells[0] in inputs


@cache
def _input_key_set(spec: Spec) -> frozenset[CellKey]:
    return frozenset(input_keys(spec))  # the reader notes blanks only in numeric inputs


def _fold_blank_notes(sub: Submission, findings: list[Finding]) -> list[Finding]:
    """A few blank cells keep one note each; a table with many gets one note counting them."""
    inputs = _input_key_set(sub.spec)
    by_table: dict[str, list[Finding]] = {}
    for f in findings:
        if _input_blank(f, inputs):
            by_table.setdefault(f.cells[0][0], []).append(f)
    many = {t: fs for t, fs in by_table.items() if len(fs) > BLANK_NOTES_SHOWN}
    if not many:
        return findings
    folded = {id(f) for fs in many.values() for f in fs}
    out = [f for f in findings if id(f) not in folded]
    for table_id, fs in many.items():
        table = sub.spec.table(table_id)
        # A report's text names lines, several blank cells to a line: each place once.
        shown = "、".join(list(dict.fromkeys(f.cell for f in fs if f.cell))[:BLANK_NOTES_SHOWN])
        out.append(Finding(
            "info", "blank", fs[0].sheet, "",
            f"{table.short}有{len(fs)}个单元格空白，均按0计（{shown}等）",
            tuple(k for f in fs for k in f.cells),
        ))
    return out


def validate_submissions(subs: Sequence[Submission], *, full: bool = False) -> list[list[Finding]]:
    """Findings per submission (reader notes, what an unfilled workbook means, rule failures),
    in the order given.

    The rules are the pandera schema of each table (``table_schema``). By default the schema's
    checks are evaluated directly on the batch's numbers (the same compiled linear forms and
    column checks, without pandera's per-call frame handling: issue #13); ``full=True`` runs
    pandera itself. Both give the same findings in the same order (tests/test_fastpaths.py)."""
    out: list[list[Finding]] = [fill_findings(s) for s in subs]
    by_edition: dict[str, list[int]] = {}
    for i, s in enumerate(subs):
        by_edition.setdefault(s.edition, []).append(i)
    for positions in by_edition.values():
        group = [subs[i] for i in positions]
        spec = group[0].spec
        for table in spec.tables:
            values = table_values(table, group)
            for file_pos, finding in _table_findings(table, values, group, full=full):
                out[positions[file_pos]].append(finding)
    return [sort_findings(f) for f in out]


KindCase = tuple[int, str, str, float]  # (file position, row id, column id, value) failing a column check


def _table_findings(table: Table, values: np.ndarray, group: Sequence[Submission], *, full: bool = False):
    plan = _plan(table)
    grid = plan.grid(values)
    if full:
        from pandera.errors import SchemaErrors

        import pandas as pd

        frame = pd.DataFrame(values, index=pd.MultiIndex.from_product([range(len(group)), plan.rows]), columns=plan.columns)
        try:
            table_schema(table).validate(frame, lazy=True)
            return
        except SchemaErrors as exc:
            cases = exc.failure_cases
        failing = set(cases["check"].astype(str))

        def kind_cases(name: str) -> list[KindCase]:
            out = []
            for _, case in cases[cases["check"].astype(str) == name].iterrows():
                idx = case.get("index")
                if isinstance(idx, str):  # pandera reports a MultiIndex label as its repr
                    idx = ast.literal_eval(idx)
                if isinstance(idx, tuple):
                    out.append((int(idx[0]), idx[1], str(case["column"]), case["failure_case"]))
            return out
    else:
        failing, by_name = _fast_failures(table, plan, values, grid)

        def kind_cases(name: str) -> list[KindCase]:
            return by_name.get(name, [])
    instances = {i.key: i for c in table.checks for i in c.instances()}
    for name in sorted(failing):
        inst = instances.get(name)
        if inst is None:
            yield from _kind_findings(table, kind_cases(name), group, name)
            continue
        left, right, passed = plan.result(grid, name)
        for file_pos in np.flatnonzero(~passed):
            yield int(file_pos), _rule_finding(inst, group[int(file_pos)], left[file_pos], right[file_pos])


def _fast_failures(table: Table, plan: _Plan, values: np.ndarray, grid: np.ndarray) -> tuple[set[str], dict[str, list[KindCase]]]:
    """What ``table_schema(table).validate(frame, lazy=True)`` fails, computed on the numbers:
    the failing check names, and each column check's failure cases in pandera's order (column
    by column, rows in frame order). NaN (an unreadable cell) passes, as pandera's nullable
    columns and ``ignore_na`` checks let it."""
    failing: set[str] = set()
    for inst_key, in_rule in plan.involved_rows.items():
        _, _, passed = plan.result(grid, inst_key)
        if (~passed).any() and in_rule.any():
            failing.add(inst_key)
    by_name: dict[str, list[KindCase]] = {}
    n_rows = len(plan.rows)
    with np.errstate(invalid="ignore"):
        for j, (col_id, col_checks) in enumerate(_column_checks(table)):
            column = values[:, j]
            for name, how in col_checks:
                bad = column < 0 if how == "ge0" else (column % 1 != 0) & ~np.isnan(column)
                for i in np.flatnonzero(bad):
                    by_name.setdefault(name, []).append((int(i) // n_rows, plan.rows[int(i) % n_rows], col_id, column[i]))
    failing |= set(by_name)
    return failing, by_name


def _kind_findings(table: Table, cases: Sequence[KindCase], group, name: str):
    rule = name if name.startswith("cell.") else "cell.count"
    for file_pos, row_id, col_id, value in cases:
        cell = table.cell(row_id, col_id)
        if cell is None:
            continue
        sub = group[file_pos]
        sheet, a1 = sub.where.get(key(cell), ("", ""))
        yield file_pos, Finding("error", rule, sheet, a1, f"{cell.named}：数值{value}不符合要求（{name}）", (key(cell),))


def _rule_finding(inst: CheckInstance, sub: Submission, left, right) -> Finding:
    check = inst.check
    money = instance_is_money(inst)
    values = sub.values

    def shown(v) -> str:
        if money:
            return format_money(int(v))
        v = float(v)
        return str(int(v)) if v.is_integer() else f"{v:g}"

    target = check.implicit_total

    def value_of(cell: Cell) -> int:
        if target is not None:  # a total's own rule speaks of the numbers as typed
            typed = sub.typed.get(key(cell))
            return typed if typed is not None else values[key(cell)]
        return values[key(cell)]

    def term_value(term: ex.Term):
        return sum(value_of(c) for c in inst.cells_of(term))

    def label(term: ex.Term) -> str:
        text = inst.term_label(term)
        if target is not None and inst.cells_of(term) == [target]:
            return f"填报的{text}"
        return text

    def describe(linear: ex.Linear, total) -> str:
        body = ex.describe_side(linear, label, lambda t: shown(term_value(t)))
        return body if len(linear.terms) == 1 and linear.terms[0].name else f"{body}={shown(total)}"

    message = (
        f"{check.table.short} {inst.scope_label}：{describe(check.expr.left, left)}，"
        f"{describe(check.expr.right, right)}，{RELATION_FAIL[check.expr.op]}（{check.message}）"
    )
    cells = [target] if target is not None else inst.cells()
    places = [sub.where.get(key(c), ("", "")) for c in cells]
    sheet = next((s for s, _ in places if s), check.table.sheet)
    refs = ",".join(a for _, a in places if a)
    return Finding(check.severity, check.id, sheet, refs, message, tuple(key(c) for c in cells))


Reader = Callable[..., Submission]  # (path, *, edition) -> Submission; raises Unreadable


def validate_paths(paths: Sequence[Path | str], *, edition: str | None = None,
                   before_read: Callable[[Path], None] | None = None, reader: Reader | None = None,
                   workers: int | None = None, full: bool = False) -> list[FileReport]:
    """Read and validate many files; one report per path, in order; an unreadable file is a
    report with status unreadable and never stops the batch. The list of :func:`iter_reports`."""
    return list(iter_reports(paths, edition=edition, before_read=before_read, reader=reader, workers=workers, full=full))


def iter_reports(paths: Sequence[Path | str], *, edition: str | None = None,
                 before_read: Callable[[Path], None] | None = None, reader: Reader | None = None,
                 workers: int | None = None, full: bool = False) -> Iterator[FileReport]:
    """One report per path, in order, streamed: chunks of files are read and validated in
    worker processes (``parallel.chunk_map``), each chunk as one vectorised batch.

    ``edition``: the edition every file must be in (others get a ``workbook.edition`` error).
    ``reader(path, edition=...)``: how a file becomes a Submission (default ``read_workbook``;
    ``extract`` passes its report extractor); it raises Unreadable for a file it cannot read,
    and any other exception costs that file only. ``before_read(path)`` is called before each
    file is read (``campaign import`` notes which file it reads, so that a process abort is
    pinned on that file at the next run); with it, files are read in this process unless
    ``workers`` says otherwise. ``workers``: processes (default ``parallel.worker_count()``).
    ``full=True`` takes the full paths (the whole metadata sheet parsed, pandera itself run)
    instead of the fast ones; both give the same reports (tests/test_fastpaths.py).

    This year's files only: the cross-year rules are the caller's (``review.review_files``)."""
    from .parallel import chunk_map

    if before_read is not None and workers is None:
        workers = 1
    job = partial(_validate_chunk, edition=edition, reader=reader, before_read=before_read, full=full)
    yield from chunk_map(job, [Path(p) for p in paths], workers=workers, on_broken=crashed_report)


def crashed_report(path: Path) -> FileReport:
    """The report of a file whose worker process died reading it (``parallel.chunk_map``'s
    ``on_broken``): unreadable, with a one-line Chinese reason naming the file."""
    return FileReport(path, "unreadable", reason=f"{path.name}：读取该文件时处理进程异常终止，文件可能已损坏，请用 Excel 打开后另存为 .xlsx 重新报送")


def _validate_chunk(paths: list[Path], *, edition: str | None, reader: Reader | None,
                    before_read: Callable[[Path], None] | None, full: bool = False) -> list[FileReport]:
    """The one per-file loop: read each file, then validate the readable ones as one batch."""
    read = reader or partial(read_workbook, full=full)
    reports: list[FileReport] = []
    subs: list[Submission] = []
    slots: list[int] = []
    for p in paths:
        try:
            if before_read is not None:
                before_read(p)
            sub = read(p, edition=edition)
        except Unreadable as exc:
            reports.append(FileReport(p, "unreadable", reason=f"{p.name}：{exc.reason}"))
            continue
        except Exception as exc:  # a reader bug must cost one file, not the batch
            reports.append(FileReport(p, "unreadable", reason=f"{p.name}：读取时发生意外错误（{type(exc).__name__}: {str(exc)[:120]}）"))
            continue
        slots.append(len(reports))
        reports.append(FileReport(p, "valid", sub))
        subs.append(sub)
    for slot, findings in zip(slots, validate_submissions(subs, full=full)):
        report = reports[slot]
        report.findings = findings
        report.status = "invalid" if any(f.severity == "error" for f in findings) else "valid"
    return reports
