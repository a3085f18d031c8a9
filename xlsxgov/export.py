"""Facts of many workbooks as one long table (CSV or Parquet)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from .validate import validate_paths

FACT_COLUMNS = ["file", "agency", "code", "year", "edition", "status", "table", "row", "col", "row_label", "col_label", "sheet", "cell", "value", "raw"]


@dataclass
class ExportResult:
    rows: int
    files: int
    unreadable: list[str] = field(default_factory=list)


def facts_frame(paths: Sequence[Path | str]) -> tuple[pd.DataFrame, list[str]]:
    """Every cell of every readable file (valid or invalid), one row each."""
    records, unreadable = [], []
    for rep in validate_paths(paths):
        sub = rep.submission
        if sub is None:
            unreadable.append(rep.reason or str(rep.path))
            continue
        head = {"file": str(rep.path), "agency": sub.agency, "code": sub.code, "year": sub.year, "edition": sub.edition, "status": rep.status}
        for fact in sub.facts():
            rec = {**head, **fact.as_json()}
            rec["raw"] = None if rec["raw"] is None else str(rec["raw"])
            records.append(rec)
    frame = pd.DataFrame.from_records(records, columns=FACT_COLUMNS)
    # Keep counts as integers next to money decimals instead of turning every value into a float.
    frame["value"] = pd.Series([r["value"] for r in records], dtype=object)
    return frame, unreadable


def export_facts(paths: Sequence[Path | str], output: Path) -> ExportResult:
    frame, unreadable = facts_frame(paths)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".parquet":
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False, encoding="utf-8-sig")  # utf-8-sig: Excel opens Chinese CSV correctly
    return ExportResult(len(frame), frame["file"].nunique() if len(frame) else 0, unreadable)
