"""``campaign issue``: one personalised template and one invitation mail per agency into outbox/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..atomic import write_atomic
from . import ledger
from .letters import DEFAULT_SENDER, invitation
from .mail import MessageBuilder
from .stamp import TemplateStamper, template_name
from .store import now, open_ledger, roster


@dataclass
class IssueResult:
    templates: list[Path]
    emls: list[Path]
    seconds: float


def issue_templates(
    directory: Path | str, *, sender: str = DEFAULT_SENDER, progress: Callable[[int, int], None] | None = None,
    portal_url: str | None = None, codes: list[str] | None = None,
) -> IssueResult:
    """Write one personalised template and one .eml per agency into outbox/.

    ``portal_url``: the address agencies reach ``xlsxgov serve`` at (kept in the ledger for
    ``campaign link``); each agency then gets a new secret link (its previous one revoked),
    written into its mail, onto its template's cover and into outbox/links.csv
    (campaign.portal.issue_links). ``codes``: only these agencies (``campaign link --reissue``)."""
    import time

    from .. import spec as spec_mod

    directory = Path(directory)
    started = time.perf_counter()
    conn = open_ledger(directory)
    try:
        year = int(ledger.get_setting(conn, "year") or 0)
        edition = ledger.get_setting(conn, "edition") or spec_mod.DEFAULT_EDITION
        campaign_region = ledger.get_setting(conn, "region") or ""
        agencies = roster(directory)
        if codes is not None:
            agencies = [a for a in agencies if a.code in codes]
        links: dict[str, str] = {}
        if portal_url:
            from .portal import issue_links

            with ledger.transaction(conn):
                conn.execute("INSERT OR REPLACE INTO campaign(key, value) VALUES ('portal_url', ?)", (portal_url.rstrip("/"),))
            links = issue_links(directory, portal_url, [a.code for a in agencies])
        stamper = TemplateStamper(spec_mod.load(edition), year, link=bool(links))
        outbox = directory / "outbox"
        outbox.mkdir(exist_ok=True)
        builder = MessageBuilder(sender)
        templates, emls, rows = [], [], []
        for i, a in enumerate(agencies):
            path = outbox / template_name(a, year)
            data = stamper.stamp_bytes(a.name, a.code, a.region, links.get(a.code, ""))
            write_atomic(path, data)
            subject, body = invitation(a, year, path.name, campaign_region, links.get(a.code))
            eml = path.with_suffix(".eml")
            write_atomic(eml, builder.build(agency_email=a.email, agency_name=a.name, subject=subject, body=body, filename=path.name, data=data))
            templates.append(path)
            emls.append(eml)
            rows.append((a.code, str(path.relative_to(directory)), now()))
            if progress:
                progress(i + 1, len(agencies))
        with ledger.transaction(conn):
            conn.executemany("DELETE FROM issued WHERE code=?", [(r[0],) for r in rows])
            conn.executemany("INSERT INTO issued(code, path, at) VALUES (?, ?, ?)", rows)
    finally:
        conn.close()
    return IssueResult(templates, emls, time.perf_counter() - started)
