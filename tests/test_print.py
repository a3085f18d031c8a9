"""Generated workbooks on paper (issue #9, point 8): the demo's template, feedback, status and
consolidated workbooks, printed to PDF by LibreOffice through docs/pictures.py (the script
that makes the README pictures). Every printed sheet fits its page width (its first and last
header columns are on every one of its pages), 明细 repeats the agency name on every page,
every page footer names the sheet and 第 N 页 共 M 页, and every workbook opens with one sheet
selected.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import range_boundaries

from xlsxgov import office
from xlsxgov.consolidate import DETAIL_SHEET
from xlsxgov.template import COVER_SHEET

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))
import pictures  # noqa: E402


@pytest.fixture(scope="module")
def printed(soffice, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("print")
    workbooks = pictures.demo_workbooks(tmp)
    return workbooks, pictures.printed(workbooks, tmp)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def header_ends(ws) -> tuple[str, str] | None:
    """Texts of the leftmost and the rightmost header cells of the rows repeated on every page."""
    titles = ws.print_title_rows
    if not titles:
        return None
    first, last = (int(x) for x in titles.replace("$", "").split(":"))
    anchors = [(c.column, c.value) for row in ws.iter_rows(min_row=first, max_row=last) for c in row if isinstance(c.value, str) and c.value.strip()]
    return min(anchors)[1], max(anchors)[1]


@pytest.mark.office
@pytest.mark.parametrize("name", ["template", "feedback", "status", "consolidated"])
def test_every_printed_sheet_fits_its_page_width(printed, name) -> None:
    workbooks, pdfs = printed
    pdf, pages = pdfs[name]
    texts = office.pdf_page_texts(pdf, layout=False)
    wb = openpyxl.load_workbook(workbooks[name])
    visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert [ws.title for ws in visible if ws.sheet_view.tabSelected] == [wb.active.title]  # one selected sheet
    for ws in visible:
        sheet_pages = pages[ws.title]
        assert sheet_pages, f"{name}: sheet {ws.title} printed no page naming it"
        footer = ws.oddFooter
        assert "&A" in (footer.center.text or "") and "&P" in (footer.right.text or "") and "&N" in (footer.right.text or ""), ws.title
        if ws.title == COVER_SHEET:
            assert len(sheet_pages) == 1  # the cover and its 填报说明: one page
        if ws.title == DETAIL_SHEET:  # hundreds of columns: pages run across, agency repeated
            assert ws.print_title_cols == "$A:$B"
            for n in sheet_pages:
                assert "单位名称" in squeeze(texts[n - 1]), (name, n)
            continue
        assert (ws.page_setup.fitToWidth or 1) == 1 and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title  # 1 is written as the default
        ends = header_ends(ws)
        if ends is None:
            continue
        for n in sheet_pages:
            page = squeeze(texts[n - 1])
            for text in ends:
                assert squeeze(text) in page, (name, ws.title, n, text)


@pytest.mark.office
def test_footers_name_who(printed) -> None:
    """The statutory sheets' footers name the agency (the stamped template, feedback) or the
    region (consolidation)."""
    workbooks, pdfs = printed
    for name, who in (("template", None), ("feedback", None), ("consolidated", "（汇总）")):
        pdf, pages = pdfs[name]
        texts = office.pdf_page_texts(pdf)
        wb = openpyxl.load_workbook(workbooks[name], read_only=True)
        agency = next(row[1] for row in wb["_xlsxgov"].iter_rows(values_only=True) if row and row[0] == "agency")
        wb.close()
        assert who is None or agency.endswith(who)
        sheet = "三、收到和处理政府信息公开申请情况"
        assert pages[sheet]
        for n in pages[sheet]:
            footer = [ln for ln in texts[n - 1].splitlines() if ln.strip()][-1]
            assert squeeze(agency) in squeeze(footer) and re.search(r"第\s*\d+\s*页\s*共\s*\d+\s*页", footer), (name, footer)


def test_check_sheet_rows_fit_their_text(tmp_path: Path) -> None:
    """校验 rows are tall enough for their wrapped 范围 and 检查内容 (neither office suite grows
    a row of a file it did not write)."""
    from xlsxgov import spec as spec_mod
    from xlsxgov.template import CHECK_FIRST_ROW, CHECK_SHEET, CHECK_WIDTHS, SCOPE_COL, Meta, _display_width, write_template

    spec = spec_mod.load("gov2021")
    path = write_template(tmp_path / "t.xlsx", spec, Meta(year=2025, agency="测试局"))
    ws = openpyxl.load_workbook(path)[CHECK_SHEET]
    for i in range(len(spec.instances())):
        r = CHECK_FIRST_ROW + i + 1
        scope, message = ws.cell(r, SCOPE_COL + 1).value, ws.cell(r, 4).value
        lines = max(-(-_display_width(scope) // (CHECK_WIDTHS[SCOPE_COL] - 1)), -(-_display_width(message) // (CHECK_WIDTHS[3] - 1)))
        assert ws.row_dimensions[r].height >= 13 * lines, (r, scope, ws.row_dimensions[r].height)
    assert range_boundaries(ws.print_area.split("!")[-1].replace("$", ""))[2] == len(CHECK_WIDTHS)


def test_status_workbook_serves_the_chaser(printed) -> None:
    """报送进度.xlsx (point 10): totals at the top, Beijing time to the minute, status coloured,
    why, contact, phone and e-mail, reminders, autofilter."""
    from datetime import datetime, timedelta

    from xlsxgov.campaign.status import STATUS_COLOURS, STATUS_HEADERS, campaign_status
    from xlsxgov.vocab import STATUS_LABELS

    workbooks, _ = printed
    path = workbooks["status"]
    status = campaign_status(path.parent.parent / "campaign")
    ws = openpyxl.load_workbook(path)["报送进度"]
    data = openpyxl.load_workbook(path, data_only=True)["报送进度"]
    header = [c.value for c in ws[5]]
    assert header == [h for h, _ in STATUS_HEADERS]
    col = {h: i for i, h in enumerate(header)}
    assert ws.auto_filter.ref == f"A5:{openpyxl.utils.get_column_letter(len(header))}{5 + len(status['agencies'])}"
    # Totals above the table, in the words and numbers of campaign status.
    totals = {data.cell(3, c).value: data.cell(4, c).value for c in range(2, 8)}
    assert totals["应报单位"] == len(status["agencies"])
    for s in ("valid", "invalid", "unreadable", "missing"):
        assert totals[STATUS_LABELS[s]] == status["totals"][s], s
    assert {s for s in ("valid", "invalid", "unreadable", "missing") if status["totals"][s]} == {"valid", "invalid", "unreadable", "missing"}
    for i, a in enumerate(status["agencies"]):
        row = [c for c in ws[6 + i]]
        assert row[col["单位名称"]].value == a["name"]
        assert row[col["状态"]].value == STATUS_LABELS[a["status"]]
        assert row[col["状态"]].fill.fgColor.rgb.endswith(STATUS_COLOURS[a["status"]].lstrip("#")), a["name"]
        assert row[col["联系人"]].value == a["contact"] and a["contact"]
        assert row[col["电子邮箱"]].value == a["email"] and "@" in a["email"]
        assert row[col["已催报次数"]].value == a["reminders"]
        when = row[col["最近收到（北京时间）"]].value
        if a["received_at"]:
            utc = datetime.fromisoformat(a["received_at"])
            assert when == (utc + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M"), (when, a["received_at"])
        else:
            assert when in ("", None)
        reason = row[col["说明"]].value
        assert bool(reason) == (a["status"] != "valid" or a["warnings"] > 0), (a["name"], reason)
        if a["status"] in ("valid", "invalid"):
            assert row[col["联系电话"]].value, a["name"]  # from the agency's cover
