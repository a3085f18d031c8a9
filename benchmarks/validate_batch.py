"""Benchmark: validating a batch of returned workbooks (issue #13, targets 1, 2 and 6).

    python benchmarks/validate_batch.py [N=1000] [--dir DIR] [--rounds R]

Generates N filled workbooks (random values, varying agencies and editions; about one in five
unbalanced) into DIR (kept, reused when it already holds them) or a temporary directory, then
measures in this one run, so that every figure stands beside its baselines:

  (a) raw python-calamine read of every sheet of every file, one process (the floor);
  (a2) the same raw read on every core, through the same worker pool as (d): how far this
      machine's cores scale at all (two vCPUs may share one physical core);
  (b) naive pipeline: openpyxl + a per-file frame + one pandera validation per file and table
      (on the first 200 files: it is slow);
  (c) xlsxgov ``validate_paths`` in one process (workers=1): per core;
  (d) xlsxgov ``validate_paths`` on every core (parallel.chunk_map);
  (e) the CLI: ``xlsxgov validate`` and ``validate --json`` on the N files, and ``--json`` on
      5×N files (each file five times) with the peak memory of the process tree (the CLI and
      its workers: proportional set size, shared pages counted once; sampled every 20 ms);
  (f) cold start: ``xlsxgov --help`` and ``xlsxgov validate`` of one file (wall time).

(a), (a2), (c) and (d) run ``--rounds R`` times (default 3), interleaved, so that a burst of
load on a shared machine hits every variant alike; each line gives the median and each ratio is
the median of the ratios within a round, with their range.

Targets: (d)/(a) <= 0.6, (c)/(a) <= 1.3, (e) --json peak for 5,000 files <= 400 MB,
validate of one file <= 1 s. The load average is printed before and after: the machine may
be shared, and ratios of the same run are what to compare; (a)-(d) also print CPU time per
file (workers included), which other jobs on the machine disturb far less than wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import openpyxl
from pandera.errors import SchemaErrors
from python_calamine import CalamineWorkbook

from xlsxgov import spec as spec_mod
from xlsxgov.compute import complete, key
from xlsxgov.layout import layout
from xlsxgov.parallel import chunk_map, worker_count
from xlsxgov.reader import Submission
from xlsxgov.template import Meta, write_workbook
from xlsxgov.validate import table_frame, table_schema, validate_paths
from xlsxgov.values import Kind, parse_cell

EDITIONS = ("gov2021", "gov2021", "gov2021", "gov2019", "legacy2008")
AGENCIES = ["市商务局", "区教育局", "县人民政府办公室", "市自然资源和规划局", "区卫生健康委员会", "市市场监督管理局", "镇人民政府"]
XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))
NAIVE_FILES = 200


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
        values = random_values(spec, rng)
        p = directory / f"wb{i:05d}.xlsx"
        if not p.exists():
            write_workbook(p, spec, Meta(year=2024, agency=agency, code=f"11350100M{i:09d}"), values=values)
        paths.append(p)
    return paths


def raw_calamine(paths) -> int:
    cells = 0
    for p in paths:
        wb = CalamineWorkbook.from_path(str(p))
        for name in wb.sheet_names:
            cells += sum(len(r) for r in wb.get_sheet_by_name(name).to_python())
    return cells


def raw_calamine_chunk(paths: list[Path]) -> list[int]:
    """(a2)'s unit of work in a worker: the raw read of each file of a chunk."""
    return [raw_calamine([p]) for p in paths]


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


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn, n: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) per item of one call of ``fn``."""
    t, c = time.perf_counter(), _cpu()
    fn()
    return (time.perf_counter() - t) / n, (_cpu() - c) / n


def print_line(label: str, walls: list[float], cpus: list[float], base: tuple[list[float], list[float]] | None) -> None:
    """One variant's median wall and CPU time per file; beside (a), the median of the per-round
    ratios and their range (on a shared machine the CPU ratio is the steadier one)."""
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    ratio = ""
    if base is not None:
        rw = [w / b for w, b in zip(walls, base[0])]
        rc = [c / b for c, b in zip(cpus, base[1])]
        spread = f" [{min(rw):.2f}–{max(rw):.2f}]" if len(rw) > 1 else ""
        ratio = f"  {statistics.median(rw):5.2f}× (a) wall{spread}, {statistics.median(rc):5.2f}× (a) CPU"
    print(f"{label:<52} {wall * 1000:7.2f} ms/file {1 / wall:8.0f} files/s  CPU {cpu * 1000:6.2f} ms/file{ratio}", flush=True)


def _tree_pss(pid: int) -> int:
    """Proportional set size of ``pid`` and all its descendants (Linux /proc): forked workers
    share their parent's pages, which a sum of RSS would count once per process."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) * 1024 for line in fh if line.startswith("Pss:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_cli(args: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak memory (PSS) of the process tree in bytes, exit code); output discarded."""
    peak = [0]
    t = time.perf_counter()
    proc = subprocess.Popen([XLSXGOV, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_pss(proc.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    code = proc.wait()
    dt = time.perf_counter() - t
    watcher.join()
    return dt, peak[0], code


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="validate benchmark (issue #13)")
    parser.add_argument("n", nargs="?", type=int, default=1000, help="workbooks")
    parser.add_argument("--dir", help="folder to keep the workbooks in (reused)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of (a), (a2), (c), (d)")
    opts = parser.parse_args(argv[1:])
    n, keep, rounds = opts.n, opts.dir, max(1, opts.rounds)
    print(f"machine: {os.cpu_count()} CPUs, {worker_count()} workers; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    with tempfile.TemporaryDirectory(prefix="xlsxgov-bench-") as tmp:
        directory = Path(keep) if keep else Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        paths = generate(n, directory)
        print(f"{n} workbooks ready in {time.perf_counter() - t:.1f} s")
        # warm caches (spec loading, schema construction) so that no variant pays for them
        validate_paths(paths[:3], workers=1)
        naive(paths[:3])
        sample = paths[:NAIVE_FILES]
        wall, cpu = measure(lambda: naive(sample), len(sample))
        workers = worker_count()
        variants = {
            "(a) raw python-calamine read, all sheets, 1 process": lambda: raw_calamine(paths),
            f"(a2) the same raw read, {workers} processes": lambda: list(chunk_map(raw_calamine_chunk, paths)),
            "(c) xlsxgov validate_paths, 1 process": lambda: validate_paths(paths, workers=1),
            f"(d) xlsxgov validate_paths, {workers} processes": lambda: validate_paths(paths),
        }
        walls: dict[str, list[float]] = {k: [] for k in variants}
        cpus: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(rounds):
            for label, fn in variants.items():
                w, c = measure(fn, n)
                walls[label].append(w)
                cpus[label].append(c)
        labels = list(variants)
        base = (walls[labels[0]], cpus[labels[0]])
        print(f"{rounds} rounds, interleaved; medians:")
        print_line(labels[0], *base, None)
        print_line(f"(b) naive openpyxl + pandera per file ({len(sample)} files, once)",
                   [wall] * rounds, [cpu] * rounds, base)
        for label in labels[1:]:
            print_line(label, walls[label], cpus[label], base)
        a, d = statistics.median(base[0]), statistics.median(walls[labels[3]])
        reports = validate_paths(paths)
        counts = {s: sum(1 for r in reports if r.status == s) for s in ("valid", "invalid", "unreadable")}
        print(f"    statuses: {counts}")
        files = [str(p) for p in paths]
        for label, cli_args, count in (
            ("(e) CLI xlsxgov validate", ["validate", *files], n),
            ("(e) CLI xlsxgov validate --json", ["validate", "--json", *files], n),
            (f"(e) CLI xlsxgov validate --json, {5 * n} files", ["validate", "--json", *(files * 5)], 5 * n),
        ):
            dt, peak, code = run_cli(cli_args)
            per = dt / count
            print(f"{label:<52} {per * 1000:7.2f} ms/file {1 / per:8.0f} files/s  {per / a:5.2f}× (a) "
                  f"{per / d:5.2f}× (d)  peak {peak / 2**20:6.0f} MB  exit {code}", flush=True)
        help_dt, _, _ = run_cli(["--help"])
        one_dt, _, _ = run_cli(["validate", files[0]])
        print(f"(f) cold start: xlsxgov --help {help_dt:.2f} s; xlsxgov validate of one file {one_dt:.2f} s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main(sys.argv)
