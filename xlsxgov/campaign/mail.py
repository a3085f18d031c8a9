"""Mail for the collection campaign: build .eml files, send them, extract replies.

Standard library only.  Sending is deliberately split from building: the
office first writes one .eml per agency (reviewable, archivable), then
``send_messages`` delivers them over a single SMTP connection, reporting each
delivery to the caller's ledger immediately so that a crash or a re-run never
sends the same message twice.

Longer than 600 lines on purpose: building, sending and extracting share the header encoding
and file-name rules of real mail clients (GBK subjects, RFC 2231 names), kept in one place.
"""

from __future__ import annotations

import base64
import codecs
import email
import email.policy
import email.utils
import mailbox
import mimetypes
import os
import re
import smtplib
import socket
import ssl
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Callable, Iterator, Literal, Sequence

from ..errors import MailConnectionError, MailError

__all__ = [
    "ExtractedFile",
    "MailConnectionError",
    "MessageBuilder",
    "SPREADSHEET_TYPES",
    "SendResult",
    "build_message",
    "extract_attachments",
    "safe_filename",
    "send_messages",
    "write_eml",
]

# Extension -> MIME type of the spreadsheet formats agencies send back.
SPREADSHEET_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".xls": "application/vnd.ms-excel",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}
_SPREADSHEET_MIME = {v.lower(): k for k, v in SPREADSHEET_TYPES.items()}
# Report documents an agency may send instead of the workbook (read by xlsxgov.extract); by
# file name only: .html/.txt parts of a message are usually its body, not an attachment.
REPORT_ATTACHMENTS = (".docx", ".doc", ".wps", ".pdf", ".odt", ".rtf", ".mht", ".mhtml")
# Text and web pages count as report attachments only when attached as files (a disposition of
# "attachment" and a file name): a message's own body and its HTML alternative are neither.
REPORT_TEXT_ATTACHMENTS = (".txt", ".html", ".htm")


# --- building ------------------------------------------------------------------


def _check_header_value(label: str, value: str) -> None:
    # CR/LF in a header value would let a roster cell inject extra headers.
    if "\r" in value or "\n" in value:
        raise MailError(f"{label}中不能包含换行符：{value!r}")


def build_message(
    *,
    sender: str,
    agency_email: str,
    agency_name: str,
    subject: str,
    body: str,
    attachment: Path,
) -> EmailMessage:
    """One plain-text UTF-8 message to one agency with the template attached.

    ``sender`` may be a bare address or ``显示名 <address>``.  The attachment
    filename is RFC 2231 encoded, which mail clients decode to the Chinese name.
    """
    for label, value in (("发件人", sender), ("收件人邮箱", agency_email), ("单位名称", agency_name), ("邮件主题", subject)):
        _check_header_value(label, value)
    attachment = Path(attachment)

    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = Address(display_name=agency_name, addr_spec=agency_email)
    msg["Date"] = email.utils.formatdate(localtime=True)
    _, sender_addr = email.utils.parseaddr(sender)
    domain = sender_addr.rpartition("@")[2] or "xlsxgov.localdomain"
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    # base64 rather than 8bit: some older government relays do not
    # advertise 8BITMIME and would mangle raw UTF-8 bodies.
    msg.set_content(body, charset="utf-8", cte="base64")

    mime = SPREADSHEET_TYPES.get(attachment.suffix.lower())
    if mime is None:
        mime = mimetypes.guess_type(attachment.name)[0] or "application/octet-stream"
    maintype, subtype = mime.split("/", 1)
    # No Content-Type "name" parameter: with a non-ASCII name the stdlib folder
    # mis-encodes the long xlsx MIME type; Content-Disposition filename suffices.
    msg.add_attachment(attachment.read_bytes(), maintype=maintype, subtype=subtype, filename=attachment.name)
    return msg


def write_eml(msg: EmailMessage | bytes, path: str | Path) -> Path:
    """Write ``msg`` (a message, or the bytes of one) as an RFC 5322 file with CRLF line ends, atomically."""
    path = Path(path)
    data = msg if isinstance(msg, bytes) else msg.as_bytes(policy=email.policy.SMTP)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)  # a crash never leaves a truncated .eml behind
    return path


