"""One campaign's read/write model: ``CampaignStore`` holds every SQL statement outside ledger.py.

A campaign lives in one folder::

    DIR/ledger.sqlite   what happened (schema and migrations: ledger.py)
    DIR/outbox/         one template and one .eml per agency
    DIR/inbox/          where replies are dropped (default source of ``import``)
    DIR/archive/        every received file, byte for byte, named by its SHA-256
    DIR/quarantine/     files of unknown agencies or unreadable files, with a .reason.txt
    DIR/feedback/       feedback workbooks for files with errors, one per submission
                        (``{code}_{name}_问题反馈_{sha256[:8]}.xlsx``, path in the ledger),
                        each built when first asked for (``campaign.feedback``)
    DIR/reminders/N/    the reminder mails of round N

The verbs (init, issue, send, remind, import, status), consolidation, cross-year checks, export
and the web portal read and write a campaign only through a store::

    with CampaignStore.open(directory) as store:
        store.settings().year, store.roster(), store.current()

An agency's *current* submission is its newest readable one (valid or invalid); an unreadable
file is current only for an agency that sent nothing readable, and neither is the unfilled template
nor a file whose agency is in doubt (``ledger.recompute_current``).

Longer than 600 lines on purpose: every SQL statement about a campaign outside ledger.py's
schema lives here (tests/test_store.py fails on SQL anywhere else), so that what the ledger
records and how each verb reads it are in one place.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CampaignError
from ..values import raw_text
from ..vocab import RECEIVED_STATUSES
from . import ledger
from .roster import Agency

if TYPE_CHECKING:
    from ..findings import Finding
    from ..reader import Submission
    from ..spec import Spec

SUBDIRS = ("outbox", "inbox", "archive", "quarantine", "feedback")

# What the ledger keeps of a submission's cover and metadata (with its edition and facts), so that
# consolidation and export rebuild the submission without reading the file again.
SUBMISSION_META = ("agency", "code", "year", "region", "kind", "consolidates", "contact", "phone", "source")  # source: "report" for a report document
# Set in submission_meta when the facts carry the text the agency typed (export reads it).
RAW_RECORDED = "facts_raw"
# Set in submission_meta to the input values in base units (分 for money), in the spec's input
# order (``_fact_plan``), as a JSON array (null: a cell the reader could not use): consolidating
# 10,000 agencies reads one row per agency instead of two million facts.
INPUTS_RECORDED = "inputs"


def is_campaign(path: Path | str) -> bool:
    """True for a campaign folder (one holding the ledger)."""
    path = Path(path)
    return path.is_dir() and ledger.ledger_path(path).is_file()


def now() -> str:
    """The current time as an ISO 8601 UTC timestamp with microseconds (the ledger's format)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def open_ledger(directory: Path | str) -> sqlite3.Connection:
    """A raw connection to the campaign's ledger, for campaign.portal's own tables (users,
    links, reviews, audit); everything else goes through ``CampaignStore``. CampaignError when
    ``directory`` is not a campaign."""
    return CampaignStore.open(directory).conn


@dataclass(frozen=True)
class CampaignSettings:
    """What ``campaign init`` recorded: the report year, the edition id and the region name."""

    year: int | None
    edition: str
    region: str


@dataclass(frozen=True)
class CurrentSubmission:
    """An agency's current submission as the import recorded it.

    status: valid | invalid | unreadable; errors/warnings: counts of findings; received_at: ISO
    UTC; feedback_path: where the feedback workbook goes, relative to the campaign folder, or
    None (the file is built when first asked for: ``campaign.feedback.feedback_workbook``).
    """

    id: int
    code: str
    file_name: str
    status: str
    errors: int
    warnings: int
    received_at: str
    feedback_path: str | None


class CampaignStore:
    """One open campaign: its folder and one ledger connection (autocommit; explicit transactions).

    Open with ``CampaignStore.open(directory)`` (CampaignError when the folder holds no ledger) or
    create with ``CampaignStore.create``; use as a context manager or ``close()`` it.
    """

    def __init__(self, directory: Path, conn: sqlite3.Connection):
        self.directory = directory
        self.conn = conn

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path | str) -> CampaignStore:
        """Open an existing campaign; CampaignError (Chinese) when ``directory`` is not one."""
        directory = Path(directory)
        try:
            conn = ledger.connect(directory)
        except FileNotFoundError:
            raise CampaignError(
                f"“{directory}”不是报送任务目录（未找到 {ledger.LEDGER_NAME}），请先运行 xlsxgov campaign init"
            ) from None
        return cls(directory, conn)

    @classmethod
    def create(
        cls, directory: Path | str, *, year: int, edition: str, region: str, agencies: Sequence[Agency],
        office: Mapping[str, str] | None = None,
    ) -> CampaignStore:
        """Create the folder, its subfolders and the ledger with settings and roster (one transaction).

        ``office``: the office's ``sender``, ``contact`` and ``phone`` (letters.OFFICE_KEYS).

        CampaignError when the folder already holds a campaign: an existing one is never overwritten.
        """
        directory = Path(directory)
        if ledger.ledger_path(directory).exists():
            raise CampaignError(f"目录“{directory}”中已有报送任务（{ledger.LEDGER_NAME}），不会覆盖")
        directory.mkdir(parents=True, exist_ok=True)
        # The owner's only: the ledger, outbox/links.csv (the agencies' secret links) and the
        # reports are no other local user's to read (found by a security review). SQLite gives
        # the ledger's -wal and -shm files the ledger's own mode.
        directory.chmod(0o700)
        for sub in SUBDIRS:
            (directory / sub).mkdir(exist_ok=True)
        os.close(os.open(ledger.ledger_path(directory), os.O_WRONLY | os.O_CREAT, 0o600))
        store = cls(directory, ledger.connect(directory, create=True))
        with store.transaction():
            store.conn.executemany(
                "INSERT INTO campaign(key, value) VALUES (?, ?)",
                [("year", str(year)), ("edition", edition), ("region", region), ("created_at", now())]
                + [(k, v) for k, v in (office or {}).items()],
            )
            store.conn.executemany(
                "INSERT INTO agencies(code, name, region, contact, email, phone) VALUES (?, ?, ?, ?, ?, ?)",
                [(a.code, a.name, a.region or region, a.contact, a.email, a.phone) for a in agencies],
            )
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[CampaignStore]:
        """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error): other processes wait, nothing half-written."""
        with ledger.transaction(self.conn):
            yield self

    # -- places on disk -----------------------------------------------------------------------

    def path(self, relative: str) -> Path:
        """A path the ledger records relative to the campaign folder, made absolute."""
        return self.directory / relative

    def relative(self, path: Path) -> str:
        """``path`` inside the campaign folder as the ledger records it (POSIX separators)."""
        return Path(path).relative_to(self.directory).as_posix()

    def folder(self, name: str) -> Path:
        """One of the campaign's folders (SUBDIRS, ``reminders``, ``.tmp``), created when missing."""
        path = self.directory / name
        path.mkdir(exist_ok=True)
        return path

    # -- settings and roster ------------------------------------------------------------------

    def settings(self) -> CampaignSettings:
        """Year (None if not recorded), edition (the default edition if not recorded) and region."""
        from ..spec import DEFAULT_EDITION

        values = dict(self.conn.execute("SELECT key, value FROM campaign").fetchall())
        year = values.get("year") or ""
        return CampaignSettings(int(year) if year.isdigit() else None, values.get("edition") or DEFAULT_EDITION, values.get("region") or "")

    def set_setting(self, key: str, value: str) -> None:
        """Record one campaign setting (e.g. ``portal_url``), replacing its earlier value."""
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO campaign(key, value) VALUES (?, ?)", (key, value))

    def office(self, sender: str | None = None):
        """The office running the campaign (letters.Office: sender, contact, phone, region), as
        ``campaign settings`` recorded it; ``sender``, when given, is this run's address instead."""
        from .letters import OFFICE_KEYS, Office

        values = dict(self.conn.execute("SELECT key, value FROM campaign").fetchall())
        if sender:
            values["sender"] = sender
        return Office(**{k: values.get(k) or "" for k in OFFICE_KEYS}, region=values.get("region") or "")

    def roster(self) -> list[Agency]:
        """The campaign's agencies, in roster order."""
        rows = self.conn.execute("SELECT code, name, region, contact, email, phone FROM agencies ORDER BY rowid").fetchall()
        return [
            Agency(name=r["name"], code=r["code"], region=r["region"] or "", contact=r["contact"] or "", email=r["email"] or "",
                   phone=r["phone"] or "")
            for r in rows
        ]

    def names(self) -> dict[str, str]:
        """Agency code → name, for every roster agency."""
        return {code: name for code, name in self.conn.execute("SELECT code, name FROM agencies ORDER BY rowid")}

    # -- issue and send -----------------------------------------------------------------------

    def record_issued(self, issued: Sequence[tuple[str, str, str]]) -> None:
        """Record (code, template path relative to the campaign, the template's SHA-256) of
        templates just written; an agency's earlier issue rows are replaced."""
        at = now()
        with self.transaction():
            self.conn.executemany("DELETE FROM issued WHERE code=?", [(code,) for code, _, _ in issued])
            self.conn.executemany("INSERT INTO issued(code, path, at, sha256) VALUES (?, ?, ?, ?)", [(c, p, at, h) for c, p, h in issued])

    def issued_template(self, sha256: str) -> bool:
        """True when ``sha256`` is that of a template this campaign issued (a reply sent back unchanged)."""
        return self.conn.execute("SELECT 1 FROM issued WHERE sha256=?", (sha256,)).fetchone() is not None

    def sent_codes(self) -> set[str]:
        """Codes of agencies whose template mail a server accepted."""
        return {r[0] for r in self.conn.execute("SELECT DISTINCT code FROM sent WHERE error IS NULL")}

    def record_sent(self, code: str, message_id: str | None, error: str | None) -> None:
        """Record one delivery attempt of an agency's template mail (error None: accepted)."""
        with self.transaction():
            self.conn.execute("INSERT INTO sent(code, message_id, at, error) VALUES (?, ?, ?, ?)", (code, message_id, now(), error))

    # -- reminders ----------------------------------------------------------------------------

    def cancel_stale_reminders(self) -> list[tuple[int, str, str]]:
        """Cancel unsent reminders no longer wanted, in one transaction: the agency's current
        submission is valid, or a later round reminds the same agency. Returns (round, code, why)."""
        out = []
        with self.transaction():
            current = self.current()
            latest = {r[0]: r[1] for r in self.conn.execute("SELECT code, MAX(round) FROM reminders GROUP BY code")}
            for r in self.conn.execute("SELECT round, code FROM reminders WHERE sent_at IS NULL AND cancelled IS NULL").fetchall():
                cur = current.get(r["code"])
                if cur is not None and cur.status == "valid":
                    why = "单位已报送合格的报表"
                elif latest[r["code"]] > r["round"]:
                    why = f"已由第 {latest[r['code']]} 轮催报取代"
                else:
                    continue
                self.conn.execute("UPDATE reminders SET cancelled=? WHERE round=? AND code=?", (why, r["round"], r["code"]))
                out.append((r["round"], r["code"], why))
        return out

    def pending_reminders(self) -> dict[Path, tuple[int, str]]:
        """Unsent, uncancelled reminder mails → (round, code), by round then creation order."""
        return {
            self.path(r["path"]): (r["round"], r["code"])
            for r in self.conn.execute(
                "SELECT round, code, path FROM reminders WHERE sent_at IS NULL AND cancelled IS NULL ORDER BY round, rowid"
            )
        }

    def reminders_sent(self) -> int:
        """How many reminder mails a server has accepted so far."""
        return self.conn.execute("SELECT COUNT(*) FROM reminders WHERE sent_at IS NOT NULL").fetchone()[0]

    def reminder_settled(self, round_no: int, code: str) -> bool:
        """True when the reminder was sent or cancelled meanwhile (asked right before sending it)."""
        row = self.conn.execute("SELECT sent_at, cancelled FROM reminders WHERE round=? AND code=?", (round_no, code)).fetchone()
        return row["sent_at"] is not None or row["cancelled"] is not None

    def record_reminder(self, round_no: int, code: str, message_id: str | None, error: str | None) -> None:
        """Record one delivery attempt of a reminder (error None: accepted, with its Message-ID)."""
        with self.transaction():
            if error is None:
                self.conn.execute(
                    "UPDATE reminders SET message_id=?, sent_at=?, error=NULL WHERE round=? AND code=?", (message_id, now(), round_no, code)
                )
            else:
                self.conn.execute("UPDATE reminders SET error=? WHERE round=? AND code=?", (error, round_no, code))

    def next_round(self) -> int:
        """The number the next reminder round gets (call inside the transaction that adds it)."""
        return (self.conn.execute("SELECT MAX(round) FROM reminders").fetchone()[0] or 0) + 1

    def add_reminders(self, rows: Sequence[tuple[int, str, str, str, str | None]]) -> None:
        """Record (round, code, reason, .eml path relative to the campaign, deadline ISO or None)
        of reminders just written (call inside a transaction)."""
        at = now()
        self.conn.executemany(
            "INSERT INTO reminders(round, code, reason, path, created_at, deadline) VALUES (?, ?, ?, ?, ?, ?)",
            [(r, code, reason, path, at, deadline) for r, code, reason, path, deadline in rows],
        )

    # -- submissions: written by import -------------------------------------------------------

    def knows(self, sha256: str) -> bool:
        """True when a file with this SHA-256 was imported before."""
        return self.conn.execute("SELECT 1 FROM submissions WHERE sha256=?", (sha256,)).fetchone() is not None

    def recorded(self, sha256: str) -> sqlite3.Row | None:
        """code (None: no agency identified), status, received_at (UTC ISO) and source of the
        file recorded with this SHA-256; None when there is none."""
        return self.conn.execute(
            "SELECT code, status, received_at, source FROM submissions WHERE sha256=?", (sha256,)
        ).fetchone()

    def record_submission(
        self,
        *,
        code: str | None,
        file_name: str,
        sha256: str,
        archive_path: str,
        received_at: str,
        status: str,
        source: str,
        feedback_path: str | None,
        rows: LedgerRows | None,
        findings: Sequence[Finding],
        errors: int,
        warnings: int,
        reason: str = "",
        replace: int | None = None,
    ) -> bool:
        """Record one received file in one transaction: its row, findings, facts (with the typed
        text), cover and metadata (``rows``: ``ledger_rows`` of the submission read, None for a
        file recorded without them), then the agency's current submission. ``reason``: why the
        file is unreadable or its agency unknown (recorded as an error finding); ``replace``: the
        id of the row of the same file that this one replaces (the office assigning it): an
        unattributed row, or one its agency withdrew (the file moves to the agency it really came
        from; its reviews move with it, the audit log keeps where it was).

        Returns False, recording nothing, when the same SHA-256 is already recorded.
        """
        try:
            with self.transaction():
                moved: list[int] = []
                was: str | None = None  # the agency the replaced row was recorded for
                if replace is not None and self.unassigned_file(replace) is not None:
                    was = self.conn.execute("SELECT code FROM submissions WHERE id=?", (replace,)).fetchone()[0]
                    # Reviews of the file follow it to its new row (below): checked at commit.
                    self.conn.execute("PRAGMA defer_foreign_keys=ON")
                    moved = [r[0] for r in self.conn.execute("SELECT id FROM reviews WHERE submission_id=?", (replace,))]
                    for table in ("findings", "facts", "submission_meta"):
                        self.conn.execute(f"DELETE FROM {table} WHERE submission_id=?", (replace,))
                    self.conn.execute("DELETE FROM submissions WHERE id=?", (replace,))
                if self.knows(sha256):
                    raise _Duplicate  # rolls back, a replaced row included
                cur = self.conn.execute(
                    "INSERT INTO submissions(code, file_name, sha256, archive_path, received_at, status, errors, warnings, "
                    "source, feedback_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (code, file_name, sha256, archive_path, received_at, status, errors, warnings, source, feedback_path),
                )
                sid = cur.lastrowid
                if moved:
                    self.conn.execute(f"UPDATE reviews SET submission_id=? WHERE id IN ({','.join('?' * len(moved))})", (sid, *moved))
                self.conn.executemany(
                    "INSERT INTO findings(submission_id, severity, rule, sheet, cell, message) VALUES (?, ?, ?, ?, ?, ?)",
                    [(sid, f.severity, f.rule, f.sheet, f.cell, f.message) for f in findings],
                )
                if reason:
                    self.conn.execute(
                        "INSERT INTO findings(submission_id, severity, rule, sheet, cell, message) VALUES (?, 'error', ?, '', '', ?)",
                        (sid, "file.unreadable" if status == "unreadable" else "agency.unknown", reason),
                    )
                if rows is not None and status in ("valid", "invalid"):
                    self.conn.executemany(
                        'INSERT INTO facts(submission_id, "table", row, col, value, sheet, cell, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                        [(sid, *f) for f in rows.facts],
                    )
                    self.conn.executemany(
                        "INSERT INTO submission_meta(submission_id, key, value) VALUES (?, ?, ?)", [(sid, *m) for m in rows.meta]
                    )
                for agency in {code, was} - {None}:  # the file may leave an agency (assign)
                    ledger.recompute_current(self.conn, agency)
        except (_Duplicate, sqlite3.IntegrityError):  # IntegrityError: another process recorded it first
            return False
        return True

    # -- submissions: read --------------------------------------------------------------------

    def current(self) -> dict[str, CurrentSubmission]:
        """Each agency's current submission, by code (agencies with nothing received are absent)."""
        marks = ",".join("?" * len(RECEIVED_STATUSES))
        return {
            r["code"]: CurrentSubmission(**dict(r))
            for r in self.conn.execute(
                "SELECT id, code, file_name, status, errors, warnings, received_at, feedback_path FROM submissions "
                f"WHERE code IS NOT NULL AND superseded_by IS NULL AND status IN ({marks})",
                RECEIVED_STATUSES,
            )
        }

    def report_derived(self) -> set[int]:
        """Ids of the submissions read from a report document (``submission_meta`` source=report)."""
        return {r[0] for r in self.conn.execute("SELECT submission_id FROM submission_meta WHERE key='source' AND value='report'")}

    def errors_of(self, submission_id: int) -> list[tuple[str, str, str]]:
        """(sheet, cell, message) of a submission's errors, in the order they were found."""
        rows = self.conn.execute(
            "SELECT sheet, cell, message FROM findings WHERE submission_id=? AND severity='error' ORDER BY rowid", (submission_id,)
        )
        return [tuple(r) for r in rows]

    def unreadable_reason(self, submission_id: int) -> str:
        """Why an unreadable submission could not be read ("" when not recorded)."""
        row = self.conn.execute(
            "SELECT message FROM findings WHERE submission_id=? AND rule='file.unreadable' ORDER BY rowid", (submission_id,)
        ).fetchone()
        return row[0] if row else ""

    def history(self) -> dict[str, dict[str, Any]]:
        """Per roster agency code: issued (bool), sent (bool), send_error (last failure or None),
        received (files attributed), reminders (reminder mails sent)."""
        issued = {r[0] for r in self.conn.execute("SELECT DISTINCT code FROM issued")}
        sent_ok = {r[0] for r in self.conn.execute("SELECT DISTINCT code FROM sent WHERE error IS NULL")}
        sent_err = {r[0]: r[1] for r in self.conn.execute("SELECT code, error FROM sent WHERE error IS NOT NULL ORDER BY at")}
        received = {r[0]: r[1] for r in self.conn.execute("SELECT code, COUNT(*) FROM submissions WHERE code IS NOT NULL GROUP BY code")}
        reminded = {r[0]: r[1] for r in self.conn.execute("SELECT code, COUNT(*) FROM reminders WHERE sent_at IS NOT NULL GROUP BY code")}
        return {
            code: {
                "issued": code in issued,
                "sent": code in sent_ok,
                "send_error": None if code in sent_ok else sent_err.get(code),
                "received": received.get(code, 0),
                "reminders": reminded.get(code, 0),
            }
            for (code,) in self.conn.execute("SELECT code FROM agencies")
        }

    def unassigned_file(self, submission_id: int) -> sqlite3.Row | None:
        """file_name, sha256, archive_path, received_at, source and code of a received file that
        may be given to an agency: one no agency was identified for, one its agency withdrew, or
        one recorded by its cover while its mail's sender or file name names another roster
        agency (``agency.channel_other``: whose it is needs a human; None when
        ``submission_id`` is none of these)."""
        return self.conn.execute(
            "SELECT file_name, sha256, archive_path, received_at, source, code FROM submissions s "
            "WHERE id=? AND (code IS NULL OR status='withdrawn' OR EXISTS "
            "(SELECT 1 FROM findings f WHERE f.submission_id = s.id AND f.rule = 'agency.channel_other'))", (submission_id,)
        ).fetchone()

    def rules_of(self, submission_id: int) -> set[str]:
        """The rules of a submission's findings (``campaign.template_unchanged`` …)."""
        return {r[0] for r in self.conn.execute("SELECT DISTINCT rule FROM findings WHERE submission_id=?", (submission_id,))}

    def needs_check(self, rules: Sequence[str]) -> dict[str, list[tuple[str, int, bool]]]:
        """Roster code → (message, submission id, is current) of the findings of ``rules``
        (warnings a human must settle, e.g. ``agency.cover_other``) on the agency's readable
        files: its current one, and any other file of ``agency.channel_other`` (held back by
        ``ledger.recompute_current`` until the office assigns or withdraws it), oldest first."""
        out: dict[str, list[tuple[str, int, bool]]] = {}
        marks = ",".join("?" * len(rules))
        for code, message, sid, current in self.conn.execute(
            "SELECT s.code, f.message, s.id, s.superseded_by IS NULL FROM findings f JOIN submissions s ON s.id = f.submission_id "
            f"WHERE s.code IS NOT NULL AND s.status IN ('valid', 'invalid') AND f.rule IN ({marks}) "
            "AND (s.superseded_by IS NULL OR f.rule = 'agency.channel_other') ORDER BY s.received_at, s.id, f.rowid",
            tuple(rules),
        ):
            out.setdefault(code, []).append((message, sid, bool(current)))
        return out

    def unassigned(self) -> int:
        """Received files no roster agency could be identified for."""
        return self.conn.execute("SELECT COUNT(*) FROM submissions WHERE code IS NULL").fetchone()[0]

    def _current_rows(self, columns: str, statuses: Sequence[str]) -> list[sqlite3.Row]:
        """``columns`` of each roster agency's current submission with one of ``statuses``, in roster order."""
        marks = ",".join("?" for _ in statuses)
        return self.conn.execute(
            f"SELECT {columns} FROM submissions s JOIN agencies a ON a.code = s.code "
            f"WHERE s.superseded_by IS NULL AND s.status IN ({marks}) ORDER BY a.rowid",
            tuple(statuses),
        ).fetchall()

    def current_files(self) -> list[tuple[Agency, str, Path, str]]:
        """(agency, status, archived file, reason) of every roster agency's current submission, in
        roster order: status valid | invalid | unreadable (the verdict at import); reason: why an
        unreadable file could not be read, else "". Agencies with nothing received are absent."""
        agencies = {a.code: a for a in self.roster()}
        rows = self._current_rows(
            "a.code, s.status, s.archive_path, (SELECT f.message FROM findings f "
            "WHERE f.submission_id = s.id AND f.rule = 'file.unreadable' LIMIT 1)",
            RECEIVED_STATUSES,
        )
        return [(agencies[code], status, self.path(path), reason or "") for code, status, path, reason in rows]

    def messages_of(self, submission_id: int, rule: str) -> list[str]:
        """The messages of a submission's findings of one rule, in the order found."""
        return [r[0] for r in self.conn.execute(
            "SELECT message FROM findings WHERE submission_id=? AND rule=? ORDER BY rowid", (submission_id, rule))]

    def returned(self) -> dict[str, str]:
        """Roster code -> the reviewer's comment, for the agencies whose current submission's
        latest review (the portal's 审核) is 退回修改: not accepted, whatever validation said."""
        from ..vocab import REVIEW_RETURNED

        return {code: comment for code, (state, comment) in ledger.current_reviews(self.conn).items() if state == REVIEW_RETURNED}

    def accepted_submissions(self, statuses: Sequence[str] = ("valid",)) -> list[tuple[str, str, Path]]:
        """(agency name, code, archive path) of every agency whose current submission has one of
        ``statuses``; each agency appears at most once over all statuses."""
        return [(r[0], r[1], self.path(r[2])) for r in self._current_rows("a.name, a.code, s.archive_path", statuses)]

    def current_submissions(self, statuses: Sequence[str] = ("valid",), *, raw: bool = False) -> list[tuple[Agency, str, Submission]]:
        """``iter_current_submissions`` as a list."""
        return list(self.iter_current_submissions(statuses, raw=raw))

    def iter_current_submissions(self, statuses: Sequence[str] = ("valid",), *, raw: bool = False) -> Iterator[tuple[Agency, str, Submission]]:
        """(agency, status, submission) of each roster agency whose current submission has one of
        ``statuses`` (valid, invalid), in roster order, one at a time (an export of a province's
        campaign holds one submission in memory, not thousands).

        The submission is rebuilt from what the import recorded (input values, cover and
        metadata, errors and warnings), all fetched in one query; no file is read again, which is
        what lets a province consolidate thousands of agencies in seconds. The inputs are trusted
        only when the spec version is the one they were recorded with; where each cell sat in the
        file is fetched only when a message asks for it. ``meta["file_name"]`` is the file as the
        agency sent it, and its mail (``ledger.submission_label``). ``raw``: also the text typed in
        each cell (for export), from the facts. A submission recorded with another spec version, or
        by a version that did not record what is asked, is read from the archive instead.
        """
        from .. import spec as spec_mod
        from ..findings import Finding
        from ..reader import Submission, read_workbook

        from ..errors import SpecError

        agencies = {a.code: a for a in self.roster()}
        specs: dict[str | None, Spec | None] = {}

        def spec_of(edition: str | None) -> Spec | None:
            if edition not in specs:
                try:
                    specs[edition] = spec_mod.load(edition) if edition else None
                except SpecError:  # an edition this installation does not have
                    specs[edition] = None
            return specs[edition]

        marks = ",".join("?" for _ in statuses)
        rows = self.conn.execute(
            "SELECT s.id, s.code, s.status, s.archive_path, s.file_name, s.source, "
            "(SELECT json_group_object(m.key, m.value) FROM submission_meta m WHERE m.submission_id = s.id AND m.key != ?), "
            "(SELECT m.value FROM submission_meta m WHERE m.submission_id = s.id AND m.key = ?), "
            "(SELECT json_group_array(json_array(severity, rule, sheet, cell, message)) FROM "
            " (SELECT * FROM findings f WHERE f.submission_id = s.id AND f.severity != 'info' ORDER BY f.rowid)) "
            "FROM submissions s JOIN agencies a ON a.code = s.code "
            f"WHERE s.superseded_by IS NULL AND s.status IN ({marks}) ORDER BY a.rowid",
            (INPUTS_RECORDED, INPUTS_RECORDED, *statuses),
        )
        for sid, code, status, archive_path, file_name, source, meta_json, packed, findings_json in rows:
            path = self.path(archive_path)
            meta = json.loads(meta_json)
            spec = spec_of(meta.pop("edition", None))
            has_raw = meta.pop(RAW_RECORDED, None) == "1"
            plan = _fact_plan(spec) if spec is not None else None
            trusted = spec is not None and plan is not None and meta.pop("spec_version", None) == str(spec.version)
            inputs: dict = {}
            bad: set = set()
            raw_text: dict = {}
            if trusted and packed is not None and not raw:
                assert plan is not None
                recorded = json.loads(packed)
                keys = _input_keys(plan)
                trusted = len(recorded) == len(keys)
                inputs = dict(zip(keys, recorded))
                if None in recorded:  # cells the reader could not use (only in invalid submissions)
                    bad = {k for k, v in inputs.items() if v is None}
                    inputs.update(dict.fromkeys(bad, 0))
            elif trusted and (has_raw or not raw):  # recorded before the inputs were: from the facts
                assert plan is not None
                facts = self.conn.execute(f"SELECT value{', raw' if raw else ''} FROM facts WHERE submission_id=? ORDER BY rowid", (sid,)).fetchall()
                trusted = len(facts) == len(plan)
                for (k, scale), row in zip(plan, facts):
                    value = row[0]
                    if raw and row[1] is not None:
                        raw_text[k] = row[1]
                    if scale is None:  # a total or text: recomputed, not read back
                        continue
                    if value is None:
                        bad.add(k)
                        inputs[k] = 0
                    else:  # facts are in the unit the form prints: money back to exact 分
                        inputs[k] = round(value * scale)
            else:
                trusted = False
            if not trusted:
                sub = read_workbook(path)
                sub.meta["file_name"] = ledger.submission_label(file_name, source, quoted=False)
                yield agencies[code], status, sub
                continue
            assert spec is not None and plan is not None
            findings = [Finding(*f) for f in json.loads(findings_json)]
            meta["file_name"] = ledger.submission_label(file_name, source, quoted=False)
            where = _LedgerPlaces(self.directory, sid, plan)
            sub = Submission(path, spec, {"edition": spec.edition, **meta}, inputs, {}, raw_text, where, findings, bad)  # type: ignore[arg-type]
            yield agencies[code], status, sub

    def current_meta(self, key: str) -> dict[str, str]:
        """Agency code → one cover field (``key``, e.g. phone) of its current submission, for the
        agencies whose current submission gave a non-empty value."""
        return {
            r[0]: r[1]
            for r in self.conn.execute(
                "SELECT s.code, m.value FROM submissions s JOIN submission_meta m ON m.submission_id = s.id "
                "WHERE s.code IS NOT NULL AND s.superseded_by IS NULL AND m.key = ? AND m.value <> ''",
                (key,),
            )
        }

    def submission_labels(self) -> dict[str, str]:
        """Archive path (as ``self.path`` gives it) → the file as the agency sent it, and its mail
        (``ledger.submission_label``), for 明细 and messages."""
        return {
            str(self.path(r[0])): ledger.submission_label(r[1], r[2], quoted=False)
            for r in self.conn.execute("SELECT archive_path, file_name, source FROM submissions")
        }

    def label_of(self, submission_id: int) -> str:
        """One submission as the agency sent it, and its mail (``ledger.submission_label``)."""
        row = self.conn.execute("SELECT file_name, source FROM submissions WHERE id=?", (submission_id,)).fetchone()
        return ledger.submission_label(row[0], row[1]) if row else ""

    def places(self, submission_id: int) -> list[tuple[str, str]]:
        """(sheet, A1) of each recorded fact of a submission, in the spec's cell order."""
        rows = self.conn.execute("SELECT sheet, cell FROM facts WHERE submission_id=? ORDER BY rowid", (submission_id,))
        return [(sheet or "", ref or "") for sheet, ref in rows]


    # -- resolved by hand: assign, withdraw, history (campaign.resolve) ----------------------

    def submission(self, submission_id: int) -> sqlite3.Row | None:
        """Every column of one received file's ledger row (None when there is no such id)."""
        return self.conn.execute("SELECT * FROM submissions WHERE id=?", (submission_id,)).fetchone()

    def with_feedback(self, *, current_only: bool = False) -> list[sqlite3.Row]:
        """Every column of the ledger rows that name a feedback workbook (``feedback_path``: the
        submission was invalid when received), in the order received; ``current_only``: each
        roster agency's current submission only, in roster order."""
        if current_only:
            return self._current_rows("s.*", ("invalid",))
        return self.conn.execute("SELECT * FROM submissions WHERE feedback_path IS NOT NULL ORDER BY id").fetchall()

    def submissions_by_sha(self, sha256: str, *, prefix: bool = False) -> list[sqlite3.Row]:
        """Ledger rows of the received file with this SHA-256, or (``prefix``) of every file whose
        SHA-256 starts with it (as quarantine/ file names show it)."""
        if prefix:
            return self.conn.execute("SELECT * FROM submissions WHERE sha256 LIKE ?", (sha256.lower() + "%",)).fetchall()
        return self.conn.execute("SELECT * FROM submissions WHERE sha256=?", (sha256,)).fetchall()

    def received_by_name(self, file_name: str) -> list[sqlite3.Row]:
        """Ledger rows of the files received under ``file_name`` (the name the import listed them
        by), newest first."""
        return self.conn.execute(
            "SELECT * FROM submissions WHERE file_name=? ORDER BY received_at DESC, id DESC", (file_name,),
        ).fetchall()

    def current_row(self, code: str) -> sqlite3.Row | None:
        """Every column of an agency's current submission (None: the agency is 未报送)."""
        marks = ",".join("?" * len(RECEIVED_STATUSES))
        return self.conn.execute(
            f"SELECT * FROM submissions WHERE code=? AND superseded_by IS NULL AND status IN ({marks})", (code, *RECEIVED_STATUSES),
        ).fetchone()

    def record_audit(self, actor: str, address: str, action: str, detail: str) -> None:
        """Append one line to the ledger's audit log (who, from which address, what, when)."""
        with self.transaction():
            self._audit(actor, address, action, detail)

    def _audit(self, actor: str, address: str, action: str, detail: str) -> None:
        self.conn.execute("INSERT INTO audit(at, actor, address, action, detail) VALUES (?, ?, ?, ?, ?)", (now(), actor, address, action, detail))

    def withdraw(self, submission_id: int, code: str, audit: tuple[str, str, str, str]) -> sqlite3.Row | None:
        """Set one submission aside: status ``withdrawn`` with ``superseded_by`` pointing at itself
        (so no query of current submissions sees it again), the agency's current submission
        chosen again (``ledger.recompute_current``) and the audit line (actor, address, action,
        detail) appended. Returns the agency's current row after. Call it inside
        ``self.transaction()``, with the reads that chose the submission."""
        self.conn.execute("UPDATE submissions SET status='withdrawn', superseded_by=id WHERE id=?", (submission_id,))
        ledger.recompute_current(self.conn, code)
        self._audit(*audit)
        return self.current_row(code)

    def agency_history(self, code: str) -> tuple[list[sqlite3.Row], list[sqlite3.Row]]:
        """Everything recorded about one agency: its received files (oldest first) and the audit
        lines naming it (``单位 <code>``: assign, withdraw, portal reviews and uploads)."""
        files = self.conn.execute("SELECT * FROM submissions WHERE code=? ORDER BY received_at, id", (code,)).fetchall()
        lines = self.conn.execute(
            "SELECT at, actor, action, detail FROM audit WHERE detail LIKE ? ORDER BY id", (f"%单位 {code}%",)
        ).fetchall()
        return files, lines


