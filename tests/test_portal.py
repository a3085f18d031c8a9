"""The web portal over HTTP: a real `xlsxgov serve` process on 127.0.0.1, a real client (httpx).

Function (links, upload → verdict, review states, office actions, API) and every security point
of issue #10, each as its own test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import socket
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openpyxl
import pytest

from portal_server import (
    AGENCIES, PASSWORDS, XLSXGOV, csrf_of, free_port, ledger_rows, login, reply, running_site, text, upload,
)
from xlsxgov.campaign import portal
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.init import init_campaign
from xlsxgov.validate import validate_paths
from xlsxgov.web.app import create_app


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    yield from running_site(tmp_path_factory, "portal")


def code(i: int) -> str:
    return AGENCIES[i][1]


# ---------------------------------------------------------------------------------------------
# agency link: upload → verdict, feedback, receipt


def test_agency_uploads_sees_findings_in_the_cli_words_then_valid_and_receipt(site):
    d, link = site["dir"], site["links"][code(0)]
    bad = reply(d, 0, site["tmp"] / "a0-bad.xlsx", broken=True, contact="张三")
    good = reply(d, 0, site["tmp"] / "a0-good.xlsx", broken=False, contact="张三")
    c = httpx.Client(timeout=120)
    first = c.get(link)
    assert first.status_code == 200 and "未报送" in text(first.text) and AGENCIES[0][0] in first.text

    r = upload(c, link, bad)
    assert r.status_code == 200 and re.search(r"/a/[^/]+/s/\d+$", str(r.url))
    page = text(r.text)
    assert "有错误" in page
    expected = [f for f in validate_paths([bad])[0].findings if f.severity != "info"]
    assert expected
    for f in expected:  # every finding, with its sheet and cell, in the validator's own message
        assert "".join(f.message.split()) in page and f.cell in page and "".join(f.sheet.split()) in page
    fb = re.search(r'href="(/a/[^"]+/feedback)"', r.text).group(1)
    fr = c.get(site["base"] + fb)
    assert fr.status_code == 200 and fr.content[:2] == b"PK" and "attachment" in fr.headers["content-disposition"]

    r = upload(c, link, good)
    assert "合格" in text(r.text) and "已被新的报送取代" in text(r.text)
    # The replaced upload's own page no longer asks for corrections (found by a trial).
    (bad_id,) = ledger_rows(d, "SELECT id FROM submissions WHERE sha256=?", hashlib.sha256(bad.read_bytes()).hexdigest())[0]
    replaced = text(c.get(f"{link}/s/{bad_id}").text)
    assert "已被此后的报送取代" in replaced and "请按下表修改后重新上传" not in replaced
    receipt = re.search(r'href="(/a/[^"]+/receipt)"', r.text).group(1)
    rr = c.get(site["base"] + receipt)
    sha = hashlib.sha256(good.read_bytes()).hexdigest()
    assert rr.status_code == 200 and sha in rr.text and "a0-good.xlsx" in rr.text and AGENCIES[0][0] in rr.text
    # The original bytes are archived exactly as received.
    (path,) = ledger_rows(d, "SELECT archive_path FROM submissions WHERE sha256=?", sha)[0:1]
    assert (d / path[0]).read_bytes() == good.read_bytes()
    # The same bytes again: not recorded twice, the earlier verdict shown.
    again = upload(c, link, good)
    assert "此前已经上传过" in text(again.text)
    assert ledger_rows(d, "SELECT COUNT(*) FROM submissions WHERE sha256=?", sha)[0][0] == 1


def test_another_agencys_report_through_a_link_is_refused_not_filed(site):
    """Found by a new user's trial: agency 3's filled workbook uploaded through agency 2's link
    was filed as agency 2's report (合格), and agency 3 could then never send that file (a
    duplicate). It is refused now, saying whose the cover is; nothing is recorded, so the
    rightful agency can still send it."""
    d = site["dir"]
    theirs = reply(d, 3, site["tmp"] / "a3-for-a2.xlsx", broken=False, contact="赵六")
    c = httpx.Client(timeout=120)
    r = upload(c, site["links"][code(2)], theirs, name="报表.xlsx")
    assert r.status_code == 422
    page = text(r.text)
    assert AGENCIES[3][0] in page and AGENCIES[2][0] in page and "未登记" in page
    sha = hashlib.sha256(theirs.read_bytes()).hexdigest()
    assert ledger_rows(d, "SELECT COUNT(*) FROM submissions WHERE sha256=?", sha)[0][0] == 0
    (detail,) = ledger_rows(d, "SELECT detail FROM audit WHERE detail LIKE ?", f"%{sha}%")[0]
    assert "未登记" in detail


def test_an_empty_file_is_named_as_empty_not_as_no_file(site):
    """Found by a new user's trial: a 0-byte file got "没有收到文件：请先选择…" although one was chosen."""
    link = site["links"][code(2)]
    c = httpx.Client(timeout=60)
    page = c.get(link)
    empty = c.post(link + "/upload", data={"csrf": csrf_of(page.text)}, files={"file": ("空表.xlsx", b"", "application/octet-stream")})
    assert empty.status_code == 400 and "空表.xlsx" in text(empty.text) and "是空的（0字节）" in text(empty.text)
    none = c.post(link + "/upload", data={"csrf": csrf_of(page.text)}, files={"file": ("", b"", "application/octet-stream")})
    assert none.status_code == 400 and "没有收到文件" in text(none.text)