# --- building fast ---------------------------------------------------------------
#
# email's generator spends ~5 ms per message re-parsing and folding headers, which made
# building 3,000 .eml files take far longer than stamping 3,000 templates.  ``MessageBuilder``
# writes the same message directly: header values are RFC 2047 encoded words folded at
# fixed sizes, the filename is RFC 2231 with continuations, bodies go through
# base64_lines.  Every line stays within 78 characters except the xlsx Content-Type
# (79; RFC 5322 allows 998).  tests/test_mail.py checks the result parses the same as
# ``build_message`` and goes through ``send_messages``.

_WORD_BYTES = 39  # UTF-8 bytes per encoded word: "=?utf-8?b?" + 52 base64 chars + "?=" = 64 chars
_ATTR_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")


class _Quoted(dict):
    """A character as an RFC 2231 value carries it (itself, or its UTF-8 bytes as %XX), remembered:
    a campaign quotes the same few thousand characters in every mail's file name."""

    def __missing__(self, ch: str) -> str:
        self[ch] = q = ch if ch in _ATTR_CHARS else "%" + ch.encode("utf-8").hex("%").upper()
        return q


_QUOTED = _Quoted()
_SEGMENT = 54  # characters of an RFC 2231 value per continuation line (≤ 78 in all)
# The longest run of whole characters that fits a segment: it ends neither inside a %XX triplet
# nor before a UTF-8 continuation byte (%80-%BF).
_SEGMENTS = re.compile(r".{1,%d}(?<!%%)(?<!%%.)(?!%%[89AB])" % _SEGMENT, re.S)


def _encoded_words(text: str, limit: int = _WORD_BYTES) -> list[str]:
    """``text`` as RFC 2047 "B" encoded words of at most ``limit`` UTF-8 bytes (≤ 45: ≤ 72
    characters), never splitting a character."""
    raw = text.encode("utf-8")
    words, i = [], 0
    while i < len(raw) or not words:
        j = min(i + limit, len(raw))
        while j < len(raw) and raw[j] & 0xC0 == 0x80:  # back to the start of a character
            j -= 1
        words.append(raw[i:j])
        i = j
    return ["=?utf-8?b?" + base64.b64encode(w).decode("ascii") + "?=" for w in words]


def _plain_ok(text: str, room: int) -> bool:
    """True if ``text`` can stand in a header unencoded on one line of ``room`` characters."""
    return text.isascii() and text.isprintable() and "=?" not in text and len(text) <= room


def _unstructured(name: str, value: str) -> bytes:
    if _plain_ok(value, 76 - len(name)):
        return f"{name}: {value}\r\n".encode("ascii")
    return (f"{name}: " + "\r\n ".join(_encoded_words(value)) + "\r\n").encode("ascii")


def _address(name: str, display: str, addrs: Sequence[str]) -> bytes:
    """The header ``name`` with each of ``addrs``, every one under the display name ``display``
    (an address list, RFC 5322 3.4: one message to all of an agency's addresses)."""
    if not display:
        return (f"{name}: " + ",\r\n ".join(addrs) + "\r\n").encode("ascii")
    if display.isascii() and display.isprintable():
        return (f"{name}: " + ",\r\n ".join(email.utils.formataddr((display, a)) for a in addrs) + "\r\n").encode("ascii")
    # Fewer, longer words for names: Python's address parser (not RFC 2047) keeps the space
    # between two encoded words of a display name; most agency names fit in one 45-byte word.
    words = "\r\n ".join(_encoded_words(display, 45))
    return (f"{name}: " + ",\r\n ".join(f"{words}\r\n <{a}>" for a in addrs) + "\r\n").encode("ascii")


def _filename_param(filename: str) -> str:
    """Content-Disposition parameters for ``filename`` (RFC 2231, with continuations when long)."""
    if filename.isascii() and filename.isprintable() and '"' not in filename and "\\" not in filename and len(filename) <= 60:
        return f'filename="{filename}"'
    value = "".join([_QUOTED[ch] for ch in filename])
    if len(value) <= _SEGMENT:
        return "filename*=utf-8''" + value
    # Continuations split between characters only: some clients decode each segment alone.
    return ";\r\n ".join(
        f"filename*{k}*=" + ("utf-8''" if k == 0 else "") + seg for k, seg in enumerate(_SEGMENTS.findall(value))
    )


