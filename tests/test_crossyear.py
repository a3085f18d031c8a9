"""Cross-year checks: this year's 上年结转 against last year's 结转下年度继续办理 (t3.carry_over),
and gov2021's stock of valid documents (t2.valid_stock), with last year's data from a workbook,
a consolidated workbook (per agency from 明细), a folder or a campaign."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from xlsxgov import spec as spec_mod
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.init import init_campaign
from xlsxgov.campaign.roster import uscc_check_char
from xlsxgov.consolidate import DETAIL_SHEET, consolidate_files
from xlsxgov.crossyear import PreviousError, cross_year_findings, load_previous
from xlsxgov.feedback import ISSUES_SHEET
from xlsxgov.reader import read_workbook
from xlsxgov.review import review_files
from xlsxgov.template import Meta, write_workbook

XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))
REGION = "测试区"
G2021 = spec_mod.load("gov2021")
G2019 = spec_mod.load("gov2019")
COLS = ["natural", "business", "research", "ngo", "legal", "other_org"]


def code_for(i: int) -> str:
    body = f"11350100MB{i:07d}"
    return body + uscc_check_char(body)


def name_for(i: int) -> str:
    return f"测试区第{i}局"


def values(carried_in: dict | None = None, carried_over: dict | None = None, t2: dict | None = None) -> dict:
    """Inputs that satisfy every error rule: per column 一=10, 二=carried_in, （一）予以公开 takes the rest."""
    carried_in, carried_over = carried_in or {}, carried_over or {}
    out = {}
    for c in COLS:
        ci, co = carried_in.get(c, 0), carried_over.get(c, 0)
        out[("t3", "new", c)] = 10
        out[("t3", "carried_in", c)] = ci
        out[("t3", "carried_over", c)] = co
        out[("t3", "disclosed", c)] = 10 + ci - co
    for (row, col), v in (t2 or {}).items():
        out[("t2", row, col)] = v
    return out


def agency(path: Path, i: int, vals: dict, *, year: int, spec=G2021, name: str | None = None, code: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = Meta(year=year, agency=name if name is not None else name_for(i), code=code if code is not None else code_for(i), region=REGION)
    return write_workbook(path, spec, meta, values=vals)


def by_rule(findings, rule: str) -> list:
    return [f for f in findings if f.rule == rule]


LAST = {"natural": 2, "business": 1}  # last year's 结转下年度继续办理


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Agency 1 in 2023 and 2024; in 2024 its 商业企业 上年结转 says 4 where 2023 carried over 1."""
    d = tmp_path_factory.mktemp("pair")
    prev = agency(d / "2023" / "第1局.xlsx", 1, values(carried_over=LAST), year=2023)
    cur = agency(d / "2024" / "第1局.xlsx", 1, values(carried_in={"natural": 2, "business": 4}), year=2024)
    return d, prev, cur


def test_carry_over_mismatch_reported_at_agency_column_and_cell(pair):
    _, prev_path, cur_path = pair
    (report,) = review_files([cur_path], previous=prev_path)
    assert report.status == "valid"  # a warning, not an error
    found = by_rule(report.findings, "t3.carry_over")
    assert {f.cells[0] for f in found} == {("t3", "carried_in", "business"), ("t3", "carried_in", "total")}
    f = next(f for f in found if f.cells[0][2] == "business")
    cur, prev = read_workbook(cur_path), read_workbook(prev_path)
    t3 = G2021.table("t3")
    assert f.severity == "warning"
    assert (f.sheet, f.cell) == cur.where[("t3", "carried_in", "business")] and f.sheet == t3.sheet
    prev_cell = prev.where[("t3", "carried_over", "business")][1]
    for part in (name_for(1), "表三", "二、上年结转政府信息公开申请数量", "商业企业", "本年填报4", "2023年",
                 "四、结转下年度继续办理", "为1", f"第1局.xlsx：{t3.sheet}!{prev_cell}"):
        assert part in f.message, (part, f.message)
    total = next(f for f in found if f.cells[0][2] == "total")
    assert "本年填报6" in total.message and "为3" in total.message


def test_matching_columns_give_no_carry_over_warning(pair, tmp_path):
    _, prev_path, _ = pair
    cur = agency(tmp_path / "ok.xlsx", 1, values(carried_in=LAST), year=2024)
    (report,) = review_files([cur], previous=prev_path)
    assert by_rule(report.findings, "t3.carry_over") == []


