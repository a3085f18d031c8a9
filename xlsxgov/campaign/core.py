"""A collection campaign: roster → personalised templates → mail → replies → ledger → status.

Every CLI command of ``xlsxgov campaign`` is one call here.  The campaign lives in one folder::

    DIR/ledger.sqlite   what happened (see ledger.py)
    DIR/outbox/         one template and one .eml per agency
    DIR/inbox/          where replies are dropped (default source of ``import``)
    DIR/archive/        every received file, byte for byte, named by its SHA-256
    DIR/quarantine/     files of unknown agencies or unreadable files, with a .reason.txt
    DIR/feedback/       feedback workbooks for files with errors, one per submission
                        (``{code}_{name}_问题反馈_{sha256[:8]}.xlsx``, path in the ledger)

Crash safety of import: each file is first copied into archive/ (temp file + fsync +
os.replace, same content → same name), then every other side effect (quarantine copy,
feedback workbook) is idempotent, and the ledger row with its findings and facts is written
in one BEGIN IMMEDIATE transaction keyed by the UNIQUE sha256.  A re-run after a kill skips
what was committed and redoes the rest.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import sqlite3
import struct
import tempfile
import unicodedata
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping
from xml.sax.saxutils import escape

from . import ledger
from .mail import MailConnectionError, MessageBuilder, SendResult, extract_attachments, safe_filename, send_messages
from .roster import Agency, read_roster

if TYPE_CHECKING:
    from ..reader import Submission

__all__ = [
    "CampaignError",
    "ImportResult",
    "IssueResult",
    "SUBDIRS",
    "TemplateStamper",
    "accepted_submissions",
    "current_files",
    "current_submissions",
    "campaign_status",
    "assign_file",
    "import_file",
    "import_paths",
    "init_campaign",
    "issue_templates",
    "roster",
    "prepare_reminders",
    "send_outbox",
]

SUBDIRS = ("outbox", "inbox", "archive", "quarantine", "feedback")
WORKBOOK_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods"}
MAIL_SUFFIXES = {".eml", ".mbox"}
DEFAULT_SENDER = "noreply@example.invalid"

PLACEHOLDERS = {"agency": "@@AGENCY@@", "code": "@@CODE@@", "region": "@@REGION@@"}
LINK_PLACEHOLDER = "@@PORTAL_LINK@@"
# Zip parts that carry agency fields in a template written by xlsxwriter.
STAMPED_PARTS = ("xl/sharedStrings.xml", "docProps/app.xml")


class CampaignError(Exception):
    """A user error (Chinese message) such as a missing or already existing campaign."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _open(directory: Path | str) -> sqlite3.Connection:
    directory = Path(directory)
    try:
        return ledger.connect(directory)
    except FileNotFoundError:
        raise CampaignError(f"“{directory}”不是报送任务目录（未找到 {ledger.LEDGER_NAME}），请先运行 xlsxgov campaign init") from None


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split()).upper()


# ---------------------------------------------------------------------------------------------
# init


def init_campaign(directory: Path | str, *, year: int, roster_path: Path | str, edition: str = "gov2021", region: str = "") -> list[Agency]:
    """Create the campaign folder. Raises RosterError (nothing created) for a bad roster."""
    from .. import spec as spec_mod

    directory = Path(directory)
    agencies = read_roster(roster_path)  # all-or-nothing, before anything is created
    spec_mod.load(edition)  # SpecError for an unknown edition, also before creating anything
    if ledger.ledger_path(directory).exists():
        raise CampaignError(f"目录“{directory}”中已有报送任务（{ledger.LEDGER_NAME}），不会覆盖")
    directory.mkdir(parents=True, exist_ok=True)
    for sub in SUBDIRS:
        (directory / sub).mkdir(exist_ok=True)
    conn = ledger.connect(directory, create=True)
    try:
        with ledger.transaction(conn):
            conn.executemany(
                "INSERT INTO campaign(key, value) VALUES (?, ?)",
                [("year", str(year)), ("edition", edition), ("region", region), ("created_at", _now())],
            )
            conn.executemany(
                "INSERT INTO agencies(code, name, region, contact, email) VALUES (?, ?, ?, ?, ?)",
                [(a.code, a.name, a.region or region, a.contact, a.email) for a in agencies],
            )
    finally:
        conn.close()
    return agencies


def roster(directory: Path | str) -> list[Agency]:
    """The campaign's agencies, in roster order."""
    conn = _open(directory)
    try:
        rows = conn.execute("SELECT code, name, region, contact, email FROM agencies ORDER BY rowid").fetchall()
    finally:
        conn.close()
    return [Agency(name=r["name"], code=r["code"], region=r["region"] or "", contact=r["contact"] or "", email=r["email"] or "") for r in rows]


# ---------------------------------------------------------------------------------------------
# issue


