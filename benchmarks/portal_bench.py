"""Web portal: how long an agency waits for its verdict when 1, 20 or 100 agencies upload at once
to a real `xlsxgov serve` on 127.0.0.1 (issue #13 point 7: p95 ≤ 1 s with 100 at once).

    python benchmarks/portal_bench.py [--workers 1] [--loads 1,20,100] [--rounds 2] [--invalid 0.1] [--clients raw,httpx]

Each upload is what an agency's browser does: it has its page open (the GET that gives the form's
CSRF token is not timed), POSTs the file to its link and follows the redirect to the verdict
page; the time from the start of the POST to the verdict page received is the verdict latency.
A load of N sends N distinct files at the same instant (N clients released together), ``rounds``
times (a load of 1: 20 uploads in turn). Every file is distinct (the same bytes twice would be
answered from the ledger) and 10 % carry a balance error, as agencies send them (their feedback
workbook is built when first downloaded, not while the agency waits for the verdict).

Two load generators, each run on every load: ``raw`` (each agency's request encoded before the
burst and sent on its own plain connection: little CPU taken from the 2 cores the server uses,
as 100 agencies on 100 machines would) and ``httpx`` (an httpx client per agency, as before).

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


def process_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of process ``pid`` and of its children (the validation pool),
    from /proc: where a burst's time goes, server side."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(p: int) -> float:
        with open(f"/proc/{p}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    children = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            children += [int(c) for c in fh.read().split()]
    return cpu(pid), sum(cpu(c) for c in children)


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


class RawAgency:
    """One agency's browser for the timed part, as a plain HTTP/1.1 connection whose requests
    are encoded before the gate opens: the load generator shares the 2 cores with the server,
    and httpx spends about as much CPU per request as the server does. The GET that opens
    the page (and gives its CSRF token and cookies) is made with httpx, untimed."""

    def __init__(self, link: str, path: Path, csrf: str, cookies: dict[str, str]):
        url = httpx.URL(link)
        self.host, self.port, self.path = url.host, url.port, url.raw_path.decode()
        boundary = "xg" + os.urandom(8).hex()
        data = path.read_bytes()
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        self.cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.post = (f"POST {self.path}/upload HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nCookie: {self.cookie}\r\n"
                     f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def _response(self) -> tuple[int, dict[str, str], bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    async def upload(self) -> float:
        """Seconds from the POST's first byte to the verdict page's last."""
        t = time.perf_counter()
        self.writer.write(self.post)
        status, headers, _ = await self._response()
        if status in (302, 303):
            location = httpx.URL(headers["location"]).raw_path.decode()
            self.writer.write(f"GET {location} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nCookie: {self.cookie}\r\n\r\n".encode())
            status, headers, body = await self._response()
        else:
            body = b""
        took = time.perf_counter() - t
        if status != 200 or b'id="verdict"' not in body:
            raise SystemExit(f"upload failed: {status} {body[:300]!r}")
        return took

    def close(self) -> None:
        self.writer.close()


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


async def upload_at_once_raw(jobs: list[tuple[str, str, Path]]) -> list[float]:
    """As ``upload_at_once``, each agency timing its upload on its own plain connection
    (``RawAgency``): what the server takes, with the load generator's CPU kept small."""
    agencies = []
    async with httpx.AsyncClient(timeout=600) as opener:
        for _, link, path in jobs:  # each agency's page open (its token and cookies), one after another
            opener.cookies.clear()
            page = await opener.get(link)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            agencies.append(RawAgency(link, path, csrf, dict(opener.cookies)))
    await asyncio.gather(*(a.connect() for a in agencies))
    try:
        go = asyncio.Event()

        async def one(agency: RawAgency) -> float:
            await go.wait()
            return await agency.upload()

        tasks = [asyncio.create_task(one(a)) for a in agencies]
        await asyncio.sleep(0.2)  # every task waiting at the gate
        go.set()
        return list(await asyncio.gather(*tasks))
    finally:
        for a in agencies:
            a.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1, help="serve --workers")
    ap.add_argument("--loads", default="1,20,100", help="uploads at once, comma-separated")
    ap.add_argument("--rounds", type=int, default=2, help="rounds per load above 1")
    ap.add_argument("--invalid", type=float, default=0.1, help="share of replies with an error")
    ap.add_argument("--clients", default="raw,httpx",
                    help="load generators, comma-separated: raw (plain connections, requests encoded before the burst) "
                         "and/or httpx (an httpx client per agency)")
    args = ap.parse_args()
    loads = [int(x) for x in args.loads.split(",")]
    kinds = [k for k in args.clients.split(",") if k]
    uploaders = {"raw": upload_at_once_raw, "httpx": upload_at_once}
    need = len(kinds) * sum(ALONE if n == 1 else n * args.rounds for n in loads)
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
        results: dict[tuple[str, int], list[float]] = {}
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
            for kind in kinds:
                for n in loads:
                    times: list[float] = []
                    server_cpu, pool_cpu = 0.0, 0.0
                    for _ in range(ALONE if n == 1 else args.rounds):
                        batch, jobs = jobs[:n], jobs[n:]
                        before = process_cpu(server.pid)
                        times += asyncio.run(uploaders[kind](batch))
                        after = process_cpu(server.pid)
                        server_cpu += after[0] - before[0]
                        pool_cpu += after[1] - before[1]
                    results[(kind, n)] = times
                    print(line(f"{n} at once ({kind}): POST → verdict page", times)
                          + f"   CPU per upload: server {server_cpu / len(times) * 1000:.1f} ms, pool {pool_cpu / len(times) * 1000:.1f} ms",
                          flush=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        if "Traceback" in (tmp / "serve.log").read_text(encoding="utf-8", errors="replace"):
            print("server log has a traceback:\n" + (tmp / "serve.log").read_text(encoding="utf-8", errors="replace")[-3000:])
        v50, i50 = pct(solo_validate, 0.5), pct(solo_import, 0.5)
        for (kind, n), times in results.items():
            print(f"ratio at {n:>3} at once ({kind:>5}): p95 ÷ validate p50 = {pct(times, 0.95) / v50:6.1f}; "
                  f"p95 ÷ import p50 = {pct(times, 0.95) / i50:6.1f}; p95 {'≤' if pct(times, 0.95) <= 1 else '>'} 1 s")
        print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
