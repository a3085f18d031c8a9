import email
import email.policy
import mailbox
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from xlsxgov.campaign.mail import (
    MailConnectionError,
    MessageBuilder,
    SendResult,
    build_message,
    extract_attachments,
    safe_filename,
    send_messages,
    write_eml,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SENDER = "某某市人民政府办公室 <gk@example.com>"
AGENCIES = [
    ("某某市教育局", "jyj@example.com"),
    ("某某市公安局", "gaj@example.com"),
    ("某某县人民政府办公室", "xzfb@example.com"),
]


# --- a real SMTP server ------------------------------------------------------------


class Collector:
    """aiosmtpd handler recording every accepted message."""

    def __init__(self, reject=(), one_per_connection=None, drop_in_data=()):
        self.messages = []  # (mail_from, rcpt_tos, content bytes)
        self.reject = set(reject)
        self.one_per_connection = one_per_connection  # None, "421" or "drop"
        self.drop_in_data = set(drop_in_data)
        self.served_sessions = []  # strong refs: id() of a dead session could be reused
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.one_per_connection and any(s is session for s in self.served_sessions):
            if self.one_per_connection == "421":
                return "421 4.7.0 Too many messages on this connection"
            server.transport.abort()  # vanish without a reply
            return "451 gone"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.served_sessions.append(session)
        if self.drop_in_data & set(envelope.rcpt_tos):
            server.transport.abort()  # stored, but the client never hears "250"
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    controllers = []

    def start(handler: Collector) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="smtp.test")
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


# --- helpers ---------------------------------------------------------------------


def make_xlsx(path: Path, marker: str) -> Path:
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "单位"
    ws["B1"] = marker
    wb.save(path)
    return path


def make_emls(tmp_path: Path) -> list[tuple[Path, Path]]:
    """One .eml per agency; returns (eml path, attachment path)."""
    out = []
    for i, (name, addr) in enumerate(AGENCIES):
        xlsx = make_xlsx(tmp_path / f"{name}-2024年度政府信息公开工作年度报告.xlsx", f"#{i}")
        msg = build_message(
            sender=SENDER,
            agency_email=addr,
            agency_name=name,
            subject=f"关于报送2024年度政府信息公开工作年度报告数据的通知（{name}）",
            body=f"{name}：\n\n请于1月15日前填写附件并回复本邮件。\n\n某某市人民政府办公室",
            attachment=xlsx,
        )
        eml = write_eml(msg, tmp_path / "out" / f"{i:03d}.eml")
        out.append((eml, xlsx))
    return out


class Ledger:
    def __init__(self):
        self.sent: set[Path] = set()
        self.order: list[Path] = []

    def already_sent(self, path: Path) -> bool:
        return path in self.sent

    def on_sent(self, result: SendResult) -> None:
        assert result.ok
        self.sent.add(result.path)
        self.order.append(result.path)


def send(emls, port, ledger, **kw):
    return send_messages(
        emls, host="127.0.0.1", port=port, security="none",
        already_sent=ledger.already_sent, on_sent=ledger.on_sent, timeout=10, **kw,
    )


def attachment_of(raw: bytes):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    [att] = list(msg.iter_attachments())
    return msg, att


# --- building --------------------------------------------------------------------


def test_build_message(tmp_path):
    [(eml, xlsx), *_] = make_emls(tmp_path)
    raw = eml.read_bytes()
    assert b"\r\n" in raw and raw.isascii()  # transport-safe: CRLF, everything encoded
    assert b"filename*" in raw  # RFC 2231 encoded Chinese name
    msg, att = attachment_of(raw)
    assert msg["Subject"] == "关于报送2024年度政府信息公开工作年度报告数据的通知（某某市教育局）"
    assert msg["To"].addresses[0].display_name == "某某市教育局"
    assert msg["To"].addresses[0].addr_spec == "jyj@example.com"
    assert msg["From"].addresses[0].addr_spec == "gk@example.com"
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg["Date"].datetime is not None
    assert "请于1月15日前填写附件" in msg.get_body(("plain",)).get_content()
    assert att.get_content_type() == XLSX_TYPE
    assert att.get_filename() == xlsx.name
    assert att.get_content() == xlsx.read_bytes()


def test_message_ids_are_unique(tmp_path):
    ids = {email.message_from_bytes(e.read_bytes())["Message-ID"] for e, _ in make_emls(tmp_path)}
    assert len(ids) == 3


