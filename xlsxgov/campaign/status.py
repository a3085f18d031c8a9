"""``campaign status``: where each roster agency stands, on screen, as JSON or as a workbook."""

from __future__ import annotations

from pathlib import Path

from ..vocab import STATUS_LABELS
from .store import current_by_code, open_ledger


def campaign_status(directory: Path | str) -> dict:
    """Per agency: issued, sent, received, status of the current submission; plus totals."""
    conn = open_ledger(directory)
    try:
        issued = {r[0]: r[1] for r in conn.execute("SELECT code, MAX(at) FROM issued GROUP BY code")}
        sent_ok = {r[0]: r[1] for r in conn.execute("SELECT code, MAX(at) FROM sent WHERE error IS NULL GROUP BY code")}
        sent_err = {r[0]: r[1] for r in conn.execute("SELECT code, error FROM sent WHERE error IS NOT NULL ORDER BY at")}
        received = {r[0]: r[1] for r in conn.execute("SELECT code, COUNT(*) FROM submissions WHERE code IS NOT NULL GROUP BY code")}
        reminded = {r[0]: r[1] for r in conn.execute("SELECT code, COUNT(*) FROM reminders WHERE sent_at IS NOT NULL GROUP BY code")}
        current = current_by_code(conn)
        from_report = {r[0] for r in conn.execute("SELECT submission_id FROM submission_meta WHERE key='source' AND value='report'")}
        rows = []
        for a in conn.execute("SELECT code, name, region FROM agencies ORDER BY rowid"):
            cur = current.get(a["code"])
            rows.append(
                {
                    "name": a["name"],
                    "code": a["code"],
                    "region": a["region"] or "",
                    "status": cur["status"] if cur else "missing",
                    "errors": cur["errors"] if cur else 0,
                    "warnings": cur["warnings"] if cur else 0,
                    "received_at": cur["received_at"] if cur else None,
                    "issued": a["code"] in issued,
                    "sent": a["code"] in sent_ok,
                    "send_error": None if a["code"] in sent_ok else sent_err.get(a["code"]),
                    "received": received.get(a["code"], 0),
                    "reminders": reminded.get(a["code"], 0),  # reminders sent (campaign remind + send)
                    "feedback": cur["feedback_path"] if cur else None,
                    "from_report": cur is not None and cur["id"] in from_report,  # read from a report document, not a workbook
                }
            )
        unassigned = conn.execute("SELECT COUNT(*) FROM submissions WHERE code IS NULL").fetchone()[0]
    finally:
        conn.close()
    totals = {s: sum(1 for r in rows if r["status"] == s) for s in ("valid", "invalid", "missing", "unreadable")}
    return {"agencies": rows, "totals": totals, "unassigned": unassigned}


def write_status_xlsx(status: dict, path: Path | str) -> Path:
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
