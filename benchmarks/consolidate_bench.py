"""Consolidating N agencies (default 10,000), from a campaign and from files, beside baselines
measured in the same run:

    python benchmarks/consolidate_bench.py [N] [--files M] [--keep DIR] [--no-old]

Setup (not timed): a real campaign of N agencies (roster, every reply stamped with values that
pass every rule, imported into the ledger). ``--keep DIR`` keeps it in DIR and reuses it on the
next run (importing 10,000 replies takes minutes).

Each measurement runs in a child process of its own, so that its peak memory is its own (VmHWM
of that process; "workers" is the largest ru_maxrss of the worker processes it started, which
counts what a forked worker inherited):

(a) the 明细 writer: ``consolidate_submissions`` on N submissions in memory, against the previous
    writer (one xlsxwriter call per cell, kept below as ``old_detail`` for this comparison);
(b) ``consolidate_campaign`` (what ``xlsxgov consolidate CAMPAIGN_DIR`` does), against the
    previous pipeline: submissions rebuilt from the facts table with queries per agency (the
    store's path for a ledger without recorded inputs, on a copy of the ledger without them)
    and the previous 明细 writer. Target: ≤ 4 s and ≤ 400 MB for 10,000 agencies;
(c) ``consolidate_files`` on M of the campaign's files (default N), against a raw
    python-calamine read of every sheet of the same files in one process, ``validate_paths``
    (both cores), and the previous pipeline (every full report kept, the previous writer).
    Target: ≤ 15 s and ≤ 500 MB for 10,000 files.

Wall time on a machine shared with other jobs says little alone: CPU time is printed beside it,
with the load average before and after.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from xlsxgov import spec as spec_mod
from xlsxgov.compute import key
from xlsxgov.reader import Submission
from xlsxgov.values import FEN_PER_WANYUAN, Kind, money_to_wanyuan

YEAR = 2024
REGION = "基准区"


# ---------------------------------------------------------------------------------------------
# The previous 明细 writer (one xlsxwriter call per cell), kept here as the baseline only


def old_detail(w, subs, statuses) -> None:
    """The 明细 sheet as consolidate.py wrote it before detail.py (2026-11-29)."""
    import numpy as np

    from xlsxgov.consolidate import file_name as file_name_of
    from xlsxgov.consolidate import leaf_count
    from xlsxgov.detail import DETAIL_SHEET, FIXED, DetailAgency, DetailSheet
    from xlsxgov.vocab import status_label

    # Headers, panes, filter and print setup as detail.py writes them (cheap); the rows below
    # are the previous way, one xlsxwriter call per cell.
    DetailSheet(w.spec, [DetailAgency("", "", "", False, 0, "")] * len(subs), ({}, np.zeros((len(subs), 0), dtype=np.int64))).hook(w)
    ws = w.workbook.get_worksheet_by_name(DETAIL_SHEET)
    cells = list(w.spec.cells())
    fixed = len(FIXED)
    keys = [key(c) for c in cells]
    money = [c.kind is Kind.MONEY for c in cells]
    for i, sub in enumerate(subs):
        r = 2 + i
        values = sub.values
        ws.write_number(r, 0, i + 1)
        ws.write_string(r, 1, sub.agency or "")
        ws.write_string(r, 2, sub.code or "")
        ws.write_string(r, 3, status_label(statuses.get(str(sub.path), "valid")) + ("（汇总表）" if sub.meta.get("kind") == "consolidated" else ""))
        ws.write_number(r, 4, leaf_count(sub))
        ws.write_string(r, 5, file_name_of(sub))
        for j, k in enumerate(keys):
            stored = values.get(k)
            if stored is None:
                continue
            if money[j]:
                ws.write_number(r, fixed + j, stored // FEN_PER_WANYUAN if stored % FEN_PER_WANYUAN == 0 else money_to_wanyuan(stored))
            else:
                ws.write_number(r, fixed + j, stored)


def old_consolidate(subs, out: Path, statuses=None) -> int:
    """The previous writing path: Python sums per cell, every total recomputed per submission,
    the previous 明细 writer."""
    from xlsxgov.template import Meta, write_workbook

    spec = subs[0].spec
    keys = [key(c) for c in spec.cells() if c.is_input and c.kind is not Kind.TEXT]
    sums = dict.fromkeys(keys, 0)
    for sub in subs:
        for k in keys:
            sums[k] += int(sub.inputs.get(k) or 0)
    meta = Meta(year=YEAR, agency=f"{REGION}（汇总）", code="", region=REGION, kind="consolidated", consolidates=len(subs))
    write_workbook(out, spec, meta, values=sums, extra_sheets=[lambda w: old_detail(w, subs, statuses or {})])
    return len(subs)


# ---------------------------------------------------------------------------------------------
# Inputs


def random_inputs(spec, rng: random.Random) -> dict:
    cells = [c for c in spec.cells() if c.is_input and c.kind is not Kind.TEXT]
    return {key(c): (rng.randint(0, 99_999_999) if c.kind is Kind.MONEY else rng.randint(0, 500)) for c in cells}


def make_submissions(n: int, spec, rng: random.Random) -> list[Submission]:
    subs = []
    for i in range(n):
        meta = {"agency": f"单位{i:05d}", "code": f"11{i:016d}", "year": str(YEAR), "region": REGION, "kind": "template"}
        subs.append(Submission(Path(f"a{i:05d}.xlsx"), spec, meta, random_inputs(spec, rng), {}, {}, {}))
    return subs


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


def build_campaign(n: int, directory: Path) -> float:
    """A campaign of n agencies, every one replying with random values; returns the import time."""
    from xlsxgov.campaign import store as store_mod
    from xlsxgov.campaign.importer import import_paths
    from xlsxgov.campaign.init import init_campaign
    from xlsxgov.campaign.roster import uscc_check_char
    from xlsxgov.campaign.stamp import TemplateStamper

    spec = spec_mod.load("gov2021")
    rows = []
    for i in range(n):
        body = f"11350100MB{i:07d}"
        rows.append(f"基准区第{i}号单位,{body + uscc_check_char(body)},{REGION},,a{i}@example.com")
    directory.parent.mkdir(parents=True, exist_ok=True)
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


def campaign_files(directory: Path, m: int) -> list[Path]:
    from xlsxgov.campaign.store import CampaignStore

    with CampaignStore.open(directory) as store:
        return [p for _, _, p in store.accepted_submissions()][:m]


def without_recorded_inputs(directory: Path, copy: Path) -> Path:
    """A copy of the campaign whose ledger has no recorded inputs, as an older import left it
    (its archive is the original's, linked)."""
    from xlsxgov.campaign.store import INPUTS_RECORDED

    copy.mkdir(parents=True, exist_ok=True)
    shutil.copy2(directory / "ledger.sqlite", copy / "ledger.sqlite")
    if not (copy / "archive").exists():
        (copy / "archive").symlink_to(directory / "archive")
    conn = sqlite3.connect(copy / "ledger.sqlite")
    conn.execute("DELETE FROM submission_meta WHERE key=?", (INPUTS_RECORDED,))
    conn.commit()
    conn.close()
    return copy


# ---------------------------------------------------------------------------------------------
# Measurements, one per child process


def measure(kind: str, n: int, where: str, out: Path) -> dict:
    """Run one measurement in this (child) process; returns what it included or read."""
    import xlsxgov.campaign.store  # noqa: F401  (imports and the spec loaded before timing)
    import xlsxgov.consolidate
    import xlsxgov.validate  # noqa: F401

    spec = spec_mod.load("gov2021")
    if kind == "memory-new":
        subs = make_submissions(n, spec, random.Random(1))
        return {"timed": lambda: len(xlsxgov.consolidate.consolidate_submissions(subs, out, region=REGION, year=YEAR).included)}
    if kind == "memory-old":
        subs = make_submissions(n, spec, random.Random(1))
        return {"timed": lambda: old_consolidate(subs, out)}
    if kind == "campaign-new":
        return {"timed": lambda: len(xlsxgov.consolidate.consolidate_campaign(where, out).included)}
    if kind == "campaign-old":
        def old() -> int:
            from xlsxgov.campaign.store import CampaignStore

            with CampaignStore.open(where) as store:
                subs = [sub for _, _, sub in store.current_submissions(("valid",))]
            return old_consolidate(subs, out)
        return {"timed": old}
    paths = [Path(p) for p in json.loads(Path(where).read_text())]
    if kind == "files-new":
        return {"timed": lambda: len(xlsxgov.consolidate.consolidate_files(paths, out, region=REGION).included)}
    if kind == "files-validate":
        return {"timed": lambda: Counter(r.status for r in xlsxgov.validate.validate_paths(paths))["valid"]}
    if kind == "files-old":
        def old_files() -> int:
            reports = xlsxgov.validate.validate_paths(paths)  # every full report kept, as before
            subs = [r.submission for r in reports if r.status == "valid"]
            return old_consolidate(subs, out, {str(s.path): "valid" for s in subs})
        return {"timed": old_files}
    if kind == "files-raw":
        def raw() -> int:
            from python_calamine import CalamineWorkbook

            for p in paths:
                wb = CalamineWorkbook.from_path(str(p))
                for name in wb.sheet_names:
                    wb.get_sheet_by_name(name).to_python()
            return len(paths)
        return {"timed": raw}
    raise ValueError(kind)


def child(argv: list[str]) -> None:
    kind, n, where, out = argv[0], int(argv[1]), argv[2], Path(argv[3])
    job = measure(kind, n, where, out)
    t0, c0 = time.perf_counter(), time.process_time()
    count = job["timed"]()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "wall": wall, "cpu": cpu + kids.ru_utime + kids.ru_stime, "rss": peak_rss(),
        "workers_rss": kids.ru_maxrss / 1024, "count": count, "size": out.stat().st_size if out.exists() else 0,
    }))


