"""The agency's pages, reached only through its secret link /a/<token>: status, template,
upload with an immediate verdict, feedback, history, the office's review comment, 回执."""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..campaign import portal
from ..campaign.letters import default_deadline
from .common import (
    Recorded, agency_csrf, cfg_of, client_address, download, feedback_download, import_upload, not_found, open_ledger, page, release,
)
from .upload import UploadError, receive

router = APIRouter(include_in_schema=False)


def _context(request: Request, token: str):
    """(connection, agency row, settings) of a live link; None for a wrong or revoked one."""
    conn = open_ledger(cfg_of(request).directory)
    row = portal.link_agency(conn, token)
    if row is None:
        release(conn)
        return None
    return conn, row, portal.settings(conn)


def _year(settings: dict) -> int:
    return int(settings.get("year") or 0)


@router.get("/a/{token}")
def agency_home(request: Request, token: str):
    return _agency_page(request, token, None)


@router.get("/a/{token}/s/{sid}")
def agency_submission(request: Request, token: str, sid: int, again: int = 0):
    return _agency_page(request, token, sid, again)


def _agency_page(request: Request, token: str, sid: int | None, again: int = 0):
    """The agency's page, showing the verdict of submission ``sid`` (default: the current one)."""
    ctx = _context(request, token)
    if ctx is None:
        return not_found(request)
    conn, agency, settings = ctx
    try:
        subs = portal.submissions_of(conn, agency["code"])
        current = next((s for s in subs if s["current"]), None)
        shown = current if sid is None else next((s for s in subs if s["id"] == sid), None)
        if sid is not None and shown is None:  # not this agency's
            return not_found(request)
        year = _year(settings)
        return page(request, "agency.html", {
            "token": token, "agency": agency, "year": year, "region": settings.get("region", ""),
            "deadline": default_deadline(year) if year else None, "subs": subs, "current": current, "shown": shown,
            "again": again, "findings": portal.findings_of(conn, shown["id"]) if shown else [], "csrf": agency_csrf(request, token),
            "max_mb": cfg_of(request).max_upload // (1024 * 1024),
        })
    finally:
        release(conn)


def _own_submission(request: Request, token: str, sid: int):
    """(agency, settings, submission) when the live link's agency owns submission ``sid``, else None."""
    ctx = _context(request, token)
    if ctx is None:
        return None
    conn, agency, settings = ctx
    try:
        sub = portal.submission(conn, sid)
    finally:
        release(conn)
    return (agency, settings, sub) if sub is not None and sub["code"] == agency["code"] else None


@router.post("/a/{token}/upload")
async def agency_upload(request: Request, token: str):
    cfg = cfg_of(request)
    agency = await asyncio.to_thread(_link_agency, cfg.directory, token)  # SQLite: off the event loop
    if agency is None:
        return not_found(request)
    try:
        up = await receive(request, cfg.tmp, cfg.max_upload)
    except UploadError as exc:
        return page(request, "error.html", {"message": exc.message, "back": f"/a/{token}"}, status=exc.status)
    try:
        if not portal.csrf_ok(agency_csrf(request, token), up.fields.get("csrf")):
            return page(request, "error.html", {"message": "页面已过期，请刷新页面后重新上传", "back": f"/a/{token}"}, status=403)
        recorded = await import_upload(request, up.path, up.name, agency["code"], f"网页上传（单位链接）{client_address(request)}",
                                       actor=f"单位：{agency['name']}", own_only=True)
    finally:
        await asyncio.to_thread(up.discard)
    return after_upload(request, token, agency["code"], recorded, f"/a/{token}")


def _link_agency(directory, token: str):
    """The roster agency a live link opens, else None (``portal.link_agency``)."""
    conn = open_ledger(directory)
    try:
        return portal.link_agency(conn, token)
    finally:
        release(conn)


def after_upload(request: Request, token: str | None, code: str, recorded: Recorded, back: str) -> Response:
    """Send the browser to the submission's verdict (POST → redirect → GET); the upload was
    recorded and audited in the pool (``common.record_uploads``)."""
    if recorded.outcome.outcome == "skipped":  # refused as it is (another agency's report): nothing recorded
        return page(request, "error.html", {"message": recorded.outcome.reason, "back": back}, status=422)
    if recorded.submission is None or recorded.code != code:  # the same bytes were recorded before, for nobody or someone else
        return page(request, "error.html", {"message": "这个文件此前已经收到过，已登记为其他单位的报送或待分配的文件，不再重复登记。"
                                            "请检查是否选错了文件；如确是本单位的报表，请联系汇总单位处理。", "back": back}, status=409)
    target = f"{back}/s/{recorded.submission}" if token else f"{back}?s={recorded.submission}"
    if recorded.outcome.outcome == "duplicate":
        target += ("&" if "?" in target else "?") + "again=1"
    return RedirectResponse(target, status_code=303)


@router.get("/a/{token}/s/{sid}/feedback")
async def agency_feedback(request: Request, token: str, sid: int):
    own = _own_submission(request, token, sid)
    if own is None or not own[2]["feedback_path"]:
        return not_found(request)
    return await feedback_download(request, sid, f"/a/{token}/s/{sid}")


@router.get("/a/{token}/s/{sid}/receipt")
def agency_receipt(request: Request, token: str, sid: int):
    own = _own_submission(request, token, sid)
    if own is None or own[2]["status"] != "valid":
        return not_found(request)
    agency, settings, sub = own
    return page(request, "receipt.html", {"agency": agency, "sub": sub, "year": _year(settings), "region": settings.get("region", ""), "token": token})


@router.get("/a/{token}/template")
def agency_template(request: Request, token: str):
    """The template ``campaign issue`` made for the link's agency, found by its code in the
    ledger (table ``issued``), served only when the file still has the bytes issued to it: a
    file name could be shared (an older campaign's ``示例市/教育局`` and ``示例县/教育局`` both
    wrote ``教育局_…xlsx``), and another agency's template would print that agency's link."""
    ctx = _context(request, token)
    if ctx is None:
        return not_found(request)
    conn, agency, _ = ctx
    try:
        row = portal.issued_template_of(conn, agency["code"])
    finally:
        release(conn)
    if row is None or not row[1]:
        return not_found(request)
    outbox = cfg_of(request).directory / "outbox"
    path = cfg_of(request).directory / row[0]
    try:
        same = path.resolve().parent == outbox.resolve() and hashlib.sha256(path.read_bytes()).hexdigest() == row[1]
    except OSError:
        same = False
    if not same:
        return not_found(request)
    return download(path, path.name, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
