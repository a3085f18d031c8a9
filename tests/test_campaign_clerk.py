"""The collection loop a clerk can trust (issue #9, campaign side): wrong year, edition or an
untouched template caught at import; the office's own address on every mail; assign and withdraw."""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import shutil
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from xlsxgov import spec as spec_mod
from xlsxgov.campaign import status as status_mod
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.remind import prepare_reminders
from xlsxgov.template import Meta, write_workbook

sys.path.insert(0, str(Path(__file__).parent))
from test_campaign import AGENCIES, Collector, cli, code_for, flat, smtp_server, write_roster  # noqa: E402,F401
from test_consolidate import random_inputs  # noqa: E402

YEAR = 2025
OFFICE = "示例县政务公开办 <zwgk@example.gov.cn>"


def reply(path: Path, i: int, *, year: int = YEAR, edition: str = "gov2021", seed: int | None = None) -> Path:
    spec = spec_mod.load(edition)
    name, code, region, _ = AGENCIES[i]
    values = random_inputs(spec, random.Random(i if seed is None else seed))
    return write_workbook(path, spec, Meta(year=year, agency=name, code=code, region=region), values=values)


@pytest.fixture(scope="module")
def issued(tmp_path_factory) -> Path:
    """A campaign initialised and issued through the CLI, once per module."""
    tmp_path = tmp_path_factory.mktemp("issued")
    d = tmp_path / "c"
    cli("init", d, "--year", YEAR, "--roster", write_roster(tmp_path / "roster.csv"), "--region", "示例县",
        "--sender", OFFICE, "--contact", "张敏", "--phone", "0591-12345678")
    cli("issue", d)
    return d


@pytest.fixture
def campaign(issued: Path, tmp_path: Path) -> Path:
    """A fresh copy of the issued campaign for each test (the ledger records only paths
    relative to its folder)."""
    return Path(shutil.copytree(issued, tmp_path / "c"))


def agency_status(d: Path, i: int) -> dict:
    return next(a for a in status_mod.campaign_status(d)["agencies"] if a["code"] == AGENCIES[i][1])


# --- point 3: wrong year, wrong edition, untouched template: errors at import --------------------


def test_last_years_file_is_an_error_at_import_and_is_reminded(campaign: Path):
    reply(campaign / "inbox" / "去年的表.xlsx", 0, year=YEAR - 1)
    result = import_paths(campaign)
    assert [f.outcome for f in result.files] == ["invalid"]
    a = agency_status(campaign, 0)
    assert a["status"] == "invalid"
    assert f"报告年度为{YEAR - 1}年" in a["reason"] and f"{YEAR}年度" in a["reason"]
    # status on the command line says 有错误 and why
    proc = cli("status", campaign, "--problems")
    assert "有错误" in proc.stdout and f"报告年度为{YEAR - 1}年" in flat(proc.stdout)
    # remind chases the agency, quoting the reason
    reminders = prepare_reminders(campaign)
    late = {r.code: r for r in reminders.reminders}
    assert late[AGENCIES[0][1]].reason == "invalid"
    msg = email.message_from_bytes(late[AGENCIES[0][1]].eml.read_bytes(), policy=email.policy.default)
    assert f"报告年度为{YEAR - 1}年" in msg.get_body().get_content()
    # last year's form cannot be corrected in place: this year's template is attached, and the
    # mail says to fill it in, not to correct the old one (found by a second trial)
    assert late[AGENCIES[0][1]].attachment == next((campaign / "outbox").glob(f"{AGENCIES[0][1]}_*.xlsx")).name
    body = "".join(msg.get_body().get_content().split())
    assert "请用附上的本年度模板" in body and "请在原表中修改" not in body


