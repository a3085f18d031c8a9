"""A finding: one problem (or note) about one returned workbook, as a clerk reads it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .vocab import SEVERITY_ORDER


@dataclass(frozen=True)
class Finding:
    """One problem (or note) about one workbook: severity (vocab.Severity), rule id (rules.catalogue), sheet and A1 cells, a Chinese message with the numbers on both sides, and the cell keys involved."""

    severity: str  # error | warning | info
    rule: str  # rule id as in FORMATS.md: t3.balance, cell.count, blank, …
    sheet: str
    cell: str  # A1 reference(s), comma separated; "" for the whole workbook
    message: str  # Chinese, with the numbers on both sides
    cells: tuple[tuple[str, str, str], ...] = ()  # (table, row, col) of the cells involved

    def as_json(self) -> dict:
        d = asdict(self)
        d.pop("cells")
        return d

    @property
    def where(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or ""

    def place(self, spec=None) -> str:
        """Where, as a clerk reads it: ``表三!D6``, the table's short name (the one the message
        uses) instead of the sheet's full title; ``where`` for any other sheet or without
        ``spec`` (a ``spec.Spec``: its tables' ``sheet`` and ``short``)."""
        if spec is not None and self.sheet and self.cell:
            for table in spec.tables:
                if table.sheet == self.sheet:
                    return f"{table.short}!{self.cell}"
        return self.where


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then notes; within a severity by sheet and rule."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.sheet, f.rule))