def test_template_download_is_the_agency_template(site):
    c = httpx.Client(timeout=60)
    r = c.get(site["links"][code(1)] + "/template")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    p = site["tmp"] / "dl.xlsx"
    p.write_bytes(r.content)
    cover = [c.value for row in openpyxl.load_workbook(p)["封面"].iter_rows() for c in row if c.value]
    link = site["links"][code(1)]
    assert AGENCIES[1][0] in cover and any(link in str(v) for v in cover)  # the link on the cover
    import email
    import email.policy

    eml = next((site["dir"] / "outbox").glob(f"{code(1)}_*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert link in msg.get_body(("plain",)).get_content()  # and in the mail


def test_wrong_and_revoked_links_answer_404_revealing_nothing(site):
    c = httpx.Client(timeout=60)
    base, d = site["base"], site["dir"]
    baseline = c.get(base + "/no/such/page")
    wrong = c.get(base + "/a/" + "x" * 43)
    assert baseline.status_code == wrong.status_code == 404
    assert wrong.content == baseline.content
    old = site["links"][code(4)]
    assert c.get(old).status_code == 200
    out = subprocess.run([XLSXGOV, "campaign", "link", str(d), code(4), "--reissue"], capture_output=True, text=True, check=True).stdout
    new = re.search(r"http://\S+", out).group(0)
    for path in ("", "/template", "/s/1", "/s/1/receipt"):
        r = c.get(old + path)
        assert r.status_code == 404 and r.content == baseline.content
    assert c.get(new).status_code == 200
    cover = [str(c.value) for row in openpyxl.load_workbook(d / "outbox" / next((d / "outbox").glob(f"{code(4)}_*.xlsx")).name)["封面"].iter_rows()
             for c in row if c.value]
    assert any(new in v for v in cover) and not any(old in v for v in cover)  # the template re-stamped
    assert new in (d / "outbox" / "links.csv").read_text(encoding="utf-8-sig") and old not in (d / "outbox" / "links.csv").read_text(encoding="utf-8-sig")
    site["links"][code(4)] = new
    # the agency named as the other commands accept it: a part of its name only it has (found by
    # a new user's trial: only the code or the full name worked here)
    again = subprocess.run([XLSXGOV, "campaign", "link", str(d), "第4局"], capture_output=True, text=True)
    flat_err = "".join(again.stderr.split())
    assert again.returncode == 2 and "已有有效的报送链接" in flat_err and AGENCIES[4][0] in flat_err
    # Only hashes are stored.
    token = new.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits in URL-safe base64
    assert not ledger_rows(d, "SELECT 1 FROM links WHERE token_hash=?", token)
    assert ledger_rows(d, "SELECT 1 FROM links WHERE token_hash=?", hashlib.sha256(token.encode()).hexdigest())


def test_a_link_sees_nothing_of_another_agency(site):
    d = site["dir"]
    c = httpx.Client(timeout=120)
    upload(c, site["links"][code(2)], reply(d, 2, site["tmp"] / "a2-bad.xlsx", broken=True, contact="李四"))
    (sid,) = ledger_rows(d, "SELECT id FROM submissions WHERE code=?", code(2))[0]
    other = site["links"][code(3)]
    baseline = c.get(site["base"] + "/nothing")
    for path in (f"/s/{sid}", f"/s/{sid}/feedback", f"/s/{sid}/receipt"):
        r = c.get(other + path)
        assert r.status_code == 404 and r.content == baseline.content
    assert AGENCIES[2][0] not in c.get(other).text


def test_file_names_are_never_paths_and_are_escaped(site):
    d = site["dir"]
    c = httpx.Client(timeout=120)
    evil = "..\\..\\../<img src=x onerror=alert(1)>.xlsx"
    r = upload(c, site["links"][code(5)], reply(d, 5, site["tmp"] / "a5.xlsx", broken=True, contact="王五"), name=evil)
    assert r.status_code == 200
    assert "<img" not in r.text and "&lt;img src=x onerror=alert(1)&gt;.xlsx" in r.text
    (name, archive) = ledger_rows(d, "SELECT file_name, archive_path FROM submissions WHERE code=?", code(5))[0]
    assert name == "<img src=x onerror=alert(1)>.xlsx"  # the last component, kept as text
    assert re.fullmatch(r"archive/[0-9a-f]{64}\.xlsx", archive)
    assert not list(site["tmp"].rglob("*alert*")) and not list(d.rglob("*alert*"))


# ---------------------------------------------------------------------------------------------
# office: auth on every page and endpoint, roles, login, cookies, CSRF


def _routes(d: Path) -> list[tuple[str, str]]:
    app = create_app(d)
    out, routes = [], list(app.routes)
    while routes:
        r = routes.pop()
        if hasattr(r, "original_router"):  # an included router (newer FastAPI keeps it whole)
            routes += r.original_router.routes
            continue
        path = getattr(r, "path", "")
        if path.startswith(("/office", "/api/v1")) or path == "/logout":
            for m in r.methods:
                out.append((m, re.sub(r"\{[^}]+\}", "1", path.replace("{code}", code(0)))))
    return out


def test_every_office_page_and_api_endpoint_refuses_without_session_or_token(site):
    routes = _routes(site["dir"])
    assert len(routes) >= 17
    c = httpx.Client(base_url=site["base"], timeout=60)
    for method, path in routes:
        r = c.request(method, path, headers={"Authorization": "Bearer wrong"} if path.startswith("/api") else {})
        if path.startswith("/api"):
            assert r.status_code == 401, (method, path)
        else:
            assert r.status_code == 303 and r.headers["location"] == "/login", (method, path, r.status_code)
            assert AGENCIES[0][0] not in r.text
    # An expired or made-up session cookie is no session either.
    c.cookies.set("xg_session", "made-up")
    assert c.get("/office").status_code == 303


def test_roles_only_do_what_they_may(site):
    d = site["dir"]
    reader, reviewer = login(site["base"], "reader"), login(site["base"], "reviewer")
    sid = ledger_rows(d, "SELECT id FROM submissions WHERE code=? AND superseded_by IS NULL", code(2))[0][0]
    page = reader.get(f"/office/agency/{code(2)}")
    assert page.status_code == 200 and "审核通过" not in page.text and "代为上传" not in page.text
    csrf = csrf_of(page.text)
    r = reader.post(f"/office/agency/{code(2)}/review", data={"csrf": csrf, "submission": sid, "state": "审核通过", "comment": ""})
    assert r.status_code == 403
    f = reply(d, 2, site["tmp"] / "a2-reader.xlsx", broken=False, contact="只读")
    r = reader.post(f"/office/agency/{code(2)}/upload", data={"csrf": csrf}, files={"file": ("x.xlsx", f.read_bytes())})
    assert r.status_code == 403
    assert reader.post("/office/actions/status", data={"csrf": csrf}).status_code == 403
    assert reader.get("/office/audit").status_code == 403
    assert ledger_rows(d, "SELECT COUNT(*) FROM reviews WHERE submission_id=?", sid)[0][0] == 0
    assert not ledger_rows(d, "SELECT 1 FROM submissions WHERE sha256=?", hashlib.sha256(f.read_bytes()).hexdigest())
    # A reviewer reviews but does not run campaign actions.
    rcsrf = csrf_of(reviewer.get("/office").text)
    assert reviewer.post("/office/actions/status", data={"csrf": rcsrf}).status_code == 403
    state = "审核通过" if ledger_rows(d, "SELECT status FROM submissions WHERE id=?", sid)[0][0] == "valid" else "退回修改"
    assert reviewer.post(f"/office/agency/{code(2)}/review", data={"csrf": rcsrf, "submission": sid, "state": state, "comment": "请核对"}).status_code == 303


def test_login_failures_delay_then_lock_the_name_and_do_not_tell_names_apart(site):
    d, base = site["dir"], site["base"]
    portal.add_user(d, "locky", "只读", "locky-secret-1")

    def attempt(name, password):
        with httpx.Client(base_url=base, timeout=60) as c:  # a client of its own: attempts run at once
            form = c.get("/login")
            started = time.monotonic()
            r = c.post("/login", data={"name": name, "password": password, "csrf": csrf_of(form.text)})
            return r, time.monotonic() - started

    with ThreadPoolExecutor(portal.MAX_FAILURES) as pool:
        (wrong, took), (unknown, took_unknown) = pool.map(lambda a: attempt(*a), [("locky", "nope"), ("nobody-here", "nope")])
        assert wrong.status_code == unknown.status_code == 401
        assert text(wrong.text).replace(csrf_of(wrong.text), "") == text(unknown.text).replace(csrf_of(unknown.text), "")
        assert took >= 1.0 and took_unknown >= 1.0  # every failure waits (office.FAILED_LOGIN_DELAY)
        # The other failures at the same moment, as a guesser in a hurry would send them: each
        # still counts (the count is updated in one IMMEDIATE transaction).
        rest = list(pool.map(lambda _: attempt("locky", "nope"), range(portal.MAX_FAILURES - 1)))
    assert all(r.status_code == 401 for r, _ in rest)
    locked, _ = attempt("locky", "locky-secret-1")  # the right password, but the name is locked
    assert locked.status_code == 401 and "锁定" in text(locked.text)
    assert "xg_session" not in locked.cookies


def test_session_cookie_flags_and_secure_behind_https(site):
    c = httpx.Client(base_url=site["base"], timeout=60)
    form = c.get("/login")
    r = c.post("/login", data={"name": "admin", "password": PASSWORDS["admin"], "csrf": csrf_of(form.text)})
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("xg_session="))
    flags = {p.strip().lower() for p in cookie.split(";")[1:]}
    assert "httponly" in flags and "samesite=strict" in flags and "secure" not in flags
    # Behind a TLS-terminating proxy on this machine (X-Forwarded-Proto from 127.0.0.1): Secure.
    h = {"X-Forwarded-Proto": "https"}
    form = httpx.get(site["base"] + "/login", headers=h)
    assert "secure" in form.headers["set-cookie"].lower()
    nonce = csrf_of(form.text)  # a client over TLS sends the Secure login cookie back; this one is told to
    r = httpx.post(site["base"] + "/login", data={"name": "admin", "password": PASSWORDS["admin"], "csrf": nonce},
                   headers={**h, "Cookie": f"xg_login={nonce}"})
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("xg_session="))
    assert "secure" in {p.strip().lower() for p in cookie.split(";")[1:]}


