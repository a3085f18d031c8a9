"""The collection campaign end to end, with real parts: SQLite file, SMTP server, CLI processes."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import shutil
import mailbox
import os
import random
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from xlsxgov import layout as layout_mod
from xlsxgov import spec as spec_mod
from xlsxgov.campaign import status as status_mod
from xlsxgov.campaign import store as store_mod
from xlsxgov.campaign.feedback import build_feedback
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.stamp import STAMPED_PARTS, TemplateStamper
from xlsxgov.campaign.mail import build_message
from xlsxgov.campaign.roster import uscc_check_char
from xlsxgov.reader import read_workbook
from xlsxgov.template import footer_name, Meta, write_template

sys.path.insert(0, str(Path(__file__).parent))
import hostile_files  # noqa: E402
from test_mail import Collector  # noqa: E402  (the aiosmtpd handler the mail tests use)

XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))
YEAR = 2024


def code_for(i: int, prefix: str = "11350100MB") -> str:
    body = f"{prefix}{i:07d}"
    return body + uscc_check_char(body)


AGENCIES = [(f"某某市第{i}局", code_for(i), "某某市" if i % 2 else "某某县", f"a{i}@example.com") for i in range(6)]


def cli(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([XLSXGOV, "campaign", *map(str, args)], capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def flat(text: str) -> str:
    """Output without whitespace: rich wraps lines at the terminal width."""
    return "".join(text.split())


def write_roster(path: Path, rows=AGENCIES) -> Path:
    lines = ["单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱"]
    lines += [f"{n},{c},{r},联系人{i},{e}" for i, (n, c, r, e) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def issued(tmp_path_factory) -> Path:
    """A campaign initialised and issued through the CLI, once per module."""
    tmp_path = tmp_path_factory.mktemp("issued")
    d = tmp_path / "c"
    cli("init", d, "--year", YEAR, "--roster", write_roster(tmp_path / "roster.csv"), "--region", "某某市",
        "--sender", "某某市政务公开办 <office@example.gov.cn>")
    cli("issue", d)
    return d


@pytest.fixture
def campaign(issued: Path, tmp_path: Path) -> Path:
    """A fresh copy of the issued campaign for each test (the ledger records only paths
    relative to its folder)."""
    return Path(shutil.copytree(issued, tmp_path / "c"))


def template_of(d: Path, i: int) -> Path:
    return next((d / "outbox").glob(f"{AGENCIES[i][1]}_*.xlsx"))


# --- init / issue ---------------------------------------------------------------------------


def test_init_creates_ledger_and_folders(campaign: Path):
    for sub in store_mod.SUBDIRS:
        assert (campaign / sub).is_dir()
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert dict(conn.execute("SELECT key, value FROM campaign"))["year"] == str(YEAR)
    assert conn.execute("SELECT COUNT(*) FROM agencies").fetchone()[0] == 6
    assert [a.code for a in store_mod.roster(campaign)] == [a[1] for a in AGENCIES]


def test_init_bad_roster_creates_nothing(tmp_path: Path):
    bad = list(AGENCIES)
    bad[2] = (bad[2][0], bad[2][1][:-1] + ("0" if bad[2][1][-1] != "0" else "1"), bad[2][2], bad[2][3])
    d = tmp_path / "c"
    proc = cli("init", d, "--year", YEAR, "--roster", write_roster(tmp_path / "bad.csv", bad), check=False)
    assert proc.returncode == 2
    assert "校验位错误" in proc.stderr and "第4行" in proc.stderr
    assert not d.exists()


def test_issue_stamps_templates(campaign: Path):
    xlsx = sorted((campaign / "outbox").glob("*.xlsx"))
    emls = sorted((campaign / "outbox").glob("*.eml"))
    assert len(xlsx) == 6 and len(emls) == 6
    for i, (name, code, region, _) in enumerate(AGENCIES):
        path = template_of(campaign, i)
        assert path.name == f"{code}_{name}_{YEAR}年政府信息公开年报统计表.xlsx"
        sub = read_workbook(path)
        assert (sub.agency, sub.code, sub.meta["region"], sub.year) == (name, code, region, YEAR)
        assert not [f for f in sub.findings if f.severity == "error"]
        ws = openpyxl.load_workbook(path)["封面"]
        assert (ws["B3"].value, ws["B4"].value, ws["B5"].value) == (name, code, region)
    # Byte-identical except the stamped parts, also against a template built from scratch.
    fresh = campaign / "fresh.xlsx"
    write_template(fresh, spec_mod.load("gov2021"), Meta(year=YEAR, agency="x", code="y", region="z"))
    with zipfile.ZipFile(template_of(campaign, 0)) as a, zipfile.ZipFile(template_of(campaign, 1)) as b, zipfile.ZipFile(fresh) as f:
        assert sorted(a.namelist()) == sorted(b.namelist()) == sorted(f.namelist())
        stamped = TemplateStamper(spec_mod.load("gov2021"), YEAR).stamped
        assert set(STAMPED_PARTS) < set(stamped)
        for n in a.namelist():
            if n in stamped:
                assert a.read(n) != b.read(n)
            else:
                assert a.read(n) == b.read(n), n
        assert a.testzip() is None
    msg = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert "2024年度" in msg["Subject"] and AGENCIES[0][0] in msg["Subject"]
    assert "2025年1月31日" in msg.get_body().get_content()
    att = next(msg.iter_attachments())
    assert att.get_filename() == template_of(campaign, 0).name
    assert att.get_payload(decode=True) == template_of(campaign, 0).read_bytes()
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM issued").fetchone()[0] == 6


def test_stamped_xml_escaping(tmp_path: Path):
    stamper = TemplateStamper(spec_mod.load("gov2021"), YEAR)
    p = stamper.stamp(tmp_path / "t.xlsx", "A&B <局> \"x\"", code_for(9), "")
    sub = read_workbook(p)
    assert sub.agency == "A&B <局> \"x\"" and sub.code == code_for(9)
    assert openpyxl.load_workbook(p)["封面"]["B3"].value == "A&B <局> \"x\""


def test_stamped_footer_names_the_agency(tmp_path: Path):
    """Every printed sheet of a stamped template names its agency in the footer, beside the
    sheet name and 第 N 页 共 M 页 (issue #9, point 8); "&" is doubled, the footer's control
    character, and the XML is escaped."""
    stamper = TemplateStamper(spec_mod.load("gov2021"), YEAR)
    names = ("A&B <局> \"x\"", AGENCIES[0][0], "某" * 300 + "&局")  # Excel refuses footers over 255 characters
    paths = [stamper.stamp(tmp_path / f"t{i}.xlsx", name, code_for(9), "某市") for i, name in enumerate(names)]
    for path, name in zip(paths, names):
        wb = openpyxl.load_workbook(path)
        printed = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
        assert len(printed) >= 5
        for ws in printed:
            footer = ws.oddFooter
            assert footer.left.text == footer_name(name), (ws.title, footer.left.text)
            assert footer.left.text.startswith(name[:50].replace("&", "&&")) and len(footer.left.text) <= 200
            assert (footer.center.text, footer.right.text) == ("&A", "第 &P 页 共 &N 页")
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
            assert "@@" not in "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))


@pytest.mark.office
def test_stamped_template_opens_in_libreoffice(campaign: Path, soffice, tmp_path: Path):
    from xlsxgov import office

    src = tmp_path / "stamped.xlsx"
    src.write_bytes(template_of(campaign, 3).read_bytes())
    out = office.convert(src, "xlsx", tmp_path / "lo")
    sub = read_workbook(out)
    assert (sub.agency, sub.code) == (AGENCIES[3][0], AGENCIES[3][1])


# --- send -----------------------------------------------------------------------------------


@pytest.fixture
def smtp_server():
    controllers = []

    def start(handler, **kwargs) -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        c = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        c.start()
        controllers.append(c)
        return port

    yield start
    for c in controllers:
        c.stop()


def test_send_once_per_agency(campaign: Path, smtp_server):
    handler = Collector()
    port = smtp_server(handler)
    proc = cli("send", campaign, "--smtp", f"127.0.0.1:{port}", "--from", "office@example.gov.cn")
    assert "成功 6" in proc.stdout
    assert sorted(rcpt[0] for _, rcpt, _ in handler.messages) == sorted(a[3] for a in AGENCIES)
    for _, rcpt, content in handler.messages:
        msg = email.message_from_bytes(content, policy=email.policy.default)
        i = [a[3] for a in AGENCIES].index(rcpt[0])
        att = next(msg.iter_attachments())
        assert att.get_filename().startswith(AGENCIES[i][1])
        assert att.get_payload(decode=True) == template_of(campaign, i).read_bytes()
    proc = cli("send", campaign, "--smtp", f"127.0.0.1:{port}", "--from", "office@example.gov.cn")
    assert len(handler.messages) == 6 and "成功 0" in proc.stdout and "已发送 6" in proc.stdout
    status = status_mod.campaign_status(campaign)
    assert all(a["sent"] for a in status["agencies"])


def test_send_rejected_recipient_fails_only_that_one(campaign: Path, smtp_server):
    handler = Collector(reject={AGENCIES[2][3]})
    port = smtp_server(handler)
    proc = cli("send", campaign, "--smtp", f"127.0.0.1:{port}", "--from", "office@example.gov.cn", check=False)
    assert proc.returncode == 1
    assert "拒收" in proc.stderr and AGENCIES[2][3] in proc.stderr
    assert len(handler.messages) == 5
    status = {a["code"]: a for a in status_mod.campaign_status(campaign)["agencies"]}
    assert not status[AGENCIES[2][1]]["sent"] and status[AGENCIES[2][1]]["send_error"]
    assert sum(a["sent"] for a in status.values()) == 5
    # Re-run: only the rejected one is tried again.
    handler.reject.clear()
    cli("send", campaign, "--smtp", f"127.0.0.1:{port}", "--from", "office@example.gov.cn")
    assert len(handler.messages) == 6 and handler.messages[-1][1] == [AGENCIES[2][3]]


# --- send over TLS with login ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it (openssl CLI)."""
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=xlsxgov test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return {"ca": d / "ca.pem", "cert": d / "server.pem", "key": d / "server.key"}


def server_context(tls_files) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tls_files["cert"], tls_files["key"])
    return ctx


