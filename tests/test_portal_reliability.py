"""The portal under load and under a kill: `xlsxgov serve --workers 2` with 200 uploads from 100
agencies at once, and a server SIGKILLed in the middle of uploads then restarted."""

from __future__ import annotations

import hashlib
import random
import re
import signal
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from portal_server import Server, csrf_of, free_port, make_campaign
from test_campaign import code_for
from xlsxgov import spec as spec_mod
from xlsxgov.campaign.stamp import TemplateStamper
from xlsxgov.demo import reply_values

AGENCIES_100 = [(f"某某市第{i}局", code_for(i), "某某市", f"a{i}@example.com") for i in range(100)]


def replies(folder: Path, agencies) -> dict[str, list[tuple[Path, str]]]:
    """Two distinct files per agency: both valid for even agencies, both with a balance error for
    odd ones, so each agency's final status does not depend on which upload lands last."""
    spec = spec_mod.load("gov2021")
    stampers = []
    for seed in (1, 2):
        values = reply_values(spec, random.Random(seed))
        broken = dict(values)
        broken[("t3", "new", "natural")] += 2
        stampers.append((TemplateStamper(spec, 2024, values=values), TemplateStamper(spec, 2024, values=broken)))
    folder.mkdir()
    out = {}
    for i, (name, code, region, _) in enumerate(agencies):
        files = []
        for k, (valid, broken) in enumerate(stampers):
            path = folder / f"{code}_{k}.xlsx"
            path.write_bytes((valid if i % 2 == 0 else broken).stamp_bytes(name, code, region))
            files.append((path, "valid" if i % 2 == 0 else "invalid"))
        out[code] = files
    return out


def post(link: str, path: Path) -> int:
    """One agency upload as its browser does it; the final status code (after the redirect)."""
    with httpx.Client(timeout=600) as c:
        csrf = csrf_of(c.get(link).text)
        with open(path, "rb") as fh:
            r = c.post(link + "/upload", data={"csrf": csrf}, files={"file": (path.name, fh)})
        return r.status_code if r.status_code != 303 else c.get(link.split("/a/")[0] + r.headers["location"]).status_code


def check_consistent(d: Path) -> list[sqlite3.Row]:
    """The ledger after anything: intact, every row complete, at most one current per agency."""
    conn = sqlite3.connect(d / "ledger.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT * FROM submissions").fetchall()
        for r in rows:
            assert hashlib.sha256((d / r["archive_path"]).read_bytes()).hexdigest() == r["sha256"]
            errors = conn.execute("SELECT COUNT(*) FROM findings WHERE submission_id=? AND severity='error'", (r["id"],)).fetchone()[0]
            assert errors == r["errors"], dict(r)
            facts = conn.execute("SELECT COUNT(*) FROM facts WHERE submission_id=?", (r["id"],)).fetchone()[0]
            assert (facts > 0) == (r["status"] in ("valid", "invalid")), dict(r)
        assert not conn.execute("SELECT 1 FROM findings WHERE submission_id NOT IN (SELECT id FROM submissions)").fetchone()
        assert not conn.execute(
            "SELECT code FROM submissions WHERE code IS NOT NULL AND superseded_by IS NULL GROUP BY code HAVING COUNT(*) > 1"
        ).fetchone()
        return rows
    finally:
        conn.close()


def test_200_uploads_from_100_agencies_at_once_with_two_workers(tmp_path):
    port = free_port()
    d = tmp_path / "c"
    links = make_campaign(d, port, AGENCIES_100)
    files = replies(tmp_path / "replies", AGENCIES_100)
    jobs = [(links[code], path) for code, fs in files.items() for path, _ in fs]
    random.Random(7).shuffle(jobs)
    server = Server(d, port, workers=2).start()
    try:
        with ThreadPoolExecutor(100) as pool:
            codes = list(pool.map(lambda job: post(*job), jobs))
    finally:
        server.kill()
    assert codes == [200] * 200
    rows = check_consistent(d)
    assert len(rows) == 200 and len({r["sha256"] for r in rows}) == 200
    by_code: dict[str, list] = {}
    for r in rows:
        by_code.setdefault(r["code"], []).append(r)
    for code, fs in files.items():
        recorded = by_code[code]
        assert sorted(r["sha256"] for r in recorded) == sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p, _ in fs)
        assert {r["status"] for r in recorded} == {fs[0][1]}
        assert sum(r["superseded_by"] is None for r in recorded) == 1
    log = server.output()
    assert "database is locked" not in log and "Traceback" not in log
    assert len(re.findall(r"POST /a/\*\*\*/upload 303", log)) == 200


def test_sigkill_during_uploads_then_restart(tmp_path):
    port = free_port()
    d = tmp_path / "c"
    agencies = AGENCIES_100[:20]
    links = make_campaign(d, port, agencies)
    files = replies(tmp_path / "replies", agencies)
    jobs = [(links[code], path) for code, fs in files.items() for path, _ in fs]
    server = Server(d, port).start()
    told: list[Path] = []
    done = threading.Event()

    def one(job):
        try:
            if post(*job) == 200:
                told.append(job[1])
        except httpx.HTTPError:
            pass  # the server died under this upload: it was not told recorded
        if len(told) >= 5:
            done.set()

    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(one, job) for job in jobs]
        assert done.wait(300)
        server.kill(signal.SIGKILL)  # the whole process group: server and its validation pool
        for f in futures:
            f.result()
    rows = check_consistent(d)
    recorded = {r["sha256"] for r in rows}
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in told} <= recorded
    assert len(rows) < len(jobs)  # killed in the middle: some uploads never made it

    server = Server(d, port).start()  # restarted on the same folder
    try:
        assert not list((d / ".tmp").glob("upload-*"))  # what the killed process left is cleaned
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(lambda job: post(*job), jobs)) == [200] * len(jobs)
    finally:
        server.kill()
    rows = check_consistent(d)
    assert len(rows) == len(jobs) and len({r["sha256"] for r in rows}) == len(jobs)


def _session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid`` (/proc/<pid>/stat: state 3rd, session 6th field)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def test_sigterm_to_the_server_leaves_no_process_behind(tmp_path):
    """Found by a new user's trial: `kill -TERM <serve pid>` (a service manager stopping it)
    ended the server, but its validation processes and multiprocessing's resource tracker ran on,
    orphaned. Every process of the server's session ends with it."""
    import os
    import time

    port = free_port()
    d = tmp_path / "c"
    make_campaign(d, port)
    server = Server(d, port).start()
    sid = server.proc.pid  # the server leads a session of its own (start_new_session)
    deadline = time.monotonic() + 60
    while len(_session_members(sid)) < 3 and time.monotonic() < deadline:  # the server and its pool
        time.sleep(0.2)
    assert len(_session_members(sid)) >= 3
    os.kill(server.proc.pid, signal.SIGTERM)  # the server alone, not its group
    server.proc.wait(60)
    deadline = time.monotonic() + 30
    while _session_members(sid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _session_members(sid)
    for pid in left:  # never leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"