def test_cli_validate_previous_json_and_feedback(pair, tmp_path):
    _, prev_path, cur_path = pair
    fb = tmp_path / "fb"
    p = subprocess.run([XLSXGOV, "validate", str(cur_path), "--previous", str(prev_path), "--json", "--feedback", str(fb)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    (entry,) = json.loads(p.stdout)["files"]
    found = [f for f in entry["findings"] if f["rule"] == "t3.carry_over"]
    cell = read_workbook(cur_path).where[("t3", "carried_in", "business")][1]
    f = next(f for f in found if f["cell"] == cell)
    assert f["severity"] == "warning" and f["sheet"] == G2021.table("t3").sheet
    assert name_for(1) in f["message"] and "商业企业" in f["message"] and "本年填报4" in f["message"] and "为1" in f["message"]
    # the feedback workbook lists it and marks the cell
    (book,) = fb.glob("*.xlsx")
    wb = openpyxl.load_workbook(book)
    assert any(row[5] == "t3.carry_over" and row[3] == cell for row in wb[ISSUES_SHEET].iter_rows(min_row=2, values_only=True))
    assert wb[G2021.table("t3").sheet][cell].comment is not None


def test_match_by_code_then_by_name(pair, tmp_path):
    _, prev_path, _ = pair
    # renamed agency, same code: matched by code
    renamed = agency(tmp_path / "renamed.xlsx", 1, values(carried_in={"natural": 5}), year=2024, name="测试区新名称局")
    (report,) = review_files([renamed], previous=prev_path)
    assert {f.cells[0][2] for f in by_rule(report.findings, "t3.carry_over") if f.severity == "warning"} == {"natural", "business", "total"}
    # no code on the cover, the name written with full-width spaces: matched by name
    noname = agency(tmp_path / "nocode.xlsx", 1, values(carried_in={"natural": 5}), year=2024, name="测试区　第1局", code="")
    (report,) = review_files([noname], previous=prev_path)
    assert any(f.severity == "warning" for f in by_rule(report.findings, "t3.carry_over"))
    # someone else: one info finding saying there is no last-year data, not silence
    other = agency(tmp_path / "other.xlsx", 9, values(), year=2024)
    (report,) = review_files([other], previous=prev_path)
    (f,) = by_rule(report.findings, "t3.carry_over")
    assert f.severity == "info" and name_for(9) in f.message and "没有该单位" in f.message


def test_gov2019_last_year_maps_to_gov2021(tmp_path):
    prev_vals = values(carried_over={"research": 3, "ngo": 2}, t2={("regulations", "new_made"): 4, ("regulations", "total_published"): 40})
    prev_path = agency(tmp_path / "2020.xlsx", 1, prev_vals, year=2020, spec=G2019)
    cur_vals = values(carried_in={"research": 3, "ngo": 1}, t2={("regulations", "issued"): 2, ("regulations", "valid"): 7})
    cur_path = agency(tmp_path / "2021.xlsx", 1, cur_vals, year=2021)
    (report,) = review_files([cur_path], previous=prev_path)
    carry = [f for f in by_rule(report.findings, "t3.carry_over") if f.severity == "warning"]
    assert {f.cells[0][2] for f in carry} == {"ngo", "total"}
    f = next(f for f in carry if f.cells[0][2] == "ngo")
    assert "社会公益组织" in f.message and "本年填报1" in f.message and "为2" in f.message and "2020年" in f.message
    # gov2019 has no 现行有效件数 (对外公开总数量 is another notion): valid_stock skipped, and said so
    (stock,) = by_rule(report.findings, "t2.valid_stock")
    assert stock.severity == "info" and stock.cell == "" and "现行有效件数" in stock.message and "2019年版" in stock.message


def test_valid_stock_fires_when_broken_not_when_satisfied(tmp_path):
    prev = agency(tmp_path / "2023.xlsx", 1, values(t2={("regulations", "valid"): 10, ("normative_docs", "valid"): 20}), year=2023)
    t2 = {
        ("regulations", "issued"): 3, ("regulations", "repealed"): 1, ("regulations", "valid"): 12,  # 10 + 3 − 1
        ("normative_docs", "issued"): 5, ("normative_docs", "repealed"): 2, ("normative_docs", "valid"): 26,  # ≠ 23
    }
    cur_path = agency(tmp_path / "2024.xlsx", 1, values(t2=t2), year=2024)
    (report,) = review_files([cur_path], previous=prev)
    assert report.status == "valid"
    (f,) = by_rule(report.findings, "t2.valid_stock")
    cur, last = read_workbook(cur_path), read_workbook(prev)
    assert f.severity == "info" and f.cells == (("t2", "normative_docs", "valid"),)
    assert (f.sheet, f.cell) == cur.where[("t2", "normative_docs", "valid")]
    for part in ("行政规范性文件", "现行有效件数", "本年填报26", "20", "应为23", last.where[("t2", "normative_docs", "valid")][1]):
        assert part in f.message
    # satisfied in both rows: nothing
    t2[("normative_docs", "valid")] = 23
    ok = agency(tmp_path / "2024ok.xlsx", 1, values(t2=t2), year=2024)
    (report,) = review_files([ok], previous=prev)
    assert by_rule(report.findings, "t2.valid_stock") == []


@pytest.fixture(scope="module")
def last_year(tmp_path_factory):
    """Agencies 1–3 in 2023, their consolidation, and their 2024 files (agency 2 carries in too much)."""
    d = tmp_path_factory.mktemp("lastyear")
    over = {1: {"natural": 2}, 2: {"legal": 3, "other_org": 1}, 3: {}}
    files23 = [agency(d / "2023" / f"第{i}局.xlsx", i, values(carried_over=over[i]), year=2023) for i in (1, 2, 3)]
    cons = consolidate_files(files23, d / "2023汇总.xlsx", region=REGION).path
    into = {1: {"natural": 2}, 2: {"legal": 5, "other_org": 1}, 3: {}}
    files24 = [agency(d / "2024" / f"第{i}局.xlsx", i, values(carried_in=into[i]), year=2024) for i in (1, 2, 3)]
    return d, files23, cons, files24


def test_previous_consolidated_workbook_per_agency_from_detail(last_year):
    d, _, cons, files24 = last_year
    prev = load_previous(cons)
    assert prev.kind == "consolidated" and [a.name for a in prev.agencies] == [name_for(i) for i in (1, 2, 3)]
    assert prev.total is not None and prev.total.values[("t3", "carried_over", "legal")] == 3
    reports = review_files(files24, previous=prev)
    warnings = {(r.submission.agency, f.cells[0][2]): f for r in reports for f in r.findings if f.rule == "t3.carry_over"}
    assert set(warnings) == {(name_for(2), "legal"), (name_for(2), "total")}
    f = warnings[(name_for(2), "legal")]
    assert (f.sheet, f.cell) == read_workbook(files24[1]).where[("t3", "carried_in", "legal")]
    assert "本年填报5" in f.message and "为3" in f.message and "法律服务机构" in f.message
    # last year's cell is the agency's 明细 cell, and it really holds 3
    ref = f.message.split(f"{DETAIL_SHEET}!")[1].split("）")[0]
    detail = CalamineWorkbook.from_path(str(cons)).get_sheet_by_name(DETAIL_SHEET).to_python()
    col = openpyxl.utils.column_index_from_string("".join(ch for ch in ref if ch.isalpha())) - 1
    row = int("".join(ch for ch in ref if ch.isdigit())) - 1
    assert detail[row][1] == name_for(2) and detail[row][col] == 3


def test_consolidate_with_previous_reports_agencies_and_totals(last_year, tmp_path):
    d, _, cons, files24 = last_year
    result = consolidate_files(files24, tmp_path / "2024汇总.xlsx", region=REGION, previous=cons)
    warnings = [f for f in result.cross_year if f.severity == "warning"]
    per_agency = [f for f in warnings if name_for(2) in f.message]
    assert {f.cells[0][2] for f in per_agency} == {"legal", "total"}
    totals = [f for f in warnings if f"{REGION}（汇总）" in f.message]
    assert {f.cells[0][2] for f in totals} == {"legal", "total"}
    written = read_workbook(result.path)
    legal = next(f for f in totals if f.cells[0][2] == "legal")
    assert (legal.sheet, legal.cell) == written.where[("t3", "carried_in", "legal")]
    assert "本年汇总5" in legal.message and "为3" in legal.message and "汇总表" in legal.message
    # before everyone has reported: compared with last year's same agencies, not the whole region
    # (a second trial); agency 1 alone carried 2 natural-person requests over last year
    part = consolidate_files(files24[1:], tmp_path / "部分.xlsx", region=REGION, previous=cons)
    region_level = [f for f in part.cross_year if f.severity == "warning" and f"{REGION}（汇总）" in f.message]
    assert {f.cells[0][2] for f in region_level} == {"legal", "total"}
    assert all("上年同一批单位（2 个）合计" in f.message for f in region_level), region_level
    # the CLI shows them
    p = subprocess.run([XLSXGOV, "consolidate", *map(str, files24), "-o", str(tmp_path / "cli.xlsx"), "--region", REGION,
                        "--previous", str(cons)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "跨年度校验" in p.stdout and "t3.carry_over" in p.stdout and name_for(2) in p.stdout


def test_previous_directory_of_workbooks(last_year):
    d, _, _, files24 = last_year
    prev = load_previous(d / "2023")
    assert prev.kind == "directory" and len(prev.agencies) == 3 and prev.total is None
    reports = review_files(files24, previous=prev)
    assert {(r.submission.agency, f.cells[0][2]) for r in reports for f in r.findings if f.rule == "t3.carry_over"} == {
        (name_for(2), "legal"), (name_for(2), "total")}


def test_previous_campaign_directory(last_year, tmp_path):
    d, files23, _, files24 = last_year
    roster = tmp_path / "roster.csv"
    lines = ["单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱"]
    lines += [f"{name_for(i)},{code_for(i)},{REGION},联系人{i},a{i}@example.com" for i in (1, 2, 3, 4)]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    camp = tmp_path / "2023任务"
    init_campaign(camp, year=2023, roster_path=roster, region=REGION)
    result = import_paths(camp, list(files23))
    assert sorted(f.outcome for f in result.files) == ["valid"] * 3
    prev = load_previous(camp)
    assert prev.kind == "campaign" and len(prev.agencies) == 3
    assert prev.total is not None and prev.total.values[("t3", "carried_over", "legal")] == 3
    f4 = agency(tmp_path / "第4局.xlsx", 4, values(carried_in={"natural": 1}), year=2024)
    reports = review_files([*files24, f4], previous=camp)
    found = {(r.submission.agency, f.severity, f.cells[0][2] if f.cells else "") for r in reports for f in r.findings if f.rule == "t3.carry_over"}
    assert found == {(name_for(2), "warning", "legal"), (name_for(2), "warning", "total"), (name_for(4), "info", "")}
    # last year's file is named as its agency sent it, never by its archive hash (a second trial)
    messages = [f.message for r in reports for f in r.findings if f.rule == "t3.carry_over" and f.severity == "warning"]
    sent = {Path(f).name for f in files23}
    assert messages and all("archive/" not in m and any(n in m for n in sent) for m in messages), messages
    # consolidating this year against last year's campaign also checks the totals
    res = consolidate_files(files24, tmp_path / "2024.xlsx", region=REGION, previous=camp)
    assert {f.cells[0][2] for f in res.cross_year if f.severity == "warning" and "各单位合计" in f.message} == {"legal", "total"}
    # this year's campaign consolidated by the CLI against last year's campaign
    now = tmp_path / "2024任务"
    init_campaign(now, year=2024, roster_path=roster, region=REGION)
    import_paths(now, list(files24))
    p = subprocess.run([XLSXGOV, "consolidate", str(now), "-o", str(tmp_path / "cli.xlsx"), "--previous", str(camp)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    flat = "".join(p.stdout.split())  # lines break at 80 columns wherever a long temp path puts them
    assert "跨年度校验" in flat and "警告4项" in flat and "各单位合计" in flat and name_for(2) in flat


def test_corrupt_previous_gives_a_clean_error(pair, tmp_path):
    _, _, cur_path = pair
    bad = tmp_path / "上年报表.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not a workbook")
    with pytest.raises(PreviousError) as exc:
        load_previous(bad)
    assert "上年报表.xlsx" in str(exc.value) and "无法读取" in str(exc.value)
    with pytest.raises(PreviousError) as exc:
        load_previous(tmp_path / "不存在.xlsx")
    assert "不存在.xlsx" in str(exc.value)
    p = subprocess.run([XLSXGOV, "validate", str(cur_path), "--previous", str(bad), "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "上年报表.xlsx" in p.stderr and p.stdout == ""
    p = subprocess.run([XLSXGOV, "consolidate", str(cur_path), "-o", str(tmp_path / "o.xlsx"), "--previous", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "上年报表.xlsx" in p.stderr
    assert not (tmp_path / "o.xlsx").exists()
    # in a folder, a broken file is named and the others are still used
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "坏文件.xlsx").write_bytes(b"garbage")
    agency(folder / "第1局.xlsx", 1, values(carried_over=LAST), year=2023)
    prev = load_previous(folder)
    assert len(prev.agencies) == 1 and any("坏文件.xlsx" in x for x in prev.problems)


def test_legacy_and_wrong_year_are_noted_not_checked(pair, tmp_path):
    _, _, cur_path = pair
    cur = read_workbook(cur_path)
    legacy = spec_mod.load("legacy2008")
    old = load_previous(write_workbook(tmp_path / "2018.xlsx", legacy, Meta(year=2018, agency=name_for(1), code=code_for(1)), values={}))
    (f,) = cross_year_findings(cur, old)
    assert f.severity == "info" and "不做跨年度校验" in f.message
    far = load_previous(agency(tmp_path / "2021.xlsx", 1, values(carried_over=LAST), year=2021))
    (f,) = cross_year_findings(cur, far)
    assert f.severity == "info" and "2021年" in f.message and "未做跨年度校验" in f.message