def base64_lines(data: bytes) -> bytes:
    """``data`` in base64, 76-character lines ending in CRLF (RFC 2045 6.8), as mail carries it."""
    enc = base64.b64encode(data)  # in one piece, then cut: encodebytes loops in Python per line
    if len(enc) < 4096:
        return b"".join([enc[i:i + 76] + b"\r\n" for i in range(0, len(enc), 76)])
    import numpy as np  # an attachment: its lines cut as rows of a byte array, not one by one

    n = len(enc) // 76
    lines = np.empty((n, 78), np.uint8)
    lines[:, :76] = np.frombuffer(enc, np.uint8, n * 76).reshape(n, 76)
    lines[:, 76:] = (13, 10)
    rest = enc[n * 76:]
    return lines.tobytes() + (rest + b"\r\n" if rest else b"")


# An address parseaddr returns unchanged (a dot-atom on each side of "@"), checked without it:
# parseaddr costs more than the rest of a message's headers together.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\Z")


class MessageBuilder:
    """Build many messages from one sender fast, as bytes ready for an .eml file.

    Same content as ``build_message`` (plain-text UTF-8 body in base64, the attachment in
    base64 with an RFC 2231 filename), written directly instead of through email's generator.
    Recipient addresses must be plain ASCII addresses (the roster checks them).
    """

    def __init__(self, sender: str, reply_to: str | None = None):
        """``sender``: the From header (``名称 <地址>`` or an address); ``reply_to``: the Reply-To
        header (None: none), so that replies reach the office whatever relays the mail."""
        _check_header_value("发件人", sender)
        self.sender = sender
        # The From (and Reply-To) header is the same for every message: let email fold it once.
        policy = email.policy.SMTP
        self.from_header = policy.fold("From", policy.header_factory("From", sender)).encode("ascii")
        if reply_to:
            _check_header_value("回复地址", reply_to)
            self.from_header += policy.fold("Reply-To", policy.header_factory("Reply-To", reply_to)).encode("ascii")
        self.domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "xlsxgov.localdomain"
        self._date_at, self._date_header = -1, b""

    def _date(self) -> bytes:
        """The Date header, formatted once a second (formatting it cost more than the other headers)."""
        now = int(time.time())
        if now != self._date_at:
            self._date_at, self._date_header = now, f"Date: {email.utils.formatdate(now, localtime=True)}\r\n".encode("ascii")
        return self._date_header

    def build(
        self, *, agency_emails: Sequence[str], agency_name: str, subject: str, body: str, filename: str, data: bytes = b"",
        data_base64: bytes | None = None,
    ) -> bytes:
        """The message to all of ``agency_emails`` (an agency's addresses, ``Agency.emails``; one
        message, each a To recipient), its bytes (CRLF lines), the attachment ``filename`` holding
        ``data``; or, when given, ``data_base64``: the attachment already as ``base64_lines``
        gives it (a stamped template's ``Stamped.base64``, most of it encoded once for all
        agencies). Raises MailError for a header value with a line break, no address, or an
        address that is not one plain ASCII address."""
        for label, value in (("单位名称", agency_name), ("邮件主题", subject), ("附件名", filename), *(("收件人邮箱", a) for a in agency_emails)):
            _check_header_value(label, value)
        if not agency_emails:
            raise MailError(f"“{agency_name}”没有收件人邮箱")
        for address in agency_emails:
            if not _PLAIN_ADDRESS.match(address) and (
                not address.isascii() or email.utils.parseaddr(address)[1] != address or " " in address or "," in address
            ):
                raise MailError(f"收件人邮箱“{address}”格式不正确（应为一个 ASCII 邮箱地址，如 name@example.gov.cn）")
        suffix = os.path.splitext(filename)[1].lower()
        mime = SPREADSHEET_TYPES.get(suffix) or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        boundary = f"=_xlsxgov_{os.urandom(12).hex()}"  # "_" never occurs in base64
        text = "\r\n".join(body.splitlines()) + "\r\n"  # canonical CRLF text before encoding
        return b"".join((
            _unstructured("Subject", subject),
            self.from_header,
            _address("To", agency_name, agency_emails),
            self._date(),
            f"Message-ID: {email.utils.make_msgid(domain=self.domain)}\r\n".encode("ascii"),
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/mixed;\r\n boundary="{boundary}"\r\n\r\n'.encode("ascii"),
            f"--{boundary}\r\n".encode("ascii"),
            b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n',
            base64_lines(text.encode("utf-8")),
            f"\r\n--{boundary}\r\n".encode("ascii"),
            f"Content-Type: {mime}\r\nContent-Transfer-Encoding: base64\r\n".encode("ascii"),
            f"Content-Disposition: attachment;\r\n {_filename_param(filename)}\r\n\r\n".encode("ascii"),
            base64_lines(data) if data_base64 is None else data_base64,
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        ))


