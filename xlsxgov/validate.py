"""Validate submissions with pandera schemas generated from the edition spec.

One wide frame per table holds a whole batch (index: file × row, columns: the table's columns)
with what each file says: inputs as read and totals as typed. The schema is derived from the
spec: cell kinds become column checks, and every check instance (a total rule or a balance rule
on one row or column) becomes a DataFrame check, evaluated vectorised over all files at once.
Totals used inside a rule are recomputed from their parts, never trusted; only a total's own
rule compares what was typed with the recomputed parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from . import expr as ex
from .compute import YUAN_PER_WANYUAN, key
from .findings import Finding, sort_findings
from .reader import Submission, Unreadable, read_workbook
from .spec import Cell, CheckInstance, Spec, Table, total_term_cells
from .values import Kind

KIND_RULES = {Kind.COUNT: "cell.count", Kind.DELTA: "cell.delta", Kind.MONEY: "cell.money"}
RELATION_FAIL = {"==": "不相等", "<=": "左边大于右边", ">=": "左边小于右边", "<": "左边不小于右边", ">": "左边不大于右边"}


@dataclass
class FileReport:
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


def table_frame(table: Table, subs: Sequence[Submission]) -> pd.DataFrame:
    """What each file says for ``table``: index (file, row), columns = column ids, base units."""
    rows = [r for b in table.blocks for r in b.data_rows]
    cols = list(dict.fromkeys(c.id for b in table.blocks for c in b.columns))
    data = np.full((len(subs) * len(rows), len(cols)), np.nan)
    col_index = {c: i for i, c in enumerate(cols)}
    row_index = {r.id: i for i, r in enumerate(rows)}
    for f, sub in enumerate(subs):
        values = sub.values
        base = f * len(rows)
        for cell in table.cells:
            k = key(cell)
            if k in sub.bad_cells:
                continue  # left NaN: the reader already reported the text
            if cell.is_input:
                v = sub.inputs.get(k, 0)
            else:
                typed = sub.typed.get(k)
                v = values[k] if typed is None else typed  # a blank total is computed, not a finding
            data[base + row_index[cell.row.id], col_index[cell.col.id]] = v
    index = pd.MultiIndex.from_product([range(len(subs)), [r.id for r in rows]], names=["file", "row"])
    return pd.DataFrame(data, index=index, columns=cols)


def _cell_series(frame: pd.DataFrame, cell: Cell, *, recompute: bool) -> pd.Series:
    """One cell across all files; a total is recomputed from its parts when ``recompute``."""
    if recompute and not cell.is_input:
        return ex.evaluate_linear(
            cell.total, lambda term: [_cell_series(frame, d, recompute=True) for d in total_term_cells(cell, term)]
        )
    return frame[cell.col.id].xs(cell.row.id, level="row")


def _instance_result(frame: pd.DataFrame, inst: CheckInstance) -> tuple[pd.Series, pd.Series, pd.Series]:
    target = inst.check.implicit_total

    def resolve(term: ex.Term):
        # A total's own rule compares the numbers as the file gives them (typed total against
        # typed parts); every other rule uses totals recomputed from the inputs.
        return [_cell_series(frame, c, recompute=target is None) for c in inst.cells_of(term)]

    files = frame.index.get_level_values("file").unique()
    left = _as_series(ex.evaluate_linear(inst.check.expr.left, resolve), files)
    right = _as_series(ex.evaluate_linear(inst.check.expr.right, resolve), files)
    passed = ex.compare(left, inst.check.expr.op, right) | left.isna() | right.isna()
    return left, right, passed


def _as_series(value, files) -> pd.Series:
    return value if isinstance(value, pd.Series) else pd.Series(float(value), index=files)


# ---------------------------------------------------------------------------------------------
# Schemas


@cache
def table_schema(table: Table) -> pa.DataFrameSchema:
    """The pandera schema of one statutory table, generated from the spec."""
    columns = {}
    for col_id in dict.fromkeys(c.id for b in table.blocks for c in b.columns):
        kinds = {c.kind for c in table.cells if c.col.id == col_id}
        checks = []
        if Kind.DELTA not in kinds:
            rule = KIND_RULES[Kind.MONEY] if kinds == {Kind.MONEY} else KIND_RULES[Kind.COUNT]
            checks.append(pa.Check.ge(0, name=rule))
        if Kind.MONEY not in kinds:
            checks.append(pa.Check(lambda s: (s % 1 == 0), name="cell.integer", element_wise=False))
        columns[col_id] = pa.Column(float, checks=checks, nullable=True, coerce=True)
    checks = []
    for inst in (i for c in table.checks for i in c.instances()):
        checks.append(pa.Check(_frame_check(inst), name=inst.key, ignore_na=False))
    return pa.DataFrameSchema(columns, checks=checks, name=table.id, coerce=True)


def _frame_check(inst: CheckInstance):
    involved_rows = {c.row.id for c in inst.cells()}

    def check(frame: pd.DataFrame) -> pd.Series:
        _, _, passed = _instance_result(frame, inst)
        ok_by_file = passed.reindex(frame.index.get_level_values("file")).to_numpy()
        in_rule = frame.index.get_level_values("row").isin(involved_rows)
        return pd.Series(ok_by_file | ~in_rule, index=frame.index)

    return check


# ---------------------------------------------------------------------------------------------
# Validation


def validate_submissions(subs: Sequence[Submission]) -> list[list[Finding]]:
    """Findings per submission (reader notes plus rule failures), in the order given."""
    out: list[list[Finding]] = [list(s.findings) for s in subs]
    by_edition: dict[str, list[int]] = {}
    for i, s in enumerate(subs):
        by_edition.setdefault(s.edition, []).append(i)
    for positions in by_edition.values():
        group = [subs[i] for i in positions]
        spec = group[0].spec
        for table in spec.tables:
            frame = table_frame(table, group)
            for file_pos, finding in _table_findings(table, frame, group):
                out[positions[file_pos]].append(finding)
    return [sort_findings(f) for f in out]


def _table_findings(table: Table, frame: pd.DataFrame, group: Sequence[Submission]):
    try:
        table_schema(table).validate(frame, lazy=True)
        return
    except SchemaErrors as exc:
        cases = exc.failure_cases
    failing = set(cases["check"].astype(str))
    instances = {i.key: i for c in table.checks for i in c.instances()}
    for name in sorted(failing):
        inst = instances.get(name)
        if inst is None:
            yield from _kind_findings(table, cases[cases["check"].astype(str) == name], group, name)
            continue
        left, right, passed = _instance_result(frame, inst)
        for file_pos in np.flatnonzero(~passed.to_numpy()):
            yield int(file_pos), _rule_finding(inst, group[file_pos], left.iloc[file_pos], right.iloc[file_pos])


def _kind_findings(table: Table, cases: pd.DataFrame, group, name: str):
    rule = name if name.startswith("cell.") else "cell.count"
    for _, case in cases.iterrows():
        idx = case.get("index")
        if not isinstance(idx, tuple):
            continue
        file_pos, row_id = idx
        cell = table.cell(row_id, str(case["column"]))
        if cell is None:
            continue
        sub = group[file_pos]
        sheet, a1 = sub.where.get(key(cell), ("", ""))
        yield file_pos, Finding("error", rule, sheet, a1, f"{table.short} {cell.row.display}/{cell.col.display}：数值{case['failure_case']}不符合要求（{name}）", (key(cell),))


def _rule_finding(inst: CheckInstance, sub: Submission, left, right) -> Finding:
    check = inst.check
    money = any(c.kind is Kind.MONEY for c in inst.cells())
    values = sub.values

    def shown(v) -> str:
        v = float(v)
        if money:
            v = v / YUAN_PER_WANYUAN
        return str(int(v)) if float(v).is_integer() else f"{v:g}"

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


def validate_paths(paths: Sequence[Path | str], *, edition: str | None = None, previous=None) -> list[FileReport]:
    """Read and validate many files; an unreadable file never stops the batch.

    ``previous``: last year's data (``crossyear.Previous`` or a path) adds the cross-year findings."""
    reports: list[FileReport] = []
    subs: list[Submission] = []
    slots: list[int] = []
    for p in paths:
        p = Path(p)
        try:
            sub = read_workbook(p, edition=edition)
        except Unreadable as exc:
            reports.append(FileReport(p, "unreadable", reason=f"{p.name}：{exc.reason}"))
            continue
        except Exception as exc:  # a reader bug must cost one file, not the batch
            reports.append(FileReport(p, "unreadable", reason=f"{p.name}：读取时发生意外错误（{type(exc).__name__}: {str(exc)[:120]}）"))
            continue
        slots.append(len(reports))
        reports.append(FileReport(p, "valid", sub))
        subs.append(sub)
    for slot, findings in zip(slots, validate_submissions(subs)):
        report = reports[slot]
        report.findings = findings
        report.status = "invalid" if any(f.severity == "error" for f in findings) else "valid"
    if previous is not None:
        from .crossyear import apply_previous

        apply_previous(reports, previous)
    return reports