def test_every_form_needs_its_csrf_token(site):
    d, base = site["dir"], site["base"]
    admin = login(base, "admin")
    page = admin.get("/office").text
    forms = re.findall(r'<form method="post" action="([^"]+)"', page + admin.get(f"/office/agency/{code(2)}").text
                       + admin.get("/office/actions").text + admin.get("/office/quarantine").text)
    assert {"/logout", f"/office/agency/{code(2)}/review", f"/office/agency/{code(2)}/upload", "/office/actions/consolidate"} <= set(forms)
    sid = ledger_rows(d, "SELECT id FROM submissions WHERE code=? AND superseded_by IS NULL", code(2))[0][0]
    before = ledger_rows(d, "SELECT COUNT(*) FROM reviews")[0][0]
    for token in (None, "wrong"):
        data = {"submission": sid, "state": "退回修改", "comment": "x"} | ({"csrf": token} if token else {})
        assert admin.post(f"/office/agency/{code(2)}/review", data=data).status_code == 403
        assert admin.post("/office/actions/status", data={} if token is None else {"csrf": token}).status_code == 403
        assert admin.post("/logout", data={} if token is None else {"csrf": token}).status_code == 403
    assert ledger_rows(d, "SELECT COUNT(*) FROM reviews")[0][0] == before
    # The agency's upload form and the login form carry one too.
    f = reply(d, 1, site["tmp"] / "a1-csrf.xlsx", broken=False, contact="赵")
    r = httpx.post(site["links"][code(1)] + "/upload", data={"csrf": "forged"}, files={"file": ("a.xlsx", f.read_bytes())}, timeout=60)
    assert r.status_code == 403
    assert not ledger_rows(d, "SELECT 1 FROM submissions WHERE sha256=?", hashlib.sha256(f.read_bytes()).hexdigest())
    assert httpx.post(base + "/login", data={"name": "admin", "password": PASSWORDS["admin"]}).status_code == 403