def test_build_rejects_header_injection(tmp_path):
    xlsx = make_xlsx(tmp_path / "a.xlsx", "x")
    with pytest.raises(ValueError, match="换行"):
        build_message(
            sender=SENDER, agency_email="a@example.com\r\nBcc: evil@example.com", agency_name="x",
            subject="s", body="b", attachment=xlsx,
        )


# --- building fast (MessageBuilder) -------------------------------------------------

BUILDER_CASES = [
    # (agency name, subject, attachment file name)
    ("某某市教育局", "请报送2024年度政府信息公开工作年度报告统计表（某某市教育局）",
     "11350100MB0000001_某某市教育局_2024年政府信息公开年报统计表.xlsx"),
    ("某某省某某市某某区人民政府办公室（某某区大数据管理中心）", "请报送" + "很长的主题" * 30, "短.xlsx"),
    ('O\'Brien, "Records" (HQ)', "Annual report 2024", "report 2024; final.xlsx"),
    ("", "=?utf-8?q?not-an-encoded-word?=", 'a "quoted" name\\x.xls'),
    ("局", "主题", "甲" * 60 + ".ods"),
]


def _parse(raw: bytes):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    [att] = list(msg.iter_attachments())
    return msg, att


@pytest.mark.parametrize("name,subject,filename", BUILDER_CASES)
def test_message_builder_reads_like_build_message(tmp_path, name, subject, filename):
    data = make_xlsx(tmp_path / "t.xlsx", name).read_bytes()
    body = f"{name}：\n\n请于2025年1月31日前填写附件并回复本邮件。\n\n某某市人民政府办公室\n"
    fast = MessageBuilder(SENDER).build(agency_emails=["jyj@example.com"], agency_name=name, subject=subject,
                                        body=body, filename=filename, data=data)
    (tmp_path / "att").mkdir()
    slow_att = tmp_path / "att" / filename.replace("\\", "_")
    slow_att.write_bytes(data)
    slow = build_message(sender=SENDER, agency_email="jyj@example.com", agency_name=name, subject=subject,
                         body=body, attachment=slow_att).as_bytes(policy=email.policy.SMTP)
    # A valid RFC 5322 message: ASCII, CRLF only, lines within 998 (78 but the xlsx type).
    assert fast.isascii() and b"\n" not in fast.replace(b"\r\n", b"")
    assert max(len(line) for line in fast.split(b"\r\n")) <= 79
    (f, fa), (s, sa) = _parse(fast), _parse(slow)
    assert not f.defects and not fa.defects and not f.get_body().defects
    assert f["Subject"] == subject  # (email's own generator leaves "=?...?=" text raw, so it reads back decoded)
    assert f["From"].addresses == s["From"].addresses
    # email's address parser keeps the space between two encoded words of a long display
    # name (both builders need several words there); other mail readers drop it (RFC 2047).
    assert [(a.addr_spec, a.display_name.replace(" ", "")) for a in f["To"].addresses] == [
        (a.addr_spec, a.display_name.replace(" ", "")) for a in s["To"].addresses
    ]
    if len(name.encode()) <= 45 or name.isascii():
        assert f["To"].addresses[0].display_name == name
    assert f["Message-ID"].endswith("@example.com>") and f["Date"].datetime is not None
    assert f.get_body(("plain",)).get_content().replace("\r\n", "\n") == s.get_body(("plain",)).get_content()
    assert fa.get_filename() == filename
    assert fa.get_content_type() == sa.get_content_type()
    assert fa.get_payload(decode=True) == data
    assert fa.get_content_disposition() == "attachment"


def test_message_builder_ids_unique_and_checks_headers(tmp_path):
    b = MessageBuilder(SENDER)
    raws = [b.build(agency_emails=["a@example.com"], agency_name="x", subject="s", body="b", filename="a.xlsx", data=b"x")
            for _ in range(3)]
    assert len({_parse(r)[0]["Message-ID"] for r in raws}) == 3
    with pytest.raises(ValueError, match="换行"):
        b.build(agency_emails=["a@example.com\r\nBcc: evil@example.com"], agency_name="x", subject="s", body="b",
                filename="a.xlsx", data=b"x")
    with pytest.raises(ValueError, match="换行"):
        b.build(agency_emails=["a@example.com"], agency_name="x", subject="s\nBcc: evil@example.com", body="b",
                filename="a.xlsx", data=b"x")
    with pytest.raises(ValueError, match="格式不正确"):
        b.build(agency_emails=["Evil <a@example.com>"], agency_name="x", subject="s", body="b", filename="a.xlsx", data=b"x")


