"""Totals and checks of one workbook's values, evaluated in Python from the spec.

Values are kept in base units: counts as ints, money as an exact int number of 元. The template
writes these results as the cached values of its formulas; tests compare them with what
LibreOffice recalculates; the validator evaluates the same expressions vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from . import expr as ex
from .spec import Cell, CheckInstance, Spec, evaluation_order, total_term_cells
from .values import Kind

CellKey = tuple[str, str, str]  # (table, row, col)

YUAN_PER_WANYUAN = 10_000


def key(cell: Cell) -> CellKey:
    return (cell.table.id, cell.row.id, cell.col.id)


def complete(spec: Spec, inputs: Mapping[CellKey, int]) -> dict[CellKey, int]:
    """Every cell's value: inputs as given (missing ones are 0), totals recomputed from their parts."""
    values: dict[CellKey, int] = {}
    for table in spec.tables:
        for cell in table.cells:
            if cell.is_input and cell.kind is not Kind.TEXT:
                values[key(cell)] = int(inputs.get(key(cell), 0) or 0)
        for cell in evaluation_order(table):
            values[key(cell)] = ex.evaluate_linear(
                cell.total, lambda term, c=cell: [values[key(d)] for d in total_term_cells(c, term)]
            )
    return values


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
        return value / YUAN_PER_WANYUAN if value % YUAN_PER_WANYUAN else value // YUAN_PER_WANYUAN
    return value


def instance_is_money(instance: CheckInstance) -> bool:
    return any(c.kind is Kind.MONEY for c in instance.cells())
