"""The portal against the attacks of the security review of `xlsxgov serve` (issue: portal
security review), each shown on a real `xlsxgov serve` process over real HTTP."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import sqlite3
import subprocess
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import httpx
import pytest

from portal_server import AGENCIES, PASSWORDS, XLSXGOV, Server, csrf_of, free_port, login, ledger_rows, make_campaign, reply, running_site, text, upload
from test_campaign import code_for
from xlsxgov.campaign.mail import safe_filename

# Two agencies whose names differ only before a "/" (the review's roster2.csv).
SLASHED = [
    ("示例市/教育局", code_for(0), "示例县", "a0@example.com"),
    ("示例县/教育局", code_for(1), "示例县", "a1@example.com"),
    ("示例县民政局", code_for(2), "示例县", "a2@example.com"),
]


def shared_strings(xlsx: bytes) -> str:
    with zipfile.ZipFile(BytesIO(xlsx)) as z:
        return z.read("xl/sharedStrings.xml").decode("utf-8")


def test_a_name_built_from_roster_fields_keeps_every_part():
    assert safe_filename("C1_示例市/教育局_表.xlsx", flatten=True) == "C1_示例市_教育局_表.xlsx"
    assert safe_filename("C1_a\\b_表.xlsx", flatten=True) == "C1_a_b_表.xlsx"
    assert safe_filename("../../x.xlsx") == "x.xlsx"  # a mail's attachment name: still its last part only


def test_each_agency_link_gives_its_own_template_when_names_differ_only_before_a_slash(tmp_path):
    port = free_port()
    d = tmp_path / "c"
    links = make_campaign(d, port, SLASHED)
    names = sorted(p.name for p in (d / "outbox").glob("*.xlsx"))
    assert len(names) == 3  # one each: none overwrote another
    for _, code, _, _ in SLASHED:
        assert sum(n.startswith(code + "_") for n in names) == 1
    server = Server(d, port).start()
    try:
        c = httpx.Client(timeout=60)
        for name, code, _, _ in SLASHED:
            r = c.get(links[code] + "/template")
            assert r.status_code == 200, name
            strings = shared_strings(r.content)
            assert code in strings and links[code] in strings
            for other in set(links) - {code}:
                assert links[other] not in strings  # never another agency's secret link
        # A template file that no longer holds what was issued to the agency (here: another
        # agency's, as an older campaign's colliding names left it) is never served.
        a, b = (d / "outbox" / next(n for n in names if n.startswith(code_for(k) + "_")) for k in (0, 1))
        a.write_bytes(b.read_bytes())
        assert c.get(links[code_for(0)] + "/template").status_code == 404
        assert c.get(links[code_for(1)] + "/template").status_code == 200
    finally:
        server.kill()



def pool_processes(pid: int) -> list[int]:
    """The validation pool's processes of server process ``pid`` (multiprocessing spawn children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_killed_validation_process_does_not_break_later_uploads(tmp_path):
    port = free_port()
    d = tmp_path / "c"
    links = make_campaign(d, port)
    server = Server(d, port).start()
    try:
        c = httpx.Client(timeout=120)
        link = links[AGENCIES[0][1]]
        assert "有错误" in text(upload(c, link, reply(d, 0, tmp_path / "first.xlsx", broken=True, contact="甲")).text)
        children = pool_processes(server.proc.pid)
        assert children
        os.kill(children[0], signal.SIGKILL)
        deadline = time.monotonic() + 30  # the pool notices the death on its own thread
        while children[0] in pool_processes(server.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        for k, who in enumerate(("乙", "丙")):  # the upload right after the kill, and the next one
            path = reply(d, 0, tmp_path / f"after-{k}.xlsx", broken=False, contact=who)
            r = upload(c, link, path)
            assert r.status_code == 200 and "合格" in text(r.text), text(r.text)
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            assert ledger_rows(d, "SELECT status FROM submissions WHERE sha256=?", sha) == [("valid",)]
        assert children[0] not in pool_processes(server.proc.pid)
    finally:
        server.kill()


def multipart_chunks(boundary: str, megabytes: int):
    """A multipart body with one file part of ``megabytes`` MB, sent chunked (no Content-Length)."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nx\r\n"
           f"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    for _ in range(megabytes * 16):
        yield b"\0" * 65536
    yield f"\r\n--{boundary}--\r\n".encode()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One server for the tests that leave it as it was."""
    yield from running_site(tmp_path_factory, "security")


@pytest.mark.parametrize("path", ["/logout", "/login", "/office/actions/status", "/office/agency/x/review"])
def test_a_form_post_longer_than_a_form_is_refused_before_it_is_parsed(site, path):
    c = httpx.Client(base_url=site["base"], timeout=60)
    boundary = "b0undary"
    try:
        r = c.post(path, content=multipart_chunks(boundary, 1), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    except httpx.TransportError:  # the server answered and closed before the whole body was sent
        pytest.fail("the server closed the connection without a 413")
    assert r.status_code == 413 and "请求内容过长" in text(r.text)
    assert r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"
    declared = c.post(path, content=b"x" * (65 * 1024), headers={"content-type": "application/x-www-form-urlencoded"})
    assert declared.status_code == 413
    # An ordinary form still works: a login with a wrong password is a 401, not a 413.
    page = c.get("/login")
    r = c.post("/login", data={"name": "无此用户", "password": "wrong", "csrf": csrf_of(page.text)})
    assert r.status_code == 401


def xlsxgov(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([XLSXGOV, *args], capture_output=True, text=True, env={**os.environ, **env})


def test_a_new_password_or_a_removed_account_ends_the_account_s_sessions(site):
    d, base = site["dir"], site["base"]
    assert xlsxgov("user", "add", str(d), "临时审核", "--role", "审核员", "--password-env", "PW", PW="first-pass-1").returncode == 0
    old = login(base, "临时审核", "first-pass-1")
    other = login(base, "admin")
    assert old.get("/office").status_code == 200
    done = xlsxgov("user", "add", str(d), "临时审核", "--role", "只读", "--password-env", "PW", PW="second-pass-2")
    assert done.returncode == 0 and "1 个会话已结束" in done.stdout
    r = old.get("/office")
    assert r.status_code == 303 and r.headers["location"] == "/login"  # the old cookie opens nothing
    assert other.get("/office").status_code == 200  # another user's session is untouched
    new = login(base, "临时审核", "second-pass-2")
    assert new.get("/office").status_code == 200

    done = xlsxgov("user", "remove", str(d), "临时审核")
    assert done.returncode == 0 and "已删除账户：临时审核" in done.stdout and "1 个登录会话" in done.stdout
    assert new.get("/office").status_code == 303
    page = new.get("/login")
    assert new.post("/login", data={"name": "临时审核", "password": "second-pass-2", "csrf": csrf_of(page.text)}).status_code == 401
    assert ledger_rows(d, "SELECT COUNT(*) FROM sessions WHERE user=?", "临时审核") == [(0,)]

    again = xlsxgov("user", "remove", str(d), "临时审核")
    assert again.returncode != 0 and "没有名为“临时审核”的账户" in again.stdout + again.stderr
    last = xlsxgov("user", "remove", str(d), "admin")
    assert last.returncode != 0 and "唯一的管理员" in last.stdout + last.stderr and "Traceback" not in last.stderr
    assert other.get("/office").status_code == 200


def test_a_login_flood_waits_in_its_own_queue_and_an_upload_goes_through(site):
    d, base = site["dir"], site["base"]
    clients = []
    for _ in range(30):
        c = httpx.Client(base_url=base, timeout=300)
        clients.append((c, csrf_of(c.get("/login").text)))
    names = [f"flood-{secrets.token_hex(4)}" for _ in clients]
    link = site["links"][AGENCIES[4][1]]
    path = reply(d, 4, site["tmp"] / "during-flood.xlsx", broken=False, contact="洪")

    def bad_login(k: int) -> int:
        c, csrf = clients[k]
        return c.post("/login", data={"name": names[k], "password": "wrong-password", "csrf": csrf}).status_code

    with ThreadPoolExecutor(len(clients)) as ex:
        futures = [ex.submit(bad_login, k) for k in range(len(clients))]
        deadline = time.monotonic() + 120
        while not ledger_rows(d, "SELECT 1 FROM audit WHERE action='登录失败' AND actor LIKE 'flood-%'") and time.monotonic() < deadline:
            time.sleep(0.05)
        r = upload(httpx.Client(timeout=300), link, path)  # while the other logins wait their turn
        codes = [f.result() for f in futures]
    assert r.status_code == 200 and "合格" in text(r.text)
    # At most LOGIN_THREADS + LOGIN_QUEUE attempts are held; the others are told to come back later.
    assert 429 in codes and set(codes) <= {401, 429}
    # The upload was recorded before the last of the held logins was checked: it never waited behind them.
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    ((upload_row,),) = ledger_rows(d, "SELECT id FROM audit WHERE action='上传报表' AND detail LIKE ?", f"%{sha}%")
    ((last_login,),) = ledger_rows(d, "SELECT MAX(id) FROM audit WHERE action='登录失败' AND actor LIKE 'flood-%'")
    assert upload_row < last_login
    counted = ledger_rows(d, "SELECT COUNT(*) FROM login_failures WHERE name LIKE 'flood-%'")[0][0]
    assert counted == codes.count(401)


def test_failures_of_unknown_names_are_forgotten_after_the_lock_time_known_ones_kept(site):
    d, base = site["dir"], site["base"]

    def bad_login(name: str) -> int:
        c = httpx.Client(base_url=base, timeout=120)
        return c.post("/login", data={"name": name, "password": "wrong-password", "csrf": csrf_of(c.get("/login").text)}).status_code

    assert bad_login("nobody-old") == 401 and bad_login("reader") == 401
    # An hour passes (the ledger's clock: the rows' last failure moved back).
    conn = sqlite3.connect(d / "ledger.sqlite")
    with conn:
        conn.execute("UPDATE login_failures SET last_at='2000-01-01T00:00:00+00:00' WHERE name IN ('nobody-old', 'reader')")
    conn.close()
    assert bad_login("nobody-new") == 401
    kept = {n for (n,) in ledger_rows(d, "SELECT name FROM login_failures")}
    assert "nobody-old" not in kept and {"reader", "nobody-new"} <= kept
    # The lockout of a known name is as before: five failures in a row lock it.
    for _ in range(4):
        bad_login("reader")
    c = httpx.Client(base_url=base, timeout=120)
    r = c.post("/login", data={"name": "reader", "password": PASSWORDS["reader"], "csrf": csrf_of(c.get("/login").text)})
    assert r.status_code == 401 and "锁定" in text(r.text)


HUGE = "99999999999999999999999"  # past SQLite's 64-bit integers


def test_an_id_out_of_range_is_the_normal_404_with_the_security_headers(site):
    base, link = site["base"], site["links"][AGENCIES[5][1]]
    admin = login(base, "admin")
    token = xlsxgov("user", "token", str(site["dir"]), "省平台").stdout.strip().splitlines()[-1]
    api = httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"})
    anyone = httpx.Client(timeout=60)
    for client, url in [
        (anyone, f"{link}/s/{HUGE}"), (anyone, f"{link}/s/{HUGE}/receipt"), (anyone, f"{link}/s/{HUGE}/feedback"),
        (admin, f"/office/submission/{HUGE}/original"), (admin, f"/office/submission/{HUGE}/feedback"),
        (api, f"/api/v1/submissions/{HUGE}/findings"), (api, f"/api/v1/submissions/{HUGE}/facts"),
    ]:
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code, r.text[:200])
        assert r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff", url
        assert ("页面不存在" in r.text) if "/api/" not in url else (r.json() == {"error": "页面不存在"}), url


def test_the_campaign_folder_and_what_the_portal_writes_are_the_owner_s_only(tmp_path):
    old = os.umask(0o022)  # the usual umask, under which everything was readable by every local user
    try:
        port = free_port()
        d = tmp_path / "c"
        links = make_campaign(d, port)
        server = Server(d, port).start()
    finally:
        os.umask(old)
    try:
        path = reply(d, 0, tmp_path / "r.xlsx", broken=False, contact="权")
        assert "合格" in text(upload(httpx.Client(timeout=120), links[AGENCIES[0][1]], path).text)
        admin = login(server.base, "admin")
        csrf = csrf_of(admin.get("/office/actions").text)
        assert admin.post("/office/actions/facts_csv", data={"csrf": csrf}).status_code == 303
        assert d.stat().st_mode & 0o777 == 0o700
        written = [d / "ledger.sqlite", d / "ledger.sqlite-wal", d / "outbox" / "links.csv",
                   *(d / "archive").rglob("*.xlsx"), *(d / "exports").iterdir()]
        assert len(written) >= 5
        for f in written:
            assert f.stat().st_mode & 0o077 == 0, (f, oct(f.stat().st_mode))
    finally:
        server.kill()
