"""CampaignStore: one read/write model of a campaign. Every SQL statement lives in the store or in
ledger.py; ``export CAMPAIGN_DIR`` reads what the import recorded, never the archived files."""

from __future__ import annotations

import ast
import random
import shutil
import sys
from pathlib import Path

import openpyxl
import pytest

import xlsxgov
from xlsxgov.values import raw_text
from xlsxgov import spec as spec_mod
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.init import init_campaign
from xlsxgov.campaign.store import CampaignStore, ledger_rows
from xlsxgov.errors import CampaignError, ExportError
from xlsxgov.export import facts_frame
from xlsxgov.reader import Unreadable, read_workbook

sys.path.insert(0, str(Path(__file__).parent))
from test_consolidate import random_inputs  # noqa: E402
from test_consolidate_campaign import CODES, NAMES, REGION, YEAR, reply, write_roster  # noqa: E402

PACKAGE = Path(xlsxgov.__file__).parent
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SQL_VERBS = ("SELECT ", "INSERT INTO", "INSERT OR REPLACE", "DELETE FROM", "CREATE TABLE", "ALTER TABLE")
# campaign/portal.py keeps the web portal's own tables (users, links, reviews, audit log): its SQL
# is the portal's store, owned with the portal; everything about submissions goes through the store.
SQL_HOMES = {"campaign/ledger.py", "campaign/store.py", "campaign/portal.py"}


def test_sql_lives_in_the_store_and_the_ledger():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(v in node.value for v in SQL_VERBS):
                found.append(rel)
    assert found and set(found) <= SQL_HOMES, sorted(set(found) - SQL_HOMES)


def typed(path: Path, cell: str, text: str, sheet: str) -> None:
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = text
    wb.save(path)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Agency 0 valid (one count typed as full-width digits), agency 1 invalid (a count typed as
    words), agency 2 an unreadable file, the rest nothing."""
    spec = spec_mod.load("gov2021")
    rng = random.Random(12)
    d = tmp_path_factory.mktemp("store") / "c"
    init_campaign(d, year=YEAR, roster_path=write_roster(d.parent / "roster.csv"), region=REGION)
    k = ("t3", "new", "natural")
    texts = []
    for i in range(2):
        values = random_inputs(spec, rng)
        path = reply(d / "inbox" / f"第{i}局.xlsx", spec, i, values)
        sheet, a1 = read_workbook(path).where[k]
        full_width = str(values.get(k, 0)).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        texts.append(full_width if i == 0 else "十二件")
        typed(path, a1, texts[-1], sheet)
    (d / "inbox" / "第2局.xlsx").write_bytes(b"not a workbook")
    result = import_paths(d)
    assert [result.count(s) for s in ("valid", "invalid", "unreadable")] == [1, 1, 1]
    return d, texts


def test_export_reads_the_store_not_the_archive(campaign, tmp_path):
    campaign, texts = campaign
    before, result = facts_frame([campaign])
    assert result.rows == len(before) > 0
    raw = {(r.code, r.table, r.row, r.col): r.raw for r in before.itertuples()}
    # what the agency typed, as recorded at import
    assert [raw[(CODES[i], "t3", "new", "natural")] for i in range(2)] == texts
    # Without the archive the export is the same, cell for cell.
    moved = tmp_path / "archive"
    shutil.move(str(campaign / "archive"), moved)
    try:
        after, again = facts_frame([campaign])
    finally:
        shutil.move(str(moved), campaign / "archive")
    assert again.skipped == result.skipped
    assert before.astype(str).to_dict("records") == after.astype(str).to_dict("records")


def test_store_answers_and_refuses(campaign, tmp_path):
    campaign, _ = campaign
    with CampaignStore.open(campaign) as store:
        settings = store.settings()
        assert (settings.year, settings.edition, settings.region) == (YEAR, "gov2021", REGION)
        assert [a.name for a in store.roster()] == NAMES
        current = store.current()
        assert current[CODES[0]].status == "valid" and current[CODES[1]].status == "invalid"
        assert store.errors_of(current[CODES[1]].id)  # the typed words are an error
        assert store.submission_labels()  # every archived file has the name it was sent under
    with pytest.raises(CampaignError, match="不是报送任务目录"):
        CampaignStore.open(tmp_path)
    with pytest.raises(ExportError, match="不是报送任务目录"):
        facts_frame([tmp_path])


def test_ledger_rows_are_the_facts_the_reader_gives(campaign, tmp_path):
    """What the import records of a file (``ledger_rows``, built in its worker processes) is the
    reader's ``Submission.facts()`` cell for cell: money in 万元, cells that could not be read
    (no number typed) as NULL, what was typed as text; on the store's replies, one with words
    that are no number, and on the examples' messy and invalid ones."""
    d, _ = campaign
    paths = sorted((d / "archive").glob("*.xlsx")) + sorted((EXAMPLES / "回复").glob("*.xlsx"))
    readable = [p for p in sorted((d / "archive").glob("*.xlsx")) if p.stat().st_size > 100]
    words = shutil.copy(readable[0], tmp_path / "words.xlsx")
    sheet, a1 = read_workbook(words).where[("t3", "new", "natural")]
    typed(words, a1, "见附件", sheet)
    paths.append(Path(words))
    seen_bad = False
    for path in paths:
        try:
            sub = read_workbook(path)
        except Unreadable:  # the unreadable reply
            continue
        facts = sub.facts()
        assert ledger_rows(sub).facts == [
            (f.table, f.row, f.col, f.value, f.sheet, f.cell, raw_text(f.raw)) for f in facts
        ], path.name
        seen_bad |= any(f.value is None and f.raw is not None for f in facts)
    assert seen_bad  # the words typed for a count were among them