def test_the_campaigns_own_files_are_never_imported(campaign: Path):
    """Found by a new user's trial: importing the campaign folder (or its outbox/) by mistake
    read every issued template as that agency's reply, unchanged: every agency became 有错误 and
    its reminder said so. The office's own files are skipped, one line per folder; a reply in
    inbox/ is imported as usual."""
    reply(campaign / "inbox" / "好的.xlsx", 3)
    result = import_paths(campaign, [campaign])
    outcomes = [(f.name, f.outcome) for f in result.files]
    assert ("好的.xlsx", "valid") in outcomes
    skipped = {f.name: f.reason for f in result.files if f.outcome == "skipped"}
    outbox = next(n for n in skipped if n.startswith("outbox 目录中"))
    assert f"{len(list((campaign / 'outbox').iterdir()))} 个文件" in outbox and "下发" in skipped[outbox]
    assert sum(1 for f in result.files if f.outcome not in ("skipped",)) == 1
    assert [agency_status(campaign, i)["status"] for i in range(len(AGENCIES))].count("invalid") == 0
    one = next((campaign / "outbox").glob("*.xlsx"))
    again = cli("import", campaign, one)
    assert "下发给各单位的模板" in flat(again.stdout)
    assert agency_status(campaign, 0)["status"] == "missing"


def test_a_report_document_of_another_year_is_not_placed_on_a_cover_cell(campaign: Path):
    """Found by a new user's trial: a published report (a web page here) of last year was
    reported at "封面 B6", a cell a document does not have."""
    from extractdata import report_html

    from xlsxgov.compute import complete

    spec = spec_mod.load("gov2021")
    values = complete(spec, random_inputs(spec, random.Random(3)))
    (campaign / "inbox" / "年报.html").write_text(report_html("gov2021", values, agency=AGENCIES[0][0], year=YEAR - 1), encoding="utf-8")
    assert [f.outcome for f in import_paths(campaign).files] == ["invalid"]
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    ((sheet, cell, message),) = conn.execute("SELECT sheet, cell, message FROM findings WHERE rule='campaign.year'").fetchall()
    assert (sheet, cell) == ("", "") and "年度报告" in message and f"{YEAR - 1}年" in message


def test_a_mailed_text_or_web_page_report_is_imported_and_an_empty_mail_is_said(campaign: Path):
    """Found by a new user's trial: a reply carrying the report as a .txt or .html attachment,
    and a reply with no attachment at all, were dropped without a word (README lists both as
    report formats a mail may carry)."""
    from email.message import EmailMessage

    from extractdata import flatten, report_html

    from xlsxgov.compute import complete

    spec = spec_mod.load("gov2021")
    values = [complete(spec, random_inputs(spec, random.Random(40 + i))) for i in range(2)]
    for i, (name, content, subtype) in enumerate((
        ("年报.txt", flatten(report_html("gov2021", values[0], agency=AGENCIES[0][0], year=YEAR), "pipes"), "plain"),
        ("年报.html", report_html("gov2021", values[1], agency=AGENCIES[1][0], year=YEAR), "html"),
    )):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = AGENCIES[i][3], "gk@example.com", "年报", f"<t{i}@example.com>"
        msg.set_content("年度报告见附件。")
        msg.add_attachment(content.encode("utf-8"), maintype="text", subtype=subtype, filename=name)
        (campaign / "inbox" / f"回复{i}.eml").write_bytes(bytes(msg))
    empty = EmailMessage()
    empty["From"], empty["To"], empty["Subject"] = AGENCIES[2][3], "gk@example.com", "收到"
    empty.set_content("收到，稍后报送。")
    empty.add_alternative("<p>收到，稍后报送。</p>", subtype="html")
    (campaign / "inbox" / "只有正文.eml").write_bytes(bytes(empty))
    outcomes = {f.name: f for f in import_paths(campaign).files}
    assert outcomes["年报.txt"].outcome == "valid" and outcomes["年报.html"].outcome == "valid"
    assert outcomes["只有正文.eml"].outcome == "skipped" and "没有工作簿" in outcomes["只有正文.eml"].reason
    assert [agency_status(campaign, i)["status"] for i in range(3)] == ["valid", "valid", "missing"]


