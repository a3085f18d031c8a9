"""``export`` of a consolidated workbook (its summed facts, optionally its 明细 rows) and of a
campaign (every agency's current submission), run on real files and a real ledger."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from xlsxgov import spec as spec_mod
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.init import init_campaign
from xlsxgov.compute import complete, key, to_display
from xlsxgov.consolidate import consolidate_files
from xlsxgov.export import FACT_COLUMNS, export_facts
from xlsxgov.template import Meta, write_workbook

sys.path.insert(0, str(Path(__file__).parent))
from test_consolidate import random_inputs  # noqa: E402
from test_consolidate_campaign import CODES, NAMES, REGION, YEAR, reply, write_roster  # noqa: E402

XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".xlsx":
        return pd.read_excel(path, sheet_name="数据", dtype={"code": str}, engine="calamine")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={"code": str})


def displayed(spec, values: dict) -> dict:
    """(table, row, col) → value in the unit the form prints."""
    return {key(c): to_display(c, values[key(c)]) for c in spec.cells()}


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    spec = spec_mod.load("gov2021")
    rng = random.Random(5)
    d = tmp_path_factory.mktemp("export")
    inputs = [random_inputs(spec, rng) for _ in range(3)]
    files = [write_workbook(d / f"a{i}.xlsx", spec, Meta(year=YEAR, agency=NAMES[i], code=CODES[i], region=REGION), values=v) for i, v in enumerate(inputs)]
    result = consolidate_files(files, d / "region.xlsx", region=REGION)
    total: dict = {}
    for v in inputs:
        for k, x in v.items():
            total[k] = total.get(k, 0) + x
    return spec, result.path, inputs, complete(spec, total)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_consolidated_workbook_exports_the_sums(region, tmp_path, suffix):
    spec, path, _, sums = region
    out = tmp_path / f"facts{suffix}"
    result = export_facts([path], out)
    frame = read(out)
    assert list(frame.columns) == FACT_COLUMNS
    assert result.rows == len(frame) == sum(1 for _ in spec.cells()) and result.files == 1
    assert set(frame["agency"]) == {f"{REGION}（汇总）"} and set(frame["status"]) == {"valid"}
    want = displayed(spec, sums)
    got = {(r.table, r.row, r.col): r.value for r in frame.itertuples()}
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert float(got[k]) == pytest.approx(v, abs=1e-9), k


def test_detail_adds_one_row_per_agency_and_cell(region, tmp_path):
    spec, path, inputs, sums = region
    out = tmp_path / "facts.parquet"
    export_facts([path], out, detail=True)
    frame = read(out)
    n = sum(1 for _ in spec.cells())
    summed, detail = frame[frame["sheet"] != "明细"], frame[frame["sheet"] == "明细"]
    assert len(summed) == n and len(detail) == 3 * n
    assert list(dict.fromkeys(detail["agency"])) == NAMES[:3]
    assert list(dict.fromkeys(detail["code"])) == CODES[:3]
    assert set(detail["status"]) == {"valid"}
    for i in range(3):
        rows = detail[detail["code"] == CODES[i]]
        want = displayed(spec, complete(spec, inputs[i]))
        for r in rows.itertuples():
            assert float(r.value) == pytest.approx(want[(r.table, r.row, r.col)], abs=1e-9)
    # the detail rows add up to the consolidated facts
    by_cell = detail.assign(value=detail["value"].astype(float)).groupby(["table", "row", "col"])["value"].sum()
    for k, v in displayed(spec, sums).items():
        assert by_cell[k] == pytest.approx(v, abs=1e-6), k
    # on an agency's own workbook --detail adds nothing
    own = tmp_path / "own.csv"
    assert export_facts([path.with_name("a0.xlsx")], own, detail=True).rows == n


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Agencies 0, 1 valid, 2 invalid, 3 sent a corrupt file, 4-6 never replied."""
    spec = spec_mod.load("gov2021")
    rng = random.Random(9)
    tmp = tmp_path_factory.mktemp("campaign")
    d = tmp / "c"
    init_campaign(d, year=YEAR, roster_path=write_roster(tmp / "roster.csv"), region=REGION)
    inputs = [random_inputs(spec, rng) for _ in range(3)]
    inputs[2][("t3", "carried_over", "natural")] += 5
    for i in range(3):
        reply(d / "inbox" / f"第{i}局.xlsx", spec, i, inputs[i], name="本局" if i == 1 else None)
    (d / "inbox" / f"{CODES[3]}.xlsx").write_bytes(b"not a workbook")
    import_paths(d)
    return spec, d, inputs


def test_campaign_exports_current_submissions(campaign, tmp_path):
    spec, d, inputs = campaign
    out = tmp_path / "facts.parquet"
    result = export_facts([d], out)
    frame = read(out)
    n = sum(1 for _ in spec.cells())
    assert result.rows == len(frame) == 3 * n and result.files == 3
    # the roster's name and code, whatever the cover says; the ledger's status
    agencies = frame.drop_duplicates("code")[["agency", "code", "status"]].values.tolist()
    assert agencies == [[NAMES[0], CODES[0], "valid"], [NAMES[1], CODES[1], "valid"], [NAMES[2], CODES[2], "invalid"]]
    for i in range(3):
        want = displayed(spec, complete(spec, inputs[i]))
        for r in frame[frame["code"] == CODES[i]].itertuples():
            assert float(r.value) == pytest.approx(want[(r.table, r.row, r.col)], abs=1e-9)
    # the file as the agency sent it, never the archive's hash name
    assert frame.drop_duplicates("code")["file"].tolist() == ["第0局.xlsx", "第1局.xlsx", "第2局.xlsx"]
    assert result.skipped == [f"{NAMES[3]}：报送的文件无法读取", f"{NAMES[4]}：未报送", f"{NAMES[5]}：未报送", f"{NAMES[6]}：未报送"]
    assert not result.unreadable


