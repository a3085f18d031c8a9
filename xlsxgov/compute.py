"""Totals and checks of one workbook's values, evaluated in Python from the spec.

Values are kept in base units: counts as ints, money as an exact int number of 分
(``values.FEN_PER_WANYUAN``). The template
writes these results as the cached values of its formulas; tests compare them with what
LibreOffice recalculates; the validator evaluates the same expressions vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from . import expr as ex
from .spec import Cell, CheckInstance, Spec, evaluation_order, total_term_cells
from .values import FEN_PER_WANYUAN, Kind

if TYPE_CHECKING:
    import numpy as np

CellKey = tuple[str, str, str]  # (table, row, col)



def key(cell: Cell) -> CellKey:
    return (cell.table.id, cell.row.id, cell.col.id)


def complete(spec: Spec, inputs: Mapping[CellKey, int], typed_totals: Mapping[CellKey, int] | None = None) -> dict[CellKey, int]:
    """Every cell's value: inputs as given (missing ones are 0), totals recomputed from their parts.

    ``typed_totals``: totals that hold a number typed over their formula; they keep it, and the
    totals built on them use it, as a spreadsheet computes the file (``totals_off_formula``)."""
    input_keys, steps = _plan(spec)
    values = {k: int(inputs.get(k, 0) or 0) for k in input_keys}
    for target, constant, parts in steps:
        if typed_totals and target in typed_totals:
            values[target] = typed_totals[target]
            continue
        total = constant
        for sign, deps in parts:
            part = 0
            for d in deps:
                part += values[d]
            total += part if sign > 0 else -part
        values[target] = total
    return values


def totals_off_formula(spec: Spec, inputs: Mapping[CellKey, int], typed: Mapping[CellKey, int | None]) -> dict[CellKey, int]:
    """The totals whose typed (printed) number is not what their formula gives in a workbook
    holding ``inputs`` and these very totals: {key: typed number} in base units, in evaluation
    order. A total typed as None (blank) is not among them. ``complete(spec, inputs, result)``
    is then what a spreadsheet computes for such a workbook."""
    input_keys, steps = _plan(spec)
    values = {k: int(inputs.get(k, 0) or 0) for k in input_keys}
    out: dict[CellKey, int] = {}
    for target, constant, parts in steps:
        total = constant
        for sign, deps in parts:
            part = sum(values[d] for d in deps)
            total += part if sign > 0 else -part
        shown = typed.get(target)
        if shown is not None and shown != total:
            out[target] = total = shown
        values[target] = total
    return out


# Inputs below this bound keep every total and every sum over a batch of agencies far inside
# int64 (2**40 分 is 1.1 亿万元; a total adds at most a few hundred cells, a batch a few 10**5
# agencies); a batch holding a larger number is computed with Python integers instead.
_INT64_SAFE = 2**40


def complete_many(spec: Spec, inputs: Sequence[Mapping[CellKey, int]]) -> tuple[dict[CellKey, int], np.ndarray]:
    """``complete`` of many submissions at once: (column of each numeric cell's key, an array of
    ``len(inputs)`` rows × that many columns in base units).

    The same plan as ``complete`` (missing inputs are 0, totals recomputed from their parts), run
    column-wise: consolidating 10,000 agencies costs milliseconds instead of seconds. The array is
    int64, or of Python ints (dtype object) when an input is too large for int64 to stay exact.
    """
    import numpy as np

    input_keys, steps = _plan(spec)
    targets = [target for target, _, _ in steps]
    columns = {k: j for j, k in enumerate((*input_keys, *targets))}
    n = len(inputs)
    try:  # the common case, in C: every input present as an int
        array = np.array([_inputs_getter(spec)(d) for d in inputs], dtype=np.int64).reshape(n, len(input_keys))
        dtype: Any = np.int64 if n == 0 or int(np.abs(array).max(initial=0)) < _INT64_SAFE else object
    except (KeyError, TypeError, OverflowError):  # missing cells, None, or beyond int64
        array = np.array([[int(d.get(k, 0) or 0) for k in input_keys] for d in inputs], dtype=object).reshape(n, len(input_keys))
        dtype = np.int64 if n == 0 or max(abs(v) for v in array.flat) < _INT64_SAFE else object
    out = np.zeros((n, len(columns)), dtype=dtype)
    out[:, : len(input_keys)] = array
    for target, constant, parts in steps:
        total = np.full(n, constant, dtype=dtype)
        for sign, deps in parts:
            part = out[:, [columns[d] for d in deps]].sum(axis=1) if deps else 0
            total = total + part if sign > 0 else total - part
        out[:, columns[target]] = total
    return columns, out


def input_keys(spec: Spec) -> tuple[CellKey, ...]:
    """The numeric input cells of ``spec`` (text cells left out), in spec order: the columns of
    ``complete_many``'s inputs. The same tuple for every call (keys shared, not copied)."""
    return _plan(spec)[0]


