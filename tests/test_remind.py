"""Chasing the late agencies: `campaign remind` writes one reminder per agency that is missing,
invalid or unreadable, `campaign send` delivers them once; real SQLite, real files, a real SMTP
server (aiosmtpd on 127.0.0.1), the CLI run as a process."""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import sqlite3
import sys
from datetime import date
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from xlsxgov import spec as spec_mod
from xlsxgov.campaign import status as status_mod
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.init import init_campaign
from xlsxgov.campaign.issue import issue_templates
from xlsxgov.campaign.letters import REMINDER_ERRORS_LISTED
from xlsxgov.campaign.remind import prepare_reminders
from xlsxgov.campaign.send import SendSummary, send_outbox
from xlsxgov.template import Meta, write_workbook

sys.path.insert(0, str(Path(__file__).parent))
from test_campaign import Collector, cli, code_for, flat, smtp_server, write_roster  # noqa: E402,F401
from test_consolidate import random_inputs  # noqa: E402

YEAR = 2024
REGION = "某某市"
SENDER = "office@example.gov.cn"
# 0 valid, 1 invalid, 2 unreadable, 3 and 4 never replied.
AGENCIES = [(f"某某市第{i}局", code_for(i), REGION, f"a{i}@example.com") for i in range(5)]
NAME, CODE, EMAIL = 0, 1, 3


def reply(path: Path, i: int, values: dict) -> Path:
    n, c, r, _ = AGENCIES[i]
    return write_workbook(path, spec_mod.load("gov2021"), Meta(year=YEAR, agency=n, code=c, region=r), values=values)


def good_inputs(seed: int) -> dict:
    return random_inputs(spec_mod.load("gov2021"), random.Random(seed))


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    d = tmp_path / "c"
    init_campaign(d, year=YEAR, roster_path=write_roster(tmp_path / "roster.csv", AGENCIES), region=REGION, sender=SENDER)
    issue_templates(d, sender=SENDER)
    bad = good_inputs(2)
    bad[("t3", "carried_over", "natural")] += 5  # breaks t3.balance
    reply(d / "inbox" / "第0局.xlsx", 0, good_inputs(1))
    reply(d / "inbox" / "第1局.xlsx", 1, bad)
    (d / "inbox" / f"{AGENCIES[2][CODE]}_第2局.xlsx").write_bytes(b"PK\x03\x04 truncated")
    result = import_paths(d)
    assert sorted(f.outcome for f in result.files) == ["invalid", "unreadable", "valid"]
    assert status_mod.campaign_status(d)["totals"] == {"valid": 1, "invalid": 1, "missing": 2, "unreadable": 1}
    return d


def parse(path_or_bytes) -> email.message.EmailMessage:
    raw = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return email.message_from_bytes(raw, policy=email.policy.default)


