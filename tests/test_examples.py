"""examples/: the walkthrough's commands run as written and give the committed result (issue #9, 16)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import openpyxl

from xlsxgov.reader import read_workbook
from xlsxgov.validate import validate_paths

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXE = str(Path(sys.executable).with_name("xlsxgov"))


def _build_module():
    spec = importlib.util.spec_from_file_location("examples_build", EXAMPLES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_replies_are_what_the_table_says():
    by_name = {r.path.name: r for r in validate_paths(sorted((EXAMPLES / "回复").glob("*.xlsx")))}
    assert by_name["示例县教育局2025年统计表.xlsx"].status == "valid"
    balance = by_name["公安局政务公开年报表（2025）.xlsx"]
    assert balance.status == "invalid" and {f.rule for f in balance.findings if f.severity == "error"} == {"t3.balance"}
    messy = by_name["城关镇2025年度报表.xlsx"]
    assert messy.status == "valid"
    raw = {str(f.raw) for f in messy.submission.facts()}
    assert "无" in raw and any("件" in r for r in raw)  # really typed the messy way


def test_walkthrough_runs_and_gives_the_committed_result(tmp_path):
    build = _build_module()
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("__pycache__", "任务", "我的汇总.*", "各单位数据.*"))
    results = build.run_walkthrough(folder, exe=EXE)
    assert len(results) >= 10
    for expected, r in results:
        assert r.returncode == expected, f"{' '.join(r.args[1:])}\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr
    mine, committed = read_workbook(folder / "我的汇总.xlsx"), read_workbook(EXAMPLES / "汇总结果.xlsx")
    assert mine.values == committed.values and mine.meta.get("consolidates") == committed.meta.get("consolidates")
    # Agencies with errors or nothing sent are listed, by name, on 未报送.
    left = [str(c.value) for row in openpyxl.load_workbook(folder / "我的汇总.xlsx")["未报送"].iter_rows() for c in row if c.value]
    assert any("示例县公安局" in v for v in left) and any("示例县民政局" in v for v in left)
    # The reminders went to the two agencies that need action.
    assert len(list((folder / "任务" / "reminders" / "1").glob("*.eml"))) == 2
    # The export keeps the codes as text.
    sheet = openpyxl.load_workbook(folder / "各单位数据.xlsx").active
    header = [c.value for c in sheet[1]]
    codes = [row[header.index("code")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes and all(isinstance(c, str) and len(c) == 18 for c in codes)
