"""Peak memory of `xlsxgov validate` on the largest hostile file of each kind (issue #14).

Builds the reading corpus of tests/hostile_files.py (LibreOffice cases too when soffice is
installed) in a child process, then runs `validate_paths([FILE])` once per file in a fresh
Python process and prints, per kind, the peak RSS of that process (imports included) and the
time of the validate call on the largest file of the kind, against a good filled template's,
measured in the same run. The budget is 200 MB and 10 s per returned file. (The parent stays
small: Linux carries a parent's RSS high-water mark into a forked child, even across exec.)

It also measures what containing every read in a worker process would cost (a pool of one
worker with an address-space limit, the Submission sent back by pickling) against reading in
process, over 50 good files: the reason xlsxgov checks budgets before parsing instead.

Usage: python benchmarks/hostile_rss.py [--no-office]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

BUDGET_MB = 200


CHILD = """
import sys, time
from xlsxgov.validate import validate_paths
start = time.perf_counter()
(rep,) = validate_paths([sys.argv[1]])
print(time.perf_counter() - start, rep.status)
"""


def run_validate(path: Path) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds of the validate call, status) for one file in a fresh process."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    secs, verdict = out.split() if out.strip() else ("nan", f"crashed({os.waitstatus_to_exitcode(status)})")
    return usage.ru_maxrss / 1024, float(secs), verdict


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


def _read(path: str):
    from xlsxgov.reader import read_workbook

    return read_workbook(path)


def worker_cost(paths: list[Path]) -> tuple[float, float]:
    from xlsxgov.reader import read_workbook

    start = time.perf_counter()
    for p in paths:
        read_workbook(p)
    inproc = time.perf_counter() - start
    with ProcessPoolExecutor(1, initializer=_limit_memory) as pool:
        pool.submit(_read, str(paths[0])).result()  # start-up is paid once per batch
        start = time.perf_counter()
        for p in paths:
            pool.submit(_read, str(p)).result()
        pooled = time.perf_counter() - start
    return inproc, pooled


def build(d: Path, office: bool) -> None:
    """Write the corpus into d and list "kind<TAB>path" lines in d/cases.tsv (child process)."""
    import hostile_files as hf

    cases = hf.reading_corpus(d)
    if office:
        from xlsxgov import office as office_mod

        if office_mod.soffice_path() is None:
            print("LibreOffice not installed: xls/ods/Excel 95 cases skipped")
            office = False
        else:
            hf.convert_office_cases(d, cases)
    cases = [c for c in cases if office or not c.needs_office]
    hf.filled_template(d / "good.xlsx")
    for i in range(50):
        hf.filled_template(d / f"g{i}.xlsx", agency=f"单位{i}")
    (d / "cases.tsv").write_text("".join(f"{c.kind}\t{c.path}\n" for c in cases), encoding="utf-8")


def main() -> None:
    office = "--no-office" not in sys.argv
    if sys.argv[1:2] == ["--build"]:
        build(Path(sys.argv[2]), sys.argv[3] == "1")
        return
    with tempfile.TemporaryDirectory(prefix="xlsxgov-rss-") as tmp:
        d = Path(tmp)
        subprocess.run([sys.executable, __file__, "--build", str(d), "1" if office else "0"], check=True)
        cases = [line.split("\t") for line in (d / "cases.tsv").read_text(encoding="utf-8").splitlines()]
        good_rss, good_s, good_status = run_validate(d / "good.xlsx")
        print(f"good filled template: {good_rss:.0f} MB peak RSS, validate {good_s:.2f} s, {good_status}")
        print(f"{'kind':24} {'largest file':26} {'size':>9} {'peak MB':>8} {'× good':>7} {'s':>6} status")
        worst = 0.0
        for kind in dict.fromkeys(k for k, _ in cases):
            largest = max((Path(p) for k, p in cases if k == kind), key=lambda p: p.stat().st_size)
            rss, secs, status = run_validate(largest)
            worst = max(worst, rss)
            flag = "" if rss < BUDGET_MB and secs < 10 else "  OVER BUDGET"
            print(f"{kind:24} {largest.name[:26]:26} {largest.stat().st_size / 1024:8.0f}K "
                  f"{rss:8.0f} {rss / good_rss:7.2f} {secs:6.2f} {status}{flag}")
        print(f"largest peak RSS over all kinds: {worst:.0f} MB (budget {BUDGET_MB} MB); good file {good_rss:.0f} MB")
        inproc, pooled = worker_cost([d / f"g{i}.xlsx" for i in range(50)])
        print(f"reading 50 good files: in process {inproc:.2f} s, in a memory-limited worker process {pooled:.2f} s "
              f"({pooled / inproc:.2f}× the in-process time)")


if __name__ == "__main__":
    main()
