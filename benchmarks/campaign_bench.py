"""Issue N personalised templates: stamping a prebuilt template vs write_template per agency.

    python benchmarks/campaign_bench.py [N=3000]

Prints templates per second for stamping (all N, written to disk), for the full
``issue_templates`` (templates + .eml) on the same roster, and for write_template from
scratch on a sample of 50, and the speed ratio.  Target: 3,000 stamped templates in < 5 s.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from xlsxgov import spec as spec_mod
from xlsxgov.campaign import core
from xlsxgov.campaign.roster import uscc_check_char
from xlsxgov.template import Meta, write_template

YEAR = 2024


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    spec = spec_mod.load("gov2021")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        agencies = []
        for i in range(n):
            body = f"11350100MB{i:07d}"
            agencies.append((f"某某市第{i}号单位", body + uscc_check_char(body), "某某市", f"a{i}@example.com"))

        t = time.perf_counter()
        stamper = core.TemplateStamper(spec, YEAR)
        base = time.perf_counter() - t
        out = tmp / "stamped"
        out.mkdir()
        t = time.perf_counter()
        for name, code, region, _ in agencies:
            stamper.stamp(out / f"{code}.xlsx", name, code, region)
        stamp = time.perf_counter() - t
        print(f"stamping: {n} templates in {stamp:.2f} s ({n / stamp:.0f}/s), base template built once in {base:.2f} s")

        sample = agencies[:50]
        scratch = tmp / "scratch"
        scratch.mkdir()
        t = time.perf_counter()
        for name, code, region, _ in sample:
            write_template(scratch / f"{code}.xlsx", spec, Meta(year=YEAR, agency=name, code=code, region=region))
        each = (time.perf_counter() - t) / len(sample)
        print(f"write_template from scratch: {1 / each:.1f}/s (sample of {len(sample)}); "
              f"estimated {each * n:.1f} s for {n}; stamping is {each * n / stamp:.0f}x faster")

        roster = tmp / "roster.csv"
        roster.write_text("单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n"
                          + "".join(f"{a},{b},{c},,{d}\n" for a, b, c, d in agencies), encoding="utf-8")
        core.init_campaign(tmp / "c", year=YEAR, roster_path=roster)
        res = core.issue_templates(tmp / "c")
        print(f"campaign issue (templates + .eml + ledger): {n} agencies in {res.seconds:.2f} s ({n / res.seconds:.0f}/s)")
        print(f"target 3000 stamped templates in < 5 s: {'met' if stamp * 3000 / n < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
