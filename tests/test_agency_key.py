"""One agency-matching normalisation (issue #12, point 4): ``locate.agency_key`` is the only one,
and the roster, cross-year matching, consolidation's 未报送 and the portal's search all use it, so
a name or code typed with full-width characters, other spaces or other quotes is the same agency
everywhere."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import xlsxgov
from xlsxgov import spec as spec_mod
from xlsxgov.campaign.roster import RosterError, read_roster
from xlsxgov.consolidate import consolidate_submissions
from xlsxgov.crossyear import load_previous
from xlsxgov.locate import agency_key
from xlsxgov.reader import read_workbook
from xlsxgov.template import Meta, write_template

sys.path.insert(0, str(Path(__file__).parent))
from test_roster import HEADERS, write_xlsx  # noqa: E402

PACKAGE = Path(xlsxgov.__file__).parent
CODE = "91350100M000100Y43"
FULLWIDTH_CODE = "９１３５０１００ｍ０００１００ｙ４３"  # full-width, lower case


@pytest.mark.parametrize(("a", "b"), [
    ("某县财政局（本级）", "某县 财政局(本级)"),
    ("某县\u3000财政局", "某县财政局\u200b"),
    ("“阳光”服务中心", '"阳光"服务中心'),
    (FULLWIDTH_CODE, CODE),
    (" 91350100m000100y43\t", CODE),
])
def test_spellings_of_one_agency_have_one_key(a, b) -> None:
    assert agency_key(a) == agency_key(b) != ""
    assert agency_key(None) == agency_key("") == ""
    assert agency_key("某县财政局") != agency_key("某县税务局")


def test_one_definition_and_nobody_rolls_their_own() -> None:
    """``agency_key`` is defined once; no module keeps another name-matching function."""
    defined = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name in ("agency_key", "name_key"):
                defined.append((path.relative_to(PACKAGE).as_posix(), node.name))
    assert defined == [("locate.py", "agency_key")]


def test_roster_duplicates_by_the_key(tmp_path: Path) -> None:
    rows = [HEADERS, ["“阳光”服务中心", CODE, "", "", "a@example.com"],
            ['"阳光"服务中心', "11350100MB0000009T", "", "", "b@example.com"]]
    with pytest.raises(RosterError) as exc:
        read_roster(write_xlsx(tmp_path / "roster.xlsx", rows))
    assert "与第2行重复" in str(exc.value)


def test_cross_year_and_missing_match_by_the_key(tmp_path: Path) -> None:
    spec = spec_mod.load("gov2021")
    last = write_template(tmp_path / "2024.xlsx", spec, Meta(year=2024, agency="某县　财政局（本级）"))
    this = read_workbook(write_template(tmp_path / "2025.xlsx", spec, Meta(year=2025, agency="某县财政局(本级)", code=CODE)))
    assert load_previous(last).match(this) is not None
    # A roster line with the code typed full-width in lower case is not 未报送.
    result = consolidate_submissions([this], tmp_path / "out.xlsx", year=2025,
                                     expected=[("某县财政局", FULLWIDTH_CODE), ("某县税务局", "")])
    assert [m.name for m in result.missing] == ["某县税务局"]
