"""Consolidating a real campaign: roster → issue → replies imported into the ledger → the
regional workbook of the accepted submissions, with the roster's missing agencies listed."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from xlsxgov import spec as spec_mod
from xlsxgov.campaign import status as status_mod
from xlsxgov.campaign import store as store_mod
from xlsxgov.campaign.importer import import_paths
from xlsxgov.campaign.init import init_campaign
from xlsxgov.campaign.issue import issue_templates
from xlsxgov.campaign.roster import uscc_check_char
from xlsxgov.consolidate import DETAIL_SHEET, MISSING_SHEET, ConsolidationError, consolidate_campaign, consolidate_files
from xlsxgov.reader import read_workbook
from xlsxgov.template import Meta, write_workbook
from xlsxgov.validate import validate_paths

sys.path.insert(0, str(Path(__file__).parent))
from test_consolidate import expected_sums as sums  # noqa: E402
from test_consolidate import random_inputs  # noqa: E402

XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))
YEAR = 2024
REGION = "某某市"


def code_for(i: int) -> str:
    body = f"11350100MB{i:07d}"
    return body + uscc_check_char(body)


NAMES = [f"某某市第{i}局" for i in range(7)]
CODES = [code_for(i) for i in range(7)]


def write_roster(path: Path, names=NAMES, codes=CODES) -> Path:
    lines = ["单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱"]
    lines += [f"{n},{c},{REGION},联系人{i},a{i}@example.com" for i, (n, c) in enumerate(zip(names, codes))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def reply(path: Path, spec, i: int, values: dict, *, name: str | None = None, mtime: float | None = None) -> Path:
    """An agency's filled workbook, written with the agency's cover fields."""
    write_workbook(path, spec, Meta(year=YEAR, agency=name or NAMES[i], code=CODES[i], region=REGION), values=values)
    if mtime is not None:
        os.utime(path, (mtime, mtime))  # the ledger orders submissions by received time (mtime)
    return path


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """Seven agencies: 0-2 valid (0 after first sending a wrong one, 2 with a name on its cover
    that differs from the roster's), 3 invalid, 4 sent a corrupt file, 5 and 6 never replied."""
    spec = spec_mod.load("gov2021")
    rng = random.Random(7)
    tmp = tmp_path_factory.mktemp("campaign")
    d = tmp / "c"
    init_campaign(d, year=YEAR, roster_path=write_roster(tmp / "roster.csv"), region=REGION)
    issue_templates(d)
    inbox = d / "inbox"
    inputs = {i: random_inputs(spec, rng) for i in range(4)}
    bad = dict(inputs[3])
    bad[("t3", "carried_over", "natural")] += 5  # breaks t3.balance
    first = dict(inputs[0])
    first[("t3", "new", "business")] += 1
    now = time.time()
    reply(inbox / "第0局_初稿.xlsx", spec, 0, first, mtime=now - 100)
    reply(inbox / "第0局_修改稿.xlsx", spec, 0, inputs[0], mtime=now - 50)
    reply(inbox / "第1局.xlsx", spec, 1, inputs[1])
    reply(inbox / "报表.xlsx", spec, 2, inputs[2], name="第二局")  # identified by its code
    reply(inbox / "第3局.xlsx", spec, 3, bad)
    (inbox / f"{CODES[4]}_第4局.xlsx").write_bytes(b"PK\x03\x04 truncated")
    result = import_paths(d)
    assert sorted(f.outcome for f in result.files) == ["invalid", "invalid", "unreadable", "valid", "valid", "valid"]
    status = status_mod.campaign_status(d)
    assert status["totals"] == {"valid": 3, "invalid": 1, "missing": 2, "unreadable": 1}
    return spec, d, inputs, bad


def missing_rows(path: Path) -> list[list]:
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(MISSING_SHEET).to_python()
    return grid[1:]


def test_sums_of_accepted_submissions(campaign, tmp_path):
    spec, d, inputs, _ = campaign
    result = consolidate_campaign(d, tmp_path / "city.xlsx")
    got = read_workbook(result.path)
    assert got.values == sums(spec, [inputs[0], inputs[1], inputs[2]])  # 0's corrected version only
    # region and year come from the campaign
    assert result.region == REGION and result.year == YEAR
    assert got.agency == f"{REGION}（汇总）" and got.year == YEAR and got.meta["consolidates"] == "3"
    (report,) = validate_paths([result.path])
    assert report.status == "valid", [f.message for f in report.findings if f.severity == "error"]
    # 明细: the roster's names and codes, also for the file whose cover has another name
    detail = CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name(DETAIL_SHEET).to_python()
    assert [(r[1], r[2], r[3]) for r in detail[2:]] == [(NAMES[i], CODES[i], "合格") for i in range(3)]
    # ... and each file by the name the agency sent it under, never the archive's hash (#9 point 7)
    assert [r[5] for r in detail[2:]] == ["第0局_修改稿.xlsx", "第1局.xlsx", "报表.xlsx"]


def test_missing_lists_exactly_the_agencies_not_included(campaign, tmp_path):
    spec, d, _, _ = campaign
    result = consolidate_campaign(d, tmp_path / "city.xlsx")
    assert [(m.name, m.code) for m in result.missing] == [(NAMES[5], CODES[5]), (NAMES[6], CODES[6])]
    assert [(x.name, x.status) for x in result.left_out] == [(NAMES[3], "invalid"), (NAMES[4], "unreadable")]
    assert "第一项" in result.left_out[0].reason  # the balance rule's message
    rows = missing_rows(result.path)
    # each roster agency not included is listed once, with its situation
    assert sorted((r[1], r[3]) for r in rows) == sorted(
        [(NAMES[5], "未报送"), (NAMES[6], "未报送"), (NAMES[3], "有错误，未汇总"), (NAMES[4], "无法读取")]
    )
    cover = " ".join(str(v) for row in CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name("封面").to_python() for v in row)
    assert "应报 7 个单位，未报送或未通过 4 个" in cover


def test_include_invalid(campaign, tmp_path):
    spec, d, inputs, bad = campaign
    result = consolidate_campaign(d, tmp_path / "city.xlsx", include_invalid=True, region="另一个名称")
    assert read_workbook(result.path).values == sums(spec, [inputs[0], inputs[1], inputs[2], bad])
    assert [(x.name, x.status) for x in result.left_out] == [(NAMES[4], "unreadable")]
    assert [m.name for m in result.missing] == [NAMES[5], NAMES[6]]
    assert result.region == "另一个名称"
    detail = CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name(DETAIL_SHEET).to_python()
    assert [r[3] for r in detail[2:]] == ["合格", "合格", "合格", "有错误"]


def test_a_report_the_reviewer_returned_is_not_consolidated(campaign, tmp_path):
    """Found by a new user's trial: a report the portal's reviewer sent back (退回修改) was
    consolidated as 合格. It is left out with the comment; with --include-invalid it is added up
    and shown as 退回修改 in 明细."""
    import shutil
    import sqlite3

    from xlsxgov.campaign import portal

    spec, d, inputs, bad = campaign
    copy = tmp_path / "c"
    shutil.copytree(d, copy)
    conn = sqlite3.connect(copy / "ledger.sqlite", isolation_level=None)
    conn.row_factory = sqlite3.Row
    (sid,) = conn.execute("SELECT id FROM submissions WHERE code=? AND superseded_by IS NULL", (CODES[1],)).fetchone()
    portal.review(conn, sid, portal.REVIEW_RETURNED, "行政许可数量与上年差异过大，请核实", "审核员", "127.0.0.1")
    conn.close()
    result = consolidate_campaign(copy, tmp_path / "r.xlsx")
    assert read_workbook(result.path).values == sums(spec, [inputs[0], inputs[2]])
    returned = [x for x in result.left_out if x.status == "returned"]
    assert [x.name for x in returned] == [NAMES[1]] and "请核实" in returned[0].reason
    assert any(r[1] == NAMES[1] and r[3] == "退回修改，未汇总" for r in missing_rows(result.path))
    both = consolidate_campaign(copy, tmp_path / "r2.xlsx", include_invalid=True)
    assert read_workbook(both.path).values == sums(spec, [inputs[0], inputs[1], inputs[2], bad])
    detail = CalamineWorkbook.from_path(str(both.path)).get_sheet_by_name(DETAIL_SHEET).to_python()
    assert [r[3] for r in detail[2:]] == ["合格", "退回修改", "合格", "有错误"]
    assert any("审核退回" in w for w in both.warnings)


def test_county_consolidation_counts_as_one_submission(campaign, tmp_path):
    """A county's consolidated workbook imported into a city campaign: one submission standing for
    its agencies; the city's totals are the sums over every agency below."""
    spec, _, inputs, _ = campaign
    rng = random.Random(11)
    county_inputs = [random_inputs(spec, rng) for _ in range(3)]
    files = [write_workbook(tmp_path / f"k{i}.xlsx", spec, Meta(year=YEAR, agency=f"乙县第{i}局", code=code_for(30 + i), region="乙县"), values=v) for i, v in enumerate(county_inputs)]
    county = consolidate_files(files, tmp_path / "乙县_汇总表.xlsx", region="乙县", year=YEAR).path
    city = tmp_path / "city"
    names, codes = ["甲局", "乙县"], [code_for(20), code_for(21)]
    init_campaign(city, year=YEAR, roster_path=write_roster(tmp_path / "r.csv", names, codes), region="某市")
    agency = write_workbook(city / "inbox" / "甲局.xlsx", spec, Meta(year=YEAR, agency="甲局", code=codes[0], region="某市"), values=inputs[1])
    assert agency.exists()
    county.rename(city / "inbox" / county.name)  # identified by the county's name in the file name
    assert import_paths(city).count("valid") == 2
    result = consolidate_campaign(city, tmp_path / "city.xlsx")
    assert result.consolidates == 4 and not result.missing
    assert read_workbook(result.path).values == sums(spec, [inputs[1], *county_inputs])


def test_nothing_to_consolidate(tmp_path):
    d = tmp_path / "c"
    init_campaign(d, year=YEAR, roster_path=write_roster(tmp_path / "r.csv"), region=REGION)
    with pytest.raises(ConsolidationError, match="还没有可汇总的报表"):
        consolidate_campaign(d, tmp_path / "x.xlsx")


def test_cli_dispatches_on_a_campaign_folder(campaign, tmp_path):
    spec, d, inputs, bad = campaign
    out = tmp_path / "out.xlsx"
    proc = subprocess.run([XLSXGOV, "consolidate", str(d), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    flat = "".join(proc.stdout.split())
    assert "已汇总3份报表" in flat and NAMES[5] in flat and NAMES[6] in flat and NAMES[3] in flat
    assert read_workbook(out).values == sums(spec, [inputs[0], inputs[1], inputs[2]])

    proc = subprocess.run([XLSXGOV, "consolidate", str(d), "-o", str(out), "--include-invalid"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert read_workbook(out).values == sums(spec, [inputs[0], inputs[1], inputs[2], bad])

    # a folder that is neither a campaign nor holds workbooks, and --year with a campaign, are
    # refused with a message (a folder of workbooks stands for them: test_consolidate.py)
    (tmp_path / "空").mkdir()
    proc = subprocess.run([XLSXGOV, "consolidate", str(tmp_path / "空"), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "不是报送任务目录" in "".join(proc.stderr.split())
    proc = subprocess.run([XLSXGOV, "consolidate", str(d), "-o", str(out), "--year", "2023"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--year" in proc.stderr


def test_submissions_are_rebuilt_from_the_ledger_exactly(campaign):
    """The ledger keeps each submission's facts, cells and cover: rebuilt, it equals the file."""
    spec, d, _, _ = campaign
    rebuilt = store_mod.current_submissions(d, ("valid", "invalid"))
    assert [(a.code, status) for a, status, _ in rebuilt] == [(CODES[i], s) for i, s in enumerate(["valid"] * 3 + ["invalid"])]
    for _, _, sub in rebuilt:
        read = read_workbook(sub.path)
        assert sub.spec is read.spec and sub.inputs == read.inputs and sub.values == read.values
        assert not sub.raw  # rebuilt from the ledger, not read
        assert dict(sub.where) == read.where
        assert (sub.agency, sub.code, sub.year, sub.meta["region"]) == (read.agency, read.code, read.year, read.meta["region"])


def test_current_submissions_are_fetched_in_one_query(campaign):
    """However many agencies: the roster and one query for every current submission (inputs,
    cover, findings, file label), never one query per agency."""
    from xlsxgov.campaign.store import CampaignStore

    _, d, _, _ = campaign
    seen = []
    with CampaignStore.open(d) as store:
        for statuses in (("valid",), ("valid", "invalid")):
            statements: list[str] = []
            store.conn.set_trace_callback(statements.append)
            got = store.current_submissions(statuses)
            store.conn.set_trace_callback(None)
            seen.append((len(got), len(statements)))
    assert seen == [(3, 2), (4, 2)]


def test_ledger_without_recorded_inputs_is_rebuilt_from_its_facts(campaign, tmp_path):
    """A campaign imported by a version that recorded facts but not the inputs: its submissions
    are rebuilt from the facts (not read from the archive) and consolidate to the same workbook."""
    import shutil
    import sqlite3

    from xlsxgov.campaign.store import INPUTS_RECORDED

    spec, d, inputs, _ = campaign
    copy = tmp_path / "older"
    shutil.copytree(d, copy)
    conn = sqlite3.connect(copy / "ledger.sqlite")
    assert conn.execute("DELETE FROM submission_meta WHERE key=?", (INPUTS_RECORDED,)).rowcount == 5  # 4 current, 1 superseded draft
    conn.commit()
    conn.close()
    new = store_mod.current_submissions(d, ("valid", "invalid"))
    old = store_mod.current_submissions(copy, ("valid", "invalid"))
    assert len(old) == len(new) == 4
    for (a, status_a, sub_a), (b, status_b, sub_b) in zip(old, new):
        assert (a, status_a) == (b, status_b) and not sub_a.raw  # from the facts, not the file
        assert (sub_a.inputs, sub_a.bad_cells, sub_a.findings, sub_a.meta) == (sub_b.inputs, sub_b.bad_cells, sub_b.findings, sub_b.meta)
    before = consolidate_campaign(d, tmp_path / "new.xlsx")
    after = consolidate_campaign(copy, tmp_path / "old.xlsx")
    assert read_workbook(after.path).values == read_workbook(before.path).values == sums(spec, [inputs[0], inputs[1], inputs[2]])
    detail = [CalamineWorkbook.from_path(str(p)).get_sheet_by_name(DETAIL_SHEET).to_python() for p in (before.path, after.path)]
    assert detail[0] == detail[1]


def test_money_is_rebuilt_to_the_exact_fen(tmp_path):
    """Facts hold 万元 as the form prints them; rebuilt inputs are exact 分 again (gov2019 has money),
    including real published amounts 5949.088667 万元, 4166.241619 万元 and 75394432.52元."""
    spec = spec_mod.load("gov2019")
    d = tmp_path / "c"
    init_campaign(d, year=2020, roster_path=write_roster(tmp_path / "roster.csv", NAMES[:2], CODES[:2]), edition="gov2019")
    money = [c for c in spec.cells() if c.is_input and c.kind.value == "money"]
    amounts = [83877800, 2485000, 1, 99_999_999_999_999, 5949088667, 4166241619, 7539443252]
    for i in range(2):
        values = {("t2", *c.key): amounts[(i + j) % len(amounts)] for j, c in enumerate(money)}
        write_workbook(d / "inbox" / f"{i}.xlsx", spec, Meta(year=2020, agency=NAMES[i], code=CODES[i]), values=values)
    import_paths(d)
    rebuilt = store_mod.current_submissions(d, ("valid", "invalid"))
    assert len(rebuilt) == 2
    for _, _, sub in rebuilt:
        assert sub.inputs == read_workbook(sub.path).inputs
        assert {sub.inputs[("t2", *c.key)] for c in money} <= set(amounts)


def test_consolidation_does_not_read_the_archive_again(campaign, tmp_path):
    """Consolidating thousands of agencies must not re-read thousands of files: move the archive
    away and the regional workbook is still the same."""
    spec, d, inputs, _ = campaign
    before = consolidate_campaign(d, tmp_path / "with.xlsx")
    hidden = tmp_path / "archive-away"
    (d / "archive").rename(hidden)
    try:
        after = consolidate_campaign(d, tmp_path / "without.xlsx")
    finally:
        hidden.rename(d / "archive")
    assert read_workbook(after.path).values == read_workbook(before.path).values == sums(spec, [inputs[0], inputs[1], inputs[2]])


@pytest.mark.parametrize("change", [
    "DELETE FROM submission_meta",  # recorded by a version that kept no cover or metadata
    "UPDATE submission_meta SET value='0' WHERE key='spec_version'",  # facts recorded under another spec
])
def test_ledger_it_cannot_trust_falls_back_to_the_archive(campaign, tmp_path, change):
    import shutil
    import sqlite3

    spec, d, inputs, _ = campaign
    copy = tmp_path / "old"
    shutil.copytree(d, copy)
    conn = sqlite3.connect(copy / "ledger.sqlite")
    conn.execute(change)
    conn.commit()
    conn.close()
    rebuilt = store_mod.current_submissions(copy)
    assert all(sub.raw for _, _, sub in rebuilt), "read from the archived files (raw cell values present)"
    result = consolidate_campaign(copy, tmp_path / "city.xlsx")
    assert read_workbook(result.path).values == sums(spec, [inputs[0], inputs[1], inputs[2]])


def test_reply_in_another_edition_is_an_error_and_never_blocks_consolidation(tmp_path):
    """An agency that fills in last year's old (gov2019) template: its import says so, and the
    campaign still consolidates, listing it, even with --include-invalid."""
    spec = spec_mod.load("gov2021")
    d = tmp_path / "c"
    init_campaign(d, year=YEAR, roster_path=write_roster(tmp_path / "roster.csv", NAMES[:3], CODES[:3]), region=REGION)
    rng = random.Random(3)
    inputs = [random_inputs(spec, rng) for _ in range(2)]
    reply(d / "inbox" / "0.xlsx", spec, 0, inputs[0])
    reply(d / "inbox" / "1.xlsx", spec, 1, inputs[1])
    old = spec_mod.load("gov2019")
    write_workbook(d / "inbox" / "2.xlsx", old, Meta(year=YEAR, agency=NAMES[2], code=CODES[2], region=REGION), values={})
    result = import_paths(d)
    assert {f.code: f.outcome for f in result.files} == {CODES[0]: "valid", CODES[1]: "valid", CODES[2]: "invalid"}
    status = {a["code"]: a for a in status_mod.campaign_status(d)["agencies"]}
    assert status[CODES[2]]["status"] == "invalid" and status[CODES[2]]["errors"] >= 1
    ((agency, _, sub),) = store_mod.current_submissions(d, ("invalid",))
    assert agency.code == CODES[2] and "workbook.edition" in {f.rule for f in sub.findings}
    for include_invalid in (False, True):
        out = consolidate_campaign(d, tmp_path / f"city{include_invalid}.xlsx", include_invalid=include_invalid)
        assert CODES[2] not in {s.code for s in out.included}
        (left,) = [x for x in out.left_out if x.code == CODES[2]]
        assert left.status == "edition" and "表格版本不符" in left.reason and "2019" in left.reason


def test_submission_label_names_the_file_and_its_mail():
    from xlsxgov.campaign.ledger import submission_label

    assert submission_label("教育局.xlsx", "/srv/inbox/教育局.xlsx") == "“教育局.xlsx”"
    assert submission_label("教育局.xlsx", "/srv/inbox/08 回复.eml <abc@x> jyj@example.gov.cn") == (
        "“教育局.xlsx”（邮件 08 回复.eml，发件人 jyj@example.gov.cn）"
    )
    assert submission_label("a.xlsx", "/m/收件箱.mbox <id@x>", quoted=False) == "a.xlsx（邮件 收件箱.mbox）"
