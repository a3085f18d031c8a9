"""Roster addresses through the whole campaign (found by new-user trials): an agency with no
e-mail (it reports on the portal only) and an agency with two addresses in one cell.

init accepts both and names the agencies without an address; issue writes their template and no
mail; send and remind skip them with one line each, exit code unaffected; status still lists
them; the two-address agency gets one message with both as To recipients, and a reply from either
address is its own (``agency.channel_other`` still fires for another agency's file)."""

from __future__ import annotations

import email
import email.policy
import os
import sqlite3
import sys
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_campaign import AGENCIES, Collector, cli, flat, smtp_server, write_roster  # noqa: E402,F401
from test_campaign_clerk import OFFICE, YEAR, reply  # noqa: E402

PORTAL_ONLY, TWO = 0, 1  # agency 0 has no address; agency 1 has two in one cell
SECOND = "second@example.gov.cn"
ROSTER = [(n, c, r, "" if i == PORTAL_ONLY else f"{e}；{SECOND}" if i == TWO else e)
          for i, (n, c, r, e) in enumerate(AGENCIES)]


def mail_reply(path: Path, sender: str, attachment: Path) -> Path:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "zwgk@example.gov.cn", "报表"
    msg.set_content("见附件")
    msg.add_attachment(attachment.read_bytes(), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename="报表.xlsx")
    path.write_bytes(bytes(msg))
    return path


def test_roster_without_an_address_and_with_two(tmp_path: Path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    d = tmp_path / "c"
    wide = {"env": {**os.environ, "COLUMNS": "200"}}  # one line per message: read whole
    made = cli("init", d, "--year", YEAR, "--roster", write_roster(tmp_path / "roster.csv", ROSTER), "--sender", OFFICE, **wide)
    assert f"注意：1个单位没有电子邮箱（{AGENCIES[PORTAL_ONLY][0]}），不会收到邮件" in flat(made.stdout)
    conn = sqlite3.connect(d / "ledger.sqlite")
    emails = dict(conn.execute("SELECT code, email FROM agencies"))
    assert emails[AGENCIES[PORTAL_ONLY][1]] == "" and emails[AGENCIES[TWO][1]] == f"{AGENCIES[TWO][3]}, {SECOND}"

    issued = flat(cli("issue", d, **wide).stdout)
    assert "已生成6份模板和5封邮件" in issued and f"1个单位没有电子邮箱（{AGENCIES[PORTAL_ONLY][0]}），只生成模板" in issued
    assert len(list((d / "outbox").glob(f"{AGENCIES[PORTAL_ONLY][1]}_*.xlsx"))) == 1
    assert not list((d / "outbox").glob(f"{AGENCIES[PORTAL_ONLY][1]}_*.eml"))

    sent = cli("send", d, "--smtp", f"127.0.0.1:{port}", **wide)
    assert sent.returncode == 0 and "成功 5" in sent.stdout
    assert f"1个单位没有电子邮箱（{AGENCIES[PORTAL_ONLY][0]}），没有邮件可发" in flat(sent.stdout)
    assert len(handler.messages) == 5  # one message for the agency with two addresses
    (two,) = [(rcpt, content) for _, rcpt, content in handler.messages if SECOND in rcpt]
    assert sorted(two[0]) == sorted([AGENCIES[TWO][3], SECOND])
    to = email.message_from_bytes(two[1], policy=email.policy.default)["To"]
    assert [a.addr_spec for a in to.addresses] == [AGENCIES[TWO][3], SECOND]
    assert all(a.display_name == AGENCIES[TWO][0] for a in to.addresses)

    # a reply from the second address is agency 1's own; agency 2's file from it is flagged
    reply(tmp_path / "第1局.xlsx", TWO, seed=31)
    reply(tmp_path / "第2局.xlsx", 2, seed=32)
    mail_reply(d / "inbox" / "回复1.eml", SECOND, tmp_path / "第1局.xlsx")
    mail_reply(d / "inbox" / "回复2.eml", SECOND, tmp_path / "第2局.xlsx")
    cli("import", d)
    flagged = [m for (m,) in conn.execute("SELECT message FROM findings WHERE rule='agency.channel_other'")]
    assert len(flagged) == 1 and f"指向名册中的“{AGENCIES[TWO][0]}”，封面上的单位却是“{AGENCIES[2][0]}”" in flagged[0]

    reminded = cli("remind", d, **wide)
    assert reminded.returncode == 0
    assert f"1个单位没有电子邮箱（{AGENCIES[PORTAL_ONLY][0]}），未生成催报邮件" in flat(reminded.stdout)
    late = {p.name.split("_")[0] for p in (d / "reminders" / "1").glob("*.eml")}
    assert late == {AGENCIES[i][1] for i in (3, 4, 5)}  # 0 has no address; 1 and 2 are valid
    handler.messages.clear()
    again = cli("send", d, "--smtp", f"127.0.0.1:{port}", **wide)
    assert again.returncode == 0 and len(handler.messages) == 3
    assert f"1个单位没有电子邮箱（{AGENCIES[PORTAL_ONLY][0]}）" in flat(again.stdout)

    # its portal link is what reaches it: the link command says so
    link = flat(cli("link", d, AGENCIES[PORTAL_ONLY][0], "--url", "http://127.0.0.1:8000", **wide).stdout)
    assert "已写入该单位的模板封面和outbox/links.csv；该单位没有电子邮箱，请把链接交给它" in link and "http://127.0.0.1:8000/a/" in link
    assert not list((d / "outbox").glob(f"{AGENCIES[PORTAL_ONLY][1]}_*.eml"))

    status = flat(cli("status", d, "--problems", **wide).stdout)
    assert f"{AGENCIES[PORTAL_ONLY][0]}未报送未收到报表（名册中没有电子邮箱，未发邮件）" in status
    assert AGENCIES[PORTAL_ONLY][0] in flat(cli("status", d, **wide).stdout)


def test_a_portal_only_campaign_is_not_told_to_set_a_sender(tmp_path: Path):
    """Found by a trial: with no e-mail in the roster, `issue --portal` wrote no mail and then
    asked for a sender address "and to generate again"."""
    d = tmp_path / "c"
    roster = [(n, c, r, "") for n, c, r, _ in AGENCIES]
    cli("init", d, "--year", YEAR, "--roster", write_roster(tmp_path / "roster.csv", roster))
    issued = cli("issue", d, "--portal", "http://127.0.0.1:8000")
    said = flat(issued.stdout + issued.stderr)
    assert f"已生成{len(AGENCIES)}份模板和0封邮件" in said and "发件地址" not in said, said
    with_mail = tmp_path / "m"
    cli("init", with_mail, "--year", YEAR, "--roster", write_roster(tmp_path / "roster2.csv"))
    assert "发件地址" in flat(cli("issue", with_mail).stderr)  # mails with a placeholder sender: still said