@dataclass(frozen=True)
class LedgerRows:
    """What ``record_submission`` records of a submission besides its own row, without the
    submission id: ``facts`` as (table, row, col, value, sheet, cell, raw) per cell in the
    spec's cell order (``Submission.facts()``: value in the unit the form prints, None for a cell
    that could not be read; raw the text typed, None for an empty cell), ``meta`` as (key,
    value) pairs (SUBMISSION_META, edition, spec version, RAW_RECORDED, INPUTS_RECORDED).

    Built by ``ledger_rows`` where the file was read (a worker process of ``campaign import``),
    so the process holding the ledger lock only inserts them; small to pickle."""

    facts: list[tuple]
    meta: list[tuple[str, str]]


def ledger_rows(sub: Submission) -> LedgerRows:
    """The ``LedgerRows`` of a submission read from a file: its ``cell_values()`` (the facts of
    ``sub.facts()`` without their labels) and its metadata."""
    facts = [(cell.table.id, cell.row.id, cell.col.id, value, sheet, a1, raw_text(raw))
             for cell, sheet, a1, value, raw in sub.cell_values()]
    meta = [(k, sub.meta.get(k, "")) for k in SUBMISSION_META] + [
        ("edition", sub.edition), ("spec_version", str(sub.spec.version)), (RAW_RECORDED, "1"), (INPUTS_RECORDED, _packed_inputs(sub)),
    ]
    return LedgerRows(facts, meta)