SMTP_USER, SMTP_PASSWORD = "gk-office", "s3cret-密码"


class TLSCollector(Collector):
    """Records whether each accepted message came over TLS and who was logged in."""

    def __init__(self):
        super().__init__()
        self.sessions = []  # (tls?, authenticated login) per accepted message
        self.logins = []  # every AUTH attempt: (mechanism, login, success)

    async def handle_DATA(self, server, session, envelope):
        self.sessions.append((server.transport.get_extra_info("ssl_object") is not None, session.auth_data))
        return await super().handle_DATA(server, session, envelope)

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(), SMTP_PASSWORD.encode()
        )
        self.logins.append((mechanism, auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)


def start_tls_server(smtp_server, tls_files, mode: str) -> tuple[TLSCollector, int]:
    handler = TLSCollector()
    if mode == "starttls":  # port 587 style: plain connection, STARTTLS required before AUTH and MAIL
        port = smtp_server(handler, tls_context=server_context(tls_files), require_starttls=True,
                           authenticator=handler.authenticator, auth_required=True, auth_require_tls=True)
    else:  # port 465 style: TLS from the first byte (aiosmtpd only counts STARTTLS as TLS for AUTH)
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
        port = smtp_server(handler, ssl_context=server_context(tls_files),
                           authenticator=handler.authenticator, auth_required=True, auth_require_tls=False)
    return handler, port


def send_env(password: str) -> dict:
    return {**os.environ, "XLSXGOV_TEST_SMTP_PASSWORD": password}


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_send_tls_with_login(campaign: Path, smtp_server, tls_files, mode: str):
    handler, port = start_tls_server(smtp_server, tls_files, mode)
    args = ["send", campaign, "--smtp", f"127.0.0.1:{port}", f"--{mode}", "--user", SMTP_USER,
            "--password-env", "XLSXGOV_TEST_SMTP_PASSWORD", "--cafile", tls_files["ca"], "--from", "office@example.gov.cn"]
    proc = cli(*args, env=send_env(SMTP_PASSWORD))
    assert "成功 6" in proc.stdout
    assert len(handler.messages) == 6
    assert handler.sessions == [(True, SMTP_USER)] * 6  # every message over TLS, after a successful login
    assert all(ok and login == SMTP_USER for _, login, ok in handler.logins)
    for _, rcpt, content in handler.messages:
        i = [a[3] for a in AGENCIES].index(rcpt[0])
        att = next(email.message_from_bytes(content, policy=email.policy.default).iter_attachments())
        assert att.get_payload(decode=True) == template_of(campaign, i).read_bytes()
    ids = {a["code"]: a["sent"] for a in status_mod.campaign_status(campaign)["agencies"]}
    assert all(ids.values())
    proc = cli(*args, env=send_env(SMTP_PASSWORD))
    assert "成功 0" in proc.stdout and "已发送 6" in proc.stdout and len(handler.messages) == 6


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_send_wrong_password_is_a_clear_error(campaign: Path, smtp_server, tls_files, mode: str):
    handler, port = start_tls_server(smtp_server, tls_files, mode)
    proc = cli("send", campaign, "--smtp", f"127.0.0.1:{port}", f"--{mode}", "--user", SMTP_USER,
               "--password-env", "XLSXGOV_TEST_SMTP_PASSWORD", "--cafile", tls_files["ca"],
               "--from", "office@example.gov.cn", env=send_env("wrong"), check=False)
    assert proc.returncode == 2
    err = flat(proc.stderr)
    assert f"SMTP服务器127.0.0.1:{port}拒绝登录" in err and "用户名和密码" in err
    assert "Traceback" not in proc.stderr + proc.stdout
    assert handler.messages == [] and handler.logins and not any(ok for *_, ok in handler.logins)
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM sent").fetchone()[0] == 0  # nothing marked sent, no failures either
    assert not any(a["sent"] for a in status_mod.campaign_status(campaign)["agencies"])


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_send_untrusted_certificate_is_a_clear_error(campaign: Path, smtp_server, tls_files, mode: str):
    handler, port = start_tls_server(smtp_server, tls_files, mode)
    proc = cli("send", campaign, "--smtp", f"127.0.0.1:{port}", f"--{mode}", "--user", SMTP_USER,
               "--password-env", "XLSXGOV_TEST_SMTP_PASSWORD", "--from", "office@example.gov.cn",
               env=send_env(SMTP_PASSWORD), check=False)  # no --cafile: the system does not trust the test CA
    assert proc.returncode == 2
    err = flat(proc.stderr)
    assert f"SMTP服务器127.0.0.1:{port}的证书未通过验证" in err and "--cafile" in err
    assert "Traceback" not in proc.stderr
    assert handler.messages == [] and handler.logins == []  # the password never left the client
    assert not any(a["sent"] for a in status_mod.campaign_status(campaign)["agencies"])


def test_send_login_options_are_checked(campaign: Path, tmp_path: Path):
    base = ["send", campaign, "--smtp", "127.0.0.1:1", "--from", "office@example.gov.cn"]
    proc = cli(*base, "--user", SMTP_USER, check=False)
    assert proc.returncode == 2 and "--password-env" in flat(proc.stderr)
    proc = cli(*base, "--user", SMTP_USER, "--password-env", "XLSXGOV_UNSET_VARIABLE", check=False,
               env={k: v for k, v in os.environ.items() if k != "XLSXGOV_UNSET_VARIABLE"})
    assert proc.returncode == 2 and "XLSXGOV_UNSET_VARIABLE未设置" in flat(proc.stderr)
    proc = cli(*base, "--ssl", "--cafile", tmp_path / "nope.pem", check=False)
    assert proc.returncode == 2 and "找不到CA证书文件" in flat(proc.stderr)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    proc = cli(*base, "--ssl", "--cafile", bad, check=False)
    assert proc.returncode == 2 and "无法读取CA证书文件" in flat(proc.stderr) and "Traceback" not in proc.stderr


# --- import ---------------------------------------------------------------------------------

SPEC = spec_mod.load("gov2021")
LAYOUT = layout_mod.layout(SPEC)
T3_NEW = next(c for c in SPEC.cells() if c.is_input and c.table.id == "t3")


def fill(src: Path, dest: Path, *, broken: bool, contact: str) -> Path:
    wb = openpyxl.load_workbook(src)
    wb["封面"]["B8"] = contact  # makes every reply's bytes distinct
    if broken:  # a new application with no result: the t3 balance fails
        pl = LAYOUT["t3"].place(T3_NEW)
        wb[T3_NEW.table.sheet].cell(pl.r + 1, pl.c + 1).value = 5
    else:  # an untouched template is not a report: this agency declares its tables all zero
        wb["封面"]["B11"] = "是"
    wb.save(dest)
    return dest


T0 = 1_735_000_000  # 2024-12-24


def build_corpus(d: Path, campaign_dir: Path, tmp: Path) -> Path:
    """Replies covering every outcome; see the expectations in test_import_corpus."""
    d.mkdir(parents=True)
    t = lambda i: template_of(campaign_dir, i)  # noqa: E731
    files = {
        "a0_valid.xlsx": fill(t(0), d / "a0_valid.xlsx", broken=False, contact="张0"),
        "a1_invalid.xlsx": fill(t(1), d / "a1_invalid.xlsx", broken=True, contact="张1"),
        "a2_old.xlsx": fill(t(2), d / "a2_old.xlsx", broken=True, contact="张2"),
    }
    (d / "sub").mkdir()
    files["a2_new.xlsx"] = fill(t(2), d / "sub" / "a2_new.xlsx", broken=False, contact="张2b")
    (d / "z_a0_copy.xlsx").write_bytes(files["a0_valid.xlsx"].read_bytes())
    stranger = d / "stranger.xlsx"
    write_template(stranger, SPEC, Meta(year=YEAR, agency="外省某局", code=code_for(99, "11440100MB"), region="外省"))
    (d / f"{AGENCIES[3][1]}_报表.xlsx").write_bytes(b"\x93" + random.Random(1).randbytes(8191))
    enc_dir = tmp / "enc"
    enc_dir.mkdir()
    enc, _ = hostile_files.encrypted_xlsx(enc_dir)
    (d / "encrypted.xlsx").write_bytes(enc.read_bytes())
    for p in d.rglob("*.xlsx"):
        os.utime(p, (T0, T0))
    os.utime(files["a2_new.xlsx"], (T0 + 3600, T0 + 3600))
    # Mail: agency 5 sends a valid file (newer) after an invalid one (older), stored in reverse order.
    mb_valid = fill(t(5), tmp / "回复-合格.xlsx", broken=False, contact="张5b")
    mb_invalid = fill(t(5), tmp / "回复-有错.xlsx", broken=True, contact="张5")
    box = mailbox.mbox(str(d / "replies.mbox"))
    for att, when in ((mb_valid, T0 + 7200), (mb_invalid, T0 + 60)):
        msg = build_message(sender=AGENCIES[5][3], agency_email="office@example.gov.cn", agency_name="办公室",
                            subject="回复：年报统计表", body="见附件", attachment=att)
        del msg["Date"]
        msg["Date"] = email.utils.formatdate(when)
        box.add(msg)
    box.flush()
    box.close()
    return d


def canonical(d: Path) -> list:
    conn = sqlite3.connect(d / "ledger.sqlite")
    rows = conn.execute(
        "SELECT s.sha256, s.status, s.code, s.superseded_by IS NOT NULL, s.file_name, s.errors, s.warnings, "
        "(SELECT COUNT(*) FROM findings f WHERE f.submission_id = s.id), "
        "(SELECT COUNT(*) FROM facts x WHERE x.submission_id = s.id), "
        # every recorded column, not only the counts
        "(SELECT json_group_array(json_array(severity, rule, sheet, cell, message)) FROM "
        " (SELECT * FROM findings f WHERE f.submission_id = s.id ORDER BY f.rowid)), "
        "(SELECT json_group_array(json_array(\"table\", row, col, value, sheet, cell, raw)) FROM "
        " (SELECT * FROM facts x WHERE x.submission_id = s.id ORDER BY x.rowid)), "
        "(SELECT json_group_array(json_array(key, value)) FROM "
        " (SELECT * FROM submission_meta m WHERE m.submission_id = s.id ORDER BY m.rowid)) "
        "FROM submissions s ORDER BY s.sha256"
    ).fetchall()
    orphans = conn.execute(
        "SELECT (SELECT COUNT(*) FROM findings WHERE submission_id NOT IN (SELECT id FROM submissions)),"
        " (SELECT COUNT(*) FROM facts WHERE submission_id NOT IN (SELECT id FROM submissions))"
    ).fetchone()
    conn.close()
    assert orphans == (0, 0)
    return rows


@pytest.fixture
def corpus(campaign: Path, tmp_path: Path) -> Path:
    return build_corpus(tmp_path / "replies", campaign, tmp_path)


def summary_counts(output: str) -> dict[str, int]:
    """The rows of the 导入结果 table printed by ``campaign import``: label → file count."""
    text = output[output.index("导入结果"):]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃|").split("│")]
        if len(cells) == 2 and cells[1].isdigit():
            rows[cells[0]] = int(cells[1])
    return rows


EXPECTED_CORPUS_COUNTS = {"合格": 3, "有错误": 3, "无法读取": 2, "单位不明": 1, "重复文件（已跳过）": 1, "未导入": 0, "合计": 10}


def test_import_corpus(campaign: Path, corpus: Path):
    wide = {**os.environ, "COLUMNS": "200"}  # one line per file: the checks below read them whole
    proc = cli("import", campaign, corpus, env=wide)
    assert summary_counts(proc.stdout) == EXPECTED_CORPUS_COUNTS
    assert f"已记为“{AGENCIES[0][0]}”的报送完全相同" in flat(proc.stdout)  # z_a0_copy.xlsx, a copy of a0's file
    rows = canonical(campaign)
    by_name = {r[4]: r for r in rows}
    assert len(rows) == 9
    c = [a[1] for a in AGENCIES]
    assert by_name["a0_valid.xlsx"][1:4] == ("valid", c[0], 0)
    assert by_name["a1_invalid.xlsx"][1:4] == ("invalid", c[1], 0) and by_name["a1_invalid.xlsx"][5] == 2
    assert by_name["a2_old.xlsx"][1:4] == ("invalid", c[2], 1)
    assert by_name["a2_new.xlsx"][1:4] == ("valid", c[2], 0)
    assert by_name["stranger.xlsx"][1:4] == ("unknown", None, 0)
    assert by_name[f"{c[3]}_报表.xlsx"][1:4] == ("unreadable", c[3], 0)
    assert by_name["encrypted.xlsx"][1:4] == ("unreadable", None, 0)
    assert by_name["回复-合格.xlsx"][1:4] == ("valid", c[5], 0)
    assert by_name["回复-有错.xlsx"][1:4] == ("invalid", c[5], 1)
    assert all(r[8] > 0 for r in rows if r[1] in ("valid", "invalid"))
    # Every original is archived byte for byte, mail files included.
    archived = {p.read_bytes() for p in (campaign / "archive").iterdir()}
    for p in corpus.rglob("*"):
        if p.is_file():
            assert p.read_bytes() in archived, p
    # Quarantine with reasons; feedback for invalid files, built when asked for (campaign feedback).
    reasons = sorted((campaign / "quarantine").glob("*.reason.txt"))
    assert len(reasons) == 3
    assert any("名册" in r.read_text(encoding="utf-8") for r in reasons)
    assert any("加密" in r.read_text(encoding="utf-8") or "密码" in r.read_text(encoding="utf-8") for r in reasons)
    assert not list((campaign / "feedback").iterdir())
    assert "新生成问题反馈工作簿3份，此前已生成0份" in flat(cli("feedback", campaign).stdout)
    assert len(list((campaign / "feedback").glob("*.xlsx"))) == 3
    assert "新生成问题反馈工作簿0份，此前已生成3份" in flat(cli("feedback", campaign).stdout)
    # Status
    out = json.loads(cli("status", campaign, "--json").stdout)
    st = {a["code"]: a for a in out["agencies"]}
    assert [st[x]["status"] for x in c] == ["valid", "invalid", "valid", "unreadable", "missing", "valid"]
    assert st[c[1]]["errors"] == 2 and st[c[4]]["received_at"] is None
    assert out["totals"] == {"valid": 3, "invalid": 1, "missing": 1, "unreadable": 1}
    # the file name as the agency sent it: no quotes, no mail, never the archive's name
    names = {p.name for p in corpus.rglob("*")}
    assert st[c[0]]["file"] in names and st[c[4]]["file"] == ""
    text = cli("status", campaign, "--xlsx", campaign / "进度.xlsx").stdout
    assert "合格" in text and "未报送" in text
    ws = openpyxl.load_workbook(campaign / "进度.xlsx").active
    # The table starts under the totals: row 5 the header, agencies from row 6 (name B, status C).
    assert ws["B6"].value == AGENCIES[0][0] and ws["C7"].value == "有错误"
    acc = store_mod.accepted_submissions(campaign)
    assert [a[1] for a in acc] == [c[0], c[2], c[5]] and all(a[2].is_file() for a in acc)
    # A re-run adds nothing.
    before = canonical(campaign)
    proc = cli("import", campaign, corpus, env=wide)
    assert canonical(campaign) == before
    assert summary_counts(proc.stdout) == {**{k: 0 for k in EXPECTED_CORPUS_COUNTS}, "重复文件（已跳过）": 10, "合计": 10}
    # The files recorded, read again from where they came from, are only counted; the copy of
    # a0's file is said again, with whose file it is.
    listed = flat(proc.stdout)
    assert not any(f"{name}：" in listed for name in by_name), listed
    assert "z_a0_copy.xlsx：与" in listed and f"已记为“{AGENCIES[0][0]}”的报送完全相同" in listed


def test_import_default_inbox_and_eml(campaign: Path, tmp_path: Path):
    reply = fill(template_of(campaign, 4), tmp_path / "r4.xlsx", broken=False, contact="x")
    msg = build_message(sender=AGENCIES[4][3], agency_email="o@example.gov.cn", agency_name="办公室", subject="回复", body="附件", attachment=reply)
    (campaign / "inbox" / "r4.eml").write_bytes(msg.as_bytes())
    cli("import", campaign)
    st = {a["code"]: a["status"] for a in status_mod.campaign_status(campaign)["agencies"]}
    assert st[AGENCIES[4][1]] == "valid"
    assert not list((campaign / ".tmp").iterdir())


def _copy_campaign(src: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(src, dest)
    return dest


def test_import_killed_then_rerun_equals_uninterrupted(campaign: Path, corpus: Path, tmp_path: Path):
    fresh = _copy_campaign(campaign, tmp_path / "killed")
    cli("import", campaign, corpus)
    expected = canonical(campaign)
    rng = random.Random(20240131)
    for _ in range(3):
        proc = subprocess.Popen([XLSXGOV, "campaign", "import", str(fresh), str(corpus)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.8, 3.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    cli("import", fresh, corpus)
    assert canonical(fresh) == expected
    assert not list((fresh / ".tmp").iterdir())  # extraction folders of killed runs are removed
    assert sorted(p.name for p in (fresh / "archive").iterdir() if not p.name.startswith(".")) == sorted(
        p.name for p in (campaign / "archive").iterdir()
    )


def test_import_on_workers_equals_one_process(campaign: Path, tmp_path: Path):
    """Enough files for worker processes (parallel.MIN_PARALLEL): the ledger, the feedback
    workbooks (built afterwards by ``campaign feedback``) and the outcomes are those of the same
    import in one process (XLSXGOV_WORKERS=1), and no note of a file being read is left behind
    by the workers."""
    replies = tmp_path / "replies"
    replies.mkdir()
    for i in range(24):
        fill(template_of(campaign, i % 6), replies / f"r{i:02d}.xlsx", broken=i % 4 == 3, contact=f"联系人{i}")
    one = _copy_campaign(campaign, tmp_path / "one")
    many = _copy_campaign(campaign, tmp_path / "many")
    runs = {}
    for d, workers in ((one, "1"), (many, "2")):
        proc = subprocess.run([XLSXGOV, "campaign", "import", str(d), str(replies)], capture_output=True, text=True,
                              env={**os.environ, "XLSXGOV_WORKERS": workers})
        assert proc.returncode == 0, proc.stderr
        runs[workers] = proc.stdout
        assert not list((d / "feedback").iterdir())  # import records where they go, writes none
        cli("feedback", d, env={**os.environ, "XLSXGOV_WORKERS": workers})
    assert canonical(many) == canonical(one)
    assert summary_counts(runs["2"]) == summary_counts(runs["1"])
    assert sorted(p.name for p in (many / "feedback").iterdir()) == sorted(p.name for p in (one / "feedback").iterdir())
    assert len(list((many / "feedback").iterdir())) == 6
    assert not list((many / ".tmp").iterdir())


def test_import_workers_end_with_a_killed_import(campaign: Path, tmp_path: Path):
    """SIGKILL of ``campaign import`` while its worker processes read: the workers end too
    (none is left waiting for work forever), and the next import records every file."""
    replies = tmp_path / "replies"
    replies.mkdir()
    for i in range(40):
        fill(template_of(campaign, i % 6), replies / f"r{i:02d}.xlsx", broken=False, contact=f"联系人{i}")
    reference = _copy_campaign(campaign, tmp_path / "reference")
    cli("import", reference, replies)
    proc = subprocess.Popen([XLSXGOV, "campaign", "import", str(campaign), str(replies)], env={**os.environ, "XLSXGOV_WORKERS": "2"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        workers |= {int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(int(p)) == proc.pid}
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the import finished before its workers could be seen")
    assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)]
    cli("import", campaign, replies)
    assert canonical(campaign) == canonical(reference)
    assert not list((campaign / ".tmp").iterdir())


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_two_concurrent_imports(campaign: Path, corpus: Path, tmp_path: Path):
    reference = _copy_campaign(campaign, tmp_path / "ref")
    cli("import", reference, corpus)
    procs = [subprocess.Popen([XLSXGOV, "campaign", "import", str(campaign), str(corpus)], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    assert canonical(campaign) == canonical(reference)


# --- superseding and feedback per submission ------------------------------------------------


def corrupt(path: Path, seed: int) -> Path:
    path.write_bytes(b"PK\x03\x04" + random.Random(seed).randbytes(4000))  # a zip header, then garbage
    return path


def superseding_files(campaign: Path, d: Path) -> list[tuple[Path, int]]:
    """(file, mtime offset from T0). Agency 0: valid, then a corrupt file named with its code;
    1: valid, then invalid; 2: only corrupt files; 3: corrupt, then valid; 4: invalid twice."""
    d.mkdir()
    c = [a[1] for a in AGENCIES]
    files = [
        (fill(template_of(campaign, 0), d / "a0_valid.xlsx", broken=False, contact="甲"), 0),
        (corrupt(d / f"{c[0]}_更正版.xlsx", 0), 3600),
        (fill(template_of(campaign, 1), d / "a1_valid.xlsx", broken=False, contact="乙"), 0),
        (fill(template_of(campaign, 1), d / "a1_invalid_later.xlsx", broken=True, contact="乙2"), 60),
        (corrupt(d / f"{c[2]}_第一次.xlsx", 2), 0),
        (corrupt(d / f"{AGENCIES[2][0]}_第二次.xlsx", 3), 60),
        (corrupt(d / f"{c[3]}_坏.xlsx", 4), 0),
        (fill(template_of(campaign, 3), d / "a3_valid_later.xlsx", broken=False, contact="丁"), 60),
        (fill(template_of(campaign, 4), d / "a4_first.xlsx", broken=True, contact="戊"), 0),
        (fill(template_of(campaign, 4), d / "a4_second.xlsx", broken=True, contact="戊2"), 60),
    ]
    for path, offset in files:
        os.utime(path, (T0 + offset, T0 + offset))
    return files


def test_unreadable_never_supersedes_a_readable_submission(campaign: Path, tmp_path: Path):
    files = superseding_files(campaign, tmp_path / "in")
    other = _copy_campaign(campaign, tmp_path / "one_by_one")
    result = import_paths(campaign, [tmp_path / "in"])
    assert sorted(f.outcome for f in result.files) == sorted(
        ["valid", "unreadable", "valid", "invalid", "unreadable", "unreadable", "unreadable", "valid", "invalid", "invalid"]
    )
    c = [a[1] for a in AGENCIES]
    st = {a["code"]: a for a in status_mod.campaign_status(campaign)["agencies"]}
    assert [st[x]["status"] for x in c] == ["valid", "invalid", "unreadable", "valid", "invalid", "missing"]
    assert [st[x]["received"] for x in c] == [2, 2, 2, 2, 2, 0]  # every file is in the history
    # The current submission is the one shown: agency 0's valid file, not the later corrupt one.
    assert st[c[0]]["received_at"].startswith("2024-12-24") and st[c[0]]["errors"] == 0
    assert st[c[2]]["received_at"] == max(  # only unreadable files: the newest of them
        r[0] for r in sqlite3.connect(campaign / "ledger.sqlite").execute("SELECT received_at FROM submissions WHERE code=?", (c[2],))
    )
    # Exactly one current row per agency that sent something; the others point at it.
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    per_code = dict(conn.execute("SELECT code, COUNT(*) FROM submissions WHERE superseded_by IS NULL GROUP BY code"))
    assert per_code == {x: 1 for x in c[:5]}
    assert conn.execute(
        "SELECT s.file_name, cur.file_name FROM submissions s JOIN submissions cur ON cur.id = s.superseded_by WHERE s.code=?",
        (c[0],),
    ).fetchall() == [(f"{c[0]}_更正版.xlsx", "a0_valid.xlsx")]
    # The corrupt files are quarantined with their reason all the same.
    reasons = [p.read_text(encoding="utf-8") for p in (campaign / "quarantine").glob("*.reason.txt")]
    assert len(reasons) == 4 and any(f"{c[0]}_更正版.xlsx" in r and "原因" in r for r in reasons)
    # accepted_submissions agrees with status, whatever statuses are asked for.
    assert [a[1] for a in store_mod.accepted_submissions(campaign)] == [c[0], c[3]]
    assert [a[1] for a in store_mod.accepted_submissions(campaign, ("invalid",))] == [c[1], c[4]]
    assert [a[1] for a in store_mod.accepted_submissions(campaign, ("unreadable",))] == [c[2]]
    assert [a[2].name for a in store_mod.accepted_submissions(campaign)] == [
        conn.execute("SELECT archive_path FROM submissions WHERE file_name=?", (n,)).fetchone()[0].split("/")[-1]
        for n in ("a0_valid.xlsx", "a3_valid_later.xlsx")
    ]
    # The same files imported one at a time, newest first, end in the same ledger.
    for path, _ in sorted(files, key=lambda f: -f[1]):
        import_paths(other, [path])
    assert canonical(other) == canonical(campaign)


def test_feedback_per_submission(campaign: Path, tmp_path: Path):
    superseding_files(campaign, tmp_path / "in")
    import_paths(campaign, [tmp_path / "in"])
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    rows = conn.execute("SELECT file_name, sha256, feedback_path, status FROM submissions ORDER BY file_name").fetchall()
    recorded = {r[0]: r[2] for r in rows}
    assert all(r[2] is None for r in rows if r[3] != "invalid")
    c4, n4 = AGENCIES[4][1], AGENCIES[4][0]
    first, second = recorded["a4_first.xlsx"], recorded["a4_second.xlsx"]
    assert first != second and first.startswith("feedback/") and second.startswith("feedback/")
    sha = {r[0]: r[1] for r in rows}
    assert Path(first).name == f"{c4}_{n4}_问题反馈_{sha['a4_first.xlsx'][:8]}.xlsx"
    assert Path(second).name == f"{c4}_{n4}_问题反馈_{sha['a4_second.xlsx'][:8]}.xlsx"
    assert not list((campaign / "feedback").iterdir())  # built when first asked for
    build_feedback(campaign)
    on_disk = sorted(p.relative_to(campaign).as_posix() for p in (campaign / "feedback").iterdir())
    assert on_disk == sorted(v for v in recorded.values() if v)  # nothing overwritten, nothing extra
    # Each feedback workbook is about its own submission (the cover contact differs).
    assert openpyxl.load_workbook(campaign / first)["封面"]["B8"].value == "戊"
    assert openpyxl.load_workbook(campaign / second)["封面"]["B8"].value == "戊2"
    st = {a["code"]: a for a in status_mod.campaign_status(campaign)["agencies"]}
    assert st[c4]["feedback"] == second  # the current submission's feedback


def test_ledger_of_older_version_is_migrated(campaign: Path, tmp_path: Path):
    conn = sqlite3.connect(campaign / "ledger.sqlite")
    conn.execute("ALTER TABLE submissions DROP COLUMN feedback_path")  # as written before feedback paths were kept
    conn.commit()
    conn.close()
    reply = fill(template_of(campaign, 1), tmp_path / "r1.xlsx", broken=True, contact="x")
    [outcome] = import_paths(campaign, [reply]).files
    assert outcome.outcome == "invalid" and not outcome.feedback.exists()
    assert build_feedback(campaign).built == [outcome.feedback] and outcome.feedback.is_file()
    assert status_mod.campaign_status(campaign)["agencies"][1]["feedback"] == outcome.feedback.relative_to(campaign).as_posix()


# --- import output: progress bar on a terminal, summary table ---------------------------------


def test_import_cli_summary_table(campaign: Path, corpus: Path):
    from typer.testing import CliRunner

    from xlsxgov.cli.campaign import campaign_app

    result = CliRunner().invoke(campaign_app, ["import", str(campaign), str(corpus)])
    assert result.exit_code == 0, result.output
    assert summary_counts(result.stdout) == EXPECTED_CORPUS_COUNTS
    # Files that need action are listed with their reason or errors, and how to get their feedback.
    attention = flat(result.stdout[: result.stdout.index("导入结果")])
    assert "需要处理的文件" in attention and "stranger.xlsx" in attention and "encrypted.xlsx" in attention
    assert "错误2处" in attention and "a0_valid.xlsx" not in attention
    assert flat(f"xlsxgov campaign feedback {campaign}") in attention
    # Not a terminal: no progress bar, no control sequences.
    assert "正在导入" not in result.output and "\x1b" not in result.output and "\r" not in result.output


def test_import_output_not_a_terminal(campaign: Path, corpus: Path):
    proc = cli("import", campaign, corpus, env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"})
    for stream in (proc.stdout, proc.stderr):
        assert "\x1b" not in stream and "\r" not in stream and "正在导入" not in stream
    assert proc.stderr == ""
    assert summary_counts(proc.stdout) == EXPECTED_CORPUS_COUNTS


def read_terminal(primary: int, timeout: float) -> str:
    """Everything a child wrote to its pseudo-terminal (``primary``: our side, closed here) until
    it closed it or was silent for ``timeout`` seconds."""
    import select

    out = b""
    while select.select([primary], [], [], timeout)[0]:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(primary)
    return out.decode("utf-8", "replace")


def test_import_progress_bar_on_a_terminal(campaign: Path, corpus: Path):
    import pty
    import re

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([XLSXGOV, "campaign", "import", str(campaign), str(corpus)],
                            stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", read_terminal(primary, 120))
    assert proc.wait(timeout=60) == 0
    assert "正在导入" in text and re.search(r"\d+/10", text)  # the bar, with done/total
    assert summary_counts(text.replace("\r", "")) == EXPECTED_CORPUS_COUNTS
