"""Web portal: how long an agency waits for its verdict when 1, 20 or 100 agencies upload at once
to a real `xlsxgov serve` on 127.0.0.1 (issue #13 point 7: p95 ≤ 1 s with 100 at once).

    python benchmarks/portal_bench.py [--workers 1] [--loads 1,20,100] [--rounds 2] [--invalid 0.1]

Each upload is what an agency's browser does: it has its page open (the GET that gives the form's
CSRF token is not timed), POSTs the file to its link and follows the redirect to the verdict
page; the time from the start of the POST to the verdict page received is the verdict latency.
A load of N sends N distinct files at the same instant (N clients released together), ``rounds``
times (a load of 1: 20 uploads in turn). Every file is distinct (the same bytes twice would be
answered from the ledger) and 10 % carry a balance error, as agencies send them (their feedback
workbook is built when first downloaded, not while the agency waits for the verdict).

Baseline, measured in the same run on the same files: ``validate_paths`` of one file in this
process (the library call a verdict needs at the least), and ``import_files`` of one file into a
copy of the campaign in this process (the whole work of an upload without HTTP). Prints p50 / p95
/ max of each and the ratios; no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from xlsxgov import spec as spec_mod
from xlsxgov.campaign import portal
from xlsxgov.campaign.importer import Received, import_files
from xlsxgov.campaign.init import init_campaign
from xlsxgov.campaign.issue import issue_templates
from xlsxgov.campaign.roster import uscc_check_char
from xlsxgov.campaign.stamp import TemplateStamper
from xlsxgov.demo import reply_values
from xlsxgov.validate import validate_paths

YEAR = 2024
ALONE = 20  # uploads in turn for the load of 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(times: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``times``."""
    s = sorted(times)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def line(label: str, times: list[float]) -> str:
    return (f"{label:<44} n={len(times):<4} p50 {pct(times, 0.5) * 1000:7.0f} ms   p95 {pct(times, 0.95) * 1000:7.0f} ms"
            f"   max {max(times) * 1000:7.0f} ms")


def make_campaign(tmp: Path, agencies: int, port: int) -> tuple[Path, list[tuple[str, str, str]]]:
    roster = tmp / "roster.csv"
    rows = ["单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱"]
    for i in range(agencies):
        body = f"11350100MB{i:07d}"
        rows.append(f"某某市第{i}号单位,{body + uscc_check_char(body)},某某市,联系人{i},a{i}@example.com")
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    d = tmp / "c"
    init_campaign(d, year=YEAR, roster_path=roster, region="某某市")
    issue_templates(d, portal_url=f"http://127.0.0.1:{port}")
    portal.add_user(d, "admin", "管理员", "bench-secret-1")
    with open(d / "outbox" / "links.csv", encoding="utf-8-sig", newline="") as fh:
        return d, [(r["统一社会信用代码"], r["单位名称"], r["报送链接"]) for r in csv.DictReader(fh)]