# --- sending -------------------------------------------------------------------


@dataclass
class SendResult:
    path: Path
    message_id: str | None
    ok: bool
    error: str | None = None  # Chinese, for the user
    recipients_refused: list[str] = field(default_factory=list)


class _PhaseMixin:
    """Remember whether DATA was started: after that a dropped connection
    means we cannot know whether the server accepted the message."""

    data_started = False

    def data(self, msg):  # type: ignore[no-untyped-def]
        self.data_started = True
        return super().data(msg)  # type: ignore[misc]


class _SMTP(_PhaseMixin, smtplib.SMTP):
    pass


class _SMTP_SSL(_PhaseMixin, smtplib.SMTP_SSL):
    pass


def _reply_text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def tls_context(cafile: str | Path | None = None) -> ssl.SSLContext:
    """Certificate-verifying client context: the system's trusted CAs, or only ``cafile`` (PEM).

    Raises ``ValueError`` (Chinese) when ``cafile`` cannot be read or holds no certificate.
    """
    if cafile is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(cafile))
    except (OSError, ssl.SSLError) as exc:
        raise MailError(f"无法读取 CA 证书文件“{cafile}”（应为 PEM 格式）：{exc}") from exc


def _connect(
    host: str, port: int, security: str, user: str | None, password: str | None, timeout: float,
    cafile: str | Path | None = None,
):
    where = f"{host}:{port}"
    try:
        context = tls_context(cafile)
    except ValueError as exc:
        raise MailConnectionError(host, port, str(exc)) from exc
    conn = None
    try:
        if security == "ssl":
            conn = _SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            conn = _SMTP(host, port, timeout=timeout)
        conn.ehlo()
        if security == "starttls":
            conn.starttls(context=context)
            conn.ehlo()
        if user:
            _login(conn, user, password or "")
        return conn
    except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError
        _close(conn)
        raise MailConnectionError(host, port, _connect_failure(exc, where)) from exc


