"""Time consolidate_submissions on N agencies (default 3000): python benchmarks/consolidate_bench.py [N].

Submissions are built directly from random values (the reader is benchmarked elsewhere), so this
isolates the consolidation: summing, the 明细 sheet of N rows × every cell, and writing the workbook.
Prints wall time and peak memory (tracemalloc peak of Python allocations, and the process's max RSS).
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from xlsxgov import spec as spec_mod
from xlsxgov.compute import key
from xlsxgov.consolidate import consolidate_submissions
from xlsxgov.reader import Submission
from xlsxgov.values import Kind


def make_submissions(n: int, spec, rng: random.Random) -> list[Submission]:
    cells = [c for c in spec.cells() if c.is_input and c.kind is not Kind.TEXT]
    subs = []
    for i in range(n):
        inputs = {key(c): (rng.randint(0, 99_999_999) if c.kind is Kind.MONEY else rng.randint(0, 500)) for c in cells}
        meta = {"agency": f"单位{i:05d}", "code": f"11{i:016d}", "year": "2024", "region": "基准区", "kind": "template"}
        subs.append(Submission(Path(f"a{i:05d}.xlsx"), spec, meta, inputs, {}, {}, {}))
    return subs


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 3000
    trace = "--tracemalloc" in sys.argv  # exact Python peak, but slows the run down ~5x
    spec = spec_mod.load("gov2021")
    subs = make_submissions(n, spec, random.Random(1))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "region.xlsx"
        if trace:
            tracemalloc.start()
        t0, c0 = time.perf_counter(), time.process_time()
        result = consolidate_submissions(subs, out, region="基准区", year=2024)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = tracemalloc.get_traced_memory()[1] if trace else None
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = out.stat().st_size
    print(f"agencies: {n}  cells per agency: {sum(1 for _ in spec.cells())}  included: {len(result.included)}")
    print(f"consolidate_submissions: {elapsed:.2f} s wall, {cpu:.2f} s CPU" + (" (tracemalloc on)" if trace else ""))
    print(f"max RSS: {rss / 1024:.1f} MiB (after building the submissions: {rss_before / 1024:.1f} MiB)")
    if peak is not None:
        print(f"peak traced Python memory during consolidation: {peak / 2**20:.1f} MiB")
    print(f"output: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