def test_upload_size_limit_is_enforced_while_streaming(site):
    d = site["dir"]
    link = site["links"][code(1)]
    c = httpx.Client(timeout=120)
    csrf = csrf_of(c.get(link).text)
    before = ledger_rows(d, "SELECT COUNT(*) FROM submissions")[0][0]
    boundary = "xlsxgovboundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.xlsx"\r\n\r\n').encode()
    sent = [0]

    def body():  # chunked: no Content-Length, so only counting while streaming can stop it
        yield head
        for _ in range(22 * 16):  # 22 MB in 64 KB chunks
            sent[0] += 65536
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        r = c.post(link + "/upload", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code == 413 and "20MB" in text(r.text)
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server answered 413 and closed before the client finished sending
    assert ledger_rows(d, "SELECT COUNT(*) FROM submissions")[0][0] == before
    assert not list((d / ".tmp").glob("upload-*"))
    # Declared too large: refused before any of the body is read.
    import socket

    path = "/" + link.split("/", 3)[3] + "/upload"
    with socket.create_connection(("127.0.0.1", site["server"].port), timeout=60) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
                  f"Content-Length: {30 * 2**20}\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 413")


def test_security_headers_on_every_kind_of_response(site):
    base = site["base"]
    c = httpx.Client(timeout=60)
    for url in (base + "/login", base + "/static/app.css", base + "/nope", site["links"][code(0)], base + "/api/v1/status", base + "/api/openapi.json"):
        r = c.get(url)
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert r.headers["x-content-type-options"] == "nosniff"
    # No inline script or style anywhere in the pages (the CSP would block them).
    for html in (c.get(base + "/login").text, c.get(site["links"][code(0)]).text, login(base, "admin").get("/office").text):
        assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "<style" not in html and " style=" not in html
        assert not re.search(r"(src|href)=\"https?://", html)  # every asset local