def _connect_failure(exc: Exception, where: str) -> str:
    """Why connecting to (or logging in at) the SMTP server ``where`` failed, in Chinese, with
    what to check: the login, the STARTTLS/SSL choice, the port or the CA certificate."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"SMTP 服务器 {where} 拒绝登录，请检查用户名和密码（{exc.smtp_code} {_reply_text(exc.smtp_error)}）"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"SMTP 服务器 {where} 不支持所需功能（{exc}），请检查加密方式（STARTTLS/SSL）设置"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"SMTP 服务器 {where} 的证书未通过验证：{exc.verify_message or exc}"
                "（如服务器使用单位内部 CA 签发的证书，请用 --cafile 指定该 CA 证书）")
    if isinstance(exc, ssl.SSLError):
        return f"与 SMTP 服务器 {where} 建立加密连接失败：{exc}（请确认端口与加密方式匹配：465 用 SSL，587 用 STARTTLS）"
    if isinstance(exc, ConnectionRefusedError):
        return f"无法连接 SMTP 服务器 {where}：连接被拒绝（该地址上没有邮件服务在运行），请检查 --smtp 的服务器地址和端口"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"无法连接 SMTP 服务器 {where}：连接超时，请检查服务器地址、端口和网络（防火墙）"
    if isinstance(exc, socket.gaierror):
        return f"无法连接 SMTP 服务器 {where}：找不到这个服务器名称，请检查 --smtp 的服务器地址"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"无法连接 SMTP 服务器 {where}（系统错误 {exc.errno}），请检查服务器地址、端口和网络"
    return f"无法连接 SMTP 服务器 {where}：{exc}"


def _login(conn, user: str, password: str) -> None:
    """SMTP AUTH; non-ASCII user names or passwords are sent as UTF-8 (RFC 4616 PLAIN, or LOGIN),
    which smtplib cannot do (it encodes them as ASCII and raises)."""
    if user.isascii() and password.isascii():
        conn.login(user, password)
        return
    conn.ehlo_or_helo_if_needed()
    if not conn.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    mechanisms = conn.esmtp_features["auth"].upper().split()
    b64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731
    if "PLAIN" in mechanisms:
        code, resp = conn.docmd("AUTH", "PLAIN " + b64(b"\0" + user.encode() + b"\0" + password.encode()))
    elif "LOGIN" in mechanisms:
        code, resp = conn.docmd("AUTH", "LOGIN " + b64(user.encode()))
        if code == 334:
            code, resp = conn.docmd(b64(password.encode()))
    else:
        raise smtplib.SMTPException(f"服务器只支持 {' '.join(mechanisms)} 登录方式，含中文的用户名或密码需要 PLAIN 或 LOGIN")
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, resp)


def _close(conn) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except Exception:
        try:
            conn.close()
        except Exception:
            pass


def _refused_text(refused: dict) -> str:
    return "；".join(f"{addr}（{code} {_reply_text(resp)}）" for addr, (code, resp) in refused.items())


def send_messages(
    eml_paths: list[Path],
    *,
    host: str,
    port: int,
    security: Literal["none", "starttls", "ssl"],
    user: str | None = None,
    password: str | None = None,
    sender: str | None = None,
    already_sent: Callable[[Path], bool],
    on_sent: Callable[[SendResult], None],
    timeout: float = 30,
    cafile: str | Path | None = None,
) -> list[SendResult]:
    """Send .eml files over one SMTP connection; return a result per attempted file.

    Files for which ``already_sent(path)`` is true are skipped (and get no
    result).  ``on_sent`` is called right after the server accepted a message,
    before the next one is sent, so the caller's ledger is always current.
    Refusals by the server are recorded per message and the batch continues;
    failing to connect raises ``MailConnectionError``.  If the server drops the
    connection before a message's data was sent, we reconnect once and retry
    it; if it drops during the data the message is reported as uncertain
    instead of being sent again.  With ``starttls`` or ``ssl`` the server's
    certificate is verified against the system's trusted CAs, or only against
    the PEM file ``cafile`` when given (e.g. an office's internal CA).
    """
    if security not in ("none", "starttls", "ssl"):
        raise MailError(f"加密方式应为 none、starttls 或 ssl，而不是“{security}”")
    where = f"{host}:{port}"
    results: list[SendResult] = []
    conn = None
    try:
        for path in eml_paths:
            path = Path(path)
            if already_sent(path):
                continue
            try:
                with open(path, "rb") as fh:
                    msg = email.message_from_binary_file(fh, policy=email.policy.default)
            except OSError as exc:
                results.append(SendResult(path, None, False, f"无法读取邮件文件：{exc}"))
                continue
            message_id = str(msg["Message-ID"]).strip() if msg["Message-ID"] else None

            result: SendResult | None = None
            reconnected = False
            while result is None:
                if conn is None:
                    try:
                        conn = _connect(host, port, security, user, password, timeout, cafile)
                    except MailConnectionError as exc:
                        exc.results = results
                        raise
                conn.data_started = False
                retry = False
                try:
                    refused = conn.send_message(msg, from_addr=sender)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                    refusal = _refusal(exc)
                    if refusal is None:  # 421: the server is closing the connection, nothing was accepted
                        retry = True
                    else:
                        who = list(exc.recipients) if isinstance(exc, smtplib.SMTPRecipientsRefused) else []
                        result = SendResult(path, message_id, False, refusal, who)
                except smtplib.SMTPServerDisconnected as exc:
                    result = _dropped(conn, path, message_id, where, exc)
                    retry = result is None
                except smtplib.SMTPException as exc:  # e.g. SMTPUTF8 not supported for this address
                    result = SendResult(path, message_id, False, f"发送失败：{exc}")
                except OSError as exc:  # reset, timeout, TLS failure mid-stream
                    result = _dropped(conn, path, message_id, where, exc)
                    retry = result is None
                else:
                    result = SendResult(path, message_id, True)
                    if refused:  # accepted for some recipients only: it counts as sent
                        result.recipients_refused = list(refused)
                        result.error = f"部分收件人被服务器拒收：{_refused_text(refused)}"
                    results.append(result)
                    on_sent(result)  # before the next message: crash-safe ledger
                    break

                if retry:
                    _close(conn)
                    conn = None
                    if reconnected:
                        error = MailConnectionError(host, port, f"SMTP 服务器 {where} 反复断开连接，已停止发送")
                        error.results = results
                        raise error
                    reconnected = True
                    continue
                results.append(result)
                if not _reset(conn):
                    conn = None
    finally:
        _close(conn)
    return results


def _refusal(exc: smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused | smtplib.SMTPDataError) -> str | None:
    """Why the server refused a message (recipients, sender or content), in Chinese; None for
    a 421 reply, which means the server is closing the connection: the message is retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        if {code for code, _ in exc.recipients.values()} == {421}:
            return None
        return f"收件人被服务器拒收：{_refused_text(exc.recipients)}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return None if exc.smtp_code == 421 else f"发件人地址 {exc.sender} 被服务器拒绝（{exc.smtp_code} {_reply_text(exc.smtp_error)}）"
    return None if exc.smtp_code == 421 else f"服务器拒收邮件内容（{exc.smtp_code} {_reply_text(exc.smtp_error)}）"


def _dropped(conn, path: Path, message_id: str | None, where: str, exc: Exception) -> SendResult | None:
    """None if the message surely was not transmitted (safe to retry)."""
    if not conn.data_started:
        return None
    return SendResult(
        path, message_id, False,
        f"发送过程中与 SMTP 服务器 {where} 的连接中断（{exc}），无法确认对方是否已收到，"
        "请向该单位核实后再决定是否重发",
    )


def _reset(conn) -> bool:
    """RSET after a failed transaction; False if the connection is unusable."""
    if conn is None or getattr(conn, "sock", None) is None:
        return False
    try:
        conn.rset()
        return True
    except (smtplib.SMTPException, OSError):
        _close(conn)
        return False


# --- extraction -----------------------------------------------------------------


@dataclass(frozen=True)
class ExtractedFile:
    path: Path  # where the attachment was written, inside dest_dir
    original_name: str  # decoded name as sent (may contain directories etc.)
    message_id: str | None
    sender: str | None  # address of the message that carried the file
    date: datetime | None
    source: Path  # the .eml / .mbox it came from


_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}
_FORBIDDEN = set('<>:"/\\|?*')  # not allowed on Windows, where files may end up
_FORBIDDEN_RE = re.compile("[" + re.escape("".join(sorted(_FORBIDDEN))) + "]")
_MAX_CHARS = 150
_MAX_BYTES = 200  # ext4/NTFS allow 255 bytes; leave room for "-123" suffixes
_RFC2231_RE = re.compile(r"([A-Za-z0-9_.:-]+)'[A-Za-z0-9-]*'(.*)", re.S)


