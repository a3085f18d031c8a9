"""A real `xlsxgov serve` process on 127.0.0.1 over a real campaign, for the portal tests."""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from test_campaign import AGENCIES, YEAR, fill, template_of, write_roster  # noqa: E402

from xlsxgov.campaign import portal  # noqa: E402
from xlsxgov.campaign.init import init_campaign  # noqa: E402
from xlsxgov.campaign.issue import issue_templates  # noqa: E402

XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))
PASSWORDS = {"admin": "admin-secret-1", "reviewer": "review-secret-1", "reader": "reader-secret-1"}
ROLES = {"admin": "管理员", "reviewer": "审核员", "reader": "只读"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_campaign(d: Path, port: int, rows=AGENCIES) -> dict[str, str]:
    """A campaign with its links issued for http://127.0.0.1:port and three office users;
    returns {code: link}."""
    roster = write_roster(d.parent / f"{d.name}-roster.csv", rows)
    init_campaign(d, year=YEAR, roster_path=roster, region="某某市")
    issue_templates(d, portal_url=f"http://127.0.0.1:{port}")
    for name, role in ROLES.items():
        portal.add_user(d, name, role, PASSWORDS[name])
    with open(d / "outbox" / "links.csv", encoding="utf-8-sig", newline="") as fh:
        return {r["统一社会信用代码"]: r["报送链接"] for r in csv.DictReader(fh)}


@dataclass
class Server:
    directory: Path
    port: int
    workers: int = 1
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> "Server":
        self.log = self.directory.parent / f"serve-{self.port}-{time.time_ns()}.log"
        fh = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [XLSXGOV, "serve", str(self.directory), "--port", str(self.port), "--workers", str(self.workers), *self.extra],
            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,  # its own group: killed with its pool
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.base + "/login", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"server did not start:\n{self.log.read_text()}")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(20)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(base: str, name: str, password: str | None = None) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=120)
    r = c.get("/login")
    r = c.post("/login", data={"name": name, "password": password or PASSWORDS[name], "csrf": csrf_of(r.text)})
    assert r.status_code == 303 and r.headers["location"] == "/office", r.text
    return c


def upload(client: httpx.Client, link: str, path: Path, name: str | None = None) -> httpx.Response:
    """Upload through the agency's page as a browser's form would; follows the redirect."""
    page = client.get(link)
    with open(path, "rb") as fh:
        return client.post(link + "/upload", data={"csrf": csrf_of(page.text)}, files={"file": (name or path.name, fh, "application/octet-stream")},
                           follow_redirects=True)


def reply(campaign: Path, i: int, dest: Path, *, broken: bool, contact: str) -> Path:
    """Agency i's template filled in: valid, or with a table 三 balance error."""
    return fill(template_of(campaign, i), dest, broken=broken, contact=contact)


def text(html: str) -> str:
    """Page text without tags and whitespace."""
    return "".join(re.sub(r"<[^>]+>", " ", html).split())


def running_site(tmp_path_factory, name: str):
    """A campaign (``make_campaign``) and its server, for a module fixture to ``yield from``:
    yields {dir, links, server, base, tmp}; the server is killed afterwards."""
    root = tmp_path_factory.mktemp(name)
    port = free_port()
    d = root / "c"
    links = make_campaign(d, port)
    server = Server(d, port).start()
    try:
        yield {"dir": d, "links": links, "server": server, "base": server.base, "tmp": root}
    finally:
        server.kill()


__all__ = ["AGENCIES", "Server", "csrf_of", "free_port", "login", "make_campaign", "reply", "running_site", "text", "upload"]


def ledger_rows(d: Path, sql: str, *args) -> list:
    """The rows of ``sql`` on the ledger of campaign ``d`` (a connection of its own, closed)."""
    conn = sqlite3.connect(d / "ledger.sqlite")
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()