def ledger(d: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(d / "ledger.sqlite")
    conn.row_factory = sqlite3.Row
    return conn


def current(d: Path, i: int) -> sqlite3.Row:
    return ledger(d).execute(
        "SELECT * FROM submissions WHERE code=? AND superseded_by IS NULL", (AGENCIES[i][CODE],)
    ).fetchone()


def template_of(d: Path, i: int) -> Path:
    return next((d / "outbox").glob(f"{AGENCIES[i][CODE]}_*.xlsx"))


def reminders_by_code(d: Path) -> dict[str, int]:
    return {a["code"]: a["reminders"] for a in status_mod.campaign_status(d)["agencies"]}


def send(d: Path, port: int) -> SendSummary:
    return send_outbox(d, host="127.0.0.1", port=port, sender=SENDER)


# --- remind ------------------------------------------------------------------------------------


def test_one_reminder_per_late_agency_with_what_is_wrong(campaign: Path):
    result = prepare_reminders(campaign, sender=SENDER, deadline=date(2025, 2, 15), today=date(2025, 2, 3))
    assert result.round == 1 and result.valid == 1 and result.folder == campaign / "reminders" / "1"
    assert [(r.code, r.reason) for r in result.reminders] == [
        (AGENCIES[1][CODE], "invalid"), (AGENCIES[2][CODE], "unreadable"),
        (AGENCIES[3][CODE], "missing"), (AGENCIES[4][CODE], "missing"),
    ]
    assert sorted(p.name for p in result.folder.iterdir()) == sorted(r.eml.name for r in result.reminders)
    msgs = {r.code: parse(r.eml) for r in result.reminders}
    for i in (1, 2, 3, 4):
        msg = msgs[AGENCIES[i][CODE]]
        assert msg["To"].addresses[0].addr_spec == AGENCIES[i][EMAIL]
        assert AGENCIES[i][NAME] in msg["Subject"] and "2024年度" in msg["Subject"]
        body = msg.get_body().get_content()
        assert body.startswith(AGENCIES[i][NAME] + "：") and "2025年2月15日前" in body
        assert f"{REGION}政府信息公开工作主管部门" in body
    # missing: the template from outbox/ again
    for i in (3, 4):
        msg = msgs[AGENCIES[i][CODE]]
        assert msg["Subject"].startswith("催报") and "尚未收到" in msg.get_body().get_content()
        assert "2025年2月3日" in msg.get_body().get_content()
        (att,) = msg.iter_attachments()
        assert att.get_filename() == template_of(campaign, i).name
        assert att.get_payload(decode=True) == template_of(campaign, i).read_bytes()
    # invalid: the feedback workbook of the current submission, its errors in the body
    sub = current(campaign, 1)
    msg = msgs[AGENCIES[1][CODE]]
    body = msg.get_body().get_content()
    errors = [r["message"] for r in ledger(campaign).execute(
        "SELECT message FROM findings WHERE submission_id=? AND severity='error' ORDER BY rowid", (sub["id"],))]
    assert errors and f"有 {len(errors)} 处错误" in msg["Subject"] and f"有 {len(errors)} 处错误" in body
    assert "1. " in body and errors[0] in body and sub["file_name"] in body
    (att,) = msg.iter_attachments()
    assert att.get_filename() == Path(sub["feedback_path"]).name
    assert att.get_payload(decode=True) == (campaign / sub["feedback_path"]).read_bytes()
    # unreadable: the reason recorded at import, asked to resave as .xlsx; the template attached
    sub = current(campaign, 2)
    reason = ledger(campaign).execute(
        "SELECT message FROM findings WHERE submission_id=? AND rule='file.unreadable'", (sub["id"],)).fetchone()[0]
    msg = msgs[AGENCIES[2][CODE]]
    body = msg.get_body().get_content()
    assert "无法读取" in msg["Subject"] and reason in body and sub["file_name"] in body
    assert "另存为" in body and ".xlsx" in body
    (att,) = msg.iter_attachments()
    assert att.get_payload(decode=True) == template_of(campaign, 2).read_bytes()
    # the round in the ledger, nothing sent yet
    rows = ledger(campaign).execute("SELECT round, code, reason, path, deadline, sent_at FROM reminders ORDER BY rowid").fetchall()
    assert [(r["round"], r["code"], r["reason"], r["deadline"], r["sent_at"]) for r in rows] == [
        (1, r.code, r.reason, "2025-02-15", None) for r in result.reminders
    ]
    assert [campaign / r["path"] for r in rows] == [r.eml for r in result.reminders]
    assert set(reminders_by_code(campaign).values()) == {0}


def test_invalid_agency_feedback_built_for_the_reminder_or_the_template_when_it_cannot_be(campaign: Path):
    sub = current(campaign, 1)
    assert not (campaign / sub["feedback_path"]).exists()  # import records where it goes, writes none
    first = {r.code: r for r in prepare_reminders(campaign).reminders}[AGENCIES[1][CODE]]
    assert first.attachment == Path(sub["feedback_path"]).name and (campaign / sub["feedback_path"]).is_file()
    # Its original lost from archive/ and its feedback not built yet: the template goes instead,
    # and the mail does not claim the attachment lists the problems.
    (campaign / sub["feedback_path"]).unlink()
    (campaign / sub["archive_path"]).unlink()
    again = {r.code: r for r in prepare_reminders(campaign).reminders}[AGENCIES[1][CODE]]
    body = parse(again.eml).get_body().get_content()
    assert again.attachment == template_of(campaign, 1).name
    assert "逐项列出了全部问题" not in body and f"再次附上的模板“{template_of(campaign, 1).name}”" in flat(body)


def test_without_deadline_asks_for_it_soon(campaign: Path):
    result = prepare_reminders(campaign)
    body = parse(result.reminders[-1].eml).get_body().get_content()
    assert "请尽快" in body


def test_many_errors_lists_the_first_ones(campaign: Path, tmp_path: Path):
    bad = good_inputs(5)
    for col in ("natural", "business", "research", "ngo", "legal", "other_org"):
        bad[("t3", "new", col)] = bad[("t3", "carried_in", col)] = -1  # a negative count: one error each
    reply(tmp_path / "第1局_二稿.xlsx", 1, bad)
    import_paths(campaign, [tmp_path / "第1局_二稿.xlsx"])
    sub = current(campaign, 1)
    (reminder,) = [r for r in prepare_reminders(campaign).reminders if r.reason == "invalid"]
    body = parse(reminder.eml).get_body().get_content().replace("\r\n", "\n")
    assert sub["errors"] > REMINDER_ERRORS_LISTED
    assert f"有 {sub['errors']} 处错误，前 {REMINDER_ERRORS_LISTED} 处如下" in body
    assert f"\n{REMINDER_ERRORS_LISTED}. " in body and f"\n{REMINDER_ERRORS_LISTED + 1}. " not in body
    first = ledger(campaign).execute(
        "SELECT message, cell FROM findings WHERE submission_id=? AND severity='error' ORDER BY rowid", (sub["id"],)).fetchone()
    assert f"\n1. {first['message']}（{first['cell']}）\n" in body
    assert sub["file_name"] == "第1局_二稿.xlsx" and reminder.attachment == Path(sub["feedback_path"]).name


# --- send ----------------------------------------------------------------------------------------


def test_send_delivers_reminders_once(campaign: Path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    result = prepare_reminders(campaign, sender=SENDER)
    summary = send(campaign, port)
    assert len(summary.sent) == 5 and len(summary.reminders_sent) == 4 and not summary.failed + summary.reminders_failed
    assert len(handler.messages) == 9
    delivered = {parse(content)["Message-ID"]: (rcpt, content) for _, rcpt, content in handler.messages}
    rows = {r["code"]: r for r in ledger(campaign).execute("SELECT * FROM reminders")}
    for r in result.reminders:
        eml = parse(r.eml)
        rcpt, content = delivered[eml["Message-ID"]]
        assert rcpt == [AGENCIES[[a[CODE] for a in AGENCIES].index(r.code)][EMAIL]]
        assert parse(content)["Subject"] == eml["Subject"]
        assert next(parse(content).iter_attachments()).get_payload(decode=True) == next(eml.iter_attachments()).get_payload(decode=True)
        assert rows[r.code]["message_id"] == eml["Message-ID"] and rows[r.code]["sent_at"] and rows[r.code]["error"] is None
    # again: nothing at all
    summary = send(campaign, port)
    assert summary.results == [] and summary.skipped == 5 and summary.reminders_skipped == 4
    assert len(handler.messages) == 9
    assert reminders_by_code(campaign) == {AGENCIES[0][CODE]: 0, **{AGENCIES[i][CODE]: 1 for i in (1, 2, 3, 4)}}


def test_rejected_recipient_of_a_reminder_fails_only_that_one(campaign: Path, smtp_server):
    handler = Collector(reject={AGENCIES[3][EMAIL]})
    port = smtp_server(handler)
    prepare_reminders(campaign, sender=SENDER)
    summary = send(campaign, port)
    assert [r.path.parent.name for r in summary.reminders_failed] == ["1"]
    assert len(summary.reminders_sent) == 3 and len(handler.messages) == 4 + 3
    row = ledger(campaign).execute("SELECT * FROM reminders WHERE code=?", (AGENCIES[3][CODE],)).fetchone()
    assert row["sent_at"] is None and "拒收" in row["error"] and AGENCIES[3][EMAIL] in row["error"]
    assert reminders_by_code(campaign)[AGENCIES[3][CODE]] == 0
    handler.reject.clear()
    summary = send(campaign, port)
    assert [r.path.name.split("_")[0] for r in summary.sent + summary.reminders_sent] == [AGENCIES[3][CODE]] * 2
    assert [rcpt for _, rcpt, _ in handler.messages[-2:]] == [[AGENCIES[3][EMAIL]]] * 2
    row = ledger(campaign).execute("SELECT * FROM reminders WHERE code=?", (AGENCIES[3][CODE],)).fetchone()
    assert row["sent_at"] and row["error"] is None and row["message_id"]
    assert set(reminders_by_code(campaign).values()) == {0, 1} and reminders_by_code(campaign)[AGENCIES[3][CODE]] == 1


def test_second_round_reminds_only_the_remaining(campaign: Path, smtp_server, tmp_path: Path):
    handler = Collector()
    port = smtp_server(handler)
    prepare_reminders(campaign, sender=SENDER)
    send(campaign, port)
    assert len(handler.messages) == 9
    # agency 1 fixes its file
    fixed = reply(tmp_path / "第1局_修改稿.xlsx", 1, good_inputs(3))
    assert [f.outcome for f in import_paths(campaign, [fixed]).files] == ["valid"]
    result = prepare_reminders(campaign, sender=SENDER)
    assert result.round == 2 and result.valid == 2
    assert [(r.code, r.reason) for r in result.reminders] == [
        (AGENCIES[2][CODE], "unreadable"), (AGENCIES[3][CODE], "missing"), (AGENCIES[4][CODE], "missing")
    ]
    assert all(r.eml.parent == campaign / "reminders" / "2" for r in result.reminders)
    summary = send(campaign, port)
    assert len(summary.reminders_sent) == 3 and summary.reminders_skipped == 4 and not summary.sent
    assert sorted(rcpt[0] for _, rcpt, _ in handler.messages[9:]) == [AGENCIES[i][EMAIL] for i in (2, 3, 4)]
    assert reminders_by_code(campaign) == {
        AGENCIES[0][CODE]: 0, AGENCIES[1][CODE]: 1, AGENCIES[2][CODE]: 2, AGENCIES[3][CODE]: 2, AGENCIES[4][CODE]: 2,
    }
    assert send(campaign, port).results == [] and len(handler.messages) == 12


def test_unsent_reminders_no_longer_needed_are_cancelled(campaign: Path, smtp_server, tmp_path: Path):
    """A reminder not sent yet is not sent once its agency is valid, nor when a later round reminds it again."""
    handler = Collector()
    port = smtp_server(handler)
    prepare_reminders(campaign, sender=SENDER)  # round 1: 1, 2, 3, 4
    import_paths(campaign, [reply(tmp_path / "第3局.xlsx", 3, good_inputs(4))])
    second = prepare_reminders(campaign, sender=SENDER)  # round 2: 1, 2, 4
    assert [r.code for r in second.reminders] == [AGENCIES[i][CODE] for i in (1, 2, 4)]
    summary = send(campaign, port)
    assert sorted((r, c) for r, c, _ in summary.cancelled) == sorted([(1, AGENCIES[i][CODE]) for i in (1, 2, 3, 4)])
    assert {why for r, c, why in summary.cancelled if c == AGENCIES[3][CODE]} == {"单位已报送合格的报表"}
    assert sorted(r.path.parent.name for r in summary.reminders_sent) == ["2", "2", "2"]
    assert len(handler.messages) == 5 + 3
    reminded = sorted(rcpt[0] for _, rcpt, c in handler.messages if "催报" in parse(c)["Subject"] or "重新报送" in parse(c)["Subject"])
    assert reminded == [AGENCIES[i][EMAIL] for i in (1, 2, 4)]
    assert reminders_by_code(campaign) == {
        AGENCIES[0][CODE]: 0, AGENCIES[1][CODE]: 1, AGENCIES[2][CODE]: 1, AGENCIES[3][CODE]: 0, AGENCIES[4][CODE]: 1,
    }


# --- crash, old ledgers ----------------------------------------------------------------------------


def test_folder_of_a_killed_run_is_replaced(campaign: Path):
    stale = campaign / "reminders" / "1"
    stale.mkdir(parents=True)
    (stale / f"{AGENCIES[0][CODE]}_stale_催报.eml").write_bytes(b"left by a killed run")
    result = prepare_reminders(campaign)
    assert result.round == 1
    assert sorted(p.name for p in stale.iterdir()) == sorted(r.eml.name for r in result.reminders)


def test_ledger_of_older_version_gets_the_reminders_table(campaign: Path):
    conn = ledger(campaign)
    conn.execute("DROP TABLE reminders")
    conn.commit()
    conn.close()
    assert status_mod.campaign_status(campaign)["agencies"][0]["reminders"] == 0
    assert prepare_reminders(campaign).round == 1


# --- CLI -------------------------------------------------------------------------------------------


def test_cli_remind_send_status(campaign: Path, smtp_server, tmp_path: Path):
    handler = Collector()
    port = smtp_server(handler)
    proc = cli("remind", campaign, "--deadline", "20250215", check=False)
    assert proc.returncode == 2 and "YYYY-MM-DD" in proc.stderr and not (campaign / "reminders").exists()
    proc = cli("remind", campaign, "--deadline", "2025-02-15")
    out = flat(proc.stdout)
    assert "已生成第1轮催报邮件4封（未报送2，有错误1，无法读取1）" in out
    assert "已合格的1个单位不催报" in out and "campaignsend" in out
    for i in (1, 2, 3, 4):
        assert AGENCIES[i][NAME] in out
    assert "问题反馈" in out  # the invalid agency's attachment
    proc = cli("send", campaign, "--smtp", f"127.0.0.1:{port}", "--from", SENDER)
    assert "本次发送成功 5 封" in proc.stdout and "催报邮件：本次发送成功 4 封，失败 0 封，此前已发送 0 封" in proc.stdout
    proc = cli("send", campaign, "--smtp", f"127.0.0.1:{port}", "--from", SENDER)
    assert "催报邮件：本次发送成功 0 封，失败 0 封，此前已发送 4 封" in proc.stdout and len(handler.messages) == 9
    body = next(parse(c).get_body().get_content() for _, r, c in handler.messages if r == [AGENCIES[4][EMAIL]] and "催报" in parse(c)["Subject"])
    assert "2025年2月15日前" in body
    data = json.loads(cli("status", campaign, "--json").stdout)
    assert [a["reminders"] for a in data["agencies"]] == [0, 1, 1, 1, 1]
    proc = cli("status", campaign, "--xlsx", tmp_path / "进度.xlsx", env={**os.environ, "COLUMNS": "250"})
    header = next(line for line in proc.stdout.splitlines() if line.startswith("单位名称"))
    assert header.split()[-1] == "已催报"
    lines = [next(line for line in proc.stdout.splitlines() if line.startswith(a[NAME])) for a in AGENCIES]
    assert [line.split()[-1] for line in lines] == ["0", "1", "1", "1", "1"]
    grid = CalamineWorkbook.from_path(str(tmp_path / "进度.xlsx")).get_sheet_by_name("报送进度").to_python()
    head = next(i for i, r in enumerate(grid) if "已催报次数" in r and "单位名称" in r)  # under the totals
    col = grid[head].index("已催报次数")
    assert [r[col] for r in grid[head + 1:head + 6]] == [0, 1, 1, 1, 1]


def test_cli_nobody_to_remind(tmp_path: Path):
    d = tmp_path / "c"
    rows = AGENCIES[:2]
    init_campaign(d, year=YEAR, roster_path=write_roster(tmp_path / "roster.csv", rows), region=REGION)
    for i in range(2):
        reply(d / "inbox" / f"第{i}局.xlsx", i, good_inputs(10 + i))
    assert import_paths(d).count("valid") == 2
    proc = cli("remind", d)
    assert "所有 2 个单位均已报送合格的报表，没有需要催报的单位" in proc.stdout
    assert not (d / "reminders").exists()
    assert ledger(d).execute("SELECT COUNT(*) FROM reminders").fetchone()[0] == 0
    assert prepare_reminders(d).round is None
