"""``campaign init``: create a campaign folder and its ledger from a checked roster."""

from __future__ import annotations

from pathlib import Path

from ..errors import CampaignError
from . import ledger
from .roster import Agency, read_roster
from .store import SUBDIRS, now


def init_campaign(directory: Path | str, *, year: int, roster_path: Path | str, edition: str = "gov2021", region: str = "") -> list[Agency]:
    """Create the campaign folder. Raises RosterError (nothing created) for a bad roster."""
    from .. import spec as spec_mod

    directory = Path(directory)
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
                [("year", str(year)), ("edition", edition), ("region", region), ("created_at", now())],
            )
            conn.executemany(
                "INSERT INTO agencies(code, name, region, contact, email) VALUES (?, ?, ?, ?, ?)",
                [(a.code, a.name, a.region or region, a.contact, a.email) for a in agencies],
            )
    finally:
        conn.close()
    return agencies
