"""``campaign remind``: one reminder mail per agency that is missing, invalid or unreadable."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..atomic import write_atomic
from . import ledger
from .letters import DEFAULT_SENDER, reminder_text
from .mail import MessageBuilder, safe_filename
from .roster import Agency
from .stamp import TemplateStamper, template_name
from .store import current_by_code, now, open_ledger


REMIND_STATUSES = ("missing", "invalid", "unreadable")


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
    conn = open_ledger(directory)
    try:
        year = int(ledger.get_setting(conn, "year") or 0)
        edition = ledger.get_setting(conn, "edition") or spec_mod.DEFAULT_EDITION
        region = ledger.get_setting(conn, "region") or ""
        builder = MessageBuilder(sender)
        stamper = None
        with ledger.transaction(conn):
            current = current_by_code(conn)
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
                subject, body = reminder_text(
                    a, year, reason, attachment[0], deadline=deadline, today=today, region=region,
                    submission=cur, errors=[tuple(e) for e in errors], why=why,
                )
                eml = folder / safe_filename(f"{a.code}_{a.name}_催报.eml")
                write_atomic(eml, builder.build(
                    agency_email=a.email, agency_name=a.name, subject=subject, body=body, filename=attachment[0], data=attachment[1],
                ))
                reminders.append(Reminder(a.code, a.name, reason, eml, attachment[0]))
                rows.append((round_no, a.code, reason, eml.relative_to(directory).as_posix(), now(), deadline.isoformat() if deadline else None))
            conn.executemany(
                "INSERT INTO reminders(round, code, reason, path, created_at, deadline) VALUES (?, ?, ?, ?, ?, ?)", rows
            )
    finally:
        conn.close()
    return RemindResult(round_no, reminders, valid, folder)