def test_message_builder_emls_go_through_smtp(tmp_path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    b = MessageBuilder(SENDER)
    emls, attachments = [], {}
    for i, (name, addr) in enumerate(AGENCIES):
        data = make_xlsx(tmp_path / f"{i}.xlsx", f"#{i}").read_bytes()
        attachments[addr] = (f"{name}_2024年政府信息公开年报统计表.xlsx", data)
        raw = b.build(agency_emails=[addr], agency_name=name, subject=f"请报送（{name}）", body="见附件",
                      filename=attachments[addr][0], data=data)
        emls.append(write_eml(raw, tmp_path / "out" / f"{i}.eml"))
    results = send(emls, port, Ledger())
    assert [r.ok for r in results] == [True] * 3
    assert sorted(r[1][0] for r in handler.messages) == sorted(attachments)
    for _, (rcpt,), content in handler.messages:
        msg, att = _parse(content)
        assert (att.get_filename(), att.get_payload(decode=True)) == attachments[rcpt]
        assert msg["Message-ID"] == _parse(emls[[a for _, a in AGENCIES].index(rcpt)].read_bytes())[0]["Message-ID"]


# --- sending ---------------------------------------------------------------------


def test_send_three_then_nothing_twice(tmp_path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    pairs = make_emls(tmp_path)
    emls = [e for e, _ in pairs]
    ledger = Ledger()

    results = send(emls, port, ledger)

    assert [r.ok for r in results] == [True, True, True]
    assert ledger.order == emls  # recorded one by one, in order
    assert handler.connections == 1  # one connection for the batch
    assert len(handler.messages) == 3
    for (mail_from, rcpts, content), (eml, xlsx), (_, addr) in zip(handler.messages, pairs, AGENCIES):
        assert mail_from == "gk@example.com"
        assert rcpts == [addr]
        _, att = attachment_of(content)
        assert att.get_content() == xlsx.read_bytes()
    assert {r.message_id for r in results} == {
        email.message_from_bytes(e.read_bytes())["Message-ID"] for e in emls
    }

    # Second run with the same ledger: nothing goes out, not even a connection.
    again = send(emls, port, ledger)
    assert again == []
    assert len(handler.messages) == 3
    assert handler.connections == 1


def test_envelope_sender_override(tmp_path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    emls = [e for e, _ in make_emls(tmp_path)][:1]
    send(emls, port, Ledger(), sender="bounces@example.com")
    assert handler.messages[0][0] == "bounces@example.com"


def test_refused_recipient_does_not_stop_the_batch(tmp_path, smtp_server):
    handler = Collector(reject={"gaj@example.com"})
    port = smtp_server(handler)
    emls = [e for e, _ in make_emls(tmp_path)]
    ledger = Ledger()

    results = send(emls, port, ledger)

    assert [r.ok for r in results] == [True, False, True]
    failed = results[1]
    assert failed.recipients_refused == ["gaj@example.com"]
    assert "拒收" in failed.error and "gaj@example.com" in failed.error and "550" in failed.error
    assert ledger.sent == {emls[0], emls[2]}
    assert [m[1] for m in handler.messages] == [["jyj@example.com"], ["xzfb@example.com"]]

    # Once the address is fixed on the server side, a re-run sends only the missing one.
    handler.reject.clear()
    results = send(emls, port, ledger)
    assert [(r.path, r.ok) for r in results] == [(emls[1], True)]
    assert len(handler.messages) == 3


def test_crash_in_ledger_never_resends(tmp_path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    emls = [e for e, _ in make_emls(tmp_path)]
    ledger = Ledger()
    calls = 0

    def on_sent(result):
        nonlocal calls
        calls += 1
        ledger.on_sent(result)
        if calls == 2:
            raise KeyboardInterrupt  # the operator hits Ctrl-C after the 2nd message

    with pytest.raises(KeyboardInterrupt):
        send_messages(emls, host="127.0.0.1", port=port, security="none",
                      already_sent=ledger.already_sent, on_sent=on_sent)
    assert len(handler.messages) == 2
    send(emls, port, ledger)
    assert len(handler.messages) == 3
    assert sorted(m[1][0] for m in handler.messages) == sorted(a for _, a in AGENCIES)


@pytest.mark.parametrize("mode", ["421", "drop"])
def test_reconnects_when_server_closes_between_messages(tmp_path, smtp_server, mode):
    handler = Collector(one_per_connection=mode)
    port = smtp_server(handler)
    emls = [e for e, _ in make_emls(tmp_path)]
    ledger = Ledger()

    results = send(emls, port, ledger)

    assert [r.ok for r in results] == [True, True, True]
    assert len(handler.messages) == 3
    assert handler.connections == 3


def test_drop_during_data_is_reported_not_resent(tmp_path, smtp_server):
    handler = Collector(drop_in_data={"gaj@example.com"})
    port = smtp_server(handler)
    emls = [e for e, _ in make_emls(tmp_path)]
    ledger = Ledger()

    results = send(emls, port, ledger)

    assert [r.ok for r in results] == [True, False, True]
    assert "无法确认" in results[1].error and f"127.0.0.1:{port}" in results[1].error
    # The server did store it: sending it again automatically would duplicate it.
    assert [m[1] for m in handler.messages] == [["jyj@example.com"], ["gaj@example.com"], ["xzfb@example.com"]]


def test_connection_error_names_host_and_port(tmp_path):
    emls = [e for e, _ in make_emls(tmp_path)]
    port = free_port()  # nothing listens here
    with pytest.raises(MailConnectionError) as exc:
        send(emls, port, Ledger())
    assert f"127.0.0.1:{port}" in str(exc.value)
    assert "无法连接" in str(exc.value)
    # what it means and what to check, in Chinese: not the system's "[Errno 111] Connection refused"
    assert "连接被拒绝" in str(exc.value) and "--smtp" in str(exc.value) and "Errno" not in str(exc.value)
    assert exc.value.results == []


def test_bad_security_value(tmp_path):
    with pytest.raises(ValueError, match="加密方式"):
        send_messages([], host="x", port=25, security="tls", already_sent=lambda p: False, on_sent=lambda r: None)


# --- extraction ------------------------------------------------------------------


def reply(sender: str, subject: str, attachments: list[tuple[str, bytes]], msgid: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "gk@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 14 Jan 2025 09:30:00 +0800"
    msg["Message-ID"] = msgid
    msg.set_content("已填报，请查收。")
    for name, data in attachments:
        if name.endswith(".pdf"):
            msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
        else:
            maintype, subtype = XLSX_TYPE.split("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def test_extract_from_eml(tmp_path):
    xlsx = make_xlsx(tmp_path / "教育局.xlsx", "filled")
    msg = reply("某某市教育局 <jyj@example.com>", "回复：年报数据", [("某某市教育局-年报.xlsx", xlsx.read_bytes()),
                                                            ("说明.pdf", b"%PDF-1.4")], "<r1@example.com>")
    eml = write_eml(msg, tmp_path / "in" / "r1.eml")
    dest = tmp_path / "extracted"

    [f] = extract_attachments(eml, dest)

    assert f.path == dest.resolve() / "某某市教育局-年报.xlsx"
    assert f.path.read_bytes() == xlsx.read_bytes()
    assert f.original_name == "某某市教育局-年报.xlsx"
    assert f.message_id == "<r1@example.com>"
    assert f.sender == "jyj@example.com"
    assert f.date.isoformat() == "2025-01-14T09:30:00+08:00"
    assert f.source == eml

    # Extracting again never overwrites: the second copy gets a suffix.
    [g] = extract_attachments(eml, dest)
    assert g.path.name == "某某市教育局-年报-1.xlsx"
    assert f.path.read_bytes() == g.path.read_bytes()


def test_extract_from_mbox(tmp_path):
    data = [make_xlsx(tmp_path / f"{i}.xlsx", f"reply {i}").read_bytes() for i in range(3)]
    plain = reply("某某市教育局 <jyj@example.com>", "回复", [("教育局.xlsx", data[0])], "<m1@example.com>")

    # A colleague forwards the公安局 reply as an attachment (message/rfc822).
    original = reply("某某市公安局 <gaj@example.com>", "年报", [("公安局.xlsx", data[1])], "<orig@example.com>")
    forward = EmailMessage()
    forward["From"] = "同事 <colleague@example.com>"
    forward["To"] = "gk@example.com"
    forward["Subject"] = "转发：年报"
    forward["Message-ID"] = "<fwd@example.com>"
    forward.set_content("转发公安局的回复。")
    forward.add_attachment(original)

    evil = reply("attacker@example.com", "x", [("../../evil.xlsx", data[2])], "<m3@example.com>")

    box_path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(box_path)
    for m in (plain, forward, evil):
        box.add(m.as_bytes())
    box.flush()
    box.close()

    dest = tmp_path / "a" / "b" / "dest"
    files = extract_attachments(box_path, dest)

    assert [f.path.name for f in files] == ["教育局.xlsx", "公安局.xlsx", "evil.xlsx"]
    assert [f.path.read_bytes() for f in files] == data
    assert all(f.path.parent == dest.resolve() for f in files)
    assert all(f.source == box_path for f in files)
    assert files[1].sender == "gaj@example.com"  # metadata of the forwarded original
    assert files[1].message_id == "<orig@example.com>"
    assert files[2].original_name == "../../evil.xlsx"
    assert not (tmp_path / "a" / "evil.xlsx").exists()
    assert not (tmp_path / "evil.xlsx").exists()


def test_bounces_are_skipped(tmp_path):
    ours = reply("gk@example.com", "通知", [("模板.xlsx", b"PK template")], "<ours@example.com>")
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@example.com"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce.set_content("delivery failed")
    bounce.add_attachment(ours)
    bounce.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b0undary"')
    eml = write_eml(bounce, tmp_path / "bounce.eml")
    assert extract_attachments(eml, tmp_path / "dest") == []


def test_rfc2047_and_raw_gbk_filenames(tmp_path):
    # Foxmail/Outlook style: RFC 2047 inside the quoted filename, and raw GBK bytes.
    xlsx = b"PK\x03\x04fake"
    import base64
    encoded = "=?GBK?B?" + base64.b64encode("财政局报表.xlsx".encode("gbk")).decode() + "?="
    raw = (
        b"From: czj@example.com\r\nSubject: x\r\nMessage-ID: <g@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="' + encoded.encode() + b'"\r\n\r\n'
        + base64.b64encode(xlsx) + b"\r\n"
        b"--XX\r\nContent-Type: application/vnd.ms-excel\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="' + "统计局.xls".encode("gbk") + b'"\r\n\r\n'
        + base64.b64encode(b"\xd0\xcf\x11\xe0") + b"\r\n"
        b"--XX--\r\n"
    )
    (tmp_path / "g.eml").write_bytes(raw)
    files = extract_attachments(tmp_path / "g.eml", tmp_path / "dest")
    assert [f.path.name for f in files] == ["财政局报表.xlsx", "统计局.xls"]
    assert files[0].path.read_bytes() == xlsx


# --- safe_filename ---------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("../../evil.xlsx", "evil.xlsx"),
        ("..\\..\\windows\\evil.xlsx", "evil.xlsx"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\a\\报表.xlsx", "报表.xlsx"),
        ("..", "attachment"),
        ("", "attachment"),
        (".xlsx", "attachment.xlsx"),
        ("...hidden.xlsx", "hidden.xlsx"),
        ("CON.xlsx", "_CON.xlsx"),
        ("a\x00b\r\nc.xlsx", "abc.xlsx"),
        ("report\u202exslx.exe", "reportxslx.exe"),
        ("a:b|c?.xlsx", "a_b_c_.xlsx"),
        ("=?utf-8?b?5pWZ6IKy5bGALnhsc3g=?=", "教育局.xlsx"),
        ("utf-8''%E6%95%99%E8%82%B2%E5%B1%80.xlsx", "教育局.xlsx"),
        ("O'Brien's report.xlsx", "O'Brien's report.xlsx"),
    ],
)
def test_safe_filename_examples(raw, expected):
    assert safe_filename(raw) == expected


def test_safe_filename_truncates_keeping_extension():
    name = safe_filename("很长的文件名" * 60 + ".xlsx")
    assert name.endswith(".xlsx") and len(name) <= 150
    assert len(name.encode("utf-8")) <= 255
    assert len(safe_filename("x" * 400 + ".xlsx")) == 150


@settings(max_examples=500)
@given(st.text(min_size=0, max_size=300))
def test_safe_filename_never_escapes(tmp_path_factory, name):
    dest = tmp_path_factory.getbasetemp().resolve()
    result = safe_filename(name)
    assert result
    assert "/" not in result and "\\" not in result and "\x00" not in result
    assert result not in (".", "..")
    assert len(result) <= 150
    assert (dest / result).resolve().parent == dest


@settings(max_examples=200)
@given(st.text(st.characters(codec="utf-8"), min_size=0, max_size=200))
def test_safe_filename_is_writable(tmp_path_factory, name):
    dest = tmp_path_factory.mktemp("w", numbered=True)
    result = safe_filename(name)
    (dest / result).write_bytes(b"x")  # the file system accepts it
    assert [p.name for p in dest.iterdir()] == [result]