def _codec(charset: str | None) -> str:
    charset = (charset or "utf-8").lower()
    if charset in ("gb2312", "gbk", "x-gbk", "cp936", "euc-cn"):
        return "gb18030"  # mail clients label GBK text as gb2312; gb18030 decodes both
    try:
        codecs.lookup(charset)
        return charset
    except LookupError:
        return "utf-8"


def _decode_bytes(raw: bytes) -> str:
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1")


_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")  # bytes a header parser could not decode (surrogateescape)


def _decode_name(name: str) -> str:
    """Decode a filename as found in a header: RFC 2047, RFC 2231 or raw 8-bit."""
    if _ESCAPED_BYTES.search(name):
        # Raw 8-bit header bytes (often GBK) arrive as surrogate escapes.
        try:
            name = _decode_bytes(name.encode("ascii", "surrogateescape"))
        except UnicodeEncodeError:
            pass
    if "=?" in name and "?=" in name:
        # Non-standard but common: RFC 2047 encoded words inside a quoted filename.
        try:
            parts = decode_header(name)
            name = "".join(
                p.decode(_codec(cs), "replace") if isinstance(p, bytes) else p for p, cs in parts
            )
        except Exception:
            pass
    m = _RFC2231_RE.fullmatch(name)
    if m and re.search(r"%[0-9A-Fa-f]{2}", m.group(2)):
        try:
            codecs.lookup(m.group(1))
            name = urllib.parse.unquote(m.group(2), encoding=_codec(m.group(1)), errors="replace")
        except LookupError:
            pass
    return name