def test_xlsx_export_keeps_codes_as_text(campaign, tmp_path):
    # Issue #9 point 11: an all-digit code would become 9.13501E+17 in Excel; as a text cell it stays.
    _, d, _ = campaign
    out = tmp_path / "facts.xlsx"
    export_facts([d], out)
    sheet = openpyxl.load_workbook(out)["数据"]
    header = [c.value for c in sheet[1]]
    code_cells = [row[header.index("code")] for row in sheet.iter_rows(min_row=2)]
    assert {c.value for c in code_cells} == set(CODES[:3])
    assert all(c.data_type == "s" and c.number_format == "@" for c in code_cells)
    values = [row[header.index("value")].value for row in sheet.iter_rows(min_row=2)]
    assert all(isinstance(v, (int, float)) for v in values if v is not None)


def test_cli_export_campaign_and_consolidated(campaign, region, tmp_path):
    spec, d, _ = campaign
    out = tmp_path / "facts.csv"
    proc = subprocess.run([XLSXGOV, "export", str(d), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    flat = "".join(proc.stdout.split())
    assert "没有数据的单位4个" in flat and f"已导出{3 * sum(1 for _ in spec.cells())}行（3个文件）" in flat
    assert set(read(out)["status"]) == {"valid", "invalid"}

    _, path, _, _ = region
    proc = subprocess.run([XLSXGOV, "export", str(path), "--detail", "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert len(read(out)) == 4 * sum(1 for _ in spec.cells())

    proc = subprocess.run([XLSXGOV, "export", str(tmp_path), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "不是报送任务目录" in "".join(proc.stderr.split())


def test_parquet_is_written_in_row_groups_as_the_files_come(region, tmp_path, monkeypatch):
    """The Parquet export streams (issue #13 point 2): with a row group of 100 rows, three
    agencies' 明细 rows arrive as several row groups, and the file reads back as the whole
    table, equal to the CSV export of the same facts."""
    import pyarrow.parquet as pq

    from xlsxgov import export as export_mod

    _, path, _, _ = region
    monkeypatch.setattr(export_mod, "PARQUET_ROW_GROUP", 100)
    out = tmp_path / "facts.parquet"
    result = export_facts([path], out, detail=True)
    assert pq.ParquetFile(out).metadata.num_row_groups > 1
    frame = read(out)
    assert result.rows == len(frame) and list(frame.columns) == FACT_COLUMNS
    export_facts([path], tmp_path / "facts.csv", detail=True)
    csv = read(tmp_path / "facts.csv")
    assert frame["value"].astype(float).tolist() == pytest.approx(csv["value"].astype(float).tolist())
    assert frame["cell"].tolist() == csv["cell"].tolist() and frame["agency"].tolist() == csv["agency"].tolist()


def test_raw_is_the_number_as_shown_not_a_float(campaign, tmp_path):
    """Found by a new user's trial: a count typed as 15 was exported with raw '15.0' (the reader's
    float), from a file and from a campaign's ledger alike."""
    spec, d, inputs = campaign
    out = tmp_path / "f.csv"
    export_facts([d], out)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    counts = frame[(frame["table"] == "t3") & (frame["raw"] != "")]
    assert len(counts) and not counts["raw"].str.endswith(".0").any(), counts["raw"].head().tolist()
    some = next(k for k, v in inputs[0].items() if k[0] == "t3" and v > 1)
    row = frame[(frame["code"] == CODES[0]) & (frame["table"] == some[0]) & (frame["row"] == some[1]) & (frame["col"] == some[2])]
    assert row["raw"].tolist() == [str(inputs[0][some])]


def test_a_plain_folder_stands_for_its_workbooks(tmp_path):
    """Found by a new user's trial: `export 文件夹 -o …` refused a folder of workbooks that is
    not a campaign (validate and consolidate read such a folder). Its other files are named, and
    the output of an earlier export into the folder is not read back."""
    spec = spec_mod.load("gov2021")
    folder = tmp_path / "回复"
    (folder / "乡镇").mkdir(parents=True)
    files = [write_workbook(where / f"单位{i}.xlsx", spec, Meta(year=YEAR, agency=NAMES[i], code=CODES[i]), values=random_inputs(spec, random.Random(i)))
             for i, where in enumerate((folder, folder / "乡镇"))]
    (folder / "说明.txt").write_text("请查收", encoding="utf-8")
    export_facts(files, tmp_path / "b.xlsx")

    def rows(path: Path) -> pd.DataFrame:
        return read(path).sort_values(["file", "table", "row", "col"]).reset_index(drop=True)
    for _ in range(2):  # the second time the folder holds the first export
        proc = subprocess.run([XLSXGOV, "export", str(folder), "-o", str(folder / "数据.xlsx")], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        said = "".join(proc.stdout.split())
        assert "未导出1个文件" in said and "说明.txt：不是工作簿" in said and "已导出400行（2个文件）" in said
        pd.testing.assert_frame_equal(rows(folder / "数据.xlsx"), rows(tmp_path / "b.xlsx"))
    (tmp_path / "空").mkdir()
    (tmp_path / "空" / "a.txt").write_text("x", encoding="utf-8")
    proc = subprocess.run([XLSXGOV, "export", str(tmp_path / "空"), "-o", str(tmp_path / "c.csv")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "中没有工作簿" in "".join(proc.stderr.split()) and "Traceback" not in proc.stderr  # wrapped at the width