class _Duplicate(Exception):
    """The file being recorded is already in the ledger."""


def _packed_inputs(sub: Submission) -> str:
    """``INPUTS_RECORDED``'s JSON array of ``sub``: its inputs in base units in the spec's input
    order (null for a cell the reader could not use)."""
    keys = _input_keys(_fact_plan(sub.spec))
    return json.dumps([None if k in sub.bad_cells else int(sub.inputs.get(k, 0) or 0) for k in keys], separators=(",", ":"))


@functools.cache
def _fact_plan(spec: Spec) -> tuple[tuple[tuple[str, str, str], int | None], ...]:
    """Per cell, in the order Submission.facts() gives (and the import records) them: (key, the
    factor from the printed unit to base units for an input; None for a total or text)."""
    from ..compute import key
    from ..values import FEN_PER_WANYUAN, Kind

    def scale(cell) -> int | None:
        if not cell.is_input or cell.kind is Kind.TEXT:
            return None
        return FEN_PER_WANYUAN if cell.kind is Kind.MONEY else 1

    return tuple((key(cell), scale(cell)) for cell in spec.cells())


@functools.cache
def _input_keys(plan) -> tuple[tuple[str, str, str], ...]:
    """The input cells of a ``_fact_plan``, in its order (what ``INPUTS_RECORDED`` lists)."""
    return tuple(k for k, scale in plan if scale is not None)


