"""Editions as data: a new edition is one spec file with a ``cross_year:`` block, recognised by
``template``, the reader, ``validate -e`` and the cross-year rules with no Python change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xlsxgov import spec as spec_mod
from xlsxgov.template import Meta, write_workbook

XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))
COLS = ["natural", "business", "research", "ngo", "legal", "other_org"]


def t3_values(carried_in: dict | None = None, carried_over: dict | None = None) -> dict:
    """Inputs satisfying every error rule: per column 一=10, 二=carried_in, （一）予以公开 the rest."""
    carried_in, carried_over = carried_in or {}, carried_over or {}
    out = {}
    for c in COLS:
        ci, co = carried_in.get(c, 0), carried_over.get(c, 0)
        out[("t3", "new", c)] = 10
        out[("t3", "carried_in", c)] = ci
        out[("t3", "carried_over", c)] = co
        out[("t3", "disclosed", c)] = 10 + ci - co
    return out


@pytest.fixture
def gov2026(tmp_path, monkeypatch):
    """A folder with one extra edition, gov2026: gov2021's tables under a new id and name, and
    its own cross_year block (the stock of valid documents in column valid)."""
    data = yaml.safe_load((spec_mod.SPEC_DIR / "gov2021.yaml").read_text(encoding="utf-8"))
    data.update(edition="gov2026", name="2026年版（测试用）", basis="测试用的新版本", years=[2026, None])
    data["cross_year"] = {"stock_column": "valid", "stock_rows": {"regulations": "regulations", "normative_docs": "normative_docs"}}
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "gov2026.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv(spec_mod.SPECS_ENV, str(folder))
    return folder


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([XLSXGOV, *map(str, args)], capture_output=True, text=True, timeout=180, env=os.environ.copy())


def test_a_new_edition_file_is_an_edition(gov2026):
    assert spec_mod.available_editions()[0] == "gov2026"  # newest first: the reader tries it first
    spec = spec_mod.load("gov2026")
    assert spec.cross_year is not None and spec.cross_year.stock_column == "valid"
    assert spec_mod.load("legacy2008").cross_year is None  # no block: no cross-year rule


def test_new_edition_end_to_end(gov2026, tmp_path):
    # template: the CLI makes the new edition's workbook
    blank = tmp_path / "blank.xlsx"
    p = run("template", "-e", "gov2026", "-o", blank, "--year", "2026")
    assert p.returncode == 0, p.stderr
    assert "2026年版（测试用）" in "".join(p.stdout.split())  # wherever a long temp path breaks the line

    # last year (gov2021) carried 2 natural-person requests over; this year (gov2026) says 5
    last = write_workbook(tmp_path / "2025.xlsx", spec_mod.load("gov2021"), Meta(year=2025, agency="测试局", code="X1"),
                          values={**t3_values(carried_over={"natural": 2}), ("t2", "regulations", "valid"): 7})
    now = write_workbook(tmp_path / "2026.xlsx", spec_mod.load("gov2026"), Meta(year=2026, agency="测试局", code="X1"),
                         values={**t3_values(carried_in={"natural": 5}), ("t2", "regulations", "valid"): 7,
                                 ("t2", "regulations", "issued"): 1})

    # reader + validate -e + cross-year rules from the two spec files
    p = run("validate", now, "-e", "gov2026", "--previous", last, "--json", "--info")
    assert p.returncode == 0, p.stderr  # warnings only
    (report,) = json.loads(p.stdout)["files"]
    assert report["edition"] == "gov2026" and report["status"] == "valid"
    rules = {f["rule"] for f in report["findings"]}
    assert "t3.carry_over" in rules  # 5 carried in, 2 carried over last year
    stock = [f for f in report["findings"] if f["rule"] == "t2.valid_stock"]
    assert stock and "应为8" in stock[0]["message"]  # 7 last year + 1 issued − 0 repealed ≠ 7

    # the same file checked against gov2021 is an edition error
    p = run("validate", now, "-e", "gov2021", "--json")
    assert p.returncode == 1
    assert any(f["rule"] == "workbook.edition" for f in json.loads(p.stdout)["files"][0]["findings"])


def test_a_bad_cross_year_block_names_the_file(gov2026):
    path = gov2026 / "gov2026.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["cross_year"]["stock_column"] = "nonexistent"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(spec_mod.SpecError, match="gov2026.yaml.*nonexistent"):
        spec_mod.load_file(path)
