"""The campaign ledger: one SQLite file (WAL mode) recording everything a campaign did.

Every write that must be atomic goes through ``transaction`` (BEGIN IMMEDIATE), so two
processes working on the same campaign serialise instead of interleaving, and a process
killed at any moment leaves either the whole change or none of it.
"""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LEDGER_NAME = "ledger.sqlite"
BUSY_TIMEOUT_MS = 30000

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaign (
    key   TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS agencies (
    code    TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    region  TEXT,
    contact TEXT,
    email   TEXT,
    phone   TEXT
);
CREATE TABLE IF NOT EXISTS issued (
    code   TEXT NOT NULL,
    path   TEXT NOT NULL,
    at     TEXT NOT NULL,
    sha256 TEXT
);
CREATE TABLE IF NOT EXISTS sent (
    code       TEXT NOT NULL,
    message_id TEXT,
    at         TEXT NOT NULL,
    error      TEXT
);
CREATE TABLE IF NOT EXISTS submissions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    code          TEXT NULL,
    file_name     TEXT NOT NULL,
    sha256        TEXT NOT NULL UNIQUE,
    archive_path  TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    status        TEXT NOT NULL,
    errors        INTEGER NOT NULL DEFAULT 0,
    warnings      INTEGER NOT NULL DEFAULT 0,
    superseded_by INTEGER NULL REFERENCES submissions(id),
    source        TEXT,
    feedback_path TEXT NULL
);
CREATE TABLE IF NOT EXISTS findings (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    severity      TEXT NOT NULL,
    rule          TEXT,
    sheet         TEXT,
    cell          TEXT,
    message       TEXT
);
CREATE TABLE IF NOT EXISTS facts (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    "table"       TEXT NOT NULL,
    row           TEXT NOT NULL,
    col           TEXT NOT NULL,
    value         REAL,
    sheet         TEXT,
    cell          TEXT,
    raw           TEXT  -- what the agency typed, as text (export reads it; NULL: empty cell)
);
CREATE TABLE IF NOT EXISTS submission_meta (
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    key           TEXT NOT NULL,
    value         TEXT
);
CREATE TABLE IF NOT EXISTS reminders (
    round        INTEGER NOT NULL,
    code         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    path         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    deadline     TEXT,
    message_id   TEXT,
    sent_at      TEXT,
    error        TEXT,
    cancelled    TEXT,
    PRIMARY KEY (round, code)
);
CREATE TABLE IF NOT EXISTS links (
    code       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    name         TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until TEXT,
    last_at      TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user       TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    client     TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS reviews (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    submission_id INTEGER NOT NULL REFERENCES submissions(id),
    state         TEXT NOT NULL,
    comment       TEXT NOT NULL DEFAULT '',
    user          TEXT NOT NULL,
    at            TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    address TEXT NOT NULL,
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE INDEX IF NOT EXISTS links_code ON links(code);
CREATE INDEX IF NOT EXISTS reviews_sub ON reviews(submission_id);
CREATE INDEX IF NOT EXISTS issued_code ON issued(code);
CREATE INDEX IF NOT EXISTS sent_code ON sent(code);
CREATE INDEX IF NOT EXISTS submissions_code ON submissions(code);
CREATE INDEX IF NOT EXISTS findings_sub ON findings(submission_id);
CREATE INDEX IF NOT EXISTS facts_sub ON facts(submission_id);
CREATE INDEX IF NOT EXISTS submission_meta_sub ON submission_meta(submission_id);
"""


def ledger_path(directory: Path | str) -> Path:
    """The ledger file of the campaign in ``directory``."""
    return Path(directory) / LEDGER_NAME


def connect(directory: Path | str, *, create: bool = False) -> sqlite3.Connection:
    """Open the ledger in autocommit mode (transactions are explicit)."""
    path = ledger_path(directory)
    if not create and not path.is_file():
        raise FileNotFoundError(path)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.row_factory = sqlite3.Row
    if create:
        conn.executescript(SCHEMA)
        return conn
    # The portal opens the ledger for every page: the dozen queries of the migration checks run
    # once per ledger file and process, and again only when its schema changed since (SQLite's
    # schema_version counts every change; device and inode tell a file copied over the path).
    st = os.stat(path)
    seen = (st.st_dev, st.st_ino, conn.execute("PRAGMA schema_version").fetchone()[0])
    if _MIGRATED.get(str(path)) != seen:
        _migrate(conn)
        _MIGRATED[str(path)] = (st.st_dev, st.st_ino, conn.execute("PRAGMA schema_version").fetchone()[0])
    return conn


_MIGRATED: dict[str, tuple[int, int, int]] = {}  # ledger path -> (device, inode, schema_version) once migrated


# Columns added after the first release: (table, column, declaration).
_ADDED_COLUMNS = (
    ("issued", "sha256", "TEXT"),  # of the template issued, so that a reply identical to it is caught
    ("submissions", "feedback_path", "TEXT NULL"),
    ("facts", "sheet", "TEXT"),
    ("facts", "cell", "TEXT"),
    ("facts", "raw", "TEXT"),
    ("agencies", "phone", "TEXT"),  # the roster's optional 联系电话 column
    ("login_failures", "last_at", "TEXT"),  # the last failure: an unknown name's row is pruned after LOCK_MINUTES
)


# Reminder rounds (``campaign remind``): one row per agency and round; round = MAX(round) + 1.
# reason: missing | invalid | unreadable; path: the .eml, relative to the campaign; message_id
# and sent_at once the server accepted it; error of the last failed attempt; cancelled: why
# an unsent reminder will never be sent (the agency is valid now, or a later round replaced it).
_REMINDERS_TABLE = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS reminders"):SCHEMA.index("CREATE TABLE IF NOT EXISTS links")].strip().rstrip(";")

# The web portal's tables (xlsxgov serve), added to older ledgers as one script: links (agency
# secret links, SHA-256 of the token only), users (argon2 hashes), login_failures, sessions
# (SHA-256 of the cookie), api_tokens, reviews (审核 states per submission) and the append-only
# audit log (triggers refuse UPDATE and DELETE).
_PORTAL_TABLES = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS links"):SCHEMA.index("CREATE INDEX IF NOT EXISTS issued_code")]


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a ledger written by an older version up to SCHEMA (idempotent, safe when racing)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='submission_meta'").fetchone() is None:
        conn.execute("CREATE TABLE IF NOT EXISTS submission_meta (submission_id INTEGER NOT NULL REFERENCES submissions(id), key TEXT NOT NULL, value TEXT)")
        conn.execute("CREATE INDEX IF NOT EXISTS submission_meta_sub ON submission_meta(submission_id)")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='reminders'").fetchone() is None:
        conn.execute(_REMINDERS_TABLE)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='trigger' AND name='audit_no_delete'").fetchone() is None:
        conn.executescript(_PORTAL_TABLES)  # IF NOT EXISTS throughout: safe when racing
    for table, column, decl in _ADDED_COLUMNS:
        if column in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
            continue
        try:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        except sqlite3.OperationalError:  # another process added it first
            if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
                raise


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT; ROLLBACK on any exception. Inside another transaction it is a
    SAVEPOINT, released or rolled back alone: ``campaign import`` records a batch of files in one
    commit (one fsync), each file still all or nothing."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_setting(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    """One campaign setting as ``campaign init`` recorded it (``default`` when absent)."""
    row = conn.execute("SELECT value FROM campaign WHERE key=?", (key,)).fetchone()
    return row[0] if row else default


READABLE = ("valid", "invalid")
ATTRIBUTED = READABLE + ("unreadable",)  # statuses of files attributed to an agency

# Readable files that never replace another readable file of their agency (found by a new
# user's trial), ranked below it: a file whose cover names one agency while its mail's sender
# or its file name names another (``agency.channel_other``: whose report it is needs a human),
# then the very template the campaign issued, sent back unfilled
# (``campaign.template_unchanged``: an agency forwarding the office's mail with both files).
HELD_RULES = ("agency.channel_other", "campaign.template_unchanged")


def recompute_current(conn: sqlite3.Connection, code: str) -> None:
    """Choose the agency's current submission; mark every other one superseded by it.

    The current submission is the newest (by received_at, then id) of the best-ranked files:
    readable ones (valid or invalid) first, then readable ones held back by a finding of
    ``HELD_RULES`` (in that order: the unfilled template last), then unreadable ones.  So an
    unreadable file, an unfilled template or a file whose agency is in doubt never replaces a
    readable submission: it stays in the history (superseded_by = the current one) and is only
    current when the agency has nothing better (an agency that sent only the template shows as
    有错误 and is reminded).  Each agency thus has at most one row with superseded_by NULL.  The
    choice depends only on the set of rows, not on the order the files were imported in, so
    any sequence of imports of the same files ends in the same state.
    """
    held = " ".join(
        f"WHEN EXISTS (SELECT 1 FROM findings f WHERE f.submission_id = s.id AND f.rule = '{rule}') THEN {len(HELD_RULES) - i}"
        for i, rule in enumerate(HELD_RULES)
    )
    rows = conn.execute(
        f"SELECT s.id, CASE WHEN s.status NOT IN ({','.join('?' * len(READABLE))}) THEN 0 {held} ELSE {len(HELD_RULES) + 1} END AS rank "
        f"FROM submissions s WHERE s.code=? AND s.status IN ({','.join('?' * len(ATTRIBUTED))}) "
        "ORDER BY rank, s.received_at, s.id",
        (*READABLE, code, *ATTRIBUTED),
    ).fetchall()
    if not rows:
        return
    current = rows[-1]["id"]
    conn.execute("UPDATE submissions SET superseded_by=NULL WHERE id=?", (current,))
    conn.execute(
        f"UPDATE submissions SET superseded_by=? WHERE code=? AND id<>? AND status IN ({','.join('?' * len(ATTRIBUTED))})",
        (current, code, current, *ATTRIBUTED),
    )


# The import's ``source`` of a mailed file: "<.eml or .mbox path>[ <Message-ID>][ <sender address>]".
_MAIL_SOURCE = re.compile(r"(?P<path>.+?\.(?:eml|mbox))(?: <[^>]*>)?(?: (?P<sender>\S+@\S+))?", re.I)


def current_reviews(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
    """{code: (state, comment)} of the latest review (the portal's 审核) of each agency's current
    submission; 待审核 and "" when it was never reviewed (a new upload is pending again)."""
    from ..vocab import REVIEW_PENDING

    rows = conn.execute(
        "SELECT s.code, r.state, r.comment FROM submissions s LEFT JOIN reviews r "
        "ON r.id = (SELECT MAX(id) FROM reviews WHERE submission_id = s.id) "
        "WHERE s.code IS NOT NULL AND s.superseded_by IS NULL")
    return {code: (state or REVIEW_PENDING, comment or "") for code, state, comment in rows}


def mail_sender(source: str | None) -> str | None:
    """The sender's address recorded in a mailed file's ``source`` column (None for any other
    channel, or a mail without a sender)."""
    m = _MAIL_SOURCE.fullmatch(source or "")
    return m["sender"] if m is not None and m["sender"] else None


def submission_label(file_name: str, source: str | None, *, quoted: bool = True) -> str:
    """How a clerk recognises a recorded submission: the file name the agency sent (never the
    archive's hash name) and the mail it came in, from the ``file_name`` and ``source`` columns,
    e.g. ``“教育局年报.xlsx”（邮件 08.eml，发件人 a@example.gov.cn）``."""
    name = f"“{file_name}”" if quoted else file_name
    m = _MAIL_SOURCE.fullmatch(source or "")
    if m is None:
        return name
    sender = f"，发件人 {m['sender']}" if m["sender"] else ""
    return f"{name}（邮件 {Path(m['path']).name}{sender}）"
