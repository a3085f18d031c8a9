"""The office's pages: login, the board, an agency's submissions with review states, uploads on
an agency's behalf, quarantined files, campaign actions and their downloads, the audit log.

Every route here depends on ``require`` (a live session, else the login page) and every POST
checks the session's CSRF token; what a role may do is ``portal.MAY``.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse

from ..campaign import portal
from ..campaign.importer import assign_file
from ..campaign.mail import safe_filename
from ..campaign.remind import prepare_reminders
from ..campaign.status import BEIJING, campaign_status, write_status_xlsx
from ..campaign.store import roster
from ..errors import CampaignError
from ..locate import agency_key
from .agency import after_upload
from .common import (
    LOGIN_COOKIE, LOGIN_QUEUE, LOGIN_THREADS, SESSION_COOKIE, cfg_of, client_address, download, feedback_download, import_upload, not_found, open_ledger, page,
    release, run_in_pool, secure_cookie,
)
from .upload import UploadError, receive

router = APIRouter(include_in_schema=False)
FAILED_LOGIN_DELAY = 1.0  # seconds every failed login waits (with the lockout: no fast guessing)
EXPORTS = "exports"  # DIR/exports: what the campaign actions produce, offered for download


def require(request: Request) -> portal.Session:
    """The request's live office session; redirects to the login page without one."""
    conn = open_ledger(cfg_of(request).directory)
    try:
        session = portal.session_of(conn, request.cookies.get(SESSION_COOKIE))
    finally:
        release(conn)
    if session is None:
        raise HTTPException(303, headers={"Location": "/login"})
    return session


def allowed(session: portal.Session, what: str) -> None:
    if what not in portal.MAY[session.role]:
        raise HTTPException(403, f"没有权限：{session.role}账户不能执行此操作")


def check_csrf(session: portal.Session, token: str | None) -> None:
    if not portal.csrf_ok(session.csrf, token):
        raise HTTPException(403, "页面已过期或请求来源不明（CSRF 校验失败），请刷新页面后重试")


def _audit(request: Request, session: portal.Session, action: str, detail: str = "") -> None:
    conn = open_ledger(cfg_of(request).directory)
    try:
        portal.audit(conn, session.user, client_address(request), action, detail)
    finally:
        release(conn)


# ---------------------------------------------------------------------------------------------
# login


def _login_page(request: Request, message: str = "", status: int = 200):
    import secrets

    nonce = secrets.token_urlsafe(24)
    resp = page(request, "login.html", {"csrf": nonce, "message": message}, status=status)
    resp.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", secure=secure_cookie(request), path="/login")
    return resp


@router.get("/login")
def login_form(request: Request):
    return _login_page(request)


@router.post("/login")
async def login(request: Request, name: str = Form(""), password: str = Form(""), csrf: str = Form("")):
    if not portal.csrf_ok(request.cookies.get(LOGIN_COOKIE, ""), csrf):
        return _login_page(request, "页面已过期，请重新登录", status=403)
    cfg = cfg_of(request)

    def attempt():
        conn = open_ledger(cfg.directory)
        try:
            result = portal.check_login(conn, name, password)
            token = portal.new_session(conn, result.user) if result.user else None
            portal.audit(conn, name or "（空）", client_address(request), "登录" if token else "登录失败", "已锁定" if result.locked_until else "")
            return result, token
        finally:
            release(conn)

    if cfg.logins_waiting >= LOGIN_THREADS + LOGIN_QUEUE:
        return _login_page(request, "登录请求过多，请稍后再试", status=429)
    cfg.logins_waiting += 1
    try:
        result, token = await asyncio.get_running_loop().run_in_executor(cfg.login_pool, attempt)
    finally:
        cfg.logins_waiting -= 1
    if token is None:
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        if result.locked_until:
            msg = "登录失败次数过多，该用户名已暂时锁定，请 15 分钟后再试"
        else:
            msg = "用户名或密码不正确"
        return _login_page(request, msg, status=401)
    resp = RedirectResponse("/office", status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookie(request), path="/")
    resp.delete_cookie(LOGIN_COOKIE, path="/login")
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), session: portal.Session = Depends(require)):
    check_csrf(session, csrf)
    conn = open_ledger(cfg_of(request).directory)
    try:
        portal.end_session(conn, request.cookies.get(SESSION_COOKIE, ""))
        portal.audit(conn, session.user, client_address(request), "退出登录")
    finally:
        release(conn)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/")
