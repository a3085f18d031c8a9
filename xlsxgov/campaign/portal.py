"""What the web portal (``xlsxgov serve``) keeps in the campaign ledger: agency secret links,
office accounts and sessions, API tokens, review states and the audit log; and the queries its
pages show. The web layer (xlsxgov/web) holds no SQL: every read and write is a call here or in
the campaign modules, the same calls the CLI makes.

Secrets (link tokens, session cookies, API tokens) are 256-bit random values from ``secrets``;
the ledger stores only their SHA-256, so a copy of the ledger opens nothing. Passwords are
hashed with argon2id (argon2-cffi defaults, RFC 9106).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import ledger
from ..errors import CampaignError
from .store import now as _now
from .store import open_ledger as _open
from ..vocab import REVIEW_APPROVED, REVIEW_PENDING, REVIEW_RETURNED, REVIEW_STATES  # noqa: F401  (used as portal.REVIEW_*)

ROLES = ("管理员", "审核员", "只读")
# What each role may do beyond reading (issue #10: 只读 cannot review or upload).
MAY = {
    "管理员": {"review", "upload", "assign", "act", "audit"},
    "审核员": {"review", "upload", "assign"},
    "只读": set(),
}


LINKS_CSV = "links.csv"
SESSION_HOURS = 8
MAX_FAILURES = 5  # failed logins of one name before it is locked
LOCK_MINUTES = 15


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A URL-safe secret of 256 random bits (issue #10 asks at least 128)."""
    return secrets.token_urlsafe(32)


# ---------------------------------------------------------------------------------------------
# agency links


def issue_links(directory: Path | str, base_url: str, codes: list[str] | None = None, *, reissue: bool = True) -> dict[str, str]:
    """Create a secret link for each agency (all of the roster when ``codes`` is None), revoking
    its previous link when ``reissue``; returns {code: full URL} and rewrites outbox/links.csv
    with the links just made (the only place the token is ever written in clear besides the mail
    and the template). Raises CampaignError for a code not in the roster."""
    directory = Path(directory)
    base = base_url.rstrip("/")
    conn = _open(directory)
    try:
        roster = {r["code"]: r["name"] for r in conn.execute("SELECT code, name FROM agencies ORDER BY rowid")}
        wanted = list(roster) if codes is None else codes
        for code in wanted:
            if code not in roster:
                raise CampaignError(f"名册中没有统一社会信用代码为“{code}”的单位")
        links = {}
        with ledger.transaction(conn):
            now = _now()
            for code in wanted:
                if reissue:
                    conn.execute("UPDATE links SET revoked_at=? WHERE code=? AND revoked_at IS NULL", (now, code))
                token = new_token()
                conn.execute("INSERT INTO links(code, token_hash, created_at) VALUES (?, ?, ?)", (code, _hash(token), now))
                links[code] = f"{base}/a/{token}"
            _audit_local(conn, "生成报送链接", f"{len(wanted)} 个单位" if codes is None else "单位 " + "、".join(wanted))
        _write_links_csv(directory, roster, links)
    finally:
        conn.close()
    return links


def _write_links_csv(directory: Path, roster: dict[str, str], links: dict[str, str]) -> Path:
    """outbox/links.csv: 单位名称, 统一社会信用代码, 报送链接; rows of other agencies kept."""
    path = directory / "outbox" / LINKS_CSV
    path.parent.mkdir(exist_ok=True)
    rows: dict[str, str] = {}
    if path.is_file():
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for r in csv.DictReader(fh):
                if r.get("统一社会信用代码") in roster:
                    rows[r["统一社会信用代码"]] = r.get("报送链接", "")
    rows.update(links)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    # The secret links: readable by the campaign folder's owner only, whatever the umask.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel opens it as UTF-8
        w = csv.writer(fh)
        w.writerow(["单位名称", "统一社会信用代码", "报送链接"])
        for code in roster:
            if code in rows:
                w.writerow([roster[code], code, rows[code]])
    tmp.replace(path)
    return path