def test_a_report_on_another_agencys_template_is_flagged_at_import(campaign: Path):
    """Found by a new user's trial: agency 3 filled in a copy of agency 1's template and sent it
    as "<agency 3>2025年报表.xlsx"; it silently became agency 1's current report (and agency 1's
    own report lost). It is still recorded by its cover, with a warning the import lists; the
    same for a mail whose sender is another roster agency's address."""
    from email.message import EmailMessage

    wrong = reply(campaign / "inbox" / f"{AGENCIES[3][0]}2025年报表.xlsx", 1, seed=21)
    out = flat(cli("import", campaign).stdout)
    assert f"指向名册中的“{AGENCIES[3][0]}”" in out and f"封面上的单位却是“{AGENCIES[1][0]}”" in out
    assert agency_status(campaign, 1)["warnings"] >= 1
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM findings WHERE rule='agency.channel_other'").fetchone()[0] == 1

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = AGENCIES[4][3], "gk@example.com", "报表"
    msg.set_content("见附件")
    msg.add_attachment(reply(campaign / "邮件附件.xlsx", 2, seed=22).read_bytes(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename="报表.xlsx")
    (campaign / "inbox" / "回复.eml").write_bytes(bytes(msg))
    out = flat(cli("import", campaign).stdout)
    assert f"发件人{AGENCIES[4][3]}指向名册中的" in out
    (message,) = conn.execute("SELECT message FROM findings WHERE rule='agency.channel_other' AND message LIKE '发件人%'").fetchone()
    assert f"指向名册中的“{AGENCIES[4][0]}”，封面上的单位却是“{AGENCIES[2][0]}”" in message
    # the agency the file name and cover agree on gets no such warning
    reply(campaign / "inbox" / f"{AGENCIES[5][0]}报表.xlsx", 5, seed=23)
    assert "指向名册中" not in flat(cli("import", campaign).stdout)
    assert wrong.exists()


def test_other_edition_and_untouched_template_are_errors_at_import(campaign: Path):
    reply(campaign / "inbox" / "旧格式.xlsx", 1, edition="gov2019")
    issued = next((campaign / "outbox").glob(f"{AGENCIES[2][1]}_*.xlsx"))
    shutil.copy(issued, campaign / "inbox" / "原样发回.xlsx")
    reply(campaign / "inbox" / "好的.xlsx", 3)
    outcomes = {f.name: f for f in import_paths(campaign).files}
    assert outcomes["好的.xlsx"].outcome == "valid"
    assert outcomes["旧格式.xlsx"].outcome == "invalid"
    assert outcomes["原样发回.xlsx"].outcome == "invalid"
    assert "2019年版" in agency_status(campaign, 1)["reason"]
    assert "与下发的模板完全相同" in agency_status(campaign, 2)["reason"]
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    rules = {r[0] for r in conn.execute("SELECT rule FROM findings WHERE severity='error'")}
    assert {"campaign.template_unchanged"} <= rules


# --- point 5: the office's sender, contact and phone on every mail ------------------------------


def test_mail_carries_the_office_and_reaches_it(campaign: Path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    eml = next((campaign / "outbox").glob("*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["From"] == OFFICE and msg["Reply-To"] == OFFICE
    body = msg.get_body().get_content()
    assert "第四十九条" in body and f"{YEAR + 1}年1月31日" in body
    assert "张敏" in body and "0591-12345678" in body and "zwgk@example.gov.cn" in body
    cli("send", campaign, "--smtp", f"127.0.0.1:{port}")
    assert len(handler.messages) == len(AGENCIES)
    for mail_from, _, content in handler.messages:
        got = email.message_from_bytes(content, policy=email.policy.default)
        assert mail_from == "zwgk@example.gov.cn"
        assert got["From"] == OFFICE and got["Reply-To"] == OFFICE


def test_template_cover_names_the_office_to_ask(campaign: Path):
    from python_calamine import CalamineWorkbook

    from xlsxgov.template import COVER_SHEET

    template = next((campaign / "outbox").glob(f"{AGENCIES[0][1]}_*.xlsx"))
    rows = CalamineWorkbook.from_path(str(template)).get_sheet_by_name(COVER_SHEET).to_python()
    lines = [str(c) for row in rows for c in row if "填报咨询" in str(c)]
    assert lines == ["填报咨询：示例县政务公开办　联系人：张敏　电话：0591-12345678　邮箱：zwgk@example.gov.cn"]
    assert any(AGENCIES[0][0] == c for row in rows for c in row)  # still stamped for the agency


def test_settings_change_the_office_and_send_refuses_without_one(tmp_path: Path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    d = tmp_path / "c"
    cli("init", d, "--year", YEAR, "--roster", write_roster(tmp_path / "roster.csv"))
    issued = cli("issue", d)
    assert "发件地址" in flat(issued.stdout + issued.stderr)  # warned: no sender yet
    refused = cli("send", d, "--smtp", f"127.0.0.1:{port}", check=False)
    assert refused.returncode == 2 and "campaignsettings" in flat(refused.stderr) and not handler.messages
    cli("settings", d, "--sender", OFFICE, "--phone", "0591-87654321")
    shown = cli("settings", d, "--json")
    assert json.loads(shown.stdout)["sender"] == OFFICE and json.loads(shown.stdout)["phone"] == "0591-87654321"
    cli("issue", d)
    cli("send", d, "--smtp", f"127.0.0.1:{port}")
    got = email.message_from_bytes(handler.messages[0][2], policy=email.policy.default)
    assert got["Reply-To"] == OFFICE and "0591-87654321" in got.get_body().get_content()


def test_settings_refuse_a_bad_address(campaign: Path):
    proc = cli("settings", campaign, "--sender", "not an address", check=False)
    assert proc.returncode == 2 and "发件地址" in proc.stderr


# --- point 6: assign and withdraw ---------------------------------------------------------------


def test_assign_gives_a_quarantined_file_to_an_agency(campaign: Path):
    spec = spec_mod.load("gov2021")
    path = campaign / "inbox" / "年报表.xlsx"  # neither the cover nor the name points to a roster agency
    write_workbook(path, spec, Meta(year=YEAR, agency="办公室", code=code_for(99)), values=random_inputs(spec, random.Random(7)))
    assert [f.outcome for f in import_paths(campaign).files] == ["unknown"]
    quarantined = next(p for p in (campaign / "quarantine").glob("*.xlsx"))
    assert agency_status(campaign, 4)["status"] == "missing"
    proc = cli("assign", campaign, quarantined, AGENCIES[4][0])
    assert "年报表.xlsx" in proc.stdout and "合格" in proc.stdout
    assert agency_status(campaign, 4)["status"] == "valid"
    history = cli("status", campaign, "--history", AGENCIES[4][0])
    text = flat(history.stdout)
    assert "年报表.xlsx" in text and "分配" in text
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    who, action, detail = conn.execute("SELECT actor, action, detail FROM audit").fetchone()
    assert action == "分配文件" and who and "年报表.xlsx" in detail and AGENCIES[4][1] in detail


def test_assign_by_sha_prefix_and_unknown_names_are_refused(campaign: Path):
    spec = spec_mod.load("gov2021")
    write_workbook(campaign / "inbox" / "x.xlsx", spec, Meta(year=YEAR, agency="某单位", code=code_for(98)), values=random_inputs(spec, random.Random(8)))
    (f,) = import_paths(campaign).files
    bad = cli("assign", campaign, f.sha256[:10], "没有这个单位", check=False)
    assert bad.returncode == 2 and "名册中没有“没有这个单位”" in bad.stderr
    cli("assign", campaign, f.sha256[:10], AGENCIES[5][1])
    assert agency_status(campaign, 5)["status"] == "valid"


def test_assign_by_the_name_the_import_listed(campaign: Path):
    """Found by a new user's trial: the import lists a file of no agency by its name, and assign
    refused that name (only the quarantine/ path or the SHA-256 worked)."""
    spec = spec_mod.load("gov2021")
    write_workbook(campaign / "inbox" / "统计表.xlsx", spec, Meta(year=YEAR, agency="某单位", code=code_for(97)), values=random_inputs(spec, random.Random(9)))
    assert [f.outcome for f in import_paths(campaign).files] == ["unknown"]
    cli("assign", campaign, "统计表.xlsx", AGENCIES[3][1])
    assert agency_status(campaign, 3)["status"] == "valid"
    # two files of no agency under one name: which one is asked for, by SHA-256
    for i, sub in enumerate(("a", "b")):
        (campaign / "inbox" / sub).mkdir()
        write_workbook(campaign / "inbox" / sub / "同名.xlsx", spec, Meta(year=YEAR, agency="某单位", code=code_for(90 + i)),
                       values=random_inputs(spec, random.Random(10 + i)))
    import_paths(campaign)
    twice = cli("assign", campaign, "同名.xlsx", AGENCIES[2][1], check=False)
    assert twice.returncode == 2 and "有 2 个名为“同名.xlsx”" in twice.stderr and "前 8 位" in twice.stderr


def test_a_file_of_no_agency_is_pointed_to_assign_and_a_lock_file_is_nobodys(campaign: Path):
    """Found by a new user's trial: an unreadable file of no agency went to quarantine/ without
    the assign hint (given only for readable ones), ``status`` counted it without saying what
    to do, and a lock file was listed as "（单位不明）"."""
    import hostile_files as hf

    src, _ = hf.docx_as_xlsx(campaign / "inbox")
    src.rename(campaign / "inbox" / "统计表.xlsx")
    (campaign / "inbox" / "~$统计表.xlsx").write_bytes(b"\x0c\x00owner".ljust(165, b"\x00"))
    out = flat(cli("import", campaign, check=False).stdout)
    assert "统计表.xlsx（单位不明）" in out and "campaignassign" in out
    assert "~$统计表.xlsx（单位不明）" not in out and "~$统计表.xlsx" in out
    assert "campaignassign" in flat(cli("status", campaign).stdout)


def test_withdraw_sets_aside_and_the_previous_becomes_current(campaign: Path):
    reply(campaign / "inbox" / "第一次.xlsx", 0)
    import_paths(campaign)
    reply(campaign / "inbox" / "第二次（误报去年）.xlsx", 0, year=YEAR - 1, seed=99)
    import_paths(campaign)
    assert agency_status(campaign, 0)["status"] == "invalid"
    proc = cli("withdraw", campaign, AGENCIES[0][0])
    assert "第二次（误报去年）.xlsx" in proc.stdout and "第一次.xlsx" in proc.stdout
    assert agency_status(campaign, 0)["status"] == "valid"
    # nothing deleted: both files still in the ledger and the archive
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    assert sorted(r[0] for r in conn.execute("SELECT status FROM submissions")) == ["valid", "withdrawn"]
    assert len(list((campaign / "archive").glob("*.xlsx"))) == 2
    history = flat(cli("status", campaign, "--history", AGENCIES[0][1]).stdout)
    assert "撤回" in history and "第二次（误报去年）.xlsx" in history
    # withdrawing the last one: the agency has nothing current, it is 未报送 again
    cli("withdraw", campaign, AGENCIES[0][0])
    assert agency_status(campaign, 0)["status"] == "missing"
    assert cli("withdraw", campaign, AGENCIES[0][0], check=False).returncode == 2
    # a file an agency holds cannot be assigned elsewhere; withdrawing it first is the way
    reply(campaign / "inbox" / "第三次.xlsx", 0, seed=7)
    import_paths(campaign)
    refused = cli("assign", campaign, "第三次.xlsx", AGENCIES[1][0], check=False)
    assert refused.returncode == 2 and "campaignwithdraw" in flat(refused.stderr)


def test_a_skipped_duplicate_names_whose_file_it_already_is_and_when(campaign: Path, tmp_path: Path):
    """Found by a new user's trial: the same bytes arriving again were only counted (重复文件),
    whoever had sent them. The line names the agency that holds the recorded copy and when it
    was received, in Beijing time; the inbox read again is only counted, not listed."""
    first = reply(campaign / "inbox" / "第1局报表.xlsx", 1, seed=7)
    received = datetime(2026, 1, 12, 1, 30, tzinfo=timezone.utc).timestamp()  # 09:30 in Beijing
    os.utime(first, (received, received))
    assert [f.outcome for f in import_paths(campaign).files] == ["valid"]
    other = tmp_path / "来件" / "第2局的报表.xlsx"  # say, agency 2 sent agency 1's file
    other.parent.mkdir()
    shutil.copyfile(first, other)
    out = flat(cli("import", campaign, other, campaign / "inbox", env={**os.environ, "COLUMNS": "200"}).stdout)
    assert f"第2局的报表.xlsx：与01-1209:30收到、已记为“{AGENCIES[1][0]}”的报送完全相同，未重复记录" in out, out
    assert "第1局报表.xlsx" not in out  # read again from inbox/: counted only
    assert "│重复文件（已跳过）│2│" in out


def test_a_withdrawn_file_moves_to_the_agency_it_came_from(campaign: Path):
    """Found in review: a file identified as the wrong agency's and withdrawn could not be given
    to the right one, and the right agency sending the same file again is skipped as a
    duplicate. It moves now: validated for its agency, with its reviews; the audit log says
    whose it was; nothing is lost."""
    reply(campaign / "inbox" / "报表.xlsx", 1, seed=5)
    assert [f.outcome for f in import_paths(campaign).files] == ["valid"]
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    (sid,) = conn.execute("SELECT id FROM submissions").fetchone()
    conn.execute("INSERT INTO reviews(submission_id, state, comment, user, at) VALUES (?, 'approved', '', 'admin', '2026-01-20')", (sid,))
    conn.commit()
    # the clerk finds it was agency 2's file after all (say, sent under agency 1's template)
    cli("withdraw", campaign, AGENCIES[1][0])
    assert agency_status(campaign, 1)["status"] == "missing"
    again = cli("import", campaign, campaign / "inbox" / "报表.xlsx")  # the same bytes again: a duplicate
    assert "重复" in flat(again.stdout)
    moved = cli("assign", campaign, "报表.xlsx", AGENCIES[2][0])
    assert "报表.xlsx" in moved.stdout and "合格" in moved.stdout
    # the office decides, and is told what the cover says (here: agency 1, as the file was written)
    assert f"封面上的单位是“{AGENCIES[1][0]}”" in flat(moved.stdout)
    assert conn.execute("SELECT COUNT(*) FROM findings WHERE rule='agency.cover_other'").fetchone()[0] == 1
    assert agency_status(campaign, 2)["status"] == "valid" and agency_status(campaign, 1)["status"] == "missing"
    rows = conn.execute("SELECT id, code, status, superseded_by FROM submissions").fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [(AGENCIES[2][1], "valid", None)]
    assert conn.execute("SELECT submission_id FROM reviews").fetchall() == [(rows[0][0],)]
    assert conn.execute("SELECT COUNT(*) FROM facts WHERE submission_id=?", (rows[0][0],)).fetchone()[0] > 0
    assert conn.execute("SELECT COUNT(*) FROM facts WHERE submission_id<>?", (rows[0][0],)).fetchone()[0] == 0
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    detail = conn.execute("SELECT detail FROM audit WHERE action='分配文件'").fetchone()[0]
    assert AGENCIES[2][1] in detail and f"原为单位 {AGENCIES[1][1]}" in detail and "撤回" in detail
    assert len(list((campaign / "archive").glob("*.xlsx"))) == 1
    history = flat(cli("status", campaign, "--history", AGENCIES[1][1]).stdout)
    assert "撤回" in history  # agency 1's history still says what happened


def test_the_status_workbook_says_what_the_office_decided(campaign: Path, tmp_path: Path):
    """Found by a trial: after returning one report (退回修改) and approving another, the 报送进度
    workbook still said only 合格, with nothing of the office's decision or its comment."""
    from python_calamine import CalamineWorkbook

    from xlsxgov.campaign import portal

    for i, seed in ((1, 5), (2, 6)):
        reply(campaign / "inbox" / f"报表{i}.xlsx", i, seed=seed)
    assert [f.outcome for f in import_paths(campaign).files] == ["valid", "valid"]
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    conn.row_factory = sqlite3.Row
    sid = dict(conn.execute("SELECT code, id FROM submissions").fetchall())
    portal.review(conn, sid[AGENCIES[1][1]], "退回修改", "表三请按本年口径重填", "admin", "127.0.0.1")
    portal.review(conn, sid[AGENCIES[2][1]], "审核通过", "", "admin", "127.0.0.1")
    conn.close()
    assert agency_status(campaign, 1)["review"] == ("退回修改", "表三请按本年口径重填")
    assert agency_status(campaign, 2)["review"] == ("审核通过", "")
    assert agency_status(campaign, 3)["review"] == ("", "")
    out = status_mod.write_status_xlsx(status_mod.campaign_status(campaign), tmp_path / "进度.xlsx")
    grid = CalamineWorkbook.from_path(str(out)).get_sheet_by_index(0).to_python()
    rows = {r[1]: r for r in grid if len(r) > 3 and r[1] in (AGENCIES[1][0], AGENCIES[2][0])}
    assert rows[AGENCIES[1][0]][2] == "合格，退回修改" and "退回修改：表三请按本年口径重填" in rows[AGENCIES[1][0]][3]
    assert rows[AGENCIES[2][0]][2] == "合格，审核通过"
