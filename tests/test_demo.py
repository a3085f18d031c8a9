"""``xlsxgov demo`` run for real (14 agencies, enough for every role in the demo's script): every
output exists and they agree with each other and with the ledger."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from xlsxgov import office
from xlsxgov import vocab
from xlsxgov.campaign import status as status_mod
from xlsxgov.compute import key, to_display
from xlsxgov.consolidate import MISSING_SHEET
from xlsxgov.demo import DEPARTMENTS, role
from xlsxgov.reader import read_workbook
from xlsxgov.validate import validate_paths

XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))
N = 14
REGION = "示例县"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo") / "demo"
    proc = subprocess.run([XLSXGOV, "demo", str(d), "--agencies", str(N)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return d, "".join(proc.stdout.split())


def names(roles: set[str]) -> list[str]:
    return [f"{REGION}{DEPARTMENTS[i]}" for i in range(N) if role(i) in roles]


def test_outputs_exist_and_are_named(demo):
    d, out = demo
    campaign = d / "campaign"
    expected = [
        d / "名册.xlsx", d / "output" / "报送进度.xlsx",
        d / "output" / f"{REGION}2025年政府信息公开工作年度报告统计表（汇总）.xlsx",
        d / "output" / f"{REGION}2025年政府信息公开工作年度报告统计表.html", d / "output" / "各单位数据.csv",
    ]
    for path in expected:
        assert path.is_file(), path
        assert "".join(str(path).split()) in out, path  # the summary says where each output is
    assert (campaign / "ledger.sqlite").is_file() and str(campaign) in out
    assert len(list((campaign / "outbox").glob("*.xlsx"))) == N and len(list((campaign / "outbox").glob("*.eml"))) == N
    assert "演示完成" in out and "合格8，有错误3，无法读取1，未报送2" in out


def test_status_matches_the_script(demo):
    d, _ = demo
    status = status_mod.campaign_status(d / "campaign")
    assert status["totals"] == {"valid": 8, "invalid": 3, "unreadable": 1, "missing": 2}
    by_name = {a["name"]: a for a in status["agencies"]}
    assert {n for n, a in by_name.items() if a["status"] == "invalid"} == set(names({"typed_total", "text", "balance_eml"}))
    assert {n for n, a in by_name.items() if a["status"] == "missing"} == set(names({"silent"}))
    assert {n for n, a in by_name.items() if a["status"] == "unreadable"} == set(names({"broken"}))
    # the agency that fixed its file: two received, the correction is current
    (fixed,) = names({"balance_fixed"})
    assert by_name[fixed]["status"] == "valid" and by_name[fixed]["received"] == 2
    # the status workbook says the same
    grid = CalamineWorkbook.from_path(str(d / "output" / "报送进度.xlsx")).get_sheet_by_name("报送进度").to_python()
    rows = [r for r in grid[1:] if len(r) > 2 and r[1] in by_name]  # under the totals: name B, status C
    assert [r[2] for r in rows] == [vocab.STATUS_LABELS[by_name[r[1]]["status"]] for r in rows] and len(rows) == N


def test_replies_came_as_files_mail_and_xls(demo):
    d, _ = demo
    campaign = d / "campaign"
    emls = list((campaign / "inbox").glob("*.eml"))
    assert len(emls) == len(names({"eml", "balance_eml"})) >= 1
    msg = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert next(msg.iter_attachments()).get_filename().endswith(".xlsx")
    if office.soffice_path():
        assert list((campaign / "archive").glob("*.xls"))
    assert list((campaign / "feedback").glob("*.xlsx"))


def test_consolidated_workbook_is_coherent(demo):
    d, _ = demo
    path = d / "output" / f"{REGION}2025年政府信息公开工作年度报告统计表（汇总）.xlsx"
    (report,) = validate_paths([path])
    assert report.status == "valid", [f.message for f in report.findings if f.severity == "error"]
    total = read_workbook(path)
    assert total.meta["consolidates"] == "8" and total.agency == f"{REGION}（汇总）" and total.year == 2025
    listed = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(MISSING_SHEET).to_python()[1:]
    assert sorted(r[1] for r in listed) == sorted(names({"silent", "broken", "typed_total", "text", "balance_eml"}))
    # the consolidated numbers are the sums of the valid agencies' facts in the exported CSV
    facts = pd.read_csv(d / "output" / "各单位数据.csv")
    assert set(facts["status"]) == {"valid", "invalid"} and facts["agency"].nunique() == 11
    valid = facts[facts["status"] == "valid"]
    sums = valid.assign(value=valid["value"].astype(float)).groupby(["table", "row", "col"])["value"].sum()
    for cell in total.spec.cells():
        assert sums[key(cell)] == pytest.approx(to_display(cell, total.values[key(cell)]), abs=1e-6), key(cell)
    # 24850元 typed into the 万元 cell counted as 2.485
    (yuan,) = names({"yuan"})
    fee = facts[(facts["agency"] == yuan) & (facts["row"] == "admin_fees")]["value"].astype(float)
    assert list(fee) == [2.485]


def test_html_has_the_tables(demo):
    d, _ = demo
    html = (d / "output" / f"{REGION}2025年政府信息公开工作年度报告统计表.html").read_text(encoding="utf-8")
    assert f"{REGION}2025年政府信息公开工作年度报告（汇总）" in html
    for label in ("主动公开政府信息情况", "收到和处理政府信息公开申请情况", "予以公开", "行政复议"):
        assert label in html


def test_demo_folder_is_rebuilt_but_other_folders_are_left_alone(tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    proc = subprocess.run([XLSXGOV, "demo", str(other), "--agencies", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "不会清空" in "".join(proc.stderr.split())
    assert (other / "keep.txt").exists()
    d = tmp_path / "demo"
    for _ in range(2):  # the second run replaces the first
        proc = subprocess.run([XLSXGOV, "demo", str(d), "--agencies", "1"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr + proc.stdout
    assert status_mod.campaign_status(d / "campaign")["totals"]["valid"] == 1
