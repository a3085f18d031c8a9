"""Campaign throughput: issuing N personalised templates and .eml files, importing N replies.

    python benchmarks/campaign_bench.py [N=3000] [--import M]   (M returned workbooks, default N)

Prints per-second figures, each against a baseline measured in the same run (no timed
assertions):

- templates: stamping the prebuilt template (all N, written to disk) vs ``write_template`` from
  scratch (a sample of 50, extrapolated);
- emls: ``MessageBuilder`` (all N, written to disk) vs email's generator (``build_message`` +
  ``write_eml``, a sample of 100);
- ``campaign issue`` as a whole (templates + .eml + ledger) and its ratio to building each
  template from scratch;
- ``campaign import`` of M returned workbooks (90 % valid, 10 % with a balance error, each
  getting a feedback workbook), then the same files again (all duplicates).

Target: 3,000 templates in under 5 seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from xlsxgov import spec as spec_mod
from xlsxgov.campaign import status as status_mod
from xlsxgov.campaign import store as store_mod
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.init import init_campaign
from xlsxgov.campaign.issue import issue_templates
from xlsxgov.campaign.stamp import TemplateStamper
from xlsxgov.campaign.mail import MessageBuilder, build_message, write_eml
from xlsxgov.campaign.roster import uscc_check_char
from xlsxgov.template import Meta, write_template

YEAR = 2024
SENDER = "某某市人民政府办公室 <gk@example.gov.cn>"


def rate(n: int, seconds: float) -> str:
    return f"{n} in {seconds:.2f} s ({n / seconds:,.0f}/s)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=3000)
    ap.add_argument("--import", dest="n_import", type=int, default=None)
    args = ap.parse_args()
    n, n_import = args.n, args.n if args.n_import is None else args.n_import
    spec = spec_mod.load("gov2021")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        agencies = []
        for i in range(n):
            body = f"11350100MB{i:07d}"
            agencies.append((f"某某市第{i}号单位", body + uscc_check_char(body), "某某市", f"a{i}@example.com"))

        print(f"== issuing {n} agencies ==")
        t = time.perf_counter()
        stamper = TemplateStamper(spec, YEAR)
        base = time.perf_counter() - t
        out = tmp / "stamped"
        out.mkdir()
        stamped: list[tuple[Path, bytes]] = []
        t = time.perf_counter()
        for name, code, region, _ in agencies:
            path = out / f"{code}_{name}.xlsx"
            stamper.stamp(path, name, code, region)
            stamped.append((path, b""))
        stamp = time.perf_counter() - t
        print(f"templates (stamped, to disk):        {rate(n, stamp)}; base built once in {base:.2f} s")

        builder = MessageBuilder(SENDER)
        t = time.perf_counter()
        for (path, _), (name, code, region, addr) in zip(stamped, agencies):
            data = path.read_bytes()
            raw = builder.build(agency_email=addr, agency_name=name, subject=f"请报送{YEAR}年度政府信息公开工作年度报告统计表（{name}）",
                                body=f"{name}：\n\n请填报附件。\n", filename=path.name, data=data)
            write_eml(raw, path.with_suffix(".eml"))
        emls = time.perf_counter() - t
        sample = stamped[:100]
        t = time.perf_counter()
        for (path, _), (name, code, region, addr) in zip(sample, agencies):
            msg = build_message(sender=SENDER, agency_email=addr, agency_name=name, subject=f"请报送{YEAR}年度政府信息公开工作年度报告统计表（{name}）",
                                body=f"{name}：\n\n请填报附件。\n", attachment=path)
            write_eml(msg, path.with_suffix(".generator.eml"))
        generator_each = (time.perf_counter() - t) / len(sample)
        print(f"emls (MessageBuilder, to disk):      {rate(n, emls)}; "
              f"email's generator {1 / generator_each:,.0f}/s (sample of {len(sample)}), {generator_each * n / emls:.0f}x slower")

        scratch = tmp / "scratch"
        scratch.mkdir()
        few = agencies[:50]
        t = time.perf_counter()
        for name, code, region, _ in few:
            write_template(scratch / f"{code}.xlsx", spec, Meta(year=YEAR, agency=name, code=code, region=region))
        scratch_each = (time.perf_counter() - t) / len(few)
        print(f"write_template from scratch:         {1 / scratch_each:,.1f}/s (sample of {len(few)}), "
              f"estimated {scratch_each * n:.1f} s for {n}; stamping is {scratch_each * n / stamp:.0f}x faster")

        roster = tmp / "roster.csv"
        roster.write_text("单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n"
                          + "".join(f"{a},{b},{c},,{d}\n" for a, b, c, d in agencies), encoding="utf-8")
        campaign = tmp / "c"
        init_campaign(campaign, year=YEAR, roster_path=roster, region="某某市")
        res = issue_templates(campaign, sender=SENDER)
        print(f"campaign issue (templates+eml+ledger): {rate(n, res.seconds)}; "
              f"issuing is {scratch_each * n / res.seconds:.0f}x faster than building each template from scratch")
        print(f"target 3000 templates in < 5 s: {'met' if stamp * 3000 / n < 5 else 'NOT met'} "
              f"(at this rate {stamp * 3000 / n:.2f} s stamped, {res.seconds * 3000 / n:.2f} s with .eml files and ledger)")

        print(f"\n== importing {n_import} returned workbooks ==")
        t3_new = next(c for c in spec.cells() if c.is_input and c.table.id == "t3")
        broken = TemplateStamper(spec, YEAR, values={("t3", *t3_new.key): 5})  # balance error
        replies = tmp / "replies"
        replies.mkdir()
        t = time.perf_counter()
        roster_rows = store_mod.roster(campaign)
        for i in range(n_import):
            a = roster_rows[i % len(roster_rows)]
            (broken if i % 10 == 9 else stamper).stamp(replies / f"{a.code}_{i}_回复.xlsx", a.name, a.code, a.region)
        made = time.perf_counter() - t
        print(f"replies written (stamped):           {rate(n_import, made)}")
        result = import_paths(campaign, [replies])
        t_import = time.perf_counter() - t - made
        counts = {k: result.count(k) for k in ("valid", "invalid", "unreadable", "unknown", "duplicate")}
        print(f"campaign import:                     {rate(n_import, t_import)}; {counts}")
        t = time.perf_counter()
        again = import_paths(campaign, [replies])
        t_again = time.perf_counter() - t
        print(f"campaign import again (duplicates):  {rate(n_import, t_again)}; duplicates {again.count('duplicate')}")
        t = time.perf_counter()
        status = status_mod.campaign_status(campaign)
        print(f"campaign status:                     {len(status['agencies'])} agencies in {time.perf_counter() - t:.2f} s; "
              f"totals {status['totals']}")


if __name__ == "__main__":
    main()
