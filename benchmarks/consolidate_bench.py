"""Consolidating N agencies (default 3000):

    python benchmarks/consolidate_bench.py [N] [--tracemalloc] [--no-campaign]

Two measurements, each in its own child process so that its peak memory (max RSS) is its own:

(a) ``consolidate_submissions`` on N submissions built in memory from random values: summing,
    the 明细 sheet of N rows × every cell, writing the workbook (the floor);
(b) ``consolidate_campaign`` on a real campaign of N agencies (roster, replies stamped with
    random values, imported into the ledger): what ``xlsxgov consolidate CAMPAIGN_DIR`` does,
    rebuilding each submission from the ledger.

Prints wall time, CPU time and max RSS of each, and (b)/(a). Target: under 5 s and 300 MB.
Setting up (b) (writing and importing N workbooks) takes a minute or two and is not timed.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from xlsxgov import spec as spec_mod
from xlsxgov.compute import key
from xlsxgov.reader import Submission
from xlsxgov.values import Kind

YEAR = 2024
REGION = "基准区"


def random_inputs(spec, rng: random.Random) -> dict:
    cells = [c for c in spec.cells() if c.is_input and c.kind is not Kind.TEXT]
    return {key(c): (rng.randint(0, 99_999_999) if c.kind is Kind.MONEY else rng.randint(0, 500)) for c in cells}


def make_submissions(n: int, spec, rng: random.Random) -> list[Submission]:
    subs = []
    for i in range(n):
        meta = {"agency": f"单位{i:05d}", "code": f"11{i:016d}", "year": str(YEAR), "region": REGION, "kind": "template"}
        subs.append(Submission(Path(f"a{i:05d}.xlsx"), spec, meta, random_inputs(spec, rng), {}, {}, {}))
    return subs


def in_memory(n: int, out: Path, trace: bool) -> dict:
    from xlsxgov.consolidate import consolidate_submissions

    spec = spec_mod.load("gov2021")
    subs = make_submissions(n, spec, random.Random(1))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result = consolidate_submissions(subs, out, region=REGION, year=YEAR)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    return {"wall": elapsed, "cpu": cpu, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before": rss_before / 1024, "included": len(result.included), "traced_peak": peak and peak / 2**20}


def from_campaign(directory: Path, out: Path) -> dict:
    import xlsxgov.campaign.store  # noqa: F401  (imported and the spec loaded before timing, as in (a))
    from xlsxgov.consolidate import consolidate_campaign

    spec_mod.load("gov2021")
    t0, c0 = time.perf_counter(), time.process_time()
    result = consolidate_campaign(directory, out)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"wall": elapsed, "cpu": cpu, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before": 0.0, "included": len(result.included), "traced_peak": None}


def build_campaign(n: int, directory: Path) -> float:
    """A campaign of n agencies, every one replying with random values; returns the import time."""
    from xlsxgov.campaign import store as store_mod
    from xlsxgov.campaign.importer import import_paths
    from xlsxgov.campaign.init import init_campaign
    from xlsxgov.campaign.stamp import TemplateStamper
    from xlsxgov.campaign.roster import uscc_check_char

    spec = spec_mod.load("gov2021")
    rows = []
    for i in range(n):
        body = f"11350100MB{i:07d}"
        rows.append(f"基准区第{i}号单位,{body + uscc_check_char(body)},{REGION},,a{i}@example.com")
    roster = directory.parent / "roster.csv"
    roster.write_text("单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n" + "\n".join(rows) + "\n", encoding="utf-8")
    init_campaign(directory, year=YEAR, roster_path=roster, region=REGION)
    rng = random.Random(2)
    # A few value sets stamped with each agency's cover: every file differs, reading costs the same.
    stampers = [TemplateStamper(spec, YEAR, values=balanced(spec, rng)) for _ in range(8)]
    for i, a in enumerate(store_mod.roster(directory)):
        stampers[i % len(stampers)].stamp(directory / "inbox" / f"{a.code}.xlsx", a.name, a.code, a.region)
    t = time.perf_counter()
    result = import_paths(directory)
    assert result.count("valid") == n, {k: result.count(k) for k in ("valid", "invalid", "unreadable", "unknown")}
    return time.perf_counter() - t


def balanced(spec, rng: random.Random) -> dict:
    """Random inputs that pass every rule: 上年结转 and 新收 make table 三 balance."""
    from xlsxgov.compute import complete

    values = {k: rng.randint(0, 40) for k in random_inputs(spec, rng)}
    for inst in spec.instances():
        if inst.check.id == "t3.balance":
            by = {t.name: inst.cells_of(t)[0] for t in inst.terms()}
            if by["new"].is_input:
                values[key(by["carried_in"])] = 0
                values[key(by["new"])] = 0
                total = complete(spec, values)[key(by["results_total"])] + values[key(by["carried_over"])]
                values[key(by["carried_in"])] = rng.randint(0, total)
                values[key(by["new"])] = total - values[key(by["carried_in"])]
    return values


def child(argv: list[str]) -> None:
    kind, n, out, trace, where = argv[0], int(argv[1]), Path(argv[2]), argv[3] == "1", argv[4]
    result = in_memory(n, out, trace) if kind == "memory" else from_campaign(Path(where), out)
    print(json.dumps(result))


def run_child(kind: str, n: int, out: Path, trace: bool, where: str = "-") -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(n), str(out), "1" if trace else "0", where],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def show(label: str, r: dict, out: Path) -> None:
    line = f"{label:<34} {r['wall']:6.2f} s wall, {r['cpu']:6.2f} s CPU, max RSS {r['rss']:6.1f} MiB"
    if r["rss_before"]:
        line += f" (of which {r['rss_before']:.1f} MiB holding the inputs)"
    if r["traced_peak"]:
        line += f", traced Python peak {r['traced_peak']:.1f} MiB"
    print(line + f"; output {out.stat().st_size / 2**20:.1f} MiB, {r['included']} included")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 3000
    trace = "--tracemalloc" in sys.argv  # exact Python peak, but slows the run down ~5x
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        print(f"agencies: {n}  cells per agency: {sum(1 for _ in spec_mod.load('gov2021').cells())}")
        a = run_child("memory", n, d / "memory.xlsx", trace)
        show("(a) consolidate_submissions", a, d / "memory.xlsx")
        if "--no-campaign" in sys.argv:
            return
        campaign = d / "campaign"
        imported = build_campaign(n, campaign)
        print(f"    (setup: {n} replies imported into the campaign in {imported:.1f} s, not timed below)")
        b = run_child("campaign", n, d / "campaign.xlsx", False, str(campaign))
        show("(b) consolidate_campaign", b, d / "campaign.xlsx")
        print(f"(b)/(a) = {b['wall'] / a['wall']:.2f} (wall time)   target: under 5 s and 300 MB")


if __name__ == "__main__":
    main()