def _truncate(stem: str, ext: str) -> str:
    while stem and (len(stem) + len(ext) > _MAX_CHARS or len((stem + ext).encode("utf-8")) > _MAX_BYTES):
        stem = stem[:-1]
    return stem.rstrip(" .") + ext


def safe_filename(name: str, *, flatten: bool = False) -> str:
    """A harmless local file name for an attachment name from an untrusted mail.

    Decodes RFC 2047/2231, keeps only the last path component (``/`` or ``\\``;
    RFC 2183 2.3: a mail's directory path is not to be respected) or, with
    ``flatten``, turns each separator into ``_``: for names the project builds
    from roster fields (``{code}_{name}_…``), where an agency name like
    ``示例市/教育局`` must not lose the code before it nor collide with
    ``示例县/教育局``.  Removes control/format characters and characters Windows forbids, leading
    dots, and reserved device names; at most 150 characters (and 200 UTF-8
    bytes) keeping the extension.  Never empty.
    """
    name = _decode_name(str(name or ""))
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/")
    name = name.replace("/", "_") if flatten else name.rsplit("/", 1)[-1]
    # Cc: control incl. NUL/CR/LF; Cf: e.g. U+202E which disguises extensions;
    # Cs/Co/Cn: surrogates, private use, unassigned.
    if name.isprintable():  # no character of those categories (str.isprintable): skip the per-character look-up
        name = _FORBIDDEN_RE.sub("_", name)
    else:
        name = "".join(
            "_" if ch in _FORBIDDEN else ch
            for ch in name
            if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
        )
    name = re.sub(r"\s+", " ", name).strip()
    leading_dot = name.startswith(".")
    # Leading dots/dashes would make hidden files or look like command options;
    # trailing dots and spaces are silently dropped by Windows.
    name = name.lstrip(" .-").rstrip(" .")
    stem, dot, ext = name.rpartition(".")
    if dot and stem and len(ext) <= 16 and " " not in ext:
        ext = "." + ext
    elif leading_dot and name and "." not in name and len(name) <= 16 and " " not in name:
        stem, ext = "", "." + name  # ".xlsx" alone is an extension, not a hidden file
    else:
        stem, ext = name, ""
    stem = stem.rstrip(" .")
    if not stem:
        stem = "attachment"
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    return _truncate(stem, ext) or "attachment"


def _spreadsheet_ext(part: Message, filename: str | None) -> str | None:
    if filename:
        suffix = os.path.splitext(filename)[1].lower()
        if suffix in SPREADSHEET_TYPES or suffix in REPORT_ATTACHMENTS:
            return suffix
        if suffix in REPORT_TEXT_ATTACHMENTS and part.get_content_disposition() == "attachment":
            return suffix
    return _SPREADSHEET_MIME.get(part.get_content_type().lower())


@dataclass(frozen=True)
class _Meta:
    message_id: str | None
    sender: str | None
    date: datetime | None


def _header(msg: Message, name: str) -> str | None:
    try:
        value = msg[name]
    except Exception:  # a malformed header must not stop the extraction
        return None
    return str(value).strip() if value is not None else None


def _meta(msg: Message, parent: _Meta | None) -> _Meta:
    """Metadata of the innermost enclosing message, falling back to the outer one."""
    message_id = _header(msg, "Message-ID")
    sender = None
    raw_from = _header(msg, "From")
    if raw_from:
        sender = email.utils.parseaddr(raw_from)[1] or raw_from
    date = None
    raw_date = _header(msg, "Date")
    if raw_date:
        try:
            date = email.utils.parsedate_to_datetime(raw_date)
        except (TypeError, ValueError, IndexError):
            date = None
    if parent is not None:
        message_id = message_id or parent.message_id
        sender = sender or parent.sender
        date = date or parent.date
    return _Meta(message_id, sender, date)


_MAX_DEPTH = 10  # forwarded-of-forwarded nesting; deeper is pathological


def _part_filename(part: Message) -> str | None:
    """Decoded attachment name of a leaf part, or None."""
    # Raw 8-bit (usually GBK) names are mangled by the header parser; read
    # them from the unparsed header so the bytes can still be recovered.
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        for key, value in part.raw_items():
            if key.lower() != header or not isinstance(value, str):
                continue
            if any("\udc80" <= ch <= "\udcff" for ch in value):
                m = re.search(rf'(?<![\w*-]){param}\s*=\s*(?:"([^"]*)"|([^;\s]+))', value, re.I)
                if m:
                    return _decode_name(m.group(1) or m.group(2))
    try:
        raw_name = part.get_filename()
    except Exception:  # malformed parameters must not stop the extraction
        return None
    return _decode_name(raw_name) if raw_name else None