class _LedgerPlaces(Mapping):
    """A rebuilt submission's ``where`` (cell key -> (sheet, A1)), read from the ledger on first
    use: consolidating thousands of agencies never needs it, a cross-year message does."""

    def __init__(self, directory: Path, submission_id: int, plan):
        self._directory, self._id, self._plan = directory, submission_id, plan
        self._places: dict | None = None

    def _load(self) -> dict:
        if self._places is None:
            with CampaignStore.open(self._directory) as store:
                places = store.places(self._id)
            self._places = {k: place for (k, _), place in zip(self._plan, places)}
        return self._places

    def __getitem__(self, k):
        return self._load()[k]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


# -- one-call helpers for callers that need one answer --------------------------------------


def roster(directory: Path | str) -> list[Agency]:
    """The campaign's agencies, in roster order (CampaignError when not a campaign)."""
    with CampaignStore.open(directory) as store:
        return store.roster()


def current_files(directory: Path | str) -> list[tuple[Agency, str, Path, str]]:
    """``CampaignStore.current_files`` of the campaign in ``directory``."""
    with CampaignStore.open(directory) as store:
        return store.current_files()


def accepted_submissions(directory: Path | str, statuses: Sequence[str] = ("valid",)) -> list[tuple[str, str, Path]]:
    """``CampaignStore.accepted_submissions`` of the campaign in ``directory``."""
    with CampaignStore.open(directory) as store:
        return store.accepted_submissions(statuses)


def current_submissions(directory: Path | str, statuses: Sequence[str] = ("valid",), *, raw: bool = False) -> list[tuple[Agency, str, Submission]]:
    """``CampaignStore.current_submissions`` of the campaign in ``directory``."""
    with CampaignStore.open(directory) as store:
        return store.current_submissions(statuses, raw=raw)
