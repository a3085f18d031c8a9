"""Campaign throughput: ``campaign issue`` for N agencies, ``campaign import`` of M returned files.

    python benchmarks/campaign_bench.py [N=10000] [--import M=1000] [--skip-issue] [--skip-import]

Prints each figure beside baselines measured in the same run (no timed assertions anywhere;
issue #13 points 3 and 4):

- ``campaign issue`` (templates + .eml + ledger, CPU and wall) beside the I/O floor (the same
  number of files of the same sizes written the same atomic way, one flush), building each
  template from scratch with ``write_template`` (a sample, extrapolated) and email's generator
  for the mails (a sample, extrapolated);
- ``campaign import`` of M returned workbooks all valid, and with 10 % invalid, beside the same
  import single-process (``XLSXGOV_WORKERS=1``), a raw python-calamine read of every sheet of the
  same files (single process): the floor of reading, and ``validate_paths`` of the same files in
  one process: what the import adds of its own (archive, ledger rows) is the single-process
  import's CPU beyond it. The feedback workbooks of the invalid files are not the import's work
  (built when first asked for, ``campaign.feedback``): ``campaign feedback`` building all of them
  afterwards is printed on its own line.

The machine's load average is printed with each section: the machine is shared, and ratios
against baselines of the same run are what stays comparable.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from xlsxgov import spec as spec_mod
from xlsxgov.atomic import sync_all, write_atomic
from xlsxgov.campaign import store as store_mod
from xlsxgov.campaign.feedback import build_feedback
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.init import init_campaign
from xlsxgov.campaign.issue import issue_templates
from xlsxgov.campaign.mail import build_message, write_eml
from xlsxgov.campaign.roster import uscc_check_char
from xlsxgov.campaign.stamp import TemplateStamper
from xlsxgov.parallel import WORKERS_ENV, worker_count
from xlsxgov.template import Meta, write_template
from xlsxgov.validate import validate_paths

YEAR = 2024
SENDER = "某某市人民政府办公室 <gk@example.gov.cn>"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPUs"


class Clock:
    """Wall and CPU time (this process and its finished children) of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, self._cpu() - self.cpu

    @staticmethod
    def _cpu() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system


def make_campaign(tmp: Path, n: int) -> Path:
    rows = []
    for i in range(n):
        body = f"11350100MB{i:07d}"
        rows.append(f"某某市第{i}号单位,{body + uscc_check_char(body)},某某市,,a{i}@example.com\n")
    roster = tmp / "roster.csv"
    roster.write_text("单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n" + "".join(rows), encoding="utf-8")
    campaign = tmp / "campaign"
    init_campaign(campaign, year=YEAR, roster_path=roster, region="某某市")
    return campaign


def bench_issue(tmp: Path, campaign: Path, n: int, spec) -> None:
    print(f"== campaign issue, {n} agencies ({load()}) ==")
    with Clock() as issue:
        res = issue_templates(campaign, sender=SENDER)
    sizes = [(p.stat().st_size, e.stat().st_size) for p, e in zip(res.templates, res.emls)]
    print(f"campaign issue:            {issue.wall:6.2f} s wall, {issue.cpu:6.2f} s CPU ({n / issue.wall:,.0f} agencies/s)")

    # The floor: the same files (same count, same sizes) written the same way, one flush.
    floor_dir = tmp / "floor"
    floor_dir.mkdir()
    blobs = {size: os.urandom(size) for pair in sizes for size in pair}
    with Clock() as floor:
        for i, (x, e) in enumerate(sizes):
            write_atomic(floor_dir / f"{i}.xlsx", blobs[x], sync=False)
            write_atomic(floor_dir / f"{i}.eml", blobs[e], sync=False)
        sync_all()
    shutil.rmtree(floor_dir)
    print(f"I/O floor (same files):    {floor.wall:6.2f} s wall, {floor.cpu:6.2f} s CPU; "
          f"issue is {issue.wall / floor.wall:.1f}x the floor's wall, {issue.cpu / floor.cpu:.1f}x its CPU")

    # The old ways, on samples: a template built from scratch, a mail through email's generator.
    scratch = tmp / "scratch"
    scratch.mkdir()
    agencies = store_mod.roster(campaign)[:20]
    with Clock() as built:
        for a in agencies:
            write_template(scratch / f"{a.code}.xlsx", spec, Meta(year=YEAR, agency=a.name, code=a.code, region=a.region))
    with Clock() as generated:
        for a, path in zip(agencies, res.templates):
            write_eml(build_message(sender=SENDER, agency_email=a.email, agency_name=a.name, subject="请报送",
                                    body="请填报附件。\n", attachment=path), scratch / f"{a.code}.eml")
    shutil.rmtree(scratch)
    each_built, each_generated = built.cpu / len(agencies), generated.cpu / len(agencies)
    print(f"write_template from scratch: {each_built * 1000:.0f} ms CPU each (sample of {len(agencies)}), "
          f"{each_built * n:.0f} s for {n}: {each_built * n / issue.cpu:.0f}x issue's CPU")
    print(f"email's generator:         {each_generated * 1000:.1f} ms CPU each (sample of {len(agencies)}), "
          f"{each_generated * n:.0f} s for {n}: {each_generated * n / issue.cpu:.1f}x issue's CPU")
    print(f"target <= 5 s CPU and wall for 10,000: CPU {'met' if issue.cpu * 10000 / n <= 5 else 'NOT met'} "
          f"({issue.cpu * 10000 / n:.1f} s), wall {'met' if issue.wall * 10000 / n <= 5 else 'NOT met'} ({issue.wall * 10000 / n:.1f} s)")