def _iter_spreadsheets(part: Message, meta: _Meta, depth: int = 0) -> Iterator[tuple[Message, str, str | None, _Meta]]:
    """Yield (part, original name, spreadsheet extension, metadata) for spreadsheet leaves."""
    if depth > _MAX_DEPTH:
        return
    ctype = part.get_content_type()
    if ctype == "multipart/report":
        # Bounces quote our own outgoing mail, blank template included: not a reply.
        return
    if ctype == "message/rfc822" or (part.get_content_maintype() == "message" and part.is_multipart()):
        for inner in part.get_payload():
            yield from _iter_spreadsheets(inner, _meta(inner, meta), depth + 1)
        return
    if part.is_multipart():
        for sub in part.get_payload():
            yield from _iter_spreadsheets(sub, meta, depth + 1)
        return
    name = _part_filename(part)
    if name and name.lower().endswith(".eml"):
        # Some clients forward mail as an application/octet-stream .eml file.
        payload = part.get_payload(decode=True)
        if payload:
            inner = email.message_from_bytes(payload, policy=email.policy.default)
            yield from _iter_spreadsheets(inner, _meta(inner, meta), depth + 1)
        return
    ext = _spreadsheet_ext(part, name)
    if ext:
        yield part, name or "", ext, meta


def _write_unique(dest: Path, filename: str, data: bytes) -> Path:
    stem, ext = os.path.splitext(filename)
    counter = 0
    while True:
        candidate = dest / (filename if counter == 0 else f"{stem}-{counter}{ext}")
        if os.path.lexists(candidate):
            counter += 1
            continue
        if candidate.resolve().parent != dest:
            raise MailError(f"附件文件名不安全，拒绝写入：{filename!r}")
        try:
            # "xb" = O_CREAT|O_EXCL: never overwrites, never follows a planted symlink.
            with open(candidate, "xb") as fh:
                fh.write(data)
            return candidate
        except FileExistsError:
            counter += 1


def _messages(source: Path) -> Iterator[Message]:
    is_mbox = source.suffix.lower() == ".mbox"
    if not is_mbox and source.suffix.lower() != ".eml":
        with open(source, "rb") as fh:
            is_mbox = fh.read(5) == b"From "
    if not is_mbox:
        with open(source, "rb") as fh:
            yield email.message_from_binary_file(fh, policy=email.policy.default)
        return
    if not source.is_file():
        raise FileNotFoundError(source)
    box = mailbox.mbox(source, create=False)
    try:
        for key in box.iterkeys():
            # get_bytes + the modern policy: decoded headers and get_filename().
            yield email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
    finally:
        box.close()


def extract_attachments(source: str | Path, dest_dir: str | Path) -> list[ExtractedFile]:
    """Save every spreadsheet attachment of an .eml or every message of an .mbox.

    Forwarded messages (message/rfc822 parts) are searched too.  Files get
    ``safe_filename`` names inside ``dest_dir`` and never overwrite anything:
    a name already present gets a ``-1``, ``-2``... suffix.  Delivery-status
    reports (bounces) are skipped: they quote our own outgoing template.
    """
    source = Path(source)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    extracted: list[ExtractedFile] = []
    for msg in _messages(source):
        parts = list(_iter_spreadsheets(msg, _meta(msg, None)))
        documents = REPORT_ATTACHMENTS + REPORT_TEXT_ATTACHMENTS
        if any(ext not in documents for _, _, ext, _ in parts):
            # A reply with the workbook: its other documents (说明.pdf) are not the submission.
            parts = [p for p in parts if p[2] not in documents]
        for part, original, ext, meta in parts:
            data = part.get_payload(decode=True) or b""
            filename = safe_filename(original) if original else "attachment" + ext
            if not filename.lower().endswith(ext):
                filename = _truncate(filename, ext)  # typed by MIME type only: give it its extension
            path = _write_unique(dest, filename, data)
            extracted.append(ExtractedFile(path, original or filename, meta.message_id, meta.sender, meta.date, source))
    return extracted
