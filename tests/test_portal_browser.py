"""End to end in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)
against a real `xlsxgov serve` process on 127.0.0.1: the whole scenario of issue #10.

Screenshots of each page go to $XLSXGOV_SCREENSHOTS when set (docs/portal/ holds the README's),
else to the test's temp folder.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from portal_server import AGENCIES, PASSWORDS, XLSXGOV, Server, free_port, make_campaign, reply
from xlsxgov.validate import validate_paths

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--lang=zh-CN"]


def _need(what: str, ok: bool) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is required in CI")
        pytest.skip(f"{what} not available")


@pytest.fixture
def browser(tmp_path):
    _need("chromium", Path(CHROMIUM).is_file())
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright (Python)", False)
    with sync_playwright() as p:
        # A fresh profile folder: nothing from an earlier run (cookies, cache) can leak in.
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS, accept_downloads=True,
            viewport={"width": 1280, "height": 900}, locale="zh-CN",
        )
        context.set_default_timeout(60_000)
        yield context
        context.close()


def test_agency_and_office_in_chromium(browser, tmp_path):
    shots = Path(os.environ.get("XLSXGOV_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    port = free_port()
    d = tmp_path / "c"
    links = make_campaign(d, port)
    code, name = AGENCIES[0][1], AGENCIES[0][0]
    bad = reply(d, 0, tmp_path / "统计表.xlsx", broken=True, contact="张三")
    good = reply(d, 0, tmp_path / "统计表（修改后）.xlsx", broken=False, contact="张三")
    corrected = reply(d, 0, tmp_path / "统计表（按意见修改）.xlsx", broken=False, contact="张三（改）")
    server = Server(d, port).start()
    try:
        page = browser.new_page()
        shot = lambda n: page.screenshot(path=str(shots / f"{n}.png"), full_page=True)  # noqa: E731

        # 1. The agency opens its link and drops a workbook with a balance error on the page.
        page.goto(links[code])
        assert page.inner_text("#current-status") == "未报送"
        assert name in page.inner_text("h1")
        shot("01-agency-link")
        data = base64.b64encode(bad.read_bytes()).decode()
        with page.expect_navigation():
            page.evaluate(
                """([data, name]) => {
                    const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
                    const dt = new DataTransfer();
                    dt.items.add(new File([bytes], name));
                    document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
                }""",
                [data, bad.name],
            )
        page.wait_for_selector("#verdict")
        assert page.inner_text("#verdict-status") == "有错误"
        expected = [f for f in validate_paths([bad])[0].findings if f.severity == "error"]
        rows = page.locator("table.findings tbody tr").all_inner_texts()
        for f in expected:
            assert any(f.cell in r and f.message in r for r in rows), (f, rows)
        shot("02-agency-errors")

        # 2. It downloads the feedback workbook: the problem cells are marked.
        with page.expect_download() as dl:
            page.click("#feedback-link")
        fb = tmp_path / dl.value.suggested_filename
        dl.value.save_as(fb)
        assert "问题反馈" in fb.name and openpyxl.load_workbook(fb).sheetnames

        # 3. It uploads the corrected file with the file picker: 合格, and a receipt.
        page.set_input_files("#file", str(good))
        with page.expect_navigation():
            page.click("#upload-button")
        assert page.inner_text("#verdict-status") == "合格"
        shot("03-agency-valid")
        page.click("#receipt-link")
        assert page.inner_text("#receipt-sha") == hashlib.sha256(good.read_bytes()).hexdigest()
        shot("04-receipt")

        # 4. The office logs in and sees the board changed.
        office = browser.new_page()
        oshot = lambda n: office.screenshot(path=str(shots / f"{n}.png"), full_page=True)  # noqa: E731
        office.goto(server.base + "/office")
        assert office.url.endswith("/login")
        office.fill("input[name=name]", "reviewer")
        office.fill("input[name=password]", PASSWORDS["reviewer"])
        oshot("05-login")
        with office.expect_navigation():
            office.click("button[type=submit]")
        counts = office.inner_text("#counts")
        assert "合格 1" in counts and f"未报送 {len(AGENCIES) - 1}" in counts
        assert "待审核" in office.inner_text("#board")
        oshot("06-board")

        # 5. It returns the submission with a comment.
        office.click(f"text={name}")
        office.fill("#review-comment", "表三第一项与上年结转数不符，请核对后重新报送。")
        oshot("07-office-agency")
        with office.expect_navigation():
            office.click("#return")
        assert office.inner_text("#review-state") == "退回修改"

        # 6. The agency sees the comment on its page.
        page.goto(links[code])
        assert "表三第一项与上年结转数不符" in page.inner_text("#office-comment")
        assert page.inner_text("#current-review") == "退回修改"
        assert "已退回修改" in page.inner_text("#returned-note")
        shot("08-agency-returned")

        # 7. An administrator consolidates: a returned report is not added up, and says so.
        office.click("text=退出")
        office.fill("input[name=name]", "admin")
        office.fill("input[name=password]", PASSWORDS["admin"])
        with office.expect_navigation():
            office.click("button[type=submit]")
        office.goto(server.base + "/office/actions")
        with office.expect_navigation():
            office.click("#action-consolidate")
        assert "退回修改 1 个" in office.inner_text("#action-message")

        # 8. The agency sends its corrected file; the administrator consolidates and downloads
        # a workbook that `validate` accepts.
        page.set_input_files("#file", str(corrected))
        with page.expect_navigation():
            page.click("#upload-button")
        assert page.inner_text("#verdict-status") == "合格" and page.inner_text("#current-review") == "待审核"
        office.goto(server.base + "/office/actions")
        with office.expect_navigation():
            office.click("#action-consolidate")
        assert "已汇总 1 份报表" in office.inner_text("#action-message")
        oshot("09-actions")
        with office.expect_download() as dl:
            office.click("#exports a[href$='.xlsx']")
        regional = tmp_path / dl.value.suggested_filename
        dl.value.save_as(regional)
        assert "汇总" in regional.name
        assert subprocess.run([XLSXGOV, "validate", str(regional)], capture_output=True).returncode == 0
        office.goto(server.base + "/office/audit")
        oshot("10-audit")
        audit = office.inner_text("#audit")
        assert "审核：退回修改" in audit and "上传报表" in audit and "任务操作：consolidate" in audit
    finally:
        server.kill()
    assert links[code].rsplit("/", 1)[1] not in server.output()