def make_replies(tmp: Path, campaign: Path, m: int, spec, invalid_every: int) -> Path:
    t3_new = next(c for c in spec.cells() if c.is_input and c.table.id == "t3")
    good = TemplateStamper(spec, YEAR, values={("t3", *t3_new.key): 0})
    broken = TemplateStamper(spec, YEAR, values={("t3", *t3_new.key): 5})  # a balance error
    folder = tmp / f"replies-{invalid_every}"
    folder.mkdir()
    roster = store_mod.roster(campaign)
    for i in range(m):
        a = roster[i % len(roster)]
        bad = invalid_every and i % invalid_every == invalid_every - 1
        (broken if bad else good).stamp(folder / f"{a.code}_{i}_回复.xlsx", a.name, a.code, a.region)
    return folder


def calamine_read(folder: Path) -> None:
    from python_calamine import CalamineWorkbook

    for p in sorted(folder.iterdir()):
        wb = CalamineWorkbook.from_path(str(p))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python(skip_empty_area=False)


def bench_import(tmp: Path, campaign: Path, m: int, spec) -> None:
    print(f"\n== campaign import, {m} returned workbooks, {worker_count()} workers ==")
    for label, invalid_every in (("all valid", 0), ("10 % invalid", 10)):
        replies = make_replies(tmp, campaign, m, spec, invalid_every)
        print(f"-- {label} ({load()})")
        with Clock() as raw:
            calamine_read(replies)
        print(f"raw calamine read (1 process): {raw.wall:6.2f} s wall, {m / raw.wall:6,.0f} files/s")
        with Clock() as checked:
            validate_paths(sorted(replies.iterdir()), edition=spec.edition, workers=1)
        print(f"validate_paths (1 process):    {checked.wall:6.2f} s wall, {checked.cpu:6.2f} s CPU, {m / checked.wall:6,.0f} files/s")
        figures = {}
        for workers in (None, "1"):
            target = tmp / f"c-{invalid_every}-{workers}"
            shutil.copytree(campaign, target)
            if workers:
                os.environ[WORKERS_ENV] = workers
            try:
                with Clock() as c:
                    result = import_paths(target, [replies])
            finally:
                os.environ.pop(WORKERS_ENV, None)
            counts = {k: result.count(k) for k in ("valid", "invalid", "unreadable", "unknown") if result.count(k)}
            figures[workers] = c
            name = "campaign import (1 process)" if workers else "campaign import"
            print(f"{name:30} {c.wall:6.2f} s wall, {c.cpu:6.2f} s CPU, {m / c.wall:6,.0f} files/s; {counts}")
            if not workers and result.count("invalid"):
                with Clock() as fb:
                    built = len(build_feedback(target).built)
                print(f"{'then campaign feedback':30} {fb.wall:6.2f} s wall, {fb.cpu:6.2f} s CPU, {built} workbooks, "
                      f"{fb.wall / built * 1000:.1f} ms each (not part of the import)")
            shutil.rmtree(target)
        both, one = figures[None], figures["1"]
        print(f"import's own work (1 process): {(one.cpu - checked.cpu) / m * 1000:.1f} ms CPU per file beyond validate_paths")
        goal = 300 if invalid_every else 500
        print(f"both cores vs one: {one.wall / both.wall:.2f}x faster; vs raw read: {both.wall / raw.wall:.2f}x its time; "
              f"target >= {goal}/s: {'met' if m / both.wall >= goal else 'NOT met'}")
        shutil.rmtree(replies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=10000)
    ap.add_argument("--import", dest="m", type=int, default=1000)
    ap.add_argument("--skip-issue", action="store_true")
    ap.add_argument("--skip-import", action="store_true")
    args = ap.parse_args()
    spec = spec_mod.load("gov2021")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        campaign = make_campaign(tmp, args.n)
        pristine = tmp / "pristine"
        shutil.copytree(campaign, pristine)
        if not args.skip_issue:
            bench_issue(tmp, campaign, args.n, spec)
        if not args.skip_import:
            bench_import(tmp, pristine, args.m, spec)


if __name__ == "__main__":
    main()
