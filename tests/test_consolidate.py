"""Consolidation: exact sums, a workbook that validates and consolidates again, the lists of who
is in and who is out, and the CLI."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from xlsxgov import office
from xlsxgov import spec as spec_mod
from xlsxgov.compute import complete, key
from xlsxgov.consolidate import (
    DETAIL_SHEET,
    MISSING_SHEET,
    ConsolidationError,
    consolidate_files,
    consolidate_submissions,
)
from xlsxgov.crossyear import carry_over_findings
from xlsxgov.reader import read_workbook
from xlsxgov.template import CHECK_FIRST_ROW, CHECK_SHEET, VERDICT_COL, Meta, write_workbook
from xlsxgov.validate import validate_paths
from xlsxgov.values import Kind, wanyuan_to_money

N_AGENCIES = 200
XLSXGOV = Path(sys.executable).parent / "xlsxgov"


def random_inputs(spec, rng: random.Random) -> dict:
    """Random input values that satisfy every error rule (and the warnings of table 二)."""
    values = {}
    for cell in spec.cells():
        if not cell.is_input or cell.kind is Kind.TEXT:
            continue
        if cell.kind is Kind.MONEY:
            values[key(cell)] = rng.choice([0, rng.randint(1, 99_999_999)])  # whole 元, rarely whole 万元
        elif cell.kind is Kind.DELTA:
            values[key(cell)] = rng.randint(-5, 20)
        else:
            values[key(cell)] = rng.choice([0, 0, rng.randint(0, 30), rng.randint(0, 3000)])
    t2 = spec.table("t2")
    for row in ("regulations", "normative_docs"):
        if t2.cell(row, "valid") is not None:
            values[("t2", row, "valid")] = values[("t2", row, "issued")] + rng.randint(0, 50)
    # Table 三 balance: 一 + 二 = （七）总计 + 四, for every input column.
    full = complete(spec, values)
    t3 = spec.table("t3")
    for col in t3.blocks[0].columns:
        if not t3.cell("carried_over", col.id).is_input:
            continue
        results = full[("t3", "results_total", col.id)]
        new, carried_in = values[("t3", "new", col.id)], values[("t3", "carried_in", col.id)]
        over = new + carried_in - results
        if over < 0:
            values[("t3", "new", col.id)] = new - over
            over = 0
        values[("t3", "carried_over", col.id)] = over
    return values


def write_agency(path: Path, spec, i: int, values: dict, *, year: int = 2024) -> Path:
    code = f"11{i:016d}"
    meta = Meta(year=year, agency=f"测试单位{i:03d}", code=code, region="测试区", kind="template")
    return write_workbook(path, spec, meta, values=values)


@pytest.fixture(scope="module")
def agencies(tmp_path_factory):
    """200 agency workbooks with random valid values, written once."""
    spec = spec_mod.load("gov2021")
    rng = random.Random(20240131)
    d = tmp_path_factory.mktemp("agencies")
    paths, inputs = [], []
    for i in range(N_AGENCIES):
        values = random_inputs(spec, rng)
        paths.append(write_agency(d / f"a{i:03d}.xlsx", spec, i, values))
        inputs.append(values)
    return spec, paths, inputs


@pytest.fixture(scope="module")
def consolidated(agencies, tmp_path_factory):
    spec, paths, _ = agencies
    out = tmp_path_factory.mktemp("region") / "region.xlsx"
    result = consolidate_files(paths, out, region="测试区")
    return result


def expected_sums(spec, inputs_list) -> dict:
    sums: dict = {}
    for inputs in inputs_list:
        for k, v in inputs.items():
            sums[k] = sums.get(k, 0) + v
    return complete(spec, sums)


def test_every_cell_is_the_exact_sum(agencies, consolidated):
    spec, paths, inputs = agencies
    assert len(consolidated.included) == N_AGENCIES and not consolidated.left_out
    sub = read_workbook(consolidated.path)
    want = expected_sums(spec, inputs)
    assert sub.values == want
    assert sub.inputs == {k: v for k, v in want.items() if spec.table(k[0]).cell(k[1], k[2]).is_input}
    # typed totals (cached formula values) agree as well
    for cell in spec.cells():
        if not cell.is_input:
            assert sub.typed[key(cell)] == want[key(cell)], cell.key
    assert sub.meta["kind"] == "consolidated"
    assert sub.meta["consolidates"] == str(N_AGENCIES)
    assert sub.agency == "测试区（汇总）"
    assert sub.year == 2024


def test_consolidated_workbook_validates(consolidated):
    (report,) = validate_paths([consolidated.path])
    assert report.status == "valid", [f.message for f in report.findings if f.severity == "error"]


@pytest.mark.office
def test_libreoffice_recalculates_checks_as_passed(consolidated, soffice, tmp_path):
    recalculated = office.convert(consolidated.path, "xlsx", tmp_path, recalc=True)
    wb = CalamineWorkbook.from_path(str(recalculated))
    grid = wb.get_sheet_by_name(CHECK_SHEET).to_python()
    verdicts = [row[VERDICT_COL] for row in grid[CHECK_FIRST_ROW:] if len(row) > VERDICT_COL and row[VERDICT_COL]]
    assert verdicts and set(verdicts) == {"通过"}
    # the recalculated totals are still the exact sums
    again = read_workbook(recalculated)
    assert again.values == read_workbook(consolidated.path).values


def test_two_counties_make_the_same_city(agencies, consolidated, tmp_path):
    spec, paths, _ = agencies
    half = N_AGENCIES // 2
    a = consolidate_files(paths[:half], tmp_path / "county_a.xlsx", region="甲县").path
    b = consolidate_files(paths[half:], tmp_path / "county_b.xlsx", region="乙县").path
    city = consolidate_files([a, b], tmp_path / "city.xlsx", region="某市")
    assert city.consolidates == N_AGENCIES
    got = read_workbook(city.path)
    assert got.values == read_workbook(consolidated.path).values
    assert got.meta["consolidates"] == str(N_AGENCIES)
    (report,) = validate_paths([city.path])
    assert report.status == "valid"
    # the counties appear in 明细 as consolidated rows standing for their agencies
    detail = CalamineWorkbook.from_path(str(city.path)).get_sheet_by_name(DETAIL_SHEET).to_python()
    assert [row[1] for row in detail[2:]] == ["甲县（汇总）", "乙县（汇总）"]
    assert [int(row[4]) for row in detail[2:]] == [half, N_AGENCIES - half]


def test_detail_sheet_one_row_per_agency(agencies, consolidated):
    spec, paths, inputs = agencies
    grid = CalamineWorkbook.from_path(str(consolidated.path)).get_sheet_by_name(DETAIL_SHEET).to_python()
    head1, head2, rows = grid[0], grid[1], grid[2:]
    assert len(rows) == N_AGENCIES
    cells = list(spec.cells())
    fixed = len(head1) - len(cells)
    assert head1[1] == "单位名称"
    # the row header of each cell column is on the first row where the merged range starts
    t3 = spec.table("t3")
    col = fixed + cells.index(t3.cell("carried_in", "natural"))
    assert head1[col] == "表三 二、上年结转政府信息公开申请数量"
    assert head2[col] == "申请人情况/自然人"
    i = 137
    row = next(r for r in rows if r[1] == f"测试单位{i:03d}")
    assert row[2] == f"11{i:016d}" and row[3] == "合格"
    full = complete(spec, inputs[i])
    for j, cell in enumerate(cells):
        want = full[key(cell)]
        if cell.kind is Kind.MONEY:
            assert wanyuan_to_money(row[fixed + j]) == want
        else:
            assert row[fixed + j] == want, cell.key


def test_invalid_files_left_out_or_included(agencies, tmp_path):
    spec, paths, inputs = agencies
    bad_values = dict(inputs[0])
    bad_values[("t3", "carried_over", "natural")] += 5  # breaks t3.balance
    bad = write_agency(tmp_path / "bad.xlsx", spec, 900, bad_values)
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook at all")
    files = [paths[1], paths[2], bad, junk]

    result = consolidate_files(files, tmp_path / "out1.xlsx", region="测试区")
    assert len(result.included) == 2
    assert {x.status for x in result.left_out} == {"invalid", "unreadable"}
    assert any("bad.xlsx" in x.name and "第一项" in x.reason or "bad.xlsx" in x.name for x in result.left_out)
    listed = CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name(MISSING_SHEET).to_python()
    names = " ".join(str(v) for row in listed for v in row)
    assert "bad.xlsx" in names and "junk.xlsx" in names
    got = read_workbook(result.path)
    assert got.values == expected_sums(spec, [inputs[1], inputs[2]])

    result = consolidate_files(files, tmp_path / "out2.xlsx", region="测试区", include_invalid=True)
    assert len(result.included) == 3
    assert [x.status for x in result.left_out] == ["unreadable"]
    got = read_workbook(result.path)
    assert got.values == expected_sums(spec, [inputs[1], inputs[2], bad_values])
    detail = CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name(DETAIL_SHEET).to_python()
    assert "有错误" in [row[3] for row in detail[2:]]
    # said, not only shown in a column: on the command line and on the cover
    assert [w for w in result.warnings if "1 份报表有错误" in w and "bad.xlsx" in w]
    cover = " ".join(str(v) for row in CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name("封面").to_python() for v in row)
    assert "其中有错误或被审核退回的报表 1 份" in cover
    first = consolidate_files(files[:2], tmp_path / "out3.xlsx", region="测试区", include_invalid=True)
    assert not [w for w in first.warnings if "有错误" in w]


def test_left_out_errors_are_placed_by_table_name(agencies, tmp_path):
    """未汇总 names the place as the clerk's validate output does (表三!D6), not by the sheet's
    full title, in the result, on the 未报送 sheet and on the command line."""
    spec, paths, inputs = agencies
    bad_values = dict(inputs[0])
    bad_values[("t3", "carried_over", "natural")] += 5
    bad = write_agency(tmp_path / "bad.xlsx", spec, 900, bad_values)
    result = consolidate_files([paths[1], bad], tmp_path / "o.xlsx", region="测试区")
    reason = next(x.reason for x in result.left_out if "bad.xlsx" in x.name)
    t3 = next(t for t in spec.tables if t.id == "t3")
    assert f"{t3.short}!" in reason and f"{t3.sheet}!" not in reason
    listed = " ".join(str(v) for row in CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name(MISSING_SHEET).to_python() for v in row)
    assert f"{t3.short}!" in listed and f"{t3.sheet}!" not in listed
    proc = subprocess.run([XLSXGOV, "consolidate", str(paths[1]), str(bad), "-o", str(tmp_path / "c.xlsx")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    flat = "".join(proc.stdout.split())
    assert f"{t3.short}!" in flat and f"{t3.sheet}!" not in flat


def test_mixed_years_say_which_year_was_consolidated(agencies, tmp_path):
    spec, paths, inputs = agencies
    old = write_agency(tmp_path / "old.xlsx", spec, 902, inputs[0], year=2023)
    result = consolidate_files([paths[1], paths[2], old], tmp_path / "y.xlsx", region="测试区")
    assert result.year == 2024 and [x.status for x in result.left_out] == ["year"]
    note = next(w for w in result.warnings if "报告年度不一" in w)
    assert "2024年 2 个单位" in note and "2023年 1 个单位" in note and "--year" in note
    # a tie is not broken silently: the year is asked for
    with pytest.raises(ConsolidationError, match="--year"):
        consolidate_files([paths[1], old], tmp_path / "tie.xlsx", region="测试区")
    given = consolidate_files([paths[1], paths[2], old], tmp_path / "y2.xlsx", region="测试区", year=2024)
    assert not [w for w in given.warnings if "报告年度不一" in w]


def test_nothing_is_counted_twice(agencies, tmp_path):
    """Found by a new user's trial: the same file twice, a copy of it, a folder holding the
    output of an earlier run, and a county's consolidation given with one of its own agencies
    were all added up again, silently."""
    spec, paths, inputs = agencies
    county = consolidate_files(paths[:3], tmp_path / "甲县汇总.xlsx", region="甲县").path
    other = consolidate_files(paths[3:5], tmp_path / "乙县汇总.xlsx", region="乙县").path
    copy = tmp_path / "甲县汇总_副本.xlsx"
    copy.write_bytes(county.read_bytes())
    want = expected_sums(spec, inputs[:5])

    twice = consolidate_files([county, county, copy, other, paths[0]], tmp_path / "市.xlsx", region="某市")
    assert read_workbook(twice.path).values == want and twice.consolidates == 5
    reasons = {x.name: x.reason for x in twice.left_out}
    assert [x.status for x in twice.left_out] == ["duplicate", "duplicate"]
    assert "内容完全相同" in reasons[copy.name] and "已包含在" in reasons[paths[0].name]
    listed = " ".join(str(v) for row in CalamineWorkbook.from_path(str(twice.path)).get_sheet_by_name(MISSING_SHEET).to_python() for v in row)
    assert "重复，未汇总" in listed and copy.name in listed

    # a folder that holds the city's earlier result, and the output itself
    folder = tmp_path / "收到"
    folder.mkdir()
    for f in (county, other):
        (folder / f.name).write_bytes(f.read_bytes())
    first = consolidate_files(sorted(folder.iterdir()), folder / "某市汇总.xlsx", region="某市")
    assert read_workbook(first.path).values == want
    again = consolidate_files(sorted(folder.iterdir()), folder / "某市汇总.xlsx", region="某市")
    assert read_workbook(again.path).values == want and again.consolidates == 5
    assert any("输出文件" in w for w in again.warnings)
    (folder / "某市汇总.xlsx").rename(folder / "上次.xlsx")
    third = consolidate_files(sorted(folder.iterdir()), tmp_path / "新.xlsx", region="某市")
    assert read_workbook(third.path).values == want
    assert any("某市自己的汇总表" in x.reason for x in third.left_out)

    # two consolidations holding the same agency: refused, naming it
    overlap = consolidate_files(paths[2:4], tmp_path / "丙.xlsx", region="丙县").path
    with pytest.raises(ConsolidationError, match="重复计算"):
        consolidate_files([county, overlap], tmp_path / "x.xlsx", region="某市")


def test_two_different_reports_of_one_agency_are_refused(agencies, tmp_path):
    """Found by a new user's trial: an agency's first and corrected reports (same 统一社会信用代码,
    different numbers) in one folder were both added up, with only a console note, and the
    consolidation validated as 合格, so the double count went on upward."""
    spec, paths, inputs = agencies
    changed = dict(inputs[7])
    changed[("t2", "regulations", "valid")] += 877
    v2 = write_agency(tmp_path / "测试单位007_v2.xlsx", spec, 7, changed)
    out = tmp_path / "区.xlsx"
    with pytest.raises(ConsolidationError) as exc:
        consolidate_files([paths[6], paths[7], v2], out, region="测试区")
    lines = str(exc.value).splitlines()
    assert "只保留其中一份" in lines[0]
    (agency,) = lines[1:]
    assert "测试单位007" in agency and f"11{7:016d}" in agency and paths[7].name in agency and v2.name in agency
    assert not out.exists()
    proc = subprocess.run([str(XLSXGOV), "consolidate", str(paths[7]), str(v2), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and v2.name in "".join(proc.stderr.split()) and not out.exists()

    # the other version in another year is left out by the year, not refused
    old = write_agency(tmp_path / "测试单位007_2023.xlsx", spec, 7, changed, year=2023)
    kept = consolidate_files([paths[6], paths[7], paths[8], old], out, region="测试区")
    assert read_workbook(kept.path).values == expected_sums(spec, [inputs[6], inputs[7], inputs[8]])

    # no code to compare (reports read by extract print none): both counted, with a note
    blank = [write_workbook(tmp_path / f"报告{i}.xlsx", spec, Meta(year=2024, agency="某县某局", region="测试区", extra={"source": "report"}),
                           values=inputs[i])
             for i in (6, 7)]
    both = consolidate_files(blank, tmp_path / "b.xlsx", region="测试区")
    assert read_workbook(both.path).values == expected_sums(spec, [inputs[6], inputs[7]])
    (note,) = both.warnings
    assert "某县某局" in note and "没有统一社会信用代码" in note and "已全部计入汇总" in note


def test_roster_lists_missing_agencies(agencies, tmp_path):
    spec, paths, _ = agencies
    subs = [read_workbook(p) for p in paths[:3]]
    roster = [(f"测试单位{i:03d}", f"11{i:016d}") for i in range(5)]
    result = consolidate_submissions(subs, tmp_path / "r.xlsx", region="测试区", expected=roster)
    assert [m.name for m in result.missing] == ["测试单位003", "测试单位004"]
    listed = CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name(MISSING_SHEET).to_python()
    assert [row[1] for row in listed[1:]] == ["测试单位003", "测试单位004"]
    cover = CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name("封面").to_python()
    text = " ".join(str(v) for row in cover for v in row)
    assert "应报 5 个单位" in text and "未报送或未通过 2 个" in text


def test_mixed_editions_are_refused(agencies, tmp_path):
    spec, paths, _ = agencies
    old = spec_mod.load("gov2019")
    p2019 = write_agency(tmp_path / "old.xlsx", old, 901, random_inputs(old, random.Random(1)))
    with pytest.raises(ConsolidationError) as exc:
        consolidate_files([paths[0], p2019], tmp_path / "mixed.xlsx", region="测试区")
    message = str(exc.value)
    assert "不同的表格版本" in message and "old.xlsx" in message and paths[0].name in message
    assert old.name in message and spec.name in message
    assert not (tmp_path / "mixed.xlsx").exists()


def test_edition_option_leaves_other_editions_out(agencies, tmp_path):
    """-e gov2021: an agency that used last year's gov2019 template is listed, the rest summed,
    even with --include-invalid (a gov2019 table cannot be added to a gov2021 one)."""
    spec, paths, inputs = agencies
    old = spec_mod.load("gov2019")
    p2019 = write_agency(tmp_path / "old.xlsx", old, 901, random_inputs(old, random.Random(1)))
    for include_invalid in (False, True):
        result = consolidate_files([paths[0], p2019, paths[1]], tmp_path / f"e{include_invalid}.xlsx",
                                   region="测试区", edition="gov2021", include_invalid=include_invalid)
        assert read_workbook(result.path).values == expected_sums(spec, inputs[:2])
        (left,) = result.left_out
        assert left.status == "edition" and "old.xlsx" in left.name and old.name in left.reason
        missing = CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name(MISSING_SHEET).to_python()
        assert [r[3] for r in missing[1:]] == ["版本不符"]
    proc = subprocess.run(
        [str(XLSXGOV), "consolidate", str(paths[0]), str(p2019), "-e", "gov2021", "-o", str(tmp_path / "cli.xlsx")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "old.xlsx" in proc.stdout and "表格版本为" in proc.stdout


def test_carry_over_mismatch_named(agencies, tmp_path):
    spec, paths, inputs = agencies
    old = spec_mod.load("gov2019")
    current = read_workbook(paths[5])
    prev_values = random_inputs(old, random.Random(2))
    for col in spec.table("t3").blocks[0].columns:
        if spec.table("t3").cell("carried_in", col.id).is_input:
            # make last year's carried_over equal this year's carried_in, except one column
            prev_values[("t3", "carried_over", col.id)] = inputs[5][("t3", "carried_in", col.id)]
    prev_values[("t3", "carried_over", "ngo")] += 3
    prev = read_workbook(write_agency(tmp_path / "prev.xlsx", old, 5, prev_values, year=2023))
    findings = carry_over_findings(current, prev)
    by_col = {f.cells[0][2]: f for f in findings}
    assert set(by_col) == {"ngo", "total"}
    f = by_col["ngo"]
    assert f.rule == "t3.carry_over" and f.severity == "warning"
    assert f.sheet == spec.table("t3").sheet and f.cell == current.where[("t3", "carried_in", "ngo")][1]
    assert "测试单位005" in f.message and "社会公益组织" in f.message
    a = inputs[5][("t3", "carried_in", "ngo")]
    assert f"本年填报{a}" in f.message and f"为{a + 3}" in f.message and "2023年" in f.message
    assert carry_over_findings(current, current) == [] or all(f.rule == "t3.carry_over" for f in carry_over_findings(current, current))


def test_cli_consolidate(agencies, tmp_path):
    spec, paths, inputs = agencies
    out = tmp_path / "out.xlsx"
    proc = subprocess.run(
        [str(XLSXGOV), "consolidate", str(paths[0]), str(paths[1]), "-o", str(out), "--region", "测试区"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    said = "".join(proc.stdout.split())  # the terminal wraps a long path (xdist's temp paths are longer)
    assert "已汇总" in said and str(out.name) in said
    assert read_workbook(out).values == expected_sums(spec, inputs[:2])

    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"junk")
    proc = subprocess.run([str(XLSXGOV), "consolidate", str(junk), "-o", str(tmp_path / "x.xlsx")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "junk.xlsx" in "".join((proc.stdout + proc.stderr).split())


def test_a_plain_folder_stands_for_its_workbooks(tmp_path):
    """Found by a new user's trial: `consolidate 文件夹 -o …` refused a folder of workbooks that
    is not a campaign (validate reads such a folder)."""
    from xlsxgov.consolidate import consolidate

    spec = spec_mod.load("gov2021")
    folder = tmp_path / "回复"
    (folder / "乡镇").mkdir(parents=True)
    files = []
    for i, where in enumerate((folder, folder / "乡镇")):
        p = where / f"单位{i}.xlsx"
        write_workbook(p, spec, Meta(year=2024, agency=f"某县某局{i}", code=f"11350100MB000000{i}"), values=random_inputs(spec, random.Random(i)))
        files.append(p)
    (folder / "说明.txt").write_text("不是工作簿", encoding="utf-8")
    by_folder = consolidate([folder], tmp_path / "a.xlsx")
    by_files = consolidate(files, tmp_path / "b.xlsx")
    assert by_folder.inputs == by_files.inputs and len(by_folder.included) == 2
    assert by_folder.warnings == [f"文件夹“{folder}”中有 1 个文件不是工作簿，未汇总：说明.txt（不是工作簿（.txt 文档）；若是年度报告，可用 xlsxgov extract 读出其中的表格）"]
    (tmp_path / "空").mkdir()
    with pytest.raises(ConsolidationError, match="中没有工作簿"):
        consolidate([tmp_path / "空"], tmp_path / "c.xlsx")
