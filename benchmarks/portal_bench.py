"""Web portal throughput: concurrent agency uploads to a real `xlsxgov serve` on 127.0.0.1.

    python benchmarks/portal_bench.py [--agencies 50] [--uploads 100] [--workers 2] [--clients 20]

Each upload is what an agency's browser does: POST the file to its link, follow the redirect to
the verdict page. Prints uploads/s and the p50/p95 time from the start of the POST to the verdict
page received, against ``validate_paths`` of the same files in one process (files/s and the
median time per file when validated one at a time) measured in the same run. No assertions.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from xlsxgov import spec as spec_mod
from xlsxgov.campaign import portal
from xlsxgov.campaign.init import init_campaign
from xlsxgov.campaign.issue import issue_templates
from xlsxgov.campaign.stamp import TemplateStamper
from xlsxgov.campaign.roster import uscc_check_char
from xlsxgov.demo import reply_values
from xlsxgov.validate import validate_paths

YEAR = 2024
SOLO = 10  # uploads sent one at a time after the concurrent run: the latency one agency sees


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agencies", type=int, default=50)
    ap.add_argument("--uploads", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=20, help="concurrent browsers")
    args = ap.parse_args()
    spec = spec_mod.load("gov2021")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        roster = tmp / "roster.csv"
        rows = ["单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱"]
        for i in range(args.agencies):
            body = f"11350100MB{i:07d}"
            rows.append(f"某某市第{i}号单位,{body + uscc_check_char(body)},某某市,联系人{i},a{i}@example.com")
        roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
        d = tmp / "c"
        port = free_port()
        init_campaign(d, year=YEAR, roster_path=roster, region="某某市")
        issue_templates(d, portal_url=f"http://127.0.0.1:{port}")
        portal.add_user(d, "admin", "管理员", "bench-secret-1")
        with open(d / "outbox" / "links.csv", encoding="utf-8-sig", newline="") as fh:
            links = [(r["统一社会信用代码"], r["单位名称"], r["报送链接"]) for r in csv.DictReader(fh)]

        # Distinct replies, 90 % valid and 10 % with a balance error, as agencies send them.
        rng = random.Random(1)
        stampers = []
        for seed in range(max(1, -(-(args.uploads + SOLO) // args.agencies))):
            values = reply_values(spec, random.Random(seed))
            broken = dict(values)
            broken[("t3", "new", "natural")] += 2
            stampers.append((TemplateStamper(spec, YEAR, values=values), TemplateStamper(spec, YEAR, values=broken)))
        files = []
        (tmp / "replies").mkdir()
        for k in range(args.uploads + SOLO):
            code, name, link = links[k % len(links)]
            valid, broken = stampers[k // len(links)]
            path = tmp / "replies" / f"{code}_{k}.xlsx"
            path.write_bytes((broken if rng.random() < 0.1 else valid).stamp_bytes(name, code, "某某市"))
            files.append((link, path))

        n = args.uploads
        print(f"== baseline: validate_paths in one process, the same {n} files ==")
        validate_paths([files[0][1]])  # warm, as the server's pool is warmed at start
        t = time.perf_counter()
        validate_paths([p for _, p in files[:n]])
        batch = time.perf_counter() - t
        singles = []
        for _, p in files[: min(20, len(files))]:
            t = time.perf_counter()
            validate_paths([p])
            singles.append(time.perf_counter() - t)
        single = statistics.median(singles)
        print(f"batch: {n / batch:.1f} files/s; one file at a time: median {single * 1000:.0f} ms")

        print(f"== portal: serve --workers {args.workers}, {args.clients} concurrent clients ==")
        xlsxgov = str(Path(sys.executable).with_name("xlsxgov"))
        log = open(tmp / "serve.log", "wb")
        server = subprocess.Popen([xlsxgov, "serve", str(d), "--port", str(port), "--workers", str(args.workers)],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(base + "/login", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            time.sleep(10)  # let every pool process finish warming (it validates a template once)

            def upload(job):
                link, path = job
                with httpx.Client(timeout=600) as c:
                    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get(link).text).group(1)
                    t = time.perf_counter()
                    with open(path, "rb") as fh:
                        r = c.post(link + "/upload", data={"csrf": csrf}, files={"file": (path.name, fh)}, follow_redirects=True)
                    took = time.perf_counter() - t
                    return took, r.status_code

            t = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                results = list(pool.map(upload, files[:args.uploads]))
            wall = time.perf_counter() - t
            lone = [upload(job)[0] for job in files[args.uploads:]]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        times = sorted(r[0] for r in results)
        ok = sum(1 for r in results if r[1] == 200)
        p50 = times[len(times) // 2]
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{ok}/{n} uploads answered with their verdict in {wall:.1f} s: {n / wall:.1f} uploads/s")
        print(f"upload → verdict: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (with {args.clients} uploading at once)")
        print(f"ratio: portal uploads/s ÷ batch validate files/s = {(n / wall) / (n / batch):.2f}; "
              f"p50 ÷ one-file validate = {p50 / single:.1f}")
        alone = sorted(lone)
        print(f"one agency uploading alone ({len(alone)} uploads in turn): p50 {alone[len(alone) // 2] * 1000:.0f} ms, "
              f"max {alone[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
