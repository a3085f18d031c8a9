"""The ``xlsxgov validate`` and ``xlsxgov export`` commands, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from hostile_files import truncated_xlsx
from seeddata import load_seed
from xlsxgov import spec as spec_mod
from xlsxgov.compute import key
from xlsxgov.feedback import ISSUES_SHEET
from xlsxgov.layout import layout
from xlsxgov.reader import read_workbook
from xlsxgov.template import Meta, write_template

EXE = str(Path(sys.executable).with_name("xlsxgov"))
FACT_KEYS = {"table", "row", "col", "row_label", "col_label", "sheet", "cell", "value", "raw"}


def fill_seed(n: int, directory: Path) -> Path:
    sd = load_seed(n)
    s = spec_mod.load(sd.edition)
    path = directory / f"seed{n:03d}.xlsx"
    write_template(path, s, Meta(year=sd.year, agency=sd.agency, code="91350100M000100Y43"))
    wb = openpyxl.load_workbook(path)
    lay = layout(s)
    for cell in s.cells():
        p = lay[cell.table.id].place(cell)
        raw = sd.raw[key(cell)]
        wb[cell.table.sheet].cell(p.r + 1, p.c + 1).value = raw or None
    wb.save(path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    good = fill_seed(0, d)
    invalid = fill_seed(2, d)
    bad, _ = truncated_xlsx(d)
    return {"good": good, "invalid": invalid, "bad": bad, "dir": d}


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_json_with_unreadable_exits_2(files):
    p = run("validate", files["good"], files["bad"], "--json")
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    data = json.loads(p.stdout)
    by_status = {Path(f["path"]).name: f for f in data["files"]}
    good, bad = by_status[files["good"].name], by_status[files["bad"].name]
    assert good["status"] == "valid" and bad["status"] == "unreadable"
    assert bad["reason"] and "\n" not in bad["reason"] and bad["facts"] == []
    assert isinstance(good["findings"], list)
    assert good["facts"] and all(set(f) == FACT_KEYS for f in good["facts"])
    assert len(good["facts"]) == sum(1 for _ in spec_mod.load(good["edition"]).cells())
    assert all(set(f) >= {"severity", "rule", "sheet", "cell", "message"} for f in good["findings"])


def test_exit_codes(files):
    assert run("validate", files["good"]).returncode == 0
    p = run("validate", files["good"], files["invalid"], "--json")
    assert p.returncode == 1, p.stderr
    data = json.loads(p.stdout)
    inv = next(f for f in data["files"] if f["status"] == "invalid")
    assert {f["rule"] for f in inv["findings"] if f["severity"] == "error"} == {"t3.balance", "t3.results_total"}


def test_feedback_workbook(files, tmp_path):
    fb = tmp_path / "fb"
    p = run("validate", files["good"], files["invalid"], "--feedback", fb)
    assert p.returncode == 1, p.stderr
    made = sorted(fb.glob("*.xlsx"))
    assert len(made) == 1  # only the invalid file gets one
    agency = read_workbook(files["invalid"])
    wb = openpyxl.load_workbook(made[0])
    assert ISSUES_SHEET in wb.sheetnames
    rows = list(wb[ISSUES_SHEET].iter_rows(values_only=True))[1:]
    rules = {r[5] for r in rows}  # 规则编号: the last, narrow column
    assert {"t3.balance", "t3.results_total"} <= rules
    # every cell named by an error carries a comment
    s = agency.spec
    lay = layout(s)
    from xlsxgov.validate import validate_paths

    (rep,) = validate_paths([files["invalid"]])
    marked = {k for f in rep.findings if f.severity != "info" for k in f.cells}
    assert marked
    for k in marked:
        cell = s.table(k[0]).cell(k[1], k[2])
        pl = lay[k[0]].place(cell)
        assert wb[cell.table.sheet].cell(pl.r + 1, pl.c + 1).comment is not None, k
    back = read_workbook(made[0])
    assert back.inputs == agency.inputs
    assert back.agency == agency.agency and back.year == agency.year


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export(files, tmp_path, suffix):
    out = tmp_path / f"facts{suffix}"
    p = run("export", files["good"], files["invalid"], "-o", out)
    assert p.returncode == 0, p.stderr
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    n_cells = {e: sum(1 for _ in spec_mod.load(e).cells()) for e in ("gov2021", "gov2019")}
    expected = sum(n_cells[load_seed(n).edition] for n in (0, 2))
    assert len(frame) == expected
    assert frame.groupby("file").size().to_dict() == {
        str(files["good"]): n_cells[load_seed(0).edition],
        str(files["invalid"]): n_cells[load_seed(2).edition],
    }
    assert not frame.duplicated(["file", "table", "row", "col"]).any()
    p = run("export", files["good"], files["bad"], "-o", tmp_path / f"x{suffix}")
    assert p.returncode == 2
    assert len(pd.read_csv(tmp_path / "x.csv") if suffix == ".csv" else pd.read_parquet(tmp_path / "x.parquet")) == n_cells[load_seed(0).edition]


def test_json_is_streamed_a_file_a_line_in_order(files):
    """``--json`` writes each report as it comes (one line per file, the order given), from
    worker processes when there are many files: valid JSON all the same."""
    paths = [files["good"], files["invalid"], files["bad"]] * 7  # 21 files: read by worker processes
    p = run("validate", "--json", *paths)
    assert p.returncode == 2, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == '{"files": [' and lines[-1] == "]}" and len(lines) == len(paths) + 2
    data = json.loads(p.stdout)
    assert [f["path"] for f in data["files"]] == [str(x) for x in paths]
    assert [f["status"] for f in data["files"][:3]] == ["valid", "invalid", "unreadable"]
    assert data["files"][:3] * 7 == data["files"]


def test_feedback_of_two_files_of_one_agency_never_share_a_path(files, soffice, tmp_path):
    """Found by a new user's trial: the same agency's report as .ods and as .xls (and a file of
    one name in two folders) got one feedback path: the run printed one line per file, and all
    but the last workbook were overwritten."""
    from xlsxgov import office

    src = tmp_path / "公安局.xlsx"
    src.write_bytes(files["invalid"].read_bytes())
    (ods,) = office.convert_many([src], "ods", tmp_path / "ods")
    (xls,) = office.convert_many([src], "xls", tmp_path / "xls")
    (tmp_path / "乡镇").mkdir()
    same_name = tmp_path / "乡镇" / src.name
    same_name.write_bytes(src.read_bytes())
    given = [src, ods, xls, same_name]
    fb = tmp_path / "fb"
    p = run("validate", *given, "--feedback", fb)
    assert p.returncode == 1, p.stderr
    made = sorted(fb.glob("*.xlsx"))
    assert len(made) == len(given)
    said = p.stdout.replace("\n", "").split("问题反馈：")[1:]  # lines wrapped at the terminal's width
    assert len(said) == len(given)
    for source, line in zip(given, said):
        name, written = (part.strip() for part in line.split("→"))
        assert name == (source.name if source.suffix != ".xlsx" else str(source))  # 公安局.xlsx twice: named by path
        assert Path(written) in made
    assert len({line.split("→")[1] for line in said}) == len(given)
    agency = read_workbook(src)
    for path in made:
        back = read_workbook(path)
        assert back.inputs == agency.inputs and back.agency == agency.agency


def test_a_folder_names_every_file_it_does_not_validate(files, tmp_path):
    """Found by a new user's trial: `validate 文件夹` read 23 of 30 files and said nothing of the
    other 7 (a CSV, an Excel lock file, notes, a screenshot, system files)."""
    folder = tmp_path / "收到"
    (folder / "嵌套").mkdir(parents=True)
    (folder / "教育局.xlsx").write_bytes(files["good"].read_bytes())
    (folder / "~$教育局.xlsx").write_bytes(b"\x07wps-user" + b"\0" * 150)  # the lock file Excel/WPS leave beside it
    (folder / "卫健委.csv").write_text("单位,数量\n卫健委,3\n", encoding="utf-8")
    (folder / "嵌套" / "说明.txt").write_text("请查收", encoding="utf-8")
    (folder / "截图.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    left = {"~$教育局.xlsx": "临时锁定文件", "卫健委.csv": "CSV", "说明.txt": "xlsxgov extract", "截图.png": "“.png”", ".DS_Store": "隐藏文件"}

    p = run("validate", folder)
    assert p.returncode == 0, p.stdout + p.stderr  # the one workbook is valid: the rest is said, not an error
    said = p.stdout.replace("\n", "")
    assert f"未校验 {len(left)} 个文件（不是工作簿）" in said
    for name, why in left.items():
        line = next(part for part in said.split("  ") if name in part)
        assert why in line, (name, line)

    p = run("validate", "--json", folder)  # stdout stays the JSON; the list goes to stderr
    assert [Path(f["path"]).name for f in json.loads(p.stdout)["files"]] == ["教育局.xlsx"]
    assert all(name in "".join(p.stderr.split()) for name in left)

    for name in ("教育局.xlsx",):
        (folder / name).unlink()
    p = run("validate", folder)
    said = "".join(p.stderr.split())  # wrapped at the terminal's width
    assert p.returncode == 2 and "中没有工作簿" in said and "卫健委.csv：CSV" in said
