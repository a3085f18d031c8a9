"""Benchmark: validating a batch of returned workbooks.

    python benchmarks/validate_batch.py [N=1000]

Generates N filled workbooks (random values, varying agencies and editions) into a temporary
directory, then times
  (a) a raw python-calamine read of every sheet of every file (the floor),
  (b) xlsxgov.validate.validate_paths on all files (read, locate, one vectorised pandera pass),
  (c) a naive pipeline: openpyxl load_workbook + a per-file DataFrame + one pandera validation
      per file (xlsxgov.validate.table_frame / table_schema, one file at a time),
and prints workbooks/s for each and the ratios (b)/(a) and (c)/(b) (in time).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
from pandera.errors import SchemaErrors
from python_calamine import CalamineWorkbook

from xlsxgov import spec as spec_mod
from xlsxgov.compute import complete, key
from xlsxgov.layout import layout
from xlsxgov.reader import Submission
from xlsxgov.template import Meta, write_workbook
from xlsxgov.validate import table_frame, table_schema, validate_paths
from xlsxgov.values import Kind, parse_cell

EDITIONS = ("gov2021", "gov2021", "gov2021", "gov2019", "legacy2008")
AGENCIES = ["市商务局", "区教育局", "县人民政府办公室", "市自然资源和规划局", "区卫生健康委员会", "市市场监督管理局", "镇人民政府"]


def random_values(spec, rng: random.Random) -> dict:
    vals = {}
    for cell in spec.cells():
        if not cell.is_input:
            continue
        if cell.kind is Kind.MONEY:
            vals[key(cell)] = rng.randint(0, 10**8)
        elif cell.kind is Kind.DELTA:
            vals[key(cell)] = rng.randint(-5, 5)
        else:
            vals[key(cell)] = rng.choice([0, 0, rng.randint(0, 50)])
    if rng.random() < 0.8:  # most files balance
        for inst in spec.instances():
            if inst.check.id == "t3.balance":
                by = {t.name: inst.cells_of(t)[0] for t in inst.terms()}
                if by["new"].is_input:
                    total = complete(spec, vals)[key(by["results_total"])] + vals[key(by["carried_over"])]
                    vals[key(by["carried_in"])] = rng.randint(0, total)
                    vals[key(by["new"])] = total - vals[key(by["carried_in"])]
    return vals


def generate(n: int, directory: Path, seed: int = 1) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        spec = spec_mod.load(rng.choice(EDITIONS))
        agency = f"{rng.choice(AGENCIES)}{i}"
        p = directory / f"wb{i:05d}.xlsx"
        write_workbook(p, spec, Meta(year=2024, agency=agency, code=f"11350100M{i:09d}"), values=random_values(spec, rng))
        paths.append(p)
    return paths


def raw_calamine(paths) -> int:
    cells = 0
    for p in paths:
        wb = CalamineWorkbook.from_path(str(p))
        for name in wb.sheet_names:
            cells += sum(len(r) for r in wb.get_sheet_by_name(name).to_python())
    return cells


def naive(paths) -> int:
    """openpyxl + per-file frame + one pandera validation per file and table."""
    failures = 0
    for p in paths:
        wb = openpyxl.load_workbook(p, data_only=True)
        meta = {r[0]: r[1] for r in wb["_xlsxgov"].iter_rows(values_only=True) if r and r[0] and r[0] != "cell"}
        spec = spec_mod.load(meta["edition"])
        lay = layout(spec)
        inputs, typed, raw, where = {}, {}, {}, {}
        for cell in spec.cells():
            pl = lay[cell.table.id].place(cell)
            v = wb[cell.table.sheet].cell(pl.r + 1, pl.c + 1).value
            parsed = parse_cell(v, cell.kind)
            k = key(cell)
            raw[k], where[k] = v, (cell.table.sheet, pl.a1)
            typed[k] = parsed.value
            if cell.is_input:
                inputs[k] = parsed.value or 0
        sub = Submission(p, spec, meta, inputs, typed, raw, where)
        for table in spec.tables:
            frame = table_frame(table, [sub])
            try:
                table_schema(table).validate(frame, lazy=True)
            except SchemaErrors:
                failures += 1
    return failures


def timed(label: str, fn, n: int) -> float:
    t = time.perf_counter()
    fn()
    dt = time.perf_counter() - t
    print(f"{label:<48} {dt:8.2f} s  {n / dt:9.1f} workbooks/s")
    return dt


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 1000
    with tempfile.TemporaryDirectory(prefix="xlsxgov-bench-") as tmp:
        t = time.perf_counter()
        paths = generate(n, Path(tmp))
        print(f"generated {n} workbooks in {time.perf_counter() - t:.1f} s")
        # warm caches (spec loading, schema construction) so that no variant pays for them
        validate_paths(paths[:3])
        naive(paths[:3])
        a = timed("(a) raw python-calamine read, all sheets", lambda: raw_calamine(paths), n)
        reports = []
        b = timed("(b) xlsxgov validate_paths", lambda: reports.extend(validate_paths(paths)), n)
        c = timed("(c) naive openpyxl + pandera per file", lambda: naive(paths), n)
        counts = {s: sum(1 for r in reports if r.status == s) for s in ("valid", "invalid", "unreadable")}
        print(f"statuses: {counts}")
        print(f"(b)/(a) = {b / a:.2f}   (c)/(b) = {c / b:.2f}   (time ratios)")


if __name__ == "__main__":
    main(sys.argv)