# ---------------------------------------------------------------------------------------------
# office: board, review states, upload on behalf, quarantine, actions, audit, API


def test_review_return_with_comment_reaches_the_agency_and_a_new_upload_is_pending_again(site):
    d, base = site["dir"], site["base"]
    admin = login(base, "admin")
    link = site["links"][code(3)]
    agency = httpx.Client(timeout=120)
    upload(agency, link, reply(d, 3, site["tmp"] / "a3.xlsx", broken=False, contact="孙"))
    page = admin.get(f"/office/agency/{code(3)}")
    sid = re.search(r'name="submission" value="(\d+)"', page.text).group(1)
    assert "待审核" in text(page.text)
    comment = "请核对第三项<b>数字</b>"
    r = admin.post(f"/office/agency/{code(3)}/review", data={"csrf": csrf_of(page.text), "submission": sid, "state": "退回修改", "comment": comment})
    assert r.status_code == 303
    seen = agency.get(link).text
    assert "退回修改" in text(seen) and "请核对第三项&lt;b&gt;数字&lt;/b&gt;" in seen
    # not "报送成功" beside the return (found by a new user's trial): the page says what to do
    assert "报送成功" not in text(seen) and "已退回修改" in text(seen) and 'id="receipt-link"' not in seen
    upload(agency, link, reply(d, 3, site["tmp"] / "a3b.xlsx", broken=False, contact="孙二"))
    assert "待审核" in text(agency.get(link).text) and "退回修改意见" not in text(agency.get(link).text)
    board = admin.get("/office", params={"review": "退回修改"})
    assert AGENCIES[3][0] not in board.text
    # Returning needs a comment.
    page = admin.get(f"/office/agency/{code(3)}")
    sid = re.search(r'name="submission" value="(\d+)"', page.text).group(1)
    assert admin.post(f"/office/agency/{code(3)}/review", data={"csrf": csrf_of(page.text), "submission": sid, "state": "退回修改", "comment": " "}).status_code == 400
    assert admin.post(f"/office/agency/{code(3)}/review", data={"csrf": csrf_of(page.text), "submission": sid, "state": "审核通过"}).status_code == 303
    assert "审核通过" in text(agency.get(link).text)


def test_board_counts_search_filter_sort(site):
    admin = login(site["base"], "admin")
    st = json.loads(subprocess.run([XLSXGOV, "campaign", "status", str(site["dir"]), "--json"], capture_output=True, text=True, check=True).stdout)
    page = text(admin.get("/office").text)
    for key, label in (("valid", "合格"), ("invalid", "有错误"), ("missing", "未报送")):
        assert f"{label}{st['totals'][key]}" in page
    only = admin.get("/office", params={"q": AGENCIES[1][0]}).text
    assert AGENCIES[1][0] in only and AGENCIES[2][0] not in only
    missing = admin.get("/office", params={"status": "missing"}).text
    for a in st["agencies"]:
        assert (a["name"] in missing) == (a["status"] == "missing")
    by_name = admin.get("/office", params={"sort": "name", "desc": 1}).text
    order = [n for n, *_ in AGENCIES if n in by_name]
    assert sorted(order, key=by_name.index) == sorted(order, reverse=True)


