"""The campaign ledger: one SQLite file (WAL mode) recording everything a campaign did.

Every write that must be atomic goes through ``transaction`` (BEGIN IMMEDIATE), so two
processes working on the same campaign serialise instead of interleaving, and a process
killed at any moment leaves either the whole change or none of it.
"""

from __future__ import annotations

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
    email   TEXT
);
CREATE TABLE IF NOT EXISTS issued (
    code TEXT NOT NULL,
    path TEXT NOT NULL,
    at   TEXT NOT NULL
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
    source        TEXT
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
    value         REAL
);
CREATE INDEX IF NOT EXISTS issued_code ON issued(code);
CREATE INDEX IF NOT EXISTS sent_code ON sent(code);
CREATE INDEX IF NOT EXISTS submissions_code ON submissions(code);
CREATE INDEX IF NOT EXISTS findings_sub ON findings(submission_id);
CREATE INDEX IF NOT EXISTS facts_sub ON facts(submission_id);
"""


def ledger_path(directory: Path | str) -> Path:
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


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT; ROLLBACK on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_setting(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM campaign WHERE key=?", (key,)).fetchone()
    return row[0] if row else default


def recompute_current(conn: sqlite3.Connection, code: str) -> None:
    """Mark all but the newest (by received_at, then id) submission of ``code`` superseded.

    Independent of the order files were imported in, so any sequence of imports of the
    same files ends in the same state.
    """
    rows = conn.execute(
        "SELECT id FROM submissions WHERE code=? AND status IN ('valid','invalid','unreadable') "
        "ORDER BY received_at, id",
        (code,),
    ).fetchall()
    if not rows:
        return
    current = rows[-1][0]
    conn.execute("UPDATE submissions SET superseded_by=NULL WHERE id=?", (current,))
    conn.execute(
        "UPDATE submissions SET superseded_by=? WHERE code=? AND id<>? AND status IN ('valid','invalid','unreadable')",
        (current, code, current),
    )