@cache
def _inputs_getter(spec: Spec):
    """A function giving the values of ``spec``'s numeric input cells of an inputs dict, in
    ``_plan`` order (KeyError when one is missing)."""
    from operator import itemgetter

    keys = _plan(spec)[0]
    return itemgetter(*keys) if len(keys) > 1 else (lambda d: (d[keys[0]],))


@cache
def _plan(spec: Spec) -> tuple[tuple[CellKey, ...], tuple[tuple[CellKey, int, tuple[tuple[int, tuple[CellKey, ...]], ...]], ...]]:
    """``complete`` compiled once per spec: walking the spec trees for every workbook costs more
    than reading the workbook."""
    input_keys = tuple(key(c) for c in spec.cells() if c.is_input and c.kind is not Kind.TEXT)
    steps = []
    for table in spec.tables:
        for cell in evaluation_order(table):
            constant = sum(t.sign * t.constant for t in cell.total.terms if t.name is None)
            parts = tuple((t.sign, tuple(key(d) for d in total_term_cells(cell, t))) for t in cell.total.terms if t.name is not None)
            steps.append((key(cell), constant, parts))
    return input_keys, tuple(steps)


@cache
def input_expansion(cell: Cell) -> dict[CellKey, int]:
    """``cell`` as a linear form over input cells: an input is itself; a total, its parts expanded."""
    if cell.is_input:
        return {key(cell): 1}
    out: dict[CellKey, int] = {}
    for term in cell.total.terms:
        if term.name is None:
            continue
        for dep in total_term_cells(cell, term):
            for k, coef in input_expansion(dep).items():
                out[k] = out.get(k, 0) + term.sign * coef
    return {k: c for k, c in out.items() if c}


@dataclass(frozen=True)
class CheckResult:
    instance: CheckInstance
    left: int
    right: int
    passed: bool

    @property
    def verdict(self) -> str:
        return "通过" if self.passed else "不通过"


def instance_resolver(instance: CheckInstance, values: Mapping[CellKey, object]):
    def resolve(term: ex.Term):
        return [values[key(c)] for c in instance.cells_of(term)]

    return resolve


def run_checks(spec: Spec, values: Mapping[CellKey, int]) -> list[CheckResult]:
    results = []
    for inst in spec.instances():
        resolve = instance_resolver(inst, values)
        left = ex.evaluate_linear(inst.check.expr.left, resolve)
        right = ex.evaluate_linear(inst.check.expr.right, resolve)
        results.append(CheckResult(inst, left, right, bool(ex.compare(left, inst.check.expr.op, right))))
    return results


def to_display(cell: Cell, value: int) -> int | float:
    """A base-unit value in the unit the form prints (万元 for money)."""
    if cell.kind is Kind.MONEY:
        return value / FEN_PER_WANYUAN if value % FEN_PER_WANYUAN else value // FEN_PER_WANYUAN
    return value


def instance_is_money(instance: CheckInstance) -> bool:
    """True when a rule instance involves a money cell (its numbers are shown in 万元)."""
    return any(c.kind is Kind.MONEY for c in instance.cells())