def test_upload_on_behalf_and_assign_a_quarantined_file(site):
    from xlsxgov import spec as spec_mod
    from xlsxgov.template import Meta, write_template

    d, base = site["dir"], site["base"]
    reviewer = login(base, "reviewer")
    page = reviewer.get(f"/office/agency/{code(1)}")
    f = reply(d, 1, site["tmp"] / "a1-paper.xlsx", broken=False, contact="纸质")
    r = reviewer.post(f"/office/agency/{code(1)}/upload", data={"csrf": csrf_of(page.text)}, files={"file": ("纸质报送.xlsx", f.read_bytes())},
                      follow_redirects=True)
    assert r.status_code == 200 and "纸质报送.xlsx" in r.text
    (source,) = ledger_rows(d, "SELECT source FROM submissions WHERE sha256=?", hashlib.sha256(f.read_bytes()).hexdigest())[0]
    assert "reviewer" in source
    # A file nobody can be identified from lands in quarantine; the office assigns it.
    stranger = site["tmp"] / "无名.xlsx"
    write_template(stranger, spec_mod.load("gov2021"), Meta(year=2024, agency="外省某局", code="", region="外省"))
    import_paths(d, [stranger])
    q = reviewer.get("/office/quarantine")
    assert "无名.xlsx" in q.text
    sid = re.search(r'action="/office/quarantine/(\d+)/assign"', q.text).group(1)
    r = reviewer.post(f"/office/quarantine/{sid}/assign", data={"csrf": csrf_of(q.text), "code": code(0)})
    assert r.status_code == 303
    assert ledger_rows(d, "SELECT code FROM submissions WHERE file_name='无名.xlsx'") == [(code(0),)]
    assert "无名.xlsx" not in reviewer.get("/office/quarantine").text


def test_campaign_actions_consolidate_export_status_remind(site):
    d, base = site["dir"], site["base"]
    admin = login(base, "admin")
    csrf = csrf_of(admin.get("/office/actions").text)
    for action in ("consolidate", "facts_csv", "facts_xlsx", "facts_parquet", "status", "remind"):
        r = admin.post(f"/office/actions/{action}", data={"csrf": csrf}, follow_redirects=True)
        assert r.status_code == 200 and "已" in text(r.text), action
        if action == "consolidate":  # the agencies left out are counted, the file named as the file (a trial)
            said = text(r.text)
            assert "个单位（见汇总工作簿的“未报送”表）" in said and "汇总工作簿：" in said and "个：" not in said, said
    page = admin.get("/office/actions").text
    names = re.findall(r'href="/office/exports/([^"]+)"', page)
    from urllib.parse import unquote

    names = [unquote(n) for n in names]
    wb = next(n for n in names if n.endswith(".xlsx") and "汇总" in n)
    got = admin.get(f"/office/exports/{wb}")
    out = site["tmp"] / "regional.xlsx"
    out.write_bytes(got.content)
    assert subprocess.run([XLSXGOV, "validate", str(out)], capture_output=True).returncode == 0
    assert any(n.endswith(".html") for n in names) and any(n.endswith(".parquet") for n in names) and any(n.endswith(".csv") for n in names)
    assert any(n.startswith("报送进度") for n in names)
    facts = next(n for n in names if n.endswith(".xlsx") and "各单位数据" in n)
    assert admin.get(f"/office/exports/{facts}").content[:2] == b"PK"
    # A name is looked up in the listing, never used as a path.
    assert admin.get("/office/exports/..%2Fledger.sqlite").status_code == 404


def test_json_api_with_a_client_token(site):
    d, base = site["dir"], site["base"]
    token = subprocess.run([XLSXGOV, "user", "token", str(d), "省平台"], capture_output=True, text=True, check=True).stdout.split()[-1]
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    st = api.get("/api/v1/status").json()
    assert st["year"] == 2024 and len(st["agencies"]) == len(AGENCIES)
    subs = api.get(f"/api/v1/agencies/{code(0)}/submissions").json()
    bad = next(s for s in subs if s["file_name"] == "a0-bad.xlsx")
    findings = api.get(f"/api/v1/submissions/{bad['id']}/findings").json()
    assert any(f["severity"] == "error" and f["cell"] for f in findings)
    facts = api.get(f"/api/v1/submissions/{subs[0]['id']}/facts").json()
    assert facts and {"table", "row", "col", "value"} <= set(facts[0])
    schema = httpx.get(base + "/api/openapi.json").json()
    assert {"/api/v1/status", "/api/v1/agencies/{code}/submissions", "/api/v1/submissions/{sid}/findings", "/api/v1/submissions/{sid}/facts"} <= set(schema["paths"])
    assert not any(p.startswith(("/office", "/a/", "/login")) for p in schema["paths"])
    assert httpx.get(base + "/api/v1/status", timeout=60).status_code == 401
    site["api_token"] = token
    subprocess.run([XLSXGOV, "user", "token", str(d), "省平台", "--revoke"], capture_output=True, check=True)
    assert api.get("/api/v1/status").status_code == 401  # revoked


def test_tokens_never_appear_in_the_server_log(site):
    log = site["server"].output()
    assert "/a/***" in log and "POST /login" in log
    for link in site["links"].values():
        assert link.rsplit("/", 1)[1] not in log
    if "api_token" in site:
        assert site["api_token"] not in log
    assert "database is locked" not in log and "Traceback" not in log


