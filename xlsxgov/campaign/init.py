"""``campaign init``: create a campaign folder and its ledger from a checked roster;
``campaign settings``: the office's sender address, contact person and phone, changed later."""

from __future__ import annotations

import email.utils
from datetime import date
from pathlib import Path

from ..errors import CampaignError
from .letters import OFFICE_KEYS, Office
from .roster import Agency, read_roster
from .store import CampaignStore

YEARS = range(2008, 2101)  # report years a campaign or a template accepts (the 2008 regulation on)


def check_year(year: int) -> None:
    """CampaignError unless ``year`` is a report year (YEARS)."""
    if year not in YEARS:
        raise CampaignError(f"报告年度 {year} 不对：应在 {YEARS[0]}–{YEARS[-1]} 之间，例如 {date.today().year - 1}")


def check_office(sender: str | None = None, contact: str | None = None, phone: str | None = None) -> None:
    """CampaignError (Chinese) for a sender that is no mailbox, or a value with a line break
    (it would end up in a mail header).  None: not given, not checked."""
    from .roster import _email_error as email_error

    for label, value in (("发件地址", sender), ("联系人", contact), ("联系电话", phone)):
        if value is not None and ("\r" in value or "\n" in value):
            raise CampaignError(f"{label}中不能有换行")
    if sender is not None:
        address = email.utils.parseaddr(sender)[1]
        problem = email_error(address) if address else "为空"
        if problem or "@" not in sender:
            raise CampaignError(
                f"发件地址“{sender}”不是一个邮箱地址（{problem or '格式不正确'}）；"
                "应写作 zwgk@example.gov.cn 或 \"示例县政务公开办 <zwgk@example.gov.cn>\""
            )


def init_campaign(
    directory: Path | str, *, year: int, roster_path: Path | str, edition: str = "gov2021", region: str = "",
    sender: str = "", contact: str = "", phone: str = "",
) -> list[Agency]:
    """Create the campaign folder with its roster; returns the roster's agencies in file order.

    ``sender``, ``contact``, ``phone``: the office's mailbox (From and Reply-To of every mail,
    ``名称 <地址>`` or a bare address), contact person and phone, written into every mail.
    Nothing is created when the roster has a problem (RosterError listing every one), the
    edition is unknown (SpecError), the year is outside YEARS or the sender is no mailbox
    (CampaignError), or the folder already holds a campaign (CampaignError).
    """
    from .. import spec as spec_mod

    check_year(year)
    check_office(sender or None, contact, phone)
    agencies = read_roster(roster_path)  # all-or-nothing, before anything is created
    spec_mod.load(edition)  # SpecError for an unknown edition, also before creating anything
    office = {"sender": sender.strip(), "contact": contact.strip(), "phone": phone.strip()}
    CampaignStore.create(directory, year=year, edition=edition, region=region, agencies=agencies, office=office).close()
    return agencies


def update_settings(directory: Path | str, **changes: str | None) -> Office:
    """Change the office's ``sender``, ``contact`` or ``phone`` (None: unchanged) and return the
    office as the campaign's mails will now sign.  Mails already written keep the old values:
    ``campaign issue`` (and ``remind``) write them again.  CampaignError as ``check_office``."""
    unknown = set(changes) - set(OFFICE_KEYS)
    if unknown:  # a caller's bug
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    check_office(changes.get("sender"), changes.get("contact"), changes.get("phone"))
    with CampaignStore.open(directory) as store:
        for key, value in changes.items():
            if value is not None:
                store.set_setting(key, value.strip())
        return store.office()
