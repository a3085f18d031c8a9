"""``campaign remind``: one reminder mail per agency that is missing, invalid or unreadable."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..atomic import write_atomic
from ..errors import CampaignError
from .feedback import build_feedback, feedback_workbook
from .letters import reminder_text
from .mail import safe_filename
from .stamp import TemplateStamper, template_name
from .store import CampaignStore

# Errors that the agency cannot correct in the file it sent (campaign.importer.campaign_findings,
# validate's edition check): the reminder attaches this year's template instead of feedback.
WRONG_FORM_RULES = ("campaign.year", "workbook.edition", "campaign.template_unchanged")


@dataclass
class Reminder:
    """One reminder written: the agency, why it is reminded, the .eml and its attachment's name."""

    code: str
    name: str
    reason: str  # missing | invalid | unreadable
    eml: Path
    attachment: str  # name of the attached workbook (the template or the feedback workbook)


@dataclass
class RemindResult:
    """A reminder round: its number (None when nobody is late), the reminders, how many agencies
    were valid already, and the round's folder."""

    round: int | None  # None: nobody to remind, no round recorded
    reminders: list[Reminder]
    valid: int  # roster agencies already valid (not reminded)
    folder: Path | None = None
    no_address: list[str] = field(default_factory=list)  # late agencies with no e-mail: no reminder written

    def count(self, reason: str) -> int:
        return sum(1 for r in self.reminders if r.reason == reason)


def prepare_reminders(
    directory: Path | str, *, deadline: date | None = None, sender: str | None = None, today: date | None = None,
) -> RemindResult:
    """Write one reminder .eml per roster agency that is missing, invalid or unreadable into
    ``reminders/<round>/`` and record the round in the ledger; ``send_outbox`` sends them.

    missing: the agency's template from outbox/ attached again; invalid: the feedback workbook
    of its current submission (``campaign.feedback``, built now if need be; the template when
    its archived original is gone) attached and its first errors in the body; unreadable: why the
    file could not be read, asking for an .xlsx.  Valid agencies get nothing, nor do late ones
    with no e-mail address (``RemindResult.no_address``); when nobody is
    late no round is recorded (``round`` is None).  The round is chosen, its files written and
    its rows inserted under one BEGIN IMMEDIATE transaction: concurrent calls get distinct
    rounds, and a run killed before the commit leaves only files that the next run replaces.
    """
    today = today or date.today()
    # The feedback workbooks to attach, built first on every core, outside the round's lock.
    build_feedback(directory, current_only=True)
    with CampaignStore.open(directory) as store:
        year = store.settings().year or 0
        office = store.office(sender)
        builder = office.mail_builder()
        stamper = None
        with store.transaction():
            current = store.current()
            agencies = store.roster()
            late = [(a, current.get(a.code)) for a in agencies if a.code not in current or current[a.code].status != "valid"]
            valid = len(agencies) - len(late)
            no_address = [a.name for a, _ in late if not a.emails]  # the portal, or the clerk's phone, reaches them
            late = [(a, cur) for a, cur in late if a.emails]
            if not late:
                return RemindResult(None, [], valid, no_address=no_address)
            round_no = store.next_round()
            folder = store.folder("reminders") / str(round_no)
            if folder.exists():  # written by a run killed before its commit: not in the ledger
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            reminders, rows = [], []
            for a, cur in late:
                reason = cur.status if cur is not None else "missing"
                errors: list[tuple[str, str, str]] = []
                why, attachment, with_feedback, wrong_form = "", None, False, False
                if cur is not None and reason == "invalid":
                    errors = store.errors_of(cur.id)
                    # Another year's or edition's form, or the template unfilled: corrected in
                    # this year's template, not in the feedback workbook of the wrong form.
                    wrong_form = any(store.messages_of(cur.id, rule) for rule in WRONG_FORM_RULES)
                    if cur.feedback_path and not wrong_form:
                        try:  # built above; here only when it arrived since
                            fb = feedback_workbook(store.directory, cur.id)
                        except CampaignError:  # its original is gone: the template instead
                            pass
                        else:
                            attachment, with_feedback = (fb.name, fb.read_bytes()), True
                elif cur is not None and reason == "unreadable":
                    why = store.unreadable_reason(cur.id)
                if attachment is None:  # the agency's template, as `issue` made it
                    path = store.directory / "outbox" / template_name(a, year)
                    if path.is_file():
                        attachment = (path.name, path.read_bytes())
                    else:
                        stamper = stamper or TemplateStamper.for_campaign(store, office)
                        attachment = (path.name, stamper.stamp_bytes(a.name, a.code, a.region))
                subject, body = reminder_text(
                    a, year, reason, attachment[0], deadline=deadline, today=today, office=office,
                    submission=cur, errors=errors, why=why, feedback=with_feedback, wrong_form=wrong_form,
                )
                eml = folder / safe_filename(f"{a.code}_{a.name}_催报.eml", flatten=True)
                write_atomic(eml, builder.build(
                    agency_emails=a.emails, agency_name=a.name, subject=subject, body=body, filename=attachment[0], data=attachment[1],
                ))
                reminders.append(Reminder(a.code, a.name, reason, eml, attachment[0]))
                rows.append((round_no, a.code, reason, store.relative(eml), deadline.isoformat() if deadline else None))
            store.add_reminders(rows)
    return RemindResult(round_no, reminders, valid, folder, no_address)