def test_the_server_log_is_chinese_in_beijing_time(site):
    """Found by a new user's trial: Uvicorn's own lines (starting, listening, stopping) were
    English. They are Chinese now; the request log is there, stamped in Beijing time."""
    assert httpx.get(site["base"] + "/login", timeout=60).status_code == 200
    time.sleep(0.3)
    log = site["server"].output()
    assert "正在监听 http://127.0.0.1:" in log and "网站已启动" in log and "服务进程已启动" in log
    for english in ("Uvicorn running", "Started server process", "Application startup", "INFO:"):
        assert english not in log
    stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d):\d\d \d+\.\d+\.\d+\.\d+ (?:GET|POST) ", log, re.M)
    assert stamps, log[:2000]
    beijing = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    assert abs((dt.datetime.strptime(stamps[-1], "%Y-%m-%d %H:%M").replace(tzinfo=beijing.tzinfo) - beijing).total_seconds()) < 3600


def test_a_request_path_cannot_drive_the_operators_terminal(site):
    """A path is the client's text: an escape sequence in it is logged as an escape, inert."""
    with socket.create_connection(("127.0.0.1", site["server"].port), timeout=60) as s:
        s.sendall(b"GET /%1b%5b2J%1b%5b31mPWNED HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
    time.sleep(0.3)
    log = site["server"].output()
    assert "PWNED" in log and "\x1b" not in log


def test_an_unknown_server_line_is_kept_not_dropped():
    import logging

    from xlsxgov.web.serverlog import InChinese, in_chinese

    assert in_chinese("Uvicorn running on http://0.0.0.0:80 (Press CTRL+C to quit)") == "正在监听 http://0.0.0.0:80（按 Ctrl+C 停止）"
    record = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "Something new %s", ("happened",), None)
    assert InChinese().filter(record) and record.getMessage() == "（Uvicorn）Something new happened"