def make_replies(folder: Path, links, count: int, invalid: float) -> list[tuple[str, str, Path]]:
    """``count`` distinct filled-in replies, spread over the agencies: (code, link, path)."""
    spec = spec_mod.load("gov2021")
    rng = random.Random(1)
    stampers = []
    for seed in range(-(-count // len(links))):
        values = reply_values(spec, random.Random(seed))
        broken = dict(values)
        broken[("t3", "new", "natural")] += 2
        stampers.append((TemplateStamper(spec, YEAR, values=values), TemplateStamper(spec, YEAR, values=broken)))
    folder.mkdir()
    out = []
    for k in range(count):
        code, name, link = links[k % len(links)]
        valid, broken = stampers[k // len(links)]
        path = folder / f"{code}_{k}.xlsx"
        path.write_bytes((broken if rng.random() < invalid else valid).stamp_bytes(name, code, "某某市"))
        out.append((code, link, path))
    return out


async def upload_at_once(jobs: list[tuple[str, str, Path]]) -> list[float]:
    """Upload every job at the same instant; each one's seconds from POST to verdict page.

    Each agency is its own browser: its own client with its own connection. (One shared httpx
    client for all of them spent most of the burst in its connection pool's bookkeeping, which
    scans every connection for every request: the client, not the server, was measured.)"""
    clients = [httpx.AsyncClient(timeout=600) for _ in jobs]
    try:
        async def ready(client: httpx.AsyncClient, link: str) -> str:  # the agency's page is open: its form's token
            return re.search(r'name="csrf" value="([^"]+)"', (await client.get(link)).text).group(1)

        tokens = await asyncio.gather(*(ready(c, link) for c, (_, link, _) in zip(clients, jobs)))
        go = asyncio.Event()

        async def one(client: httpx.AsyncClient, job, csrf: str) -> float:
            _, link, path = job
            data = path.read_bytes()
            await go.wait()
            t = time.perf_counter()
            r = await client.post(link + "/upload", data={"csrf": csrf}, files={"file": (path.name, data)}, follow_redirects=True)
            took = time.perf_counter() - t
            if r.status_code != 200 or 'id="verdict"' not in r.text:
                raise SystemExit(f"upload failed: {r.status_code} {r.text[:300]}")
            return took

        tasks = [asyncio.create_task(one(c, job, csrf)) for c, job, csrf in zip(clients, jobs, tokens)]
        await asyncio.sleep(0.2)  # every task waiting at the gate
        go.set()
        return list(await asyncio.gather(*tasks))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1, help="serve --workers")
    ap.add_argument("--loads", default="1,20,100", help="uploads at once, comma-separated")
    ap.add_argument("--rounds", type=int, default=2, help="rounds per load above 1")
    ap.add_argument("--invalid", type=float, default=0.1, help="share of replies with an error")
    args = ap.parse_args()
    loads = [int(x) for x in args.loads.split(",")]
    need = sum(ALONE if n == 1 else n * args.rounds for n in loads)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        port = free_port()
        d, links = make_campaign(tmp, max(loads), port)
        jobs = make_replies(tmp / "replies", links, need + ALONE + 2, args.invalid)
        base_jobs, jobs = jobs[:ALONE], jobs[ALONE:]

        print("== baseline, in this process, one file at a time ==")
        validate_paths([base_jobs[0][2]])  # warm, as the server's pool is warmed at start
        solo_validate = []
        for _, _, p in base_jobs:
            t = time.perf_counter()
            validate_paths([p])
            solo_validate.append(time.perf_counter() - t)
        print(line("validate_paths([file])", solo_validate))
        copy = tmp / "copy"
        shutil.copytree(d, copy)
        solo_import = []
        for code, _, p in base_jobs:
            t = time.perf_counter()
            import_files(copy, [Received(p, p.name, code, "bench")])
            solo_import.append(time.perf_counter() - t)
        print(line("import_files([file]) (archive, validate, record)", solo_import))

        print(f"== portal: xlsxgov serve --workers {args.workers}, uploads at once ==")
        xlsxgov = str(Path(sys.executable).with_name("xlsxgov"))
        log = open(tmp / "serve.log", "wb")
        server = subprocess.Popen([xlsxgov, "serve", str(d), "--port", str(port), "--workers", str(args.workers)],
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        results: dict[int, list[float]] = {}
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(base + "/login", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            # Warm: each pool process validates a template at start; one upload in turn per process.
            for job in jobs[:2]:
                asyncio.run(upload_at_once([job]))
            jobs = jobs[2:]
            for n in loads:
                times: list[float] = []
                for _ in range(ALONE if n == 1 else args.rounds):
                    batch, jobs = jobs[:n], jobs[n:]
                    times += asyncio.run(upload_at_once(batch))
                results[n] = times
                print(line(f"{n} at once: POST → verdict page", times), flush=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        if "Traceback" in (tmp / "serve.log").read_text(encoding="utf-8", errors="replace"):
            print("server log has a traceback:\n" + (tmp / "serve.log").read_text(encoding="utf-8", errors="replace")[-3000:])
        v50, i50 = pct(solo_validate, 0.5), pct(solo_import, 0.5)
        for n, times in results.items():
            print(f"ratio at {n:>3} at once: p95 ÷ validate p50 = {pct(times, 0.95) / v50:6.1f}; "
                  f"p95 ÷ import p50 = {pct(times, 0.95) / i50:6.1f}; p95 {'≤' if pct(times, 0.95) <= 1 else '>'} 1 s")
        print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