def root():
    return RedirectResponse("/office", status_code=303)


# ---------------------------------------------------------------------------------------------
# board

SORTS = {
    "name": lambda a: a["name"],
    "status": lambda a: ["invalid", "unreadable", "missing", "valid"].index(a["status"]),
    "received": lambda a: a["received_at"] or "",
    "errors": lambda a: a["errors"],
    "review": lambda a: a["review"],
}


@router.get("/office")
def board(request: Request, q: str = "", status: str = "", review: str = "", sort: str = "name", desc: int = 0,
          session: portal.Session = Depends(require)):
    directory = cfg_of(request).directory
    st = campaign_status(directory)
    contacts = {a.code: a for a in roster(directory)}
    conn = open_ledger(directory)
    try:
        reviews = portal.current_reviews(conn)
        unassigned = len(portal.unassigned(conn))
    finally:
        release(conn)
    rows = []
    for a in st["agencies"]:
        a = dict(a, contact=contacts[a["code"]].contact, email=contacts[a["code"]].email)
        state = reviews.get(a["code"], "") if a["status"] != "missing" else ""
        # Only a valid report waits for a review: one with errors can only be returned (a trial
        # found 待审核 counting reports that could never be approved).
        a["review"] = "" if state == portal.REVIEW_PENDING and a["status"] != "valid" else state
        rows.append(a)
    counts = {s: st["totals"][s] for s in ("valid", "invalid", "unreadable", "missing")}
    review_counts = {r: sum(1 for a in rows if a["review"] == r) for r in portal.REVIEW_STATES}
    needle = agency_key(q)
    shown = [
        a for a in rows
        if (not needle or needle in agency_key(a["name"]) or needle in a["code"] or needle in agency_key(a["contact"]))
        and (not status or a["status"] == status) and (not review or a["review"] == review)
    ]
    shown.sort(key=SORTS.get(sort, SORTS["name"]), reverse=bool(desc))
    return page(request, "board.html", {
        "session": session, "rows": shown, "total": len(rows), "counts": counts, "review_counts": review_counts,
        "q": q, "status": status, "review": review, "sort": sort, "desc": desc, "unassigned": unassigned,
        "review_states": portal.REVIEW_STATES, "quote": quote,
    })


# ---------------------------------------------------------------------------------------------
# one agency


@router.get("/office/agency/{code}")
def agency_page(request: Request, code: str, s: int = 0, again: int = 0, session: portal.Session = Depends(require)):
    conn = open_ledger(cfg_of(request).directory)
    try:
        agency = portal.agency(conn, code)
        if agency is None:
            return not_found(request)
        subs = portal.submissions_of(conn, code)
        for sub in subs:
            sub["findings"] = portal.findings_of(conn, sub["id"])
    finally:
        release(conn)
    return page(request, "office_agency.html", {
        "session": session, "agency": agency, "subs": subs, "current": next((x for x in subs if x["current"]), None),
        "highlight": s, "again": again, "may": portal.MAY[session.role], "max_mb": cfg_of(request).max_upload // (1024 * 1024),
    })


@router.post("/office/agency/{code}/review")
def review(request: Request, code: str, submission: int = Form(...), state: str = Form(""), comment: str = Form(""),
           csrf: str = Form(""), session: portal.Session = Depends(require)):
    check_csrf(session, csrf)
    allowed(session, "review")
    conn = open_ledger(cfg_of(request).directory)
    try:
        sub = portal.submission(conn, submission)
        if sub is None or sub["code"] != code:
            return not_found(request)
        try:
            portal.review(conn, submission, state, comment, session.user, client_address(request))
        except CampaignError as exc:
            raise HTTPException(400, str(exc)) from None
    finally:
        release(conn)
    return RedirectResponse(f"/office/agency/{quote(code)}", status_code=303)