def test_serve_requires_a_first_admin(tmp_path):

    from test_campaign import write_roster

    d = tmp_path / "c"
    init_campaign(d, year=2024, roster_path=write_roster(tmp_path / "r.csv"))
    r = subprocess.run([XLSXGOV, "serve", str(d), "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "管理员" in r.stderr and "Traceback" not in r.stderr
    import os

    bad = subprocess.run([XLSXGOV, "user", "add", str(d), "x", "--role", "超级", "--password-env", "PW"], capture_output=True, text=True,
                         env={**os.environ, "PW": "longenough"})
    assert bad.returncode == 2 and "管理员、审核员、只读" in "".join(bad.stderr.split())


def test_hostile_uploads_get_the_reader_s_file_screen(site):
    """The reader's file screen and budgets apply to uploads: a zip bomb, an encrypted workbook
    and a PDF renamed .xlsx are each answered 无法读取 with the reason, archived, never a crash."""
    import hostile_files as hf
    from xlsxgov.filecheck import check_file

    d = site["dir"]
    folder = site["tmp"] / "hostile"
    folder.mkdir()
    c = httpx.Client(timeout=300)
    link = site["links"][code(2)]
    upload(c, link, reply(d, 2, folder / "a2-readable.xlsx", broken=False, contact="周"))
    for make in (hf.zip_bomb_xlsx, hf.encrypted_xlsx, hf.pdf_as_xlsx):
        path, _ = make(folder)
        r = upload(c, link, path)
        assert r.status_code == 200, make.__name__
        page = text(r.text)
        assert "无法读取" in page and "".join(check_file(path).reason.split())[:12] in page, make.__name__
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        ((status, archive),) = ledger_rows(d, "SELECT status, archive_path FROM submissions WHERE sha256=?", sha)
        assert status == "unreadable" and (d / archive).read_bytes() == path.read_bytes()
    # Unreadable files never replace the agency's readable submission, and the history says so
    # (it said 已被新的报送取代 of them: found by a new user's trial).
    assert ledger_rows(d, "SELECT status FROM submissions WHERE code=? AND superseded_by IS NULL", code(2))[0][0] in ("valid", "invalid")
    history = text(c.get(link).text)
    assert "无法读取，未取代已报送的报表" in history


def test_audit_log_records_who_what_where_and_is_append_only(site):
    d = site["dir"]
    admin = login(site["base"], "admin")
    page = text(admin.get("/office/audit").text)
    for action in ("登录", "上传报表", "审核：退回修改", "登录失败", "保存账户", "生成报送链接", "生成接口令牌", "下载文件"):
        assert action in page
    assert "127.0.0.1" in page
    uploads = [r[0] for r in ledger_rows(d, "SELECT detail FROM audit WHERE action='上传报表'")]
    assert uploads and all(re.search(r"(合格|有错误|无法读取|单位不明|重复文件（已跳过）)（错误 \d+，警告 \d+）|未登记：", u) for u in uploads), uploads
    conn = sqlite3.connect(d / "ledger.sqlite")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit SET actor='x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit")
    finally:
        conn.close()


def test_page_times_are_beijing_time_whatever_the_server_zone(monkeypatch):
    """Found by a new user's trial: on a UTC server the receipt said 00:44 for an upload at 08:44
    Beijing time (a February 1 upload at 07:00 would have been dated January 31)."""
    import time

    from xlsxgov.web.app import local_time

    for zone in ("UTC", "America/New_York", "Asia/Shanghai"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert local_time("2026-01-31T23:00:00.000000+00:00") == "2026-02-01 07:00:00"
    monkeypatch.undo()
    time.tzset()


def test_generated_files_are_listed_and_named_in_beijing_time(site):
    """Found by a new user's trial: /office/actions listed generated files in the server's time
    (UTC here) under the note that times are Beijing time, and named them by it."""
    admin = login(site["base"], "admin")
    page = admin.get("/office/actions")
    assert admin.post("/office/actions/status", data={"csrf": csrf_of(page.text)}).status_code in (200, 303)
    listed = admin.get("/office/actions").text
    beijing = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    times = [dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S") for t in re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", listed)]
    assert times and min(abs((t - beijing).total_seconds()) for t in times) < 600, (times, beijing)
    stamps = [dt.datetime.strptime(m, "%Y%m%d-%H%M%S") for m in re.findall(r"(\d{8}-\d{6})", listed)]
    assert stamps and min(abs((t - beijing).total_seconds()) for t in stamps) < 600, (stamps, beijing)


def test_serve_on_a_port_in_use_says_so_before_any_banner(site):
    """Found by a new user's trial: a second `serve` on the same port printed the banner saying
    the site runs, then uvicorn's English "address already in use"."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run = subprocess.run([XLSXGOV, "serve", str(site["dir"]), "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert f"端口 {port} 已被占用" in run.stderr + run.stdout
    assert "报送平台：" not in run.stdout and "address already in use" not in run.stderr + run.stdout


def test_the_board_shows_what_the_office_must_check_beside_a_valid_status(site):
    """A report filed for one agency whose cover names another roster agency (an office upload
    on the wrong agency's page) is valid, with the warning agency.cover_other: the board says so
    beside its status, as `campaign status --problems` does (found by a trial: nothing showed it)."""
    d, base = site["dir"], site["base"]
    admin = login(base, "admin")
    page = admin.get(f"/office/agency/{code(3)}")
    other = reply(d, 2, site["tmp"] / "a2-on-a3.xlsx", broken=False, contact="错页")
    r = admin.post(f"/office/agency/{code(3)}/upload", data={"csrf": csrf_of(page.text)},
                   files={"file": ("错页上传.xlsx", other.read_bytes())}, follow_redirects=True)
    assert r.status_code == 200
    board = admin.get("/office", params={"q": code(3)}).text
    row = next(line for line in board.split("<tr>") if f'href="/office/agency/{code(3)}"' in line)
    assert "合格" in row and "请核对：" in row and "封面上的单位是" in text(row), text(row)


def test_a_report_with_errors_cannot_be_approved(site):
    """Found by a trial: 审核通过 of a report with errors was accepted; the agency then read
    审核通过 beside 请修改, and the report was still left out of the consolidation."""
    d, base = site["dir"], site["base"]
    reviewer = login(base, "reviewer")
    page = reviewer.get(f"/office/agency/{code(5)}")
    bad = reply(d, 5, site["tmp"] / "a5-bad.xlsx", broken=True, contact="审核")
    reviewer.post(f"/office/agency/{code(5)}/upload", data={"csrf": csrf_of(page.text)},
                  files={"file": ("有错.xlsx", bad.read_bytes())}, follow_redirects=True)
    board = reviewer.get("/office", params={"q": AGENCIES[5][0]}).text
    row = next(line for line in board.split("<tr>") if f'href="/office/agency/{code(5)}"' in line)
    assert "有错误" in row and "待审核" not in row  # nothing to approve: it can only be returned
    page = reviewer.get(f"/office/agency/{code(5)}")
    sid = re.search(r'name="submission" value="(\d+)"', page.text).group(1)
    r = reviewer.post(f"/office/agency/{code(5)}/review", data={"csrf": csrf_of(page.text), "submission": sid, "state": "审核通过", "comment": ""})
    assert r.status_code == 400 and "不能审核通过" in text(r.text)
    assert ledger_rows(d, "SELECT COUNT(*) FROM reviews WHERE submission_id=?", int(sid)) == [(0,)]
    r = reviewer.post(f"/office/agency/{code(5)}/review", data={"csrf": csrf_of(page.text), "submission": sid, "state": "退回修改", "comment": "请改正表三"})
    assert r.status_code == 303
