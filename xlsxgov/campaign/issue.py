"""``campaign issue``: one personalised template and one invitation mail per agency into outbox/."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..atomic import sync_all, write_atomic
from .letters import invitation
from .stamp import TemplateStamper, template_name
from .store import CampaignStore


@dataclass
class IssueResult:
    """The files written into outbox/ (one template per agency and one .eml per agency with an
    e-mail address, roster order), the time it took in seconds, and the names of the agencies
    with no address (their template only: no mail; the portal link or the clerk hands it over)."""

    templates: list[Path]
    emls: list[Path]
    seconds: float
    no_address: list[str] = field(default_factory=list)


def issue_templates(
    directory: Path | str, *, sender: str | None = None, progress: Callable[[int, int], None] | None = None,
    portal_url: str | None = None, codes: list[str] | None = None,
) -> IssueResult:
    """Write one personalised template and one .eml per agency into outbox/ and record them.

    The mails are from the campaign's office (``campaign settings``): its address as From and
    Reply-To, its contact person and phone in the signature; ``sender`` replaces the address for
    this run.  Each template's SHA-256 is recorded, so that one sent back unchanged is caught.

    ``portal_url``: the address agencies reach ``xlsxgov serve`` at (kept in the ledger for
    ``campaign link``); each agency then gets a new secret link (its previous one revoked),
    written into its mail, onto its template's cover and into outbox/links.csv
    (campaign.portal.issue_links). ``codes``: only these agencies (``campaign link --reissue``).
    An agency with no e-mail address gets its template only (``IssueResult.no_address``).
    ``progress(done, total)`` is called after each agency. Raises CampaignError when
    ``directory`` is not a campaign, MailError for an agency address that cannot be used.
    """
    started = time.perf_counter()
    with CampaignStore.open(directory) as store:
        year = store.settings().year or 0
        office = store.office(sender)
        agencies = store.roster()
        if codes is not None:
            agencies = [a for a in agencies if a.code in codes]
        links: dict[str, str] = {}
        if portal_url:
            from .portal import issue_links

            store.set_setting("portal_url", portal_url.rstrip("/"))
            links = issue_links(store.directory, portal_url, [a.code for a in agencies])
        stamper = TemplateStamper.for_campaign(store, office, link=bool(links))
        outbox = store.folder("outbox")
        builder = office.mail_builder()
        templates, emls, issued, no_address = [], [], [], []
        rel_outbox = store.relative(outbox)
        for i, a in enumerate(agencies):
            name = template_name(a, year)
            path = outbox / name
            stamped = stamper.stamp_copy(a.name, a.code, a.region, links.get(a.code, ""))
            data = stamped.data
            write_atomic(path, data, sync=False)  # one flush for the batch, below
            templates.append(path)
            eml = path.with_suffix(".eml")
            if a.emails:
                subject, body = invitation(a, year, name, office, links.get(a.code))
                # The mail carries the same bytes, most of their base64 done once for all agencies.
                write_atomic(eml, builder.build(agency_emails=a.emails, agency_name=a.name, subject=subject, body=body,
                                                filename=name, data_base64=stamped.base64), sync=False)
                emls.append(eml)
            else:
                eml.unlink(missing_ok=True)  # one an earlier roster's address left: send must not mail it
                no_address.append(a.name)
            issued.append((a.code, f"{rel_outbox}/{name}", hashlib.sha256(data).hexdigest()))
            if progress:
                progress(i + 1, len(agencies))
        sync_all()  # the files are on disk before the ledger says they were issued
        store.record_issued(issued)
    return IssueResult(templates, emls, time.perf_counter() - started, no_address)
