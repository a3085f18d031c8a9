"""``campaign init``: create a campaign folder and its ledger from a checked roster."""

from __future__ import annotations

from pathlib import Path

from .roster import Agency, read_roster
from .store import CampaignStore


def init_campaign(directory: Path | str, *, year: int, roster_path: Path | str, edition: str = "gov2021", region: str = "") -> list[Agency]:
    """Create the campaign folder with its roster; returns the roster's agencies in file order.

    Nothing is created when the roster has a problem (RosterError listing every one), the
    edition is unknown (SpecError) or the folder already holds a campaign (CampaignError).
    """
    from .. import spec as spec_mod

    agencies = read_roster(roster_path)  # all-or-nothing, before anything is created
    spec_mod.load(edition)  # SpecError for an unknown edition, also before creating anything
    CampaignStore.create(directory, year=year, edition=edition, region=region, agencies=agencies).close()
    return agencies