@router.post("/office/agency/{code}/upload")
async def upload_for(request: Request, code: str, session: portal.Session = Depends(require)):
    cfg = cfg_of(request)
    try:
        up = await receive(request, cfg.tmp, cfg.max_upload)
    except UploadError as exc:
        return page(request, "error.html", {"message": exc.message, "back": f"/office/agency/{quote(code)}"}, status=exc.status)
    try:
        check_csrf(session, up.fields.get("csrf"))
        allowed(session, "upload")
        agency = await asyncio.to_thread(_agency, cfg.directory, code)  # SQLite: off the event loop
        if agency is None:
            return not_found(request)
        recorded = await import_upload(request, up.path, up.name, code, f"网页代传（{session.user}）{client_address(request)}", actor=session.user)
    finally:
        await asyncio.to_thread(up.discard)
    return after_upload(request, None, code, recorded, f"/office/agency/{quote(code)}")


def _agency(directory: Path, code: str):
    conn = open_ledger(directory)
    try:
        return portal.agency(conn, code)
    finally:
        release(conn)


def _submission_for_office(request: Request, sid: int) -> dict:
    conn = open_ledger(cfg_of(request).directory)
    try:
        sub = portal.submission(conn, sid)
    finally:
        release(conn)
    if sub is None:
        raise HTTPException(404)
    return sub


@router.get("/office/submission/{sid}/original")
def original(request: Request, sid: int, session: portal.Session = Depends(require)):
    sub = _submission_for_office(request, sid)
    path = cfg_of(request).directory / sub["archive_path"]
    _audit(request, session, "下载原文件", f"报送 {sid}：{sub['file_name']}")
    return download(path, safe_filename(sub["file_name"] or path.name))


@router.get("/office/submission/{sid}/feedback")
async def feedback(request: Request, sid: int, session: portal.Session = Depends(require)):
    sub = _submission_for_office(request, sid)
    if not sub["feedback_path"]:
        raise HTTPException(404)
    _audit(request, session, "下载问题反馈表", f"报送 {sid}：{Path(sub['feedback_path']).name}")
    return await feedback_download(request, sid, "/office")


# ---------------------------------------------------------------------------------------------
# quarantine


@router.get("/office/quarantine")
def quarantine(request: Request, session: portal.Session = Depends(require)):
    directory = cfg_of(request).directory
    conn = open_ledger(directory)
    try:
        files = [dict(r, findings=portal.findings_of(conn, r["id"])) for r in portal.unassigned(conn)]
    finally:
        release(conn)
    return page(request, "quarantine.html", {"session": session, "files": files, "agencies": roster(directory),
                                             "may": portal.MAY[session.role]})


@router.post("/office/quarantine/{sid}/assign")
async def assign(request: Request, sid: int, code: str = Form(""), csrf: str = Form(""), session: portal.Session = Depends(require)):
    check_csrf(session, csrf)
    allowed(session, "assign")
    cfg = cfg_of(request)
    try:
        outcome = await run_in_pool(request, assign_file, cfg.directory, sid, code)
    except CampaignError as exc:
        raise HTTPException(400, str(exc)) from None
    await asyncio.to_thread(_audit, request, session, "分配文件", f"文件 {outcome.name}（SHA-256 {outcome.sha256}）分配给单位 {code}：{outcome.outcome}")
    return RedirectResponse(f"/office/agency/{quote(code)}", status_code=303)


# ---------------------------------------------------------------------------------------------
# campaign actions


def _exports(directory: Path) -> list[Path]:
    folder = directory / EXPORTS
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []


@router.get("/office/actions")
def actions(request: Request, message: str = "", session: portal.Session = Depends(require)):
    directory = cfg_of(request).directory
    files = [(p.name, p.stat().st_size, datetime.fromtimestamp(p.stat().st_mtime, BEIJING).strftime("%Y-%m-%d %H:%M:%S")) for p in _exports(directory)]
    return page(request, "actions.html", {"session": session, "files": files, "message": message, "may": portal.MAY[session.role], "quote": quote})