class TemplateStamper:
    """Build the edition's template once, then stamp agency fields into byte copies of it.

    The base template carries unique placeholder strings; xlsxwriter stores strings as shared
    strings, so a personalised copy differs only in ``xl/sharedStrings.xml`` (cover cells and
    metadata values) and ``docProps/app.xml`` (the Company property).  All other zip members are
    compressed once: their local entries and central-directory records are kept as bytes, and
    each copy is those bytes plus the two stamped members (deflated, with their own local
    headers and directory records) and the end record, written directly in the zip format.
    """

    def __init__(self, spec, year: int | None, values: dict | None = None, *, link: bool = False):
        """``values``: input values of the base (default none: the blank template); ``link``:
        the cover carries the agency's portal link (``stamp_bytes(..., link=)``)."""
        from ..template import Meta, write_workbook

        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "base.xlsx"
            write_workbook(base, spec, Meta(year=year, **PLACEHOLDERS, portal_link=LINK_PLACEHOLDER if link else ""), values=values)
            self.base_bytes = base.read_bytes()
        out = io.BytesIO()
        self.parts: dict[str, tuple[zipfile.ZipInfo, str]] = {}
        with zipfile.ZipFile(io.BytesIO(self.base_bytes)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename in STAMPED_PARTS:
                    self.parts[info.filename] = (info, data.decode("utf-8"))
                else:
                    zout.writestr(info, data)
        if "xl/sharedStrings.xml" not in self.parts or PLACEHOLDERS["agency"] not in self.parts["xl/sharedStrings.xml"][1]:
            raise RuntimeError("template has no shared strings with the agency placeholders")
        self.prefix = out.getvalue()
        # Split the prefix zip into its local entries and its central directory (no comment,
        # no zip64: the end record is the last 22 bytes).
        sig, _, _, _, count, cd_size, cd_offset, comment = struct.unpack("<IHHHHIIH", self.prefix[-22:])
        if sig != 0x06054B50 or comment or cd_offset + cd_size + 22 != len(self.prefix):
            raise RuntimeError("unexpected zip layout of the base template")
        self._local = self.prefix[:cd_offset]
        self._directory = self.prefix[cd_offset:cd_offset + cd_size]
        self._count = count
        self._escaped = [(escape(p), k) for k, p in PLACEHOLDERS.items()] + ([(LINK_PLACEHOLDER, "link")] if link else [])

    def stamp_bytes(self, agency: str, code: str, region: str, link: str = "") -> bytes:
        values = {"agency": escape(agency), "code": escape(code), "region": escape(region), "link": escape(link)}
        chunks = [self._local]
        offset = len(self._local)
        directory = [self._directory]
        count = self._count
        for name in STAMPED_PARTS:
            if name not in self.parts:
                continue
            info, text = self.parts[name]
            for placeholder, key in self._escaped:
                text = text.replace(placeholder, values[key])
            raw = text.encode("utf-8")
            z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            packed = z.compress(raw) + z.flush()
            crc = zlib.crc32(raw)
            y, mo, d, h, mi, sec = info.date_time
            dos_time, dos_date = h << 11 | mi << 5 | sec // 2, (y - 1980) << 9 | mo << 5 | d
            fname = name.encode("ascii")
            local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dos_time, dos_date, crc, len(packed), len(raw), len(fname), 0)
            directory.append(struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, dos_time, dos_date, crc, len(packed), len(raw),
                len(fname), 0, 0, 0, 0, info.external_attr, offset,
            ) + fname)
            chunks += [local, fname, packed]
            offset += len(local) + len(fname) + len(packed)
            count += 1
        cd = b"".join(directory)
        chunks += [cd, struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(cd), offset, 0)]
        return b"".join(chunks)

    def stamp(self, path: Path, agency: str, code: str, region: str) -> Path:
        _write_atomic(path, self.stamp_bytes(agency, code, region))
        return path


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def template_name(agency: Agency, year: int | str) -> str:
    return safe_filename(f"{agency.code}_{agency.name}_{year}年政府信息公开年报统计表.xlsx")


@dataclass
class IssueResult:
    templates: list[Path]
    emls: list[Path]
    seconds: float


def default_deadline(year: int) -> date:
    """The reporting deadline the issued mail states: 31 January of the next year (条例第五十条)."""
    return date(year + 1, 1, 31)


def _subject_body(agency: Agency, year: int, attachment: str, contact_region: str, link: str | None = None) -> tuple[str, str]:
    deadline = default_deadline(year)
    deadline_text = f"{deadline.year}年{deadline.month}月{deadline.day}日"
    subject = f"请报送{year}年度政府信息公开工作年度报告统计表（{agency.name}）"
    body = (
        f"{agency.name}：\n\n"
        f"根据《中华人民共和国政府信息公开条例》第五十条规定，请填报本单位{year}年度政府信息公开工作年度报告统计表。\n\n"
        f"附件“{attachment}”已预填本单位名称和统一社会信用代码（{agency.code}），请在白色单元格中填写数据，"
        "填完后查看“校验”工作表，确认各项均显示“通过”。\n\n"
        f"请于{deadline_text}前将填好的表格（保持 .xlsx 格式，请勿修改表格结构）作为附件回复本邮件。\n\n"
        + (f"也可以通过本单位的专属报送链接在线上传，上传后立即显示校验结果，可随时查看审核意见：\n{link}\n"
           "（此链接仅供本单位使用，请勿转发。）\n\n" if link else "")
        + "如有疑问，请与我们联系。\n\n"
        f"{contact_region + '政府信息公开工作主管部门' if contact_region else '政府信息公开工作主管部门'}\n"
    )
    return subject, body


