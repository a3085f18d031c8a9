"""The fast paths of reading and validation (issue #13) equal the full paths: same facts, same
findings, same status and reason, on random workbooks of every edition, messy and hostile ones
included, and on the whole reading corpus of issue #14.

Fast: the metadata sheet only checked (places from the spec's layout), plain numbers read
without parse_cell, the schema's checks evaluated on the numbers, files in worker processes.
Full: the metadata sheet parsed whole, every value through parse_cell's checks, pandera run.
"""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_files import a1_of, patch_xlsx, reading_corpus, set_cell_xml, sheet_part
from xlsxgov import spec as spec_mod
from xlsxgov.compute import key
from xlsxgov.template import Meta, write_workbook
from xlsxgov.validate import validate_paths
from xlsxgov.values import FEN_PER_WANYUAN, Kind

EDITIONS = ("gov2021", "gov2019", "legacy2008")
# What an agency's clerk (or a hostile sender) does to a cell of a returned template.
CELL_MESSES = {
    "text": lambda: '<is><t>12 件</t></is>',
    "word": lambda: "<is><t>无</t></is>",
    "blank_text": lambda: "<is><t>  </t></is>",
    "negative": lambda: "<v>-3</v>",
    "fraction": lambda: "<v>2.5</v>",
    "huge": lambda: "<v>1E+308</v>",
    "error": lambda: "<v>#DIV/0!</v>",
    "formula_plain": lambda: "<f>3+4</f>",
    "formula_ref": lambda: "<f>D6*2</f>",
    "bool": lambda: "<v>1</v>",
}
CELL_ATTRS = {"text": ' t="inlineStr"', "word": ' t="inlineStr"', "blank_text": ' t="inlineStr"', "error": ' t="e"', "bool": ' t="b"'}
FILE_MESSES = ("renamed_sheet", "no_metadata", "old_generator", "agency_markup", "empty_cover")


def _values(spec, rng: random.Random) -> dict:
    vals = {}
    for cell in spec.cells():
        if not cell.is_input:
            continue
        if cell.kind is Kind.MONEY:
            vals[key(cell)] = rng.choice([0, rng.randint(0, 10**9), rng.randint(0, 99) * FEN_PER_WANYUAN])
        elif cell.kind is Kind.DELTA:
            vals[key(cell)] = rng.randint(-5, 5)
        elif cell.kind is Kind.COUNT:
            vals[key(cell)] = rng.choice([0, 0, rng.randint(0, 60)])
    return vals


def make_workbook(d: Path, name: str, edition: str, seed: int, cell_messes: list[str], file_messes: list[str]) -> Path:
    rng = random.Random(seed)
    spec = spec_mod.load(edition)
    agency = "[red]某局[/]\x1b[31m" if "agency_markup" in file_messes else f"某市某局{seed % 97}"
    if "empty_cover" in file_messes:
        agency = ""
    path = d / f"{name}.xlsx"
    write_workbook(path, spec, Meta(year=2024, agency=agency, code="" if "empty_cover" in file_messes else "11350100M00000001X"),
                   values=_values(spec, rng))
    cells = [c for c in spec.cells() if c.kind is not Kind.TEXT]
    for i, mess in enumerate(cell_messes):
        cell = rng.choice(cells)
        part = sheet_part(edition, cell.table.id)
        a1 = a1_of(cell.table.id, cell.row.id, cell.col.id, edition)
        out = d / f"{name}_{i}.xlsx"
        patch_xlsx(path, out, part, lambda x, a1=a1, mess=mess: set_cell_xml(x, a1, CELL_MESSES[mess](), CELL_ATTRS.get(mess, "")))
        path = out
    if "renamed_sheet" in file_messes:
        table = rng.choice(spec.tables)
        out = d / f"{name}_renamed.xlsx"
        patch_xlsx(path, out, "xl/workbook.xml", lambda x: x.replace(f'name="{table.sheet}"', 'name="Sheet9"'))
        path = out
    if "no_metadata" in file_messes:
        out = d / f"{name}_nometa.xlsx"
        patch_xlsx(path, out, "xl/workbook.xml", lambda x: x.replace('name="_xlsxgov"', 'name="其他"'))
        path = out
    if "old_generator" in file_messes:
        out = d / f"{name}_old.xlsx"
        patch_xlsx(path, out, "xl/sharedStrings.xml", lambda x: x.replace(">xlsxgov 0.", ">xlsxgov 0.0.0-"))
        path = out
    return path


def same_reports(fast, full) -> None:
    assert [r.path for r in fast] == [r.path for r in full]
    for a, b in zip(fast, full):
        assert (a.status, a.reason) == (b.status, b.reason), a.path.name
        assert a.findings == b.findings, a.path.name
        if a.submission is None:
            assert b.submission is None
            continue
        sa, sb = a.submission, b.submission
        assert sa.edition == sb.edition and sa.meta == sb.meta
        assert [f.as_json() for f in sa.facts()] == [f.as_json() for f in sb.facts()], a.path.name
        assert (sa.inputs, sa.typed, sa.where, sa.bad_cells) == (sb.inputs, sb.typed, sb.where, sb.bad_cells)
        assert {k: str(v) for k, v in sa.raw.items()} == {k: str(v) for k, v in sb.raw.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    files=st.lists(
        st.tuples(
            st.sampled_from(EDITIONS),
            st.integers(0, 2**31),
            st.lists(st.sampled_from(sorted(CELL_MESSES)), max_size=4),
            st.lists(st.sampled_from(FILE_MESSES), max_size=2, unique=True),
        ),
        min_size=1, max_size=3,
    ),
)
def test_fast_paths_equal_full_paths_on_random_workbooks(tmp_path_factory, files):
    d = tmp_path_factory.mktemp("fast")
    paths = [make_workbook(d, f"f{i}", *spec) for i, spec in enumerate(files)]
    # One batch: a file's findings never depend on the others validated with it.
    same_reports(validate_paths(paths, workers=1), validate_paths(paths, workers=1, full=True))


def test_fast_paths_equal_full_paths_on_the_reading_corpus(tmp_path):
    cases = [c for c in reading_corpus(tmp_path) if not c.needs_office and c.path.exists()]
    assert len(cases) > 20
    paths = [c.path for c in cases]
    fast = validate_paths(paths, workers=2)  # and in worker processes, as the CLI runs
    same_reports(fast, validate_paths(paths, workers=1, full=True))
    assert {r.status for r in fast} == {"valid", "invalid", "unreadable"}


def test_the_fast_metadata_check_is_taken_for_a_fresh_template_and_refused_otherwise(tmp_path):
    from xlsxgov.reader import _meta_fast
    from xlsxgov.workbook import open_workbook

    fresh = make_workbook(tmp_path, "fresh", "gov2021", 1, [], [])
    assert _meta_fast(open_workbook(fresh).scan) is not None
    for mess in ("old_generator", "no_metadata"):
        other = make_workbook(tmp_path, mess, "gov2021", 1, [], [mess])
        assert _meta_fast(open_workbook(other).scan) is None, mess
    # a metadata sheet with a row more than the layout has is parsed, not trusted
    extra = tmp_path / "extra.xlsx"
    with zipfile.ZipFile(fresh) as z:
        part = next(n for n in z.namelist() if n.startswith("xl/worksheets/") and b'"A1:F' in z.read(n)[:600])
    patch_xlsx(fresh, extra, part, lambda x: x.replace('<dimension ref="A1:F', '<dimension ref="A1:F1'))
    assert _meta_fast(open_workbook(extra).scan) is None