def _stamp() -> str:
    """The time in a generated file's name: Beijing time, as every page shows it."""
    return datetime.now(BEIJING).strftime("%Y%m%d-%H%M%S")


def _do_action(directory: Path, action: str) -> str:
    """Run one campaign action with the library calls the CLI makes; returns the page message."""
    from ..campaign.store import CampaignStore
    from ..consolidate import ConsolidationError, consolidate_campaign
    from ..export import export_facts
    from ..reader import read_workbook
    from ..render import render_tables

    out = directory / EXPORTS
    out.mkdir(exist_ok=True)
    with CampaignStore.open(directory) as store:
        settings = store.settings()
    label = f"{settings.region}{settings.year or ''}年"
    if action == "remind":
        result = prepare_reminders(directory)
        if result.round is None:
            return f"所有 {result.valid} 个单位均已报送合格的报表，没有需要催报的单位。"
        return (f"已生成第 {result.round} 轮催报邮件 {len(result.reminders)} 封（保存在 {result.folder.relative_to(directory)}），"
                "用 xlsxgov campaign send 发送。")
    if action == "consolidate":
        try:
            result = consolidate_campaign(directory, out / f"{label}政府信息公开工作年度报告统计表（汇总）_{_stamp()}.xlsx")
        except ConsolidationError as exc:
            return f"无法汇总：{exc}"
        total = read_workbook(result.path)
        html = out / f"{label}政府信息公开工作年度报告统计表_{_stamp()}.html"
        html.write_text(render_tables(total.spec, total.values, title=f"{label}政府信息公开工作年度报告（汇总）"), encoding="utf-8")
        out_of = len(result.missing) + len(result.left_out)
        return (f"已汇总 {len(result.included)} 份报表（共 {result.consolidates} 个单位）"
                + (f"，未报送或未汇总 {out_of} 个单位（见汇总工作簿的“未报送”表）" if out_of else "")
                + f"。汇总工作簿：{result.path.name}；网页表格：{html.name}")
    if action in ("facts_csv", "facts_xlsx", "facts_parquet"):
        suffix = action.split("_")[1]
        path = out / f"{label}各单位数据_{_stamp()}.{suffix}"
        result = export_facts([directory], path)
        return f"已导出 {result.rows} 行到 {path.name}"
    if action == "status":
        path = write_status_xlsx(campaign_status(directory), out / f"报送进度_{_stamp()}.xlsx")
        return f"已生成进度表 {path.name}"
    raise HTTPException(400, "未知的操作")


@router.post("/office/actions/{action}")
async def run_action(request: Request, action: str, csrf: str = Form(""), session: portal.Session = Depends(require)):
    check_csrf(session, csrf)
    allowed(session, "act")
    message = await run_in_pool(request, _do_action, cfg_of(request).directory, action)
    await asyncio.to_thread(_audit, request, session, f"任务操作：{action}", message)
    return RedirectResponse(f"/office/actions?message={quote(message)}", status_code=303)


_EXPORT_NAME = re.compile(r"[^/\\\x00]+")


@router.get("/office/exports/{name}")
def export_file(request: Request, name: str, session: portal.Session = Depends(require)):
    # Only a name listed in exports/ is served: the name picks from the listing, never builds a path.
    match = next((p for p in _exports(cfg_of(request).directory) if p.name == name), None) if _EXPORT_NAME.fullmatch(name) else None
    if match is None:
        raise HTTPException(404)
    _audit(request, session, "下载文件", match.name)
    return download(match, match.name)


@router.get("/office/audit")
def audit_page(request: Request, session: portal.Session = Depends(require)):
    allowed(session, "audit")
    conn = open_ledger(cfg_of(request).directory)
    try:
        rows = portal.audit_log(conn)
    finally:
        release(conn)
    return page(request, "audit.html", {"session": session, "rows": rows})