def peak_rss() -> float:
    """This process's peak resident memory in MiB (VmHWM: unlike ru_maxrss, not inherited from
    the parent's peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(kind: str, n: int, where: str | Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(n), str(where), str(out)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def show(label: str, r: dict, base: dict | None = None, base_label: str = "") -> None:
    line = f"  {label:<44} {r['wall']:6.2f} s wall {r['cpu']:6.2f} s CPU  max RSS {r['rss']:5.0f} MiB"
    if r["workers_rss"] > 1:
        line += f" (workers ≤ {r['workers_rss']:4.0f} MiB each)"
    if base is not None:
        line += f"  = {r['wall'] / base['wall']:.2f}× {base_label} (CPU {r['cpu'] / base['cpu']:.2f}×)"
    print(line, flush=True)


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    args = sys.argv[1:]
    numbers = [a for i, a in enumerate(args) if a.isdigit() and (i == 0 or args[i - 1] not in ("--files", "--keep"))]
    n = int(numbers[0]) if numbers else 10_000
    m = int(args[args.index("--files") + 1]) if "--files" in args else n
    keep = Path(args[args.index("--keep") + 1]) if "--keep" in args else None
    old = "--no-old" not in args
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}  {os.cpu_count()} CPUs ({cpu_model}), Python {platform.python_version()}; {load()}")
    print(f"agencies: {n}, cells per agency: {sum(1 for _ in spec_mod.load('gov2021').cells())}, files: {m}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        base = keep or d
        campaign = base / f"campaign{n}"
        if not (campaign / "ledger.sqlite").exists():
            t = time.perf_counter()
            imported = build_campaign(n, campaign)
            print(f"  (setup: campaign of {n} agencies built in {time.perf_counter() - t:.0f} s, import {imported:.0f} s; not timed below)", flush=True)

        print("(a) the 明细 writer, submissions in memory")
        a_new = run("memory-new", n, "-", d / "a-new.xlsx")
        if old:
            a_old = run("memory-old", n, "-", d / "a-old.xlsx")
            show("previous writer (xlsxwriter, a call per cell)", a_old)
        show("consolidate_submissions", a_new, a_old if old else None, "previous")

        print(f"(b) from a campaign of {n} agencies   target: ≤ 4 s and ≤ 400 MB for 10,000")
        b_new = run("campaign-new", n, campaign, d / "b-new.xlsx")
        if old:
            b_old = run("campaign-old", n, without_recorded_inputs(campaign, d / "older"), d / "b-old.xlsx")
            show("previous: facts per agency + previous writer", b_old)
        show("consolidate_campaign", b_new, b_old if old else None, "previous")

        print(f"(c) from {m} files   target: ≤ 15 s and ≤ 500 MB for 10,000")
        listing = d / "files.json"
        listing.write_text(json.dumps([str(p) for p in campaign_files(campaign, m)]))
        raw = run("files-raw", m, listing, d / "none")
        show("raw python-calamine read, every sheet, 1 process", raw)
        val = run("files-validate", m, listing, d / "none")
        show("validate_paths (both cores)", val, raw, "raw read")
        if old:
            c_old = run("files-old", m, listing, d / "c-old.xlsx")
            show("previous: full reports kept + previous writer", c_old, raw, "raw read")
        c_new = run("files-new", m, listing, d / "c-new.xlsx")
        show("consolidate_files", c_new, raw, "raw read")
        line = f"  consolidate_files: {m / c_new['wall']:.0f} files/s, {c_new['wall'] / val['wall']:.2f}× validate_paths"
        if old:
            line += f", {c_new['wall'] / c_old['wall']:.2f}× previous"
        if m != 10_000:
            line += f"; at this rate 10,000 files take {10_000 * c_new['wall'] / m:.1f} s"
        print(line)
    print(load())


if __name__ == "__main__":
    main()
