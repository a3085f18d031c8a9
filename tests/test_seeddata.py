"""Tests for tests/seeddata.py: the seed reports' tables, parsed against the published facts."""

from __future__ import annotations

import pytest

from seeddata import SEED_DIR, all_seeds, load_seed, tokenize
from xlsxgov import compute, spec
from xlsxgov.values import Kind, parse_cell

def _parsed_values(seed):
    """Every cell as a base-unit int (blank -> 0), plus the values recomputed from the inputs."""
    sp = spec.load(seed.edition)
    published = {}
    for cell in sp.cells():
        k = compute.key(cell)
        p = parse_cell(seed.raw[k], cell.kind)
        assert p.severity != "error", (k, seed.raw[k], p.message)
        published[k] = p.value
    inputs = {compute.key(c): published[compute.key(c)] for c in sp.cells() if c.is_input}
    return published, compute.complete(sp, inputs)


def _wrong_totals(seed) -> set[tuple[str, str, str]]:
    published, recomputed = _parsed_values(seed)
    sp = spec.load(seed.edition)
    keys = [compute.key(c) for c in sp.cells() if not c.is_input]
    return {k for k in keys if published[k] != recomputed[k]}


def test_seed_dir_exists():
    assert SEED_DIR.is_dir(), SEED_DIR


def test_metadata():
    seeds = all_seeds()
    assert [s.number for s in seeds] == [0, 1, 2, 3, 4]
    assert [s.edition for s in seeds] == ["gov2019", "gov2019", "gov2019", "legacy2008", "gov2019"]
    assert [s.year for s in seeds] == [2019, 2019, 2019, 2018, 2020]
    assert seeds[0].agency == "朝阳市商务局"
    assert all(s.path.is_file() and s.path.name.startswith(f"{s.number:03d}_") for s in seeds)


@pytest.mark.parametrize("number", range(5))
def test_every_spec_cell_has_an_entry(number):
    seed = load_seed(number)
    expected = {compute.key(c) for c in spec.load(seed.edition).cells()}
    assert set(seed.raw) == expected
    assert all(isinstance(v, str) and v == v.strip() for v in seed.raw.values())


def test_load_seed_returns_a_copy():
    s = load_seed(0)
    s.raw.clear()
    assert load_seed(0).raw


def row(seed, table, row_id, cols):
    return [seed.raw[(table, row_id, c)] for c in cols]


D3 = ["prev_items", "change", "decisions"]
T3_COLS = ["natural", "business", "research", "ngo", "legal", "other_org", "total"]


def test_seed_000():
    s = load_seed(0)
    assert row(s, "t2", "normative_docs", ["new_made", "new_published", "total_published"]) == ["7", "7", "7"]
    assert row(s, "t2", "licensing", D3) == ["0", "11", "11"]
    assert set(v for k, v in s.raw.items() if k[0] in ("t3", "t4")) == {"0"}


def test_seed_001_negative_deltas():
    s = load_seed(1)
    assert row(s, "t2", "licensing", D3) == ["3", "-2", "0"]
    assert row(s, "t2", "penalty", D3) == ["27", "-7", "0"]


def test_seed_002():
    s = load_seed(2)
    assert s.raw[("t2", "central_procurement", "purchase_amount")] == "24850元"
    assert s.raw[("t2", "central_procurement", "purchase_items")] == "1"
    assert row(s, "t2", "licensing", D3) == ["6", "11", "0"]
    assert row(s, "t2", "other_services", D3) == ["31", "27", "243"]
    assert row(s, "t2", "penalty", D3) == ["5", "21", "0"]
    assert s.raw[("t3", "disclosed", "research")] == "1"
    assert s.raw[("t3", "disclosed", "total")] == "1"
    assert s.raw[("t3", "results_total", "research")] == "0"
    ones = {("disclosed", "research"), ("disclosed", "total")}
    others = {k: v for k, v in s.raw.items() if k[0] == "t3" and k[1:] not in ones}
    assert len(others) == 161 - 2 and set(others.values()) == {"0"}
    # The typed （七）总计 ignores the one application: exactly those totals disagree.
    assert _wrong_totals(s) == {("t3", "results_total", "research"), ("t3", "results_total", "total")}


def test_seed_003_legacy():
    s = load_seed(3)
    v = {k[1]: x for k, x in s.raw.items()}
    assert all(k[0] == "stats" and k[2] == "value" for k in s.raw)
    expected = {
        "proactive": "41",
        "received": "14",
        "online": "14",
        "answered": "14",
        "agreed": "3",
        "partly_agreed": "2",
        "refused": "",
        "refused_commercial": "2",
        "not_this_agency": "1",
        "not_exist": "5",
        "asked_to_amend": "1",
        "hot_topics": "",  # label split over two lines in the seed
        "trainees": "0",
    }
    assert {k: v[k] for k in expected} == expected
    items = [
        "already_public", "agreed", "partly_agreed", "refused",
        "not_this_agency", "not_exist", "asked_to_amend", "other_route",
    ]
    assert sum(parse_cell(v[i], Kind.COUNT).value for i in items) == 12
    # 14 ≠ 12 is the only total that does not hold.
    assert _wrong_totals(s) == {("stats", "answered", "value")}


def test_seed_004_blank_tables():
    s = load_seed(4)
    assert s.raw[("t2", "central_procurement", "purchase_amount")] == "83.8778万元"
    assert s.raw[("t2", "central_procurement", "purchase_items")] == "7"
    t2 = {k: v for k, v in s.raw.items() if k[0] == "t2" and k[1] != "central_procurement"}
    assert set(t2.values()) == {"0"}
    blank = [v for k, v in s.raw.items() if k[0] in ("t3", "t4")]
    assert len(blank) == 161 + 15 and set(blank) == {""}


@pytest.mark.parametrize("number", [0, 1, 4])
def test_published_totals_equal_their_parts(number):
    assert _wrong_totals(load_seed(number)) == set()


def test_tokenize_layouts():
    assert tokenize("规章 | 0 |  | 3 | |") == ["规章", "0", "", "3"]
    assert tokenize("规章 |\n0 |\n||||\n-2 |") == ["规章", "0", "-2"]
    assert tokenize("规章\n\n1\n\n24850元") == ["规章", "1", "24850元"]
    # tab cells: continuation lines join, NBSP / empty cells are blanks, headings stand alone
    text = "\t本年新\n制作数量\n\t\xa0\n\t\n\n三、标题"
    assert tokenize(text) == ["本年新制作数量", "", "", "三、标题"]
    # 003: a label continued after a blank line
    assert tokenize("\t（一）回应\n\n（计1次）\n\t次\n\t") == ["（一）回应（计1次）", "次", ""]
