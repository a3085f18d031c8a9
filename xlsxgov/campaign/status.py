"""``campaign status``: where each roster agency stands, on screen, as JSON or as a workbook."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..vocab import STATUS_LABELS
from ..vocab import REVIEW_APPROVED, REVIEW_PENDING
from .ledger import current_reviews
from .store import CampaignStore


def campaign_status(directory: Path | str) -> dict:
    """Where each roster agency stands, and the totals; CampaignError when not a campaign.

    Returns ``{"agencies": [...], "totals": {status: count}, "unassigned": n}``: one dict per
    roster agency in roster order with name, code, region, status (valid | invalid | unreadable
    | missing), errors, warnings, received_at (ISO UTC or None), issued, sent, send_error,
    received (files attributed), reminders (reminder mails sent), feedback (where the current
    submission's feedback workbook goes, relative to the folder, built when first asked for:
    ``campaign.feedback``; or None),
    reason (why the agency needs action, in Chinese: the first error of an invalid submission, a
    wrong year or an unchanged template first; why a file could not be read; "" otherwise) and
    file (the current submission's file name as the agency sent it; "" when none) and
    file_label (that name quoted, and the mail it came in: how a clerk is shown it);
    from_report (the current submission was read from a report document by ``xlsxgov.extract``);
    check (warnings of ``CHECK_RULES`` a human must settle, in Chinese, whatever the status: on
    the current submission, or on a file held back because its agency is in doubt; "" for none);
    review ((state, comment) of the portal's 审核 of the current report: 审核通过 or 退回修改;
    ("", "") when never reviewed); ``unassigned`` counts received files of unknown agencies. Also contact and email (roster)
    and phone (the current submission's cover, else the roster) for the status workbook.
    """
    with CampaignStore.open(directory) as store:
        history = store.history()
        current = store.current()
        from_report = store.report_derived()
        checks = store.needs_check(CHECK_RULES)
        reviews = current_reviews(store.conn)
        rows = []
        for a in store.roster():
            cur = current.get(a.code)
            h = history[a.code]
            rows.append(
                {
                    "name": a.name,
                    "code": a.code,
                    "region": a.region,
                    "status": cur.status if cur else "missing",
                    "errors": cur.errors if cur else 0,
                    "warnings": cur.warnings if cur else 0,
                    "received_at": cur.received_at if cur else None,
                    "issued": h["issued"],
                    "sent": h["sent"],
                    "send_error": h["send_error"],
                    "received": h["received"],
                    "reminders": h["reminders"],  # reminders sent (campaign remind + send)
                    "feedback": cur.feedback_path if cur else None,
                    "reason": _first_problem(store, cur),
                    "file": cur.file_name if cur else "",
                    "file_label": store.label_of(cur.id) if cur else "",
                    "from_report": cur is not None and cur.id in from_report,  # read from a report document
                    # The portal's 审核 of the current report: 审核通过 or 退回修改, with the comment;
                    # "" when never reviewed (found by a trial: the workbook did not say it).
                    "review": _reviewed(reviews.get(a.code)) if cur else ("", ""),
                    "check": "；".join(
                        message if current else f"{message}（文件{store.label_of(sid)}未作为当前报表）"
                        for message, sid, current in checks.get(a.code, [])
                    ),
                }
            )
        unassigned = store.unassigned()
    totals = {s: sum(1 for r in rows if r["status"] == s) for s in ("valid", "invalid", "missing", "unreadable")}
    _add_contacts(directory, rows)
    return {"agencies": rows, "totals": totals, "unassigned": unassigned}


# Warnings that ask the office, not the agency, to decide whose report a file is (importer
# ``_record_one``): ``campaign status --problems`` and the status workbook list them even for an
# agency whose report is valid (found by a new user's trial: nothing showed them after import).
CHECK_RULES = ("agency.channel_other", "agency.cover_other")


def _first_problem(store: CampaignStore, cur) -> str:
    if cur is None or cur.status == "valid":
        return ""
    if cur.status == "unreadable":
        return store.unreadable_reason(cur.id)
    errors = store.errors_of(cur.id)
    return errors[0][2] if errors else ""


# China has kept UTC+8 without daylight saving since 1991: a fixed offset is exact for every
# campaign, with no time-zone database to install.
BEIJING = timezone(timedelta(hours=8), "北京时间")
STATUS_COLOURS = {"valid": "#C6EFCE", "invalid": "#FFC7CE", "unreadable": "#FFEB9C", "missing": "#D9D9D9"}
STATUS_HEADERS = [
    ("序号", 5), ("单位名称", 28), ("状态", 10), ("说明", 42), ("联系人", 8), ("联系电话", 14), ("电子邮箱", 24),
    ("最近收到（北京时间）", 17), ("收到文件数", 6), ("已催报次数", 6), ("模板已发送", 7), ("统一社会信用代码", 20),
    ("错误数", 5), ("警告数", 5),
]


def beijing_time(iso: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A ledger time (ISO 8601, UTC) as Beijing time in ``fmt`` (``2025-01-12 09:30``), whatever
    the machine's time zone; "" for none, the text itself when it is not a time. The one
    conversion of the CLI, the workbooks and the portal's pages."""
    if not iso:
        return ""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(BEIJING).strftime(fmt)


def _reviewed(review: tuple[str, str] | None) -> tuple[str, str]:
    """(state, comment) of a review that happened; ("", "") for a report still 待审核."""
    return review if review and review[0] != REVIEW_PENDING else ("", "")


def _reason(a: dict) -> str:
    """Why an agency needs action (the status workbook's 说明): its problem, the office's
    return with its comment, then the warnings the office must settle (``check``)."""
    state, comment = a.get("review") or ("", "")
    returned = f"{state}：{comment}" if state and state != REVIEW_APPROVED else ""
    return "；".join(x for x in (_problem(a), returned, a.get("check", "")) if x)


def _problem(a: dict) -> str:
    if a.get("reason"):
        return a["reason"]
    if a["status"] == "missing":
        if not a.get("email"):
            return "尚未收到报表（名册中没有电子邮箱，未发邮件）"
        if a.get("send_error"):
            return f"模板邮件发送失败：{a['send_error']}"
        return "尚未收到报表" if a.get("sent") else "尚未收到报表（模板邮件未发送）"
    if a["status"] == "invalid":
        return f"有{a['errors']}处错误，详见问题反馈工作簿" if a.get("feedback") else f"有{a['errors']}处错误"
    if a["status"] == "unreadable":
        return "文件无法读取，请单位另存为 .xlsx 后重发"
    return f"有{a['warnings']}处警告，请核对" if a.get("warnings") else ""


def _add_contacts(directory: Path | str, rows: list[dict]) -> None:
    """E-mail from the roster; contact person and phone as a pair, from the current submission's
    cover when it gives either (who filled it in), else the roster's 联系人 and 联系电话 (so an
    agency that has sent nothing can be phoned): never one person's name beside another's
    number (found by a trial)."""
    with CampaignStore.open(directory) as store:
        roster = {a.code: a for a in store.roster()}
        phones = store.current_meta("phone")
        contacts = store.current_meta("contact")
    for row in rows:
        who = roster.get(row["code"])
        row["email"] = who.email if who else ""
        cover = (contacts.get(row["code"], "") or "", phones.get(row["code"], "") or "")
        row["contact"], row["phone"] = cover if any(cover) else ((who.contact, who.phone) if who else ("", ""))


def write_status_xlsx(status: dict, path: Path | str, *, title: str = "报送进度") -> Path:
    """The status workbook for whoever chases agencies (issue #9, point 10): totals at the top,
    one row per roster agency with its status coloured, why it needs action, contact person,
    phone (from the agency's cover) and e-mail (from the roster), when its last file came
    (Beijing time, to the minute) and how many reminders were sent; autofilter; printed
    landscape, one page wide, header repeated."""
    import xlsxwriter

    from ..template import print_setup, text_rows

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False})
    ws = wb.add_worksheet("报送进度")
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1}
    head = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "align": "center", "text_wrap": True})
    cell = wb.add_format({**base, "text_wrap": True})
    number = wb.add_format({**base, "align": "right"})
    title_fmt = wb.add_format({"font_name": "黑体", "font_size": 14, "bold": True, "valign": "vcenter"})
    coloured = {s: wb.add_format({**base, "bold": True, "align": "center", "text_wrap": True, "bg_color": c}) for s, c in STATUS_COLOURS.items()}
    agencies = status["agencies"]
    now = datetime.now(timezone.utc).isoformat()
    ws.merge_range(0, 0, 0, 7, f"{title}（统计时间：{beijing_time(now)}，北京时间）", title_fmt)
    ws.set_row(0, 24)
    # Totals at the top, counted by formulas over the status column (they follow the table).
    first, last = 5, 5 + max(len(agencies), 1) - 1
    status_col = f"$C${first + 1}:$C${last + 1}"
    totals = [("应报单位", f"=COUNTA($B${first + 1}:$B${last + 1})", len(agencies))]
    totals += [(STATUS_LABELS[s], f'=COUNTIF({status_col},"{STATUS_LABELS[s]}")', status["totals"][s]) for s in ("valid", "invalid", "unreadable", "missing")]
    totals.append(("已催报次数", f"=SUM($J${first + 1}:$J${last + 1})", sum(a["reminders"] for a in agencies)))
    by_label = {t: s for s, t in STATUS_LABELS.items()}
    for c, (label, formula, value) in enumerate(totals, start=1):
        ws.write_string(2, c, label, coloured.get(by_label.get(label, ""), head))
        ws.write_formula(3, c, formula, number, value)
    for c, (h, w) in enumerate(STATUS_HEADERS):
        ws.write_string(first - 1, c, h, head)
        ws.set_column(c, c, w)
    ws.set_row(first - 1, 30)
    for i, a in enumerate(agencies):
        r = first + i
        reason = _reason(a)
        ws.write_number(r, 0, i + 1, number)
        ws.write_string(r, 1, a["name"], cell)
        state = (a.get("review") or ("", ""))[0]
        shown = STATUS_LABELS[a["status"]] + ("（取自年度报告）" if a.get("from_report") else "") + (f"，{state}" if state else "")
        ws.write_string(r, 2, shown, coloured[a["status"]])
        ws.write_string(r, 3, reason, cell)
        ws.write_string(r, 4, a.get("contact", ""), cell)
        ws.write_string(r, 5, a.get("phone", ""), cell)
        ws.write_string(r, 6, a.get("email", ""), cell)
        ws.write_string(r, 7, beijing_time(a["received_at"]), cell)
        ws.write_number(r, 8, a["received"], number)
        ws.write_number(r, 9, a["reminders"], number)
        ws.write_string(r, 10, "是" if a["sent"] else ("失败" if a["send_error"] else "否"), cell)
        ws.write_string(r, 11, a["code"], cell)
        ws.write_number(r, 12, a["errors"], number)
        ws.write_number(r, 13, a["warnings"], number)
        ws.set_row(r, text_rows([(a["name"], 28), (reason, 42), (a.get("email", ""), 24), (shown, 10)], line=13, minimum=16))
    ws.autofilter(first - 1, 0, last, len(STATUS_HEADERS) - 1)
    ws.freeze_panes(first, 2)
    print_setup(ws, landscape=True, repeat=(first - 1, first - 1), footer="&L" + title.replace("&", "&&") + "&C&A&R第 &P 页 共 &N 页")
    ws.activate()
    wb.close()
    return path
