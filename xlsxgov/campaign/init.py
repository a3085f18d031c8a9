"""``campaign init``: create a campaign folder and its ledger from a checked roster;
``campaign settings``: the office's sender address, contact person and phone, changed later."""

from __future__ import annotations

import email.utils
from datetime import date
from pathlib import Path

from ..errors import CampaignError
from . import ledger
from .letters import OFFICE_KEYS, Office
from .roster import Agency, read_roster
from .store import SUBDIRS, now, office, open_ledger

YEARS = range(2008, 2101)  # report years a campaign or a template accepts (the 2008 regulation on)


def check_year(year: int) -> None:
    """CampaignError unless ``year`` is a report year (YEARS)."""
    if year not in YEARS:
        raise CampaignError(f"报告年度 {year} 不对：应在 {YEARS[0]}–{YEARS[-1]} 之间，例如 {date.today().year - 1}")


def check_office(sender: str | None = None, contact: str | None = None, phone: str | None = None) -> None:
    """CampaignError (Chinese) for a sender that is no mailbox, or a value with a line break."""
    from .roster import _email_error

    for label, value in (("发件地址", sender), ("联系人", contact), ("联系电话", phone)):
        if value is not None and ("\r" in value or "\n" in value):
            raise CampaignError(f"{label}中不能有换行")
    if sender is not None:
        name, address = email.utils.parseaddr(sender)
        problem = _email_error(address) if address else "为空"
        if problem or "@" not in sender:
            raise CampaignError(
                f"发件地址“{sender}”不是一个邮箱地址（{problem or '格式不正确'}）；"
                "应写作 zwgk@example.gov.cn 或 \"示例县政务公开办 <zwgk@example.gov.cn>\""
            )


def init_campaign(
    directory: Path | str, *, year: int, roster_path: Path | str, edition: str = "gov2021", region: str = "",
    sender: str = "", contact: str = "", phone: str = "",
) -> list[Agency]:
    """Create the campaign folder. Raises RosterError (nothing created) for a bad roster, and
    CampaignError for a year outside YEARS or a sender that is no mailbox (``check_office``).

    ``sender``, ``contact``, ``phone``: the office's mailbox (From and Reply-To of every mail,
    ``名称 <地址>`` or a bare address), contact person and phone, written into every mail."""
    from .. import spec as spec_mod

    directory = Path(directory)
    check_year(year)
    check_office(sender or None, contact, phone)
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
                [("year", str(year)), ("edition", edition), ("region", region), ("created_at", now()),
                 ("sender", sender), ("contact", contact), ("phone", phone)],
            )
            conn.executemany(
                "INSERT INTO agencies(code, name, region, contact, email) VALUES (?, ?, ?, ?, ?)",
                [(a.code, a.name, a.region or region, a.contact, a.email) for a in agencies],
            )
    finally:
        conn.close()
    return agencies


def update_settings(directory: Path | str, **changes: str | None) -> Office:
    """Change the office's ``sender``, ``contact`` or ``phone`` (None: unchanged) and return the
    office as the campaign's mails will now sign.  Mails already written keep the old values:
    ``campaign issue`` (and ``remind``) write them again."""
    unknown = set(changes) - set(OFFICE_KEYS)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    check_office(changes.get("sender"), changes.get("contact"), changes.get("phone"))
    conn = open_ledger(directory)
    try:
        with ledger.transaction(conn):
            for key, value in changes.items():
                if value is not None:
                    conn.execute("INSERT OR REPLACE INTO campaign(key, value) VALUES (?, ?)", (key, value.strip()))
        return office(conn)
    finally:
        conn.close()
