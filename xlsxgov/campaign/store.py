"""The read model of one campaign: its folder, ledger connection, roster and current submissions.

A campaign lives in one folder::

    DIR/ledger.sqlite   what happened (see ledger.py)
    DIR/outbox/         one template and one .eml per agency
    DIR/inbox/          where replies are dropped (default source of ``import``)
    DIR/archive/        every received file, byte for byte, named by its SHA-256
    DIR/quarantine/     files of unknown agencies or unreadable files, with a .reason.txt
    DIR/feedback/       feedback workbooks for files with errors, one per submission
                        (``{code}_{name}_问题反馈_{sha256[:8]}.xlsx``, path in the ledger)
    DIR/reminders/N/    the reminder mails of round N
"""

from __future__ import annotations

import functools
import sqlite3
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..errors import CampaignError
from . import ledger
from .roster import Agency

if TYPE_CHECKING:
    from ..reader import Submission

SUBDIRS = ("outbox", "inbox", "archive", "quarantine", "feedback")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def open_ledger(directory: Path | str) -> sqlite3.Connection:
    directory = Path(directory)
    try:
        return ledger.connect(directory)
    except FileNotFoundError:
        raise CampaignError(f"“{directory}”不是报送任务目录（未找到 {ledger.LEDGER_NAME}），请先运行 xlsxgov campaign init") from None


def agency_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split()).upper()


def roster(directory: Path | str) -> list[Agency]:
    """The campaign's agencies, in roster order."""
    conn = open_ledger(directory)
    try:
        rows = conn.execute("SELECT code, name, region, contact, email FROM agencies ORDER BY rowid").fetchall()
    finally:
        conn.close()
    return [Agency(name=r["name"], code=r["code"], region=r["region"] or "", contact=r["contact"] or "", email=r["email"] or "") for r in rows]


def current_by_code(conn) -> dict[str, sqlite3.Row]:
    """Each agency's current submission (ledger.recompute_current), by code."""
    return {
        r["code"]: r
        for r in conn.execute(
            "SELECT id, code, file_name, status, errors, warnings, received_at, feedback_path FROM submissions "
            "WHERE code IS NOT NULL AND superseded_by IS NULL AND status IN ('valid','invalid','unreadable')"
        )
    }


def accepted_submissions(directory: Path | str, statuses: tuple[str, ...] = ("valid",)) -> list[tuple[str, str, Path]]:
    """(agency name, code, archive path) of every agency's current submission with an accepted status.

    An agency's current submission is its newest readable one (valid or invalid); an unreadable
    file is current only for an agency that sent nothing readable (ledger.recompute_current).
    So ``statuses=("valid",)`` gives the agencies to consolidate, ``("unreadable",)`` those that
    sent only unreadable files, and each agency appears at most once over all statuses.
    """
    directory = Path(directory)
    conn = open_ledger(directory)
    try:
        rows = current_rows(conn, "a.name, a.code, s.archive_path", statuses)
    finally:
        conn.close()
    return [(r[0], r[1], directory / r[2]) for r in rows]


def current_files(directory: Path | str) -> list[tuple[Agency, str, Path, str]]:
    """(agency, status, archived file, reason) of every roster agency's current submission, in
    roster order: status valid | invalid | unreadable (the verdict at import); reason: why an
    unreadable file could not be read, else "". Agencies with nothing received are absent."""
    directory = Path(directory)
    agencies = {a.code: a for a in roster(directory)}
    conn = open_ledger(directory)
    try:
        rows = current_rows(
            conn,
            "a.code, s.status, s.archive_path, (SELECT f.message FROM findings f "
            "WHERE f.submission_id = s.id AND f.rule = 'file.unreadable' LIMIT 1)",
            ledger.ATTRIBUTED,
        )
    finally:
        conn.close()
    return [(agencies[code], status, directory / path, reason or "") for code, status, path, reason in rows]


def current_rows(conn, columns: str, statuses: tuple[str, ...]) -> list:
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
    conn = open_ledger(directory)
    try:
        out = []
        for sid, code, status, archive_path in current_rows(conn, "s.id, s.code, s.status, s.archive_path", statuses):
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
            conn = open_ledger(self._directory)
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