def link_of_csv(directory: Path | str, code: str) -> str | None:
    """The agency's link as the last issue wrote it into outbox/links.csv (None if absent)."""
    path = Path(directory) / "outbox" / LINKS_CSV
    if not path.is_file():
        return None
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return next((r["报送链接"] for r in csv.DictReader(fh) if r.get("统一社会信用代码") == code), None)


def revoke_link(directory: Path | str, code: str) -> int:
    """Revoke the agency's live links; returns how many were revoked."""
    conn = _open(directory)
    try:
        with ledger.transaction(conn):
            _audit_local(conn, "作废报送链接", f"单位 {code}")
            return conn.execute("UPDATE links SET revoked_at=? WHERE code=? AND revoked_at IS NULL", (_now(), code)).rowcount
    finally:
        conn.close()


def link_state(directory: Path | str, code: str) -> tuple[bool, str | None]:
    """(whether the agency has a live link, the portal address given to ``campaign issue``)."""
    conn = _open(directory)
    try:
        live = conn.execute("SELECT 1 FROM links WHERE code=? AND revoked_at IS NULL", (code,)).fetchone() is not None
        return live, settings(conn).get("portal_url")
    finally:
        conn.close()


def link_agency(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    """The roster agency (code, name, region, contact, email) a live link token opens, else None."""
    return conn.execute(
        "SELECT a.code, a.name, a.region, a.contact, a.email FROM links l JOIN agencies a ON a.code = l.code "
        "WHERE l.token_hash=? AND l.revoked_at IS NULL",
        (_hash(token),),
    ).fetchone()


# ---------------------------------------------------------------------------------------------
# users, login, sessions


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


# Verified when the name is unknown, so an unknown name costs the same time as a wrong password.
_DUMMY_HASH: list[str] = []


def add_user(directory: Path | str, name: str, role: str, password: str) -> int:
    """Create or replace an office account; replacing one (new password, maybe a new role) ends
    every session of that user, so an old cookie opens nothing any more. Returns the number of
    sessions ended. Raises CampaignError for an unknown role, an empty name or a password
    shorter than 8 characters."""
    if role not in ROLES:
        raise CampaignError(f"角色应为 {'、'.join(ROLES)} 之一，而不是“{role}”")
    if not name.strip() or any(c in name for c in "\r\n\t"):
        raise CampaignError("用户名不能为空，也不能包含换行符或制表符")
    if len(password) < 8:
        raise CampaignError("密码至少需要 8 个字符")
    digest = _hasher().hash(password)
    conn = _open(directory)
    try:
        with ledger.transaction(conn):
            conn.execute(
                "INSERT INTO users(name, role, password_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET role=excluded.role, password_hash=excluded.password_hash",
                (name, role, digest, _now()),
            )
            ended = _account_changed(conn, "保存账户", name, role)
    finally:
        conn.close()
    return ended


def _account_changed(conn: sqlite3.Connection, action: str, name: str, role: str) -> int:
    """After an account is saved or removed: its failed logins forgotten, its sessions ended (an
    old cookie opens nothing), the audit line written. Returns the number of sessions ended."""
    conn.execute("DELETE FROM login_failures WHERE name=?", (name,))
    ended = conn.execute("DELETE FROM sessions WHERE user=?", (name,)).rowcount
    _audit_local(conn, action, f"{name}（{role}）" + (f"，结束其 {ended} 个登录会话" if ended else ""))
    return ended


def remove_user(directory: Path | str, name: str) -> int:
    """Remove an office account and end its sessions; returns the number of sessions ended.
    Raises CampaignError when there is no such account, or when it is the last 管理员 (serve
    needs one to start)."""
    conn = _open(directory)
    try:
        with ledger.transaction(conn):
            row = conn.execute("SELECT role FROM users WHERE name=?", (name,)).fetchone()
            if row is None:
                raise CampaignError(f"没有名为“{name}”的账户")
            if row["role"] == "管理员" and conn.execute("SELECT COUNT(*) FROM users WHERE role='管理员'").fetchone()[0] == 1:
                raise CampaignError(f"“{name}”是唯一的管理员账户，不能删除：请先用 xlsxgov user add 新建另一个管理员")
            conn.execute("DELETE FROM users WHERE name=?", (name,))
            ended = _account_changed(conn, "删除账户", name, row["role"])
    finally:
        conn.close()
    return ended


def has_admin(directory: Path | str) -> bool:
    conn = _open(directory)
    try:
        return conn.execute("SELECT 1 FROM users WHERE role='管理员'").fetchone() is not None
    finally:
        conn.close()


@dataclass
class LoginResult:
    user: str | None  # the user logged in, None when refused
    locked_until: str | None = None  # set when the name is locked (too many failures)


def check_login(conn: sqlite3.Connection, name: str, password: str) -> LoginResult:
    """Verify a name and password. Always runs one argon2 verification (against a dummy hash
    for an unknown name) so timing does not tell which names exist. After MAX_FAILURES failures
    of a name, known or not, the name is locked for LOCK_MINUTES, even for the right password.
    The failures of names that are no account are forgotten LOCK_MINUTES after their last one
    (pruned at each failure): a flood of made-up names left a row each for good (found by a
    security review)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    ph = _hasher()
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(ph.hash(secrets.token_hex(16)))
    row = conn.execute("SELECT password_hash FROM users WHERE name=?", (name,)).fetchone()
    ok = False
    try:
        ok = ph.verify(row["password_hash"] if row else _DUMMY_HASH[0], password) and row is not None
    except (VerificationError, InvalidHashError):
        ok = False
    now = datetime.now(timezone.utc)
    with ledger.transaction(conn):
        fail = conn.execute("SELECT failures, locked_until FROM login_failures WHERE name=?", (name,)).fetchone()
        if fail and fail["locked_until"] and datetime.fromisoformat(fail["locked_until"]) > now:
            return LoginResult(None, fail["locked_until"])
        if ok:
            conn.execute("DELETE FROM login_failures WHERE name=?", (name,))
            return LoginResult(name)
        failures = (fail["failures"] if fail and not fail["locked_until"] else 0) + 1
        locked = (now + timedelta(minutes=LOCK_MINUTES)).isoformat() if failures >= MAX_FAILURES else None
        conn.execute(
            "INSERT INTO login_failures(name, failures, locked_until, last_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET failures=excluded.failures, locked_until=excluded.locked_until, last_at=excluded.last_at",
            (name, failures, locked, now.isoformat()),
        )
        conn.execute(
            "DELETE FROM login_failures WHERE name NOT IN (SELECT name FROM users) AND COALESCE(locked_until, '') < ? "
            "AND COALESCE(last_at, '') < ?",
            (now.isoformat(), (now - timedelta(minutes=LOCK_MINUTES)).isoformat()),
        )
    return LoginResult(None, locked)


@dataclass
class Session:
    user: str
    role: str
    csrf: str


def new_session(conn: sqlite3.Connection, user: str) -> str:
    """Start a session; returns the cookie value (only its SHA-256 is stored)."""
    token = new_token()
    now = datetime.now(timezone.utc)
    with ledger.transaction(conn):
        conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
        conn.execute(
            "INSERT INTO sessions(token_hash, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (_hash(token), user, new_token(), now.isoformat(), (now + timedelta(hours=SESSION_HOURS)).isoformat()),
        )
    return token


def session_of(conn: sqlite3.Connection, cookie: str | None) -> Session | None:
    """The live session a cookie opens (its user still existing), else None."""
    if not cookie:
        return None
    row = conn.execute(
        "SELECT s.user, s.csrf, s.expires_at, u.role FROM sessions s JOIN users u ON u.name = s.user WHERE s.token_hash=?",
        (_hash(cookie),),
    ).fetchone()
    if row is None or datetime.fromisoformat(row["expires_at"]) < datetime.now(timezone.utc):
        return None
    return Session(row["user"], row["role"], row["csrf"])


def end_session(conn: sqlite3.Connection, cookie: str) -> None:
    with ledger.transaction(conn):
        conn.execute("DELETE FROM sessions WHERE token_hash=?", (_hash(cookie),))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


# ---------------------------------------------------------------------------------------------
# API tokens


def add_api_token(directory: Path | str, client: str) -> str:
    """A new API token for a client system (read-only JSON API); returned once, stored hashed."""
    if not client.strip():
        raise CampaignError("客户端名称不能为空")
    token = new_token()
    conn = _open(directory)
    try:
        with ledger.transaction(conn):
            conn.execute("INSERT INTO api_tokens(client, token_hash, created_at) VALUES (?, ?, ?)", (client, _hash(token), _now()))
            _audit_local(conn, "生成接口令牌", client)
    finally:
        conn.close()
    return token


def revoke_api_tokens(directory: Path | str, client: str) -> int:
    """Revoke every live API token of ``client``; returns how many."""
    conn = _open(directory)
    try:
        with ledger.transaction(conn):
            _audit_local(conn, "作废接口令牌", client)
            return conn.execute("UPDATE api_tokens SET revoked_at=? WHERE client=? AND revoked_at IS NULL", (_now(), client)).rowcount
    finally:
        conn.close()


def api_client(conn: sqlite3.Connection, token: str | None) -> str | None:
    if not token:
        return None
    row = conn.execute("SELECT client FROM api_tokens WHERE token_hash=? AND revoked_at IS NULL", (_hash(token),)).fetchone()
    return row["client"] if row else None


# ---------------------------------------------------------------------------------------------
# audit log and reviews


def _audit_local(conn: sqlite3.Connection, action: str, detail: str) -> None:
    """An audit line for a command run on the server machine (inside the caller's transaction)."""
    import getpass

    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        who = ""
    conn.execute("INSERT INTO audit(at, actor, address, action, detail) VALUES (?, ?, ?, ?, ?)",
                 (_now(), f"命令行 {who}".strip(), "本机", action, detail))


def audit(conn: sqlite3.Connection, actor: str, address: str, action: str, detail: str = "") -> None:
    """Append one line to the audit log (who, when, what, from which address)."""
    audit_many(conn, [(actor, address, action, detail)])


def audit_many(conn: sqlite3.Connection, lines: list[tuple[str, str, str, str]]) -> None:
    """Append audit lines (actor, address, action, detail) in one transaction: one commit (one
    fsync) for a batch of uploads instead of one each."""
    at = _now()
    with ledger.transaction(conn):
        conn.executemany("INSERT INTO audit(at, actor, address, action, detail) VALUES (?, ?, ?, ?, ?)",
                         [(at, *line) for line in lines])


def audit_log(conn: sqlite3.Connection, limit: int = 500) -> list[sqlite3.Row]:
    return conn.execute("SELECT at, actor, address, action, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def review(conn: sqlite3.Connection, submission_id: int, state: str, comment: str, user: str, address: str) -> None:
    """Record a review of a submission (审核通过 or 退回修改 with a comment) and its audit line,
    in one transaction. Raises CampaignError for another state, a return without comment, or
    审核通过 of a report that is not valid (it is never consolidated: return it instead)."""
    if state not in (REVIEW_APPROVED, REVIEW_RETURNED):
        raise CampaignError(f"审核结果应为“{REVIEW_APPROVED}”或“{REVIEW_RETURNED}”")
    comment = comment.strip()
    if state == REVIEW_RETURNED and not comment:
        raise CampaignError("退回修改时请填写意见，单位会在报送页面看到")
    with ledger.transaction(conn):
        row = conn.execute("SELECT code, status FROM submissions WHERE id=? AND code IS NOT NULL", (submission_id,)).fetchone()
        if row is None:
            raise CampaignError(f"没有编号为 {submission_id} 的报送")
        if state == REVIEW_APPROVED and row["status"] != "valid":
            # An approved report with errors would still be left out of the consolidation, and
            # the agency would read 审核通过 beside 请修改 (found by a trial).
            raise CampaignError("这份报表有错误或无法读取，不能审核通过：请退回修改，或等单位改正后重新报送")
        conn.execute(
            "INSERT INTO reviews(submission_id, state, comment, user, at) VALUES (?, ?, ?, ?, ?)",
            (submission_id, state, comment, user, _now()),
        )
        conn.execute(
            "INSERT INTO audit(at, actor, address, action, detail) VALUES (?, ?, ?, ?, ?)",
            (_now(), user, address, f"审核：{state}", f"单位 {row['code']} 报送 {submission_id}：{comment}"),
        )


def review_state(conn: sqlite3.Connection, submission_id: int) -> tuple[str, str, str, str]:
    """(state, comment, user, at) of a submission's latest review; 待审核 when never reviewed,
    so a new upload (a new submission) is 待审核 again, as in ODK Central."""
    row = conn.execute(
        "SELECT state, comment, user, at FROM reviews WHERE submission_id=? ORDER BY id DESC LIMIT 1", (submission_id,)
    ).fetchone()
    return tuple(row) if row else (REVIEW_PENDING, "", "", "")


# ---------------------------------------------------------------------------------------------
# what the pages show


def settings(conn: sqlite3.Connection) -> dict[str, str]:
    return {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM campaign")}


def submissions_of(conn: sqlite3.Connection, code: str) -> list[dict]:
    """The agency's submissions, newest first, each with its review state."""
    rows = conn.execute(
        "SELECT id, file_name, sha256, archive_path, received_at, status, errors, warnings, superseded_by, source, feedback_path "
        "FROM submissions WHERE code=? ORDER BY received_at DESC, id DESC",
        (code,),
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["review"], d["comment"], d["reviewer"], d["reviewed_at"] = review_state(conn, r["id"])
        d["current"] = r["superseded_by"] is None
        out.append(d)
    return out


def submission(conn: sqlite3.Connection, submission_id: int) -> dict | None:
    row = conn.execute(
        "SELECT id, code, file_name, sha256, archive_path, received_at, status, errors, warnings, superseded_by, source, feedback_path "
        "FROM submissions WHERE id=?",
        (submission_id,),
    ).fetchone()
    if row is None:
        return None
    d = dict(row)
    d["review"], d["comment"], d["reviewer"], d["reviewed_at"] = review_state(conn, row["id"])
    return d


def submission_by_sha(conn: sqlite3.Connection, sha256: str) -> dict | None:
    row = conn.execute("SELECT id FROM submissions WHERE sha256=?", (sha256,)).fetchone()
    return submission(conn, row["id"]) if row else None


def findings_of(conn: sqlite3.Connection, submission_id: int, *, with_info: bool = False) -> list[sqlite3.Row]:
    """A submission's findings in the order validation gave them (errors and warnings; notes too
    when ``with_info``)."""
    return conn.execute(
        "SELECT severity, rule, sheet, cell, message FROM findings WHERE submission_id=? AND (? OR severity != 'info') ORDER BY rowid",
        (submission_id, with_info),
    ).fetchall()


def facts_of(conn: sqlite3.Connection, submission_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        'SELECT "table", row, col, value, sheet, cell FROM facts WHERE submission_id=? ORDER BY rowid', (submission_id,)
    ).fetchall()


def agency(conn: sqlite3.Connection, code: str) -> sqlite3.Row | None:
    return conn.execute("SELECT code, name, region, contact, email FROM agencies WHERE code=?", (code,)).fetchone()


def unassigned(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Files recorded with no agency (quarantined), newest first."""
    return conn.execute(
        "SELECT id, file_name, sha256, received_at, status, source FROM submissions WHERE code IS NULL ORDER BY received_at DESC, id DESC"
    ).fetchall()


def current_reviews(conn: sqlite3.Connection) -> dict[str, str]:
    """{code: review state} of each agency's current submission (``ledger.current_reviews``)."""
    return {code: state for code, (state, _) in ledger.current_reviews(conn).items()}


def open_ledger(directory: Path | str) -> sqlite3.Connection:
    """A connection to the campaign's ledger (migrated); CampaignError when DIR is no campaign."""
    return _open(directory)


def issued_template_of(conn: sqlite3.Connection, code: str) -> tuple[str, str] | None:
    """(path relative to the campaign, SHA-256) of the template ``campaign issue`` last made for
    the agency ``code`` (ledger table ``issued``), None when there is none."""
    row = conn.execute("SELECT path, sha256 FROM issued WHERE code=? ORDER BY rowid DESC LIMIT 1", (code,)).fetchone()
    return (row[0], row[1]) if row is not None else None
