"""``campaign status``: where each roster agency stands, on screen, as JSON or as a workbook."""

from __future__ import annotations

from pathlib import Path

from ..vocab import STATUS_LABELS
from .store import CampaignStore


def campaign_status(directory: Path | str) -> dict:
    """Where each roster agency stands, and the totals; CampaignError when not a campaign.

    Returns ``{"agencies": [...], "totals": {status: count}, "unassigned": n}``: one dict per
    roster agency in roster order with name, code, region, status (valid | invalid | unreadable
    | missing), errors, warnings, received_at (ISO UTC or None), issued, sent, send_error,
    received (files attributed), reminders (reminder mails sent), feedback (path or None),
    from_report (the current submission was read from a report document by ``xlsxgov.extract``);
    ``unassigned`` counts received files of unknown agencies.
    """
    with CampaignStore.open(directory) as store:
        history = store.history()
        current = store.current()
        from_report = store.report_derived()
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
                    "from_report": cur is not None and cur.id in from_report,  # read from a report document
                }
            )
        unassigned = store.unassigned()
    totals = {s: sum(1 for r in rows if r["status"] == s) for s in ("valid", "invalid", "missing", "unreadable")}
    return {"agencies": rows, "totals": totals, "unassigned": unassigned}


def write_status_xlsx(status: dict, path: Path | str) -> Path:
    """Write ``campaign_status(...)`` as a workbook (sheet 报送进度: one row per agency, then the
    totals); returns ``path``."""
    import xlsxwriter

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("报送进度")
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    headers = ["单位名称", "统一社会信用代码", "已生成模板", "已发送", "收到文件数", "状态", "错误数", "警告数", "最近收到时间", "已催报次数"]
    for c, (h, w) in enumerate(zip(headers, [30, 22, 10, 8, 10, 10, 8, 8, 26, 10])):
        ws.write_string(0, c, h, bold)
        ws.set_column(c, c, w)
    for r, a in enumerate(status["agencies"], start=1):
        ws.write_string(r, 0, a["name"])
        ws.write_string(r, 1, a["code"])
        ws.write_string(r, 2, "是" if a["issued"] else "否")
        ws.write_string(r, 3, "是" if a["sent"] else ("失败" if a["send_error"] else "否"))
        ws.write_number(r, 4, a["received"])
        ws.write_string(r, 5, STATUS_LABELS[a["status"]] + ("（取自年度报告）" if a["from_report"] else ""))
        ws.write_number(r, 6, a["errors"])
        ws.write_number(r, 7, a["warnings"])
        ws.write_string(r, 8, a["received_at"] or "")
        ws.write_number(r, 9, a["reminders"])
    r = len(status["agencies"]) + 2
    for i, s in enumerate(("valid", "invalid", "unreadable", "missing")):
        ws.write_string(r + i, 0, STATUS_LABELS[s], bold)
        ws.write_number(r + i, 1, status["totals"][s])
    ws.freeze_panes(1, 0)
    wb.close()
    return path
