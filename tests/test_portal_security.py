"""The portal against the attacks of the security review of `xlsxgov serve` (issue: portal
security review), each shown on a real `xlsxgov serve` process over real HTTP."""

from __future__ import annotations

import zipfile
from io import BytesIO

import httpx

from portal_server import Server, free_port, make_campaign
from test_campaign import code_for
from xlsxgov.campaign.mail import safe_filename

# Two agencies whose names differ only before a "/" (the review's roster2.csv).
SLASHED = [
    ("示例市/教育局", code_for(0), "示例县", "a0@example.com"),
    ("示例县/教育局", code_for(1), "示例县", "a1@example.com"),
    ("示例县民政局", code_for(2), "示例县", "a2@example.com"),
]


def shared_strings(xlsx: bytes) -> str:
    with zipfile.ZipFile(BytesIO(xlsx)) as z:
        return z.read("xl/sharedStrings.xml").decode("utf-8")


def test_a_name_built_from_roster_fields_keeps_every_part():
    assert safe_filename("C1_示例市/教育局_表.xlsx", flatten=True) == "C1_示例市_教育局_表.xlsx"
    assert safe_filename("C1_a\\b_表.xlsx", flatten=True) == "C1_a_b_表.xlsx"
    assert safe_filename("../../x.xlsx") == "x.xlsx"  # a mail's attachment name: still its last part only


def test_each_agency_link_gives_its_own_template_when_names_differ_only_before_a_slash(tmp_path):
    port = free_port()
    d = tmp_path / "c"
    links = make_campaign(d, port, SLASHED)
    names = sorted(p.name for p in (d / "outbox").glob("*.xlsx"))
    assert len(names) == 3  # one each: none overwrote another
    for _, code, _, _ in SLASHED:
        assert sum(n.startswith(code + "_") for n in names) == 1
    server = Server(d, port).start()
    try:
        c = httpx.Client(timeout=60)
        for name, code, _, _ in SLASHED:
            r = c.get(links[code] + "/template")
            assert r.status_code == 200, name
            strings = shared_strings(r.content)
            assert code in strings and links[code] in strings
            for other in set(links) - {code}:
                assert links[other] not in strings  # never another agency's secret link
        # A template file that no longer holds what was issued to the agency (here: another
        # agency's, as an older campaign's colliding names left it) is never served.
        a, b = (d / "outbox" / next(n for n in names if n.startswith(code_for(k) + "_")) for k in (0, 1))
        a.write_bytes(b.read_bytes())
        assert c.get(links[code_for(0)] + "/template").status_code == 404
        assert c.get(links[code_for(1)] + "/template").status_code == 200
    finally:
        server.kill()