def issue_templates(
    directory: Path | str, *, sender: str = DEFAULT_SENDER, progress: Callable[[int, int], None] | None = None,
    portal_url: str | None = None, codes: list[str] | None = None,
) -> IssueResult:
    """Write one personalised template and one .eml per agency into outbox/.

    ``portal_url``: the address agencies reach ``xlsxgov serve`` at (kept in the ledger for
    ``campaign link``); each agency then gets a new secret link (its previous one revoked),
    written into its mail, onto its template's cover and into outbox/links.csv
    (campaign.portal.issue_links). ``codes``: only these agencies (``campaign link --reissue``)."""
    import time

    from .. import spec as spec_mod

    directory = Path(directory)
    started = time.perf_counter()
    conn = _open(directory)
    try:
        year = int(ledger.get_setting(conn, "year") or 0)
        edition = ledger.get_setting(conn, "edition") or spec_mod.DEFAULT_EDITION
        campaign_region = ledger.get_setting(conn, "region") or ""
        agencies = roster(directory)
        if codes is not None:
            agencies = [a for a in agencies if a.code in codes]
        links: dict[str, str] = {}
        if portal_url:
            from .portal import issue_links

            with ledger.transaction(conn):
                conn.execute("INSERT OR REPLACE INTO campaign(key, value) VALUES ('portal_url', ?)", (portal_url.rstrip("/"),))
            links = issue_links(directory, portal_url, [a.code for a in agencies])
        stamper = TemplateStamper(spec_mod.load(edition), year, link=bool(links))
        outbox = directory / "outbox"
        outbox.mkdir(exist_ok=True)
        builder = MessageBuilder(sender)
        templates, emls, rows = [], [], []
        for i, a in enumerate(agencies):
            path = outbox / template_name(a, year)
            data = stamper.stamp_bytes(a.name, a.code, a.region, links.get(a.code, ""))
            _write_atomic(path, data)
            subject, body = _subject_body(a, year, path.name, campaign_region, links.get(a.code))
            eml = path.with_suffix(".eml")
            _write_atomic(eml, builder.build(agency_email=a.email, agency_name=a.name, subject=subject, body=body, filename=path.name, data=data))
            templates.append(path)
            emls.append(eml)
            rows.append((a.code, str(path.relative_to(directory)), _now()))
            if progress:
                progress(i + 1, len(agencies))
        with ledger.transaction(conn):
            conn.executemany("DELETE FROM issued WHERE code=?", [(r[0],) for r in rows])
            conn.executemany("INSERT INTO issued(code, path, at) VALUES (?, ?, ?)", rows)
    finally:
        conn.close()
    return IssueResult(templates, emls, time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------
# send


@dataclass
class SendSummary:
    results: list[SendResult]  # templates and reminders attempted in this run
    skipped: int  # templates already sent before
    connection_error: str | None = None
    reminder_paths: frozenset = frozenset()  # which results are reminders
    reminders_skipped: int = 0  # reminders already sent before
    cancelled: list[tuple[int, str, str]] = field(default_factory=list)  # (round, code, why) never to be sent

    def _of(self, reminders: bool, ok: bool) -> list[SendResult]:
        return [r for r in self.results if (r.path in self.reminder_paths) == reminders and r.ok == ok]

    @property
    def sent(self) -> list[SendResult]:
        """Templates delivered in this run."""
        return self._of(False, True)

    @property
    def failed(self) -> list[SendResult]:
        """Templates that failed in this run."""
        return self._of(False, False)

    @property
    def reminders_sent(self) -> list[SendResult]:
        return self._of(True, True)

    @property
    def reminders_failed(self) -> list[SendResult]:
        return self._of(True, False)


def _code_of_eml(path: Path) -> str:
    return path.name.split("_", 1)[0]


def send_outbox(
    directory: Path | str,
    *,
    host: str,
    port: int,
    security: str = "none",
    user: str | None = None,
    password: str | None = None,
    sender: str | None = None,
    cafile: Path | str | None = None,
) -> SendSummary:
    """Send every outbox .eml not yet sent, then every pending reminder (``prepare_reminders``),
    over one connection; each delivery is committed before the next.

    A pending reminder of an agency that is valid by now, or of an agency a later round also
    reminds, is cancelled instead (recorded, never sent).  ``security`` is none | starttls |
    ssl; the server certificate is checked against the system's trusted CAs, or only against
    the PEM file ``cafile`` when given.
    """
    directory = Path(directory)
    conn = _open(directory)
    try:
        known = {r[0] for r in conn.execute("SELECT code FROM agencies")}
        emls = sorted(p for p in (directory / "outbox").glob("*.eml") if _code_of_eml(p) in known)
        done = {r[0] for r in conn.execute("SELECT DISTINCT code FROM sent WHERE error IS NULL")}
        skipped = sum(1 for p in emls if _code_of_eml(p) in done)
        with ledger.transaction(conn):
            cancelled = _cancel_stale_reminders(conn)
        reminders = {
            directory / r["path"]: (r["round"], r["code"])
            for r in conn.execute(
                "SELECT round, code, path FROM reminders WHERE sent_at IS NULL AND cancelled IS NULL ORDER BY round, rowid"
            )
        }
        reminders_skipped = conn.execute("SELECT COUNT(*) FROM reminders WHERE sent_at IS NOT NULL").fetchone()[0]

        def already_sent(path: Path) -> bool:
            if path in reminders:  # asked again right before sending: another send may have sent it
                row = conn.execute("SELECT sent_at, cancelled FROM reminders WHERE round=? AND code=?", reminders[path]).fetchone()
                return row["sent_at"] is not None or row["cancelled"] is not None
            return _code_of_eml(path) in done

        def record(result: SendResult) -> None:
            error = None if result.ok else (result.error or "发送失败")
            with ledger.transaction(conn):
                if result.path in reminders:
                    if result.ok:
                        conn.execute(
                            "UPDATE reminders SET message_id=?, sent_at=?, error=NULL WHERE round=? AND code=?",
                            (result.message_id, _now(), *reminders[result.path]),
                        )
                    else:
                        conn.execute("UPDATE reminders SET error=? WHERE round=? AND code=?", (error, *reminders[result.path]))
                    return
                conn.execute(
                    "INSERT INTO sent(code, message_id, at, error) VALUES (?, ?, ?, ?)",
                    (_code_of_eml(result.path), result.message_id, _now(), error),
                )

        connection_error = None
        try:
            results = send_messages(
                emls + list(reminders), host=host, port=port, security=security, user=user, password=password, sender=sender,
                already_sent=already_sent, on_sent=record, cafile=cafile,
            )
        except MailConnectionError as exc:
            results = exc.results
            connection_error = str(exc)
        for r in results:
            if not r.ok:
                record(r)
    finally:
        conn.close()
    return SendSummary(results, skipped, connection_error, frozenset(reminders), reminders_skipped, cancelled)


# ---------------------------------------------------------------------------------------------
# remind


REMIND_STATUSES = ("missing", "invalid", "unreadable")
REMINDER_ERRORS_LISTED = 10  # errors quoted in a reminder's body; the feedback workbook has all


@dataclass
class Reminder:
    code: str
    name: str
    reason: str  # missing | invalid | unreadable
    eml: Path
    attachment: str  # name of the attached workbook (the template or the feedback workbook)


@dataclass
class RemindResult:
    round: int | None  # None: nobody to remind, no round recorded
    reminders: list[Reminder]
    valid: int  # roster agencies already valid (not reminded)
    folder: Path | None = None

    def count(self, reason: str) -> int:
        return sum(1 for r in self.reminders if r.reason == reason)


def _current_by_code(conn) -> dict[str, sqlite3.Row]:
    """Each agency's current submission (ledger.recompute_current), by code."""
    return {
        r["code"]: r
        for r in conn.execute(
            "SELECT id, code, file_name, status, errors, warnings, received_at, feedback_path FROM submissions "
            "WHERE code IS NOT NULL AND superseded_by IS NULL AND status IN ('valid','invalid','unreadable')"
        )
    }


def _cancel_stale_reminders(conn) -> list[tuple[int, str, str]]:
    """Cancel unsent reminders no longer wanted: the agency's current submission is valid, or a
    later round reminds the same agency.  Call inside a transaction."""
    current = _current_by_code(conn)
    latest = {r[0]: r[1] for r in conn.execute("SELECT code, MAX(round) FROM reminders GROUP BY code")}
    out = []
    for r in conn.execute("SELECT round, code FROM reminders WHERE sent_at IS NULL AND cancelled IS NULL").fetchall():
        cur = current.get(r["code"])
        if cur is not None and cur["status"] == "valid":
            why = "单位已报送合格的报表"
        elif latest[r["code"]] > r["round"]:
            why = f"已由第 {latest[r['code']]} 轮催报取代"
        else:
            continue
        conn.execute("UPDATE reminders SET cancelled=? WHERE round=? AND code=?", (why, r["round"], r["code"]))
        out.append((r["round"], r["code"], why))
    return out


def _cn_date(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _reminder_text(
    agency: Agency, year: int, reason: str, attachment: str, *, deadline: date | None, today: date, region: str,
    submission=None, errors: list | None = None, why: str = "",
) -> tuple[str, str]:
    """Subject and body of a reminder: what is wrong and what to do, in Chinese."""
    when = f"请于{_cn_date(deadline)}前" if deadline else "请尽快"
    table = f"{year}年度政府信息公开工作年度报告统计表"
    received = ""
    if submission is not None and submission["received_at"]:
        received = _cn_date(datetime.fromisoformat(submission["received_at"]).astimezone().date())
    if reason == "missing":
        subject = f"催报：请报送{table}（{agency.name}）"
        text = (
            f"截至{_cn_date(today)}，我们尚未收到贵单位的{table}。\n\n"
            f"现再次附上已预填本单位名称和统一社会信用代码（{agency.code}）的模板“{attachment}”，请在白色单元格中填写数据，"
            "填完后查看“校验”工作表，确认各项均显示“通过”，"
            f"{when}将填好的表格（保持 .xlsx 格式，请勿修改表格结构）作为附件回复本邮件。\n\n"
            "如已通过其他方式报送，请回复告知。\n\n"
        )
    elif reason == "invalid":
        errors = errors or []
        n = max(submission["errors"], len(errors))
        subject = f"请修改后重新报送{table}（{agency.name}）：报表有 {n} 处错误"
        listed = errors[:REMINDER_ERRORS_LISTED]
        lines = []
        for i, (sheet, cell, message) in enumerate(listed, start=1):
            # The message names the table and row; the cell says where to look.
            lines.append(f"{i}. {message}（{cell}）" if cell else f"{i}. {message}")
        head = f"前 {len(listed)} 处如下" if n > len(listed) else "如下"
        text = (
            f"贵单位{received}报送的“{submission['file_name']}”经校验有 {n} 处错误，{head}：\n\n"
            + "\n".join(lines) + "\n\n"
            + f"附件“{attachment}”逐项列出了全部问题及所在单元格。请在原表中修改，修改后查看“校验”工作表，"
            f"确认各项均显示“通过”，{when}将修改后的表格（保持 .xlsx 格式）作为附件回复本邮件。\n\n"
        )
    elif reason == "unreadable":
        subject = f"请重新报送{table}（{agency.name}）：收到的文件无法读取"
        text = (
            f"贵单位{received}报送的文件“{submission['file_name']}”无法读取：{why or '文件已损坏或格式不受支持'}。\n\n"
            "请用 Excel 或 WPS 打开该文件，选择“另存为”，保存类型选“Excel 工作簿（*.xlsx）”"
            "（如文件设有打开密码，请先取消密码），"
            f"{when}将另存的 .xlsx 文件作为附件回复本邮件。也可以用再次附上的模板“{attachment}”重新填写。\n\n"
        )
    else:
        raise ValueError(reason)
    body = f"{agency.name}：\n\n{text}如有疑问，请与我们联系。\n\n{region}政府信息公开工作主管部门\n"
    return subject, body


def prepare_reminders(
    directory: Path | str, *, deadline: date | None = None, sender: str = DEFAULT_SENDER, today: date | None = None,
) -> RemindResult:
    """Write one reminder .eml per roster agency that is missing, invalid or unreadable into
    ``reminders/<round>/`` and record the round in the ledger; ``send_outbox`` sends them.

    missing: the agency's template from outbox/ attached again; invalid: the feedback workbook
    of its current submission attached and its first errors in the body; unreadable: why the
    file could not be read, asking for an .xlsx.  Valid agencies get nothing; when nobody is
    late no round is recorded (``round`` is None).  The round is chosen, its files written and
    its rows inserted under one BEGIN IMMEDIATE transaction: concurrent calls get distinct
    rounds, and a run killed before the commit leaves only files that the next run replaces.
    """
    from .. import spec as spec_mod

    directory = Path(directory)
    today = today or date.today()
    conn = _open(directory)
    try:
        year = int(ledger.get_setting(conn, "year") or 0)
        edition = ledger.get_setting(conn, "edition") or spec_mod.DEFAULT_EDITION
        region = ledger.get_setting(conn, "region") or ""
        builder = MessageBuilder(sender)
        stamper = None
        with ledger.transaction(conn):
            current = _current_by_code(conn)
            agencies = [
                Agency(name=r["name"], code=r["code"], region=r["region"] or "", contact=r["contact"] or "", email=r["email"] or "")
                for r in conn.execute("SELECT code, name, region, contact, email FROM agencies ORDER BY rowid")
            ]
            late = [(a, current.get(a.code)) for a in agencies if a.code not in current or current[a.code]["status"] != "valid"]
            valid = len(agencies) - len(late)
            if not late:
                return RemindResult(None, [], valid)
            round_no = (conn.execute("SELECT MAX(round) FROM reminders").fetchone()[0] or 0) + 1
            folder = directory / "reminders" / str(round_no)
            if folder.exists():  # written by a run killed before its commit: not in the ledger
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            reminders, rows = [], []
            for a, cur in late:
                reason = cur["status"] if cur is not None else "missing"
                errors, why, attachment = [], "", None
                if reason == "invalid":
                    errors = conn.execute(
                        "SELECT sheet, cell, message FROM findings WHERE submission_id=? AND severity='error' ORDER BY rowid",
                        (cur["id"],),
                    ).fetchall()
                    fb = directory / cur["feedback_path"] if cur["feedback_path"] else None
                    if fb is not None and fb.is_file():
                        attachment = (fb.name, fb.read_bytes())
                elif reason == "unreadable":
                    row = conn.execute(
                        "SELECT message FROM findings WHERE submission_id=? AND rule='file.unreadable' ORDER BY rowid", (cur["id"],)
                    ).fetchone()
                    why = row[0] if row else ""
                if attachment is None:  # the agency's template, as `issue` made it
                    path = directory / "outbox" / template_name(a, year)
                    if path.is_file():
                        attachment = (path.name, path.read_bytes())
                    else:
                        stamper = stamper or TemplateStamper(spec_mod.load(edition), year)
                        attachment = (path.name, stamper.stamp_bytes(a.name, a.code, a.region))
                subject, body = _reminder_text(
                    a, year, reason, attachment[0], deadline=deadline, today=today, region=region,
                    submission=cur, errors=[tuple(e) for e in errors], why=why,
                )
                eml = folder / safe_filename(f"{a.code}_{a.name}_催报.eml")
                _write_atomic(eml, builder.build(
                    agency_email=a.email, agency_name=a.name, subject=subject, body=body, filename=attachment[0], data=attachment[1],
                ))
                reminders.append(Reminder(a.code, a.name, reason, eml, attachment[0]))
                rows.append((round_no, a.code, reason, eml.relative_to(directory).as_posix(), _now(), deadline.isoformat() if deadline else None))
            conn.executemany(
                "INSERT INTO reminders(round, code, reason, path, created_at, deadline) VALUES (?, ?, ?, ?, ?, ?)", rows
            )
    finally:
        conn.close()
    return RemindResult(round_no, reminders, valid, folder)


# ---------------------------------------------------------------------------------------------
# import


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_copy(data: bytes, dest: Path) -> Path:
    """Write ``data`` to ``dest`` via a unique temp file, fsync and os.replace (idempotent)."""
    if dest.exists() and dest.stat().st_size == len(data):
        return dest
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)
    return dest


@dataclass
class Item:
    path: Path  # the file to read (original or extracted attachment)
    original_name: str
    received_at: str
    source: str  # where it came from, for the ledger


@dataclass
class FileOutcome:
    name: str
    sha256: str
    outcome: str  # valid | invalid | unreadable | unknown | duplicate
    agency: str = ""
    code: str | None = None
    errors: int = 0
    warnings: int = 0
    reason: str = ""
    feedback: Path | None = None  # the feedback workbook written for an invalid file


@dataclass
class ImportResult:
    files: list[FileOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.astimezone()  # naive: local time
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _mtime_iso(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="microseconds")


def _collect(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(workbooks, mail files) found under the given paths, in a deterministic order."""
    books, mails = [], []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file() and not x.name.startswith(".")):
                s = f.suffix.lower()
                if s in WORKBOOK_SUFFIXES:
                    books.append(f)
                elif s in MAIL_SUFFIXES:
                    mails.append(f)
        elif p.is_file():
            (mails if p.suffix.lower() in MAIL_SUFFIXES else books).append(p)
        else:
            raise CampaignError(f"找不到文件或目录：{p}")
    return books, mails


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clean_stale(tmp_root: Path) -> None:
    """Remove extraction folders left by imports that were killed (their process is gone)."""
    for d in tmp_root.glob("import-*-*"):
        pid = d.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _identify(sub, original_name: str, by_code: dict[str, str], by_name: dict[str, str]) -> str | None:
    if sub is not None:
        code = _key(sub.code)
        if code in by_code:
            return code
        name = _key(sub.agency)
        if name and name in by_name:
            return by_name[name]
    fname = _key(original_name)
    for code in by_code:
        if code in fname:
            return code
    for name in sorted(by_name, key=len, reverse=True):
        if name and name in fname:
            return by_name[name]
    return None


def import_paths(directory: Path | str, paths: list[Path] | None = None, *, progress: bool = False) -> ImportResult:
    """Import returned workbooks (files, folders, .eml, .mbox) into the campaign.

    ``progress``: show a Rich progress bar on stderr while files are archived and validated.
    """
    from ..feedback import write_feedback
    from ..validate import validate_paths

    directory = Path(directory)
    conn = _open(directory)
    archive, quarantine, feedback = (directory / d for d in ("archive", "quarantine", "feedback"))
    for d in (archive, quarantine, feedback):
        d.mkdir(exist_ok=True)
    tmp_root = directory / ".tmp"
    tmp_root.mkdir(exist_ok=True)
    _clean_stale(tmp_root)
    work = Path(tempfile.mkdtemp(prefix=f"import-{os.getpid()}-", dir=tmp_root))
    result = ImportResult()
    try:
        agencies = {r["code"]: r["name"] for r in conn.execute("SELECT code, name FROM agencies")}
        by_name = {_key(n): c for c, n in agencies.items()}
        # A reply in another edition (last year's old template) is an error the agency must fix,
        # not a file that would later stop the whole campaign from being consolidated.
        edition = ledger.get_setting(conn, "edition")
        books, mails = _collect(paths if paths else [directory / "inbox"])
        items = [Item(b, b.name, _mtime_iso(b), str(b)) for b in books]
        for i, m in enumerate(mails):
            data = m.read_bytes()  # the mail file itself is archived too
            _atomic_copy(data, archive / f"{hashlib.sha256(data).hexdigest()}{m.suffix.lower()}")
            for x in extract_attachments(m, work / str(i)):
                received = _utc_iso(x.date) if x.date else _mtime_iso(m)
                src = f"{m}" + (f" <{x.message_id}>" if x.message_id else "") + (f" {x.sender}" if x.sender else "")
                items.append(Item(x.path, x.original_name, received, src))

        bar = None
        if progress:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            # On stderr: stdout keeps only the summary, even when redirected.
            bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("剩余"), TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            bar.start()
            task = bar.add_task("正在导入", total=len(items))
        try:
            seen: set[str] = set()
            for start in range(0, len(items), IMPORT_BATCH):
                # Archive a batch, validate it in one go (one frame per table), then record each file.
                batch = []
                for item in items[start:start + IMPORT_BATCH]:
                    prepared = _archive_one(conn, item, archive)
                    if prepared.sha256 in seen or prepared.known:
                        result.files.append(FileOutcome(item.original_name, prepared.sha256, "duplicate"))
                        if bar:
                            bar.advance(task)
                    else:
                        batch.append(prepared)
                    seen.add(prepared.sha256)
                reports = validate_paths([b.archived for b in batch], edition=edition) if batch else []
                for prepared, report in zip(batch, reports):
                    result.files.append(_record_one(conn, prepared, report, quarantine, feedback, agencies, by_name, write_feedback))
                    if bar:
                        bar.advance(task)
        finally:
            if bar:
                bar.stop()
    finally:
        conn.close()
        shutil.rmtree(work, ignore_errors=True)
    return result


def import_file(
    directory: Path | str, path: Path | str, original_name: str, *, code: str | None = None, source: str = "",
    received_at: str | None = None,
) -> FileOutcome:
    """Import one received file exactly as ``import_paths`` imports a workbook (archive by
    SHA-256, validate, feedback, one ledger transaction), for the web portal.

    ``path``: where the bytes are (a temp file; its name is never the agency's); ``original_name``:
    the name the sender gave, recorded as text; ``code``: the roster agency the file is attributed
    to whatever its cover says (the agency's own link, or the office uploading on its behalf);
    None identifies the agency from the file as ``import_paths`` does. outcome ``duplicate``:
    the same bytes were already recorded (``sha256`` says which submission). Raises CampaignError
    for an unknown ``code``.
    """
    from ..feedback import write_feedback
    from ..validate import validate_paths

    directory = Path(directory)
    conn = _open(directory)
    try:
        agencies = {r["code"]: r["name"] for r in conn.execute("SELECT code, name FROM agencies")}
        if code is not None and code not in agencies:
            raise CampaignError(f"名册中没有统一社会信用代码为“{code}”的单位")
        by_name = {_key(n): c for c, n in agencies.items()}
        edition = ledger.get_setting(conn, "edition")
        archive, quarantine, feedback = (directory / d for d in ("archive", "quarantine", "feedback"))
        for d in (archive, quarantine, feedback):
            d.mkdir(exist_ok=True)
        item = Item(Path(path), original_name, received_at or _now(), source)
        prepared = _archive_one(conn, item, archive)
        if prepared.known:
            return FileOutcome(original_name, prepared.sha256, "duplicate")
        report = validate_paths([prepared.archived], edition=edition)[0]
        return _record_one(conn, prepared, report, quarantine, feedback, agencies, by_name, write_feedback, code=code)
    finally:
        conn.close()


def assign_file(directory: Path | str, submission_id: int, code: str) -> FileOutcome:
    """Attribute a quarantined file (recorded with no agency: status unknown) to roster agency
    ``code``: validated again and recorded for it, replacing the unattributed row in one
    transaction (received time and source kept). Raises CampaignError when the row is not an
    unattributed file or the agency is not in the roster."""
    from ..feedback import write_feedback
    from ..validate import validate_paths

    directory = Path(directory)
    conn = _open(directory)
    try:
        agencies = {r["code"]: r["name"] for r in conn.execute("SELECT code, name FROM agencies")}
        if code not in agencies:
            raise CampaignError(f"名册中没有统一社会信用代码为“{code}”的单位")
        row = conn.execute(
            "SELECT file_name, sha256, archive_path, received_at, source FROM submissions WHERE id=? AND code IS NULL", (submission_id,)
        ).fetchone()
        if row is None:
            raise CampaignError(f"没有待分配的文件（编号 {submission_id}）")
        archived = directory / row["archive_path"]
        item = Item(archived, row["file_name"], row["received_at"], row["source"] or "")
        prepared = _Archived(item, row["sha256"], archived, row["archive_path"], False)
        report = validate_paths([archived], edition=ledger.get_setting(conn, "edition"))[0]
        return _record_one(
            conn, prepared, report, directory / "quarantine", directory / "feedback", agencies, {}, write_feedback,
            code=code, replace=submission_id,
        )
    finally:
        conn.close()


# What the ledger keeps of a submission's cover and metadata (with its edition and facts), so that
# consolidation and export can rebuild the submission without reading the file again.
SUBMISSION_META = ("agency", "code", "year", "region", "kind", "consolidates")

IMPORT_BATCH = 50  # files validated together: validation has a large fixed cost per call


@dataclass
class _Archived:
    item: Item
    sha256: str
    archived: Path
    rel_archive: str
    known: bool  # already in the ledger


def _archive_one(conn, item: Item, archive: Path) -> _Archived:
    data = item.path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    suffix = item.path.suffix.lower() or ".bin"
    archived = _atomic_copy(data, archive / f"{sha}{suffix}")
    known = conn.execute("SELECT 1 FROM submissions WHERE sha256=?", (sha,)).fetchone() is not None
    return _Archived(item, sha, archived, str(archived.relative_to(archive.parent)), known)


def _record_one(
    conn, prepared: _Archived, report, quarantine, feedback, agencies, by_name, write_feedback, *,
    code: str | None = None, replace: int | None = None,
) -> FileOutcome:
    """Record one validated file; ``code``: the agency it comes from when the channel says so
    (the portal's link, an office upload on the agency's behalf), else identified from the file;
    ``replace``: the id of the unattributed row of the same file that this one replaces, in the
    same transaction (the office assigning a quarantined file)."""
    item, sha, archived, rel_archive = prepared.item, prepared.sha256, prepared.archived, prepared.rel_archive
    sub = report.submission
    code = code if code in agencies else _identify(sub, item.original_name, agencies, by_name)
    if report.status == "unreadable":
        status, reason = "unreadable", report.reason or "无法读取"
        reason = reason.replace(archived.name, item.original_name)
    elif code is None:
        status = "unknown"
        reason = f"无法确定报送单位：封面单位名称“{sub.agency or '（空）'}”、统一社会信用代码“{sub.code or '（空）'}”均不在名册中，文件名中也未找到名册中的单位"
    else:
        status, reason = report.status, ""
    if status == "unknown":
        code = None

    # Idempotent file side effects before the ledger transaction.
    if status in ("unknown", "unreadable"):
        qname = f"{sha[:12]}_{safe_filename(item.original_name)}"
        _atomic_copy(archived.read_bytes(), quarantine / qname)
        text = f"文件：{item.original_name}\n来源：{item.source}\nSHA-256：{sha}\n原因：{reason}\n"
        _atomic_copy(text.encode("utf-8"), quarantine / f"{qname}.reason.txt")
    fb = None
    if status == "invalid" and sub is not None:
        # One feedback workbook per submission: an agency that sends twice keeps both.
        fb = feedback / feedback_name(code, agencies.get(code or "", ""), sha)
        tmp = fb.with_name(f".{sha[:12]}.{os.getpid()}.tmp.xlsx")
        write_feedback(sub, report.findings, tmp)
        os.replace(tmp, fb)

    errors, warnings = (report.errors, report.warnings) if sub is not None else (0, 0)
    try:
        with ledger.transaction(conn):
            if replace is not None:
                conn.execute("DELETE FROM findings WHERE submission_id=?", (replace,))
                conn.execute("DELETE FROM submissions WHERE id=? AND code IS NULL", (replace,))
            if conn.execute("SELECT 1 FROM submissions WHERE sha256=?", (sha,)).fetchone():
                raise _Duplicate
            cur = conn.execute(
                "INSERT INTO submissions(code, file_name, sha256, archive_path, received_at, status, errors, warnings, "
                "source, feedback_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (code, item.original_name, sha, rel_archive, item.received_at, status, errors, warnings, item.source,
                 str(fb.relative_to(feedback.parent)) if fb else None),
            )
            sid = cur.lastrowid
            if sub is not None:
                conn.executemany(
                    "INSERT INTO findings(submission_id, severity, rule, sheet, cell, message) VALUES (?, ?, ?, ?, ?, ?)",
                    [(sid, f.severity, f.rule, f.sheet, f.cell, f.message) for f in report.findings],
                )
            if reason:
                conn.execute(
                    "INSERT INTO findings(submission_id, severity, rule, sheet, cell, message) VALUES (?, 'error', ?, '', '', ?)",
                    (sid, "file.unreadable" if status == "unreadable" else "agency.unknown", reason),
                )
            if sub is not None and status in ("valid", "invalid"):
                conn.executemany(
                    'INSERT INTO facts(submission_id, "table", row, col, value, sheet, cell) VALUES (?, ?, ?, ?, ?, ?, ?)',
                    [(sid, f.table, f.row, f.col, f.value, f.sheet, f.cell) for f in sub.facts()],
                )
                conn.executemany(
                    "INSERT INTO submission_meta(submission_id, key, value) VALUES (?, ?, ?)",
                    [(sid, k, sub.meta.get(k, "")) for k in SUBMISSION_META]
                    + [(sid, "edition", sub.edition), (sid, "spec_version", str(sub.spec.version))],
                )
            if code is not None:
                ledger.recompute_current(conn, code)
    except (_Duplicate, sqlite3.IntegrityError):
        return FileOutcome(item.original_name, sha, "duplicate")
    return FileOutcome(item.original_name, sha, status, agencies.get(code or "", ""), code, errors, warnings, reason, fb)


def feedback_name(code: str | None, name: str, sha256: str) -> str:
    """File name of a submission's feedback workbook: the agency, then the first 8 hex digits of
    the submission's SHA-256, so each submission of the same agency keeps its own feedback."""
    return safe_filename(f"{code or ''}_{name}_问题反馈_{sha256[:8]}.xlsx".lstrip("_"))


class _Duplicate(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# status


STATUS_LABELS = {"valid": "合格", "invalid": "有错误", "missing": "未报送", "unreadable": "无法读取"}


def campaign_status(directory: Path | str) -> dict:
    """Per agency: issued, sent, received, status of the current submission; plus totals."""
    conn = _open(directory)
    try:
        issued = {r[0]: r[1] for r in conn.execute("SELECT code, MAX(at) FROM issued GROUP BY code")}
        sent_ok = {r[0]: r[1] for r in conn.execute("SELECT code, MAX(at) FROM sent WHERE error IS NULL GROUP BY code")}
        sent_err = {r[0]: r[1] for r in conn.execute("SELECT code, error FROM sent WHERE error IS NOT NULL ORDER BY at")}
        received = {r[0]: r[1] for r in conn.execute("SELECT code, COUNT(*) FROM submissions WHERE code IS NOT NULL GROUP BY code")}
        reminded = {r[0]: r[1] for r in conn.execute("SELECT code, COUNT(*) FROM reminders WHERE sent_at IS NOT NULL GROUP BY code")}
        current = _current_by_code(conn)
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
        ws.write_string(r, 5, STATUS_LABELS[a["status"]])
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


# ---------------------------------------------------------------------------------------------
# for consolidation


def accepted_submissions(directory: Path | str, statuses: tuple[str, ...] = ("valid",)) -> list[tuple[str, str, Path]]:
    """(agency name, code, archive path) of every agency's current submission with an accepted status.

    An agency's current submission is its newest readable one (valid or invalid); an unreadable
    file is current only for an agency that sent nothing readable (ledger.recompute_current).
    So ``statuses=("valid",)`` gives the agencies to consolidate, ``("unreadable",)`` those that
    sent only unreadable files, and each agency appears at most once over all statuses.
    """
    directory = Path(directory)
    conn = _open(directory)
    try:
        rows = _current_rows(conn, "a.name, a.code, s.archive_path", statuses)
    finally:
        conn.close()
    return [(r[0], r[1], directory / r[2]) for r in rows]


def current_files(directory: Path | str) -> list[tuple[Agency, str, Path, str]]:
    """(agency, status, archived file, reason) of every roster agency's current submission, in
    roster order: status valid | invalid | unreadable (the verdict at import); reason: why an
    unreadable file could not be read, else "". Agencies with nothing received are absent."""
    directory = Path(directory)
    agencies = {a.code: a for a in roster(directory)}
    conn = _open(directory)
    try:
        rows = _current_rows(
            conn,
            "a.code, s.status, s.archive_path, (SELECT f.message FROM findings f "
            "WHERE f.submission_id = s.id AND f.rule = 'file.unreadable' LIMIT 1)",
            ledger.ATTRIBUTED,
        )
    finally:
        conn.close()
    return [(agencies[code], status, directory / path, reason or "") for code, status, path, reason in rows]


def _current_rows(conn, columns: str, statuses: tuple[str, ...]) -> list:
    """``columns`` of each roster agency's current submission with one of ``statuses``, in roster order."""
    marks = ",".join("?" for _ in statuses)
    return conn.execute(
        f"SELECT {columns} FROM submissions s JOIN agencies a ON a.code = s.code "
        f"WHERE s.superseded_by IS NULL AND s.status IN ({marks}) ORDER BY a.rowid",
        statuses,
    ).fetchall()


def current_submissions(directory: Path | str, statuses: tuple[str, ...] = ("valid",)) -> list[tuple[Agency, str, Submission]]:
    """(agency, status, submission) of each roster agency whose current submission has one of
    ``statuses`` (valid, invalid), in roster order.

    The submission is rebuilt from what the import recorded (facts, cover and metadata, errors
    and warnings); no file is read again, which is what lets a province consolidate thousands
    of agencies in seconds. Facts are recorded in the spec's cell order, so they are read back
    by position, trusted only when the spec version is the one they were recorded with; where
    each cell sat in the file is fetched only when a message asks for it. A submission recorded
    with another spec version, or by a version that did not record its metadata, is read from
    the archive instead.
    """
    from .. import spec as spec_mod
    from ..findings import Finding
    from ..reader import Submission, read_workbook

    directory = Path(directory)
    agencies = {a.code: a for a in roster(directory)}
    conn = _open(directory)
    try:
        out = []
        for sid, code, status, archive_path in _current_rows(conn, "s.id, s.code, s.status, s.archive_path", statuses):
            path = directory / archive_path
            meta = dict(conn.execute("SELECT key, value FROM submission_meta WHERE submission_id=?", (sid,)).fetchall())
            edition = meta.pop("edition", None)
            spec = spec_mod.load(edition) if edition in spec_mod.available_editions() else None
            values = [v for (v,) in conn.execute("SELECT value FROM facts WHERE submission_id=? ORDER BY rowid", (sid,))]
            plan = _fact_plan(spec) if spec is not None else None
            if plan is None or meta.pop("spec_version", None) != str(spec.version) or len(values) != len(plan):
                out.append((agencies[code], status, read_workbook(path)))
                continue
            inputs, bad = {}, set()
            for (k, scale), value in zip(plan, values):
                if scale is None:  # a total or text: recomputed, not read back
                    continue
                if value is None:  # a cell the reader could not use (only in invalid submissions)
                    bad.add(k)
                    inputs[k] = 0
                else:  # facts are in the unit the form prints: money back to exact 元
                    inputs[k] = round(value * scale)
            findings = [
                Finding(*r) for r in conn.execute(
                    "SELECT severity, rule, sheet, cell, message FROM findings WHERE submission_id=? AND severity != 'info'", (sid,)
                )
            ]
            where = _LedgerPlaces(directory, sid, plan)
            sub = Submission(path, spec, {"edition": spec.edition, **meta}, inputs, {}, {}, where, findings, bad)
            out.append((agencies[code], status, sub))
        return out
    finally:
        conn.close()


@functools.cache
def _fact_plan(spec) -> tuple[tuple[tuple[str, str, str], int | None], ...]:
    """Per cell, in the order Submission.facts() gives (and the import records) them: (key, the
    factor from the printed unit to base units for an input; None for a total or text)."""
    from ..compute import YUAN_PER_WANYUAN, key
    from ..values import Kind

    def scale(cell) -> int | None:
        if not cell.is_input or cell.kind is Kind.TEXT:
            return None
        return YUAN_PER_WANYUAN if cell.kind is Kind.MONEY else 1

    return tuple((key(cell), scale(cell)) for cell in spec.cells())


class _LedgerPlaces(Mapping):
    """A rebuilt submission's ``where`` (cell key -> (sheet, A1)), read from the ledger on first
    use: consolidating thousands of agencies never needs it, a cross-year message does."""

    def __init__(self, directory: Path, submission_id: int, plan):
        self._directory, self._id, self._plan = directory, submission_id, plan
        self._places: dict | None = None

    def _load(self) -> dict:
        if self._places is None:
            conn = _open(self._directory)
            try:
                rows = conn.execute("SELECT sheet, cell FROM facts WHERE submission_id=? ORDER BY rowid", (self._id,)).fetchall()
            finally:
                conn.close()
            self._places = {k: (sheet or "", ref or "") for (k, _), (sheet, ref) in zip(self._plan, rows)}
        return self._places

    def __getitem__(self, k):
        return self._load()[k]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())
