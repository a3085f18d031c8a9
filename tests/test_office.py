"""Tests for xlsxgov.office against a real LibreOffice."""

from __future__ import annotations

import csv
import os
import shutil
import threading
import time
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

from xlsxgov import office
from xlsxgov.office import OfficeError, convert, convert_many, pdf_to_png, soffice_path

pytestmark = pytest.mark.office


def _require(tool_found: bool, reason: str) -> None:
    # CI must have LibreOffice/poppler: a silent skip there would hide breakage.
    if tool_found:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: required in CI)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _need_soffice() -> None:
    _require(soffice_path() is not None, "LibreOffice (soffice) not on PATH")


def _values(path: Path, sheet: str = "表1") -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()


def _wrong_cache_xlsx(path: Path, a1: float = 41) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("表1")
    ws.write("A1", a1)
    # Deliberately wrong cached result: only a real recalculation fixes it.
    ws.write_formula("B1", "=A1+1", None, 999)
    wb.close()
    return path


def _sample_xlsx(path: Path) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("表1")
    ws.write_row("A1", ["项目", "数量", "金额"])
    ws.write_row("A2", ["主动公开", 3, 1.5])
    ws.write_row("A3", ["依申请公开", 7, 2.25])
    ws.write_formula("B4", "=SUM(B2:B3)", None, 10)
    ws.write_formula("C4", "=SUM(C2:C3)", None, 3.75)
    ws.write("A4", "合计")
    wb.close()
    return path


EXPECTED_SAMPLE = [
    ["项目", "数量", "金额"],
    ["主动公开", 3.0, 1.5],
    ["依申请公开", 7.0, 2.25],
    ["合计", 10.0, 3.75],
]


def _num(rows: list[list]) -> list[list]:
    # xls/ods readers may return ints for whole numbers; compare as floats.
    return [[float(v) if isinstance(v, (int, float)) else v for v in r] for r in rows]


def test_recalc_true_recomputes_formula(tmp_path: Path) -> None:
    src = _wrong_cache_xlsx(tmp_path / "wrong.xlsx")
    assert _values(src) == [[41.0, 999.0]]  # sanity: the cache really is wrong
    out = convert(src, "xlsx", tmp_path / "out", recalc=True)
    assert out == (tmp_path / "out" / "wrong.xlsx").resolve()
    assert _values(out) == [[41.0, 42.0]]


def test_recalc_false_keeps_cached_value(tmp_path: Path) -> None:
    src = _wrong_cache_xlsx(tmp_path / "wrong.xlsx")
    out = convert(src, "xlsx", tmp_path / "out", recalc=False)
    assert _values(out) == [[41.0, 999.0]]


def test_profile_keeps_recalc_modes_after_use(tmp_path: Path) -> None:
    # LibreOffice rewrites registrymodifications.xcu on exit; our items must survive.
    src = _sample_xlsx(tmp_path / "s.xlsx")
    for recalc, mode in ((True, 0), (False, 1)):
        convert(src, "ods", tmp_path / "out", recalc=recalc)
        with office._locked_profile(recalc) as root:
            xcu = root / "profile" / "user" / "registrymodifications.xcu"
            assert office._has_mode(xcu.read_text(encoding="utf-8"), mode)


def test_ensure_profile_repairs_overwritten_setting(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XLSXGOV_LO_PROFILE_ROOT", str(tmp_path))
    root = office._profile_root(True)
    xcu = root / "profile" / "user" / "registrymodifications.xcu"
    xcu.parent.mkdir(parents=True)
    # As if LibreOffice had saved "never" plus an unrelated setting.
    other = '<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="X" oor:op="fuse"><value>1</value></prop></item>\n'
    xcu.write_text(office._registry_xcu(1).replace("</oor:items>", other + "</oor:items>"), encoding="utf-8")
    office._ensure_profile(root, True)
    text = xcu.read_text(encoding="utf-8")
    assert office._has_mode(text, 0) and not office._has_mode(text, 1)
    assert 'oor:name="X"' in text


@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_round_trip_keeps_values(tmp_path: Path, fmt: str) -> None:
    src = _sample_xlsx(tmp_path / "sample.xlsx")
    out = convert(src, fmt, tmp_path / "out")
    assert out.suffix == f".{fmt}"
    assert _num(_values(out)) == EXPECTED_SAMPLE


def test_csv_is_utf8(tmp_path: Path) -> None:
    src = _sample_xlsx(tmp_path / "sample.xlsx")
    out = convert(src, "csv", tmp_path / "out")
    # LibreOffice quotes text cells; parse rather than compare raw lines.
    rows = list(csv.reader(out.read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["项目", "数量", "金额"]
    assert rows[3] == ["合计", "10", "3.75"]


def test_xlsx_resave_keeps_validation_merge_protection(tmp_path: Path) -> None:
    src = tmp_path / "features.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    ws = wb.add_worksheet("表1")
    ws.merge_range("A1:C1", "政府信息公开年度报告")
    unlocked = wb.add_format({"locked": False})
    ws.write_number("B2", 0, unlocked)
    ws.data_validation(
        "B2:B10",
        {
            "validate": "integer",
            "criteria": ">=",
            "value": 0,
            "error_title": "输入错误",
            "error_message": "请填写非负整数",
        },
    )
    ws.protect()
    wb.close()

    out = convert(src, "xlsx", tmp_path / "out")
    ows = openpyxl.load_workbook(out)["表1"]
    assert [str(r) for r in ows.merged_cells.ranges] == ["A1:C1"]
    assert ows["A1"].value == "政府信息公开年度报告"
    assert ows.protection.sheet is True
    dvs = ows.data_validations.dataValidation
    assert len(dvs) == 1
    dv = dvs[0]
    assert dv.type == "whole" and dv.operator == "greaterThanOrEqual"
    assert str(dv.sqref) == "B2:B10"
    assert dv.formula1 == "0"
    assert dv.error == "请填写非负整数"
    assert ows["B2"].protection.locked is False


def test_convert_many_one_call(tmp_path: Path) -> None:
    srcs = [_wrong_cache_xlsx(tmp_path / f"表{i}.xlsx", a1=i) for i in range(5)]
    t0 = time.monotonic()
    outs = convert_many(srcs, "xlsx", tmp_path / "out")
    elapsed = time.monotonic() - t0
    print(f"convert_many(5 files): {elapsed:.2f}s")
    assert [o.name for o in outs] == [s.name for s in srcs]
    for i, o in enumerate(outs):
        assert _values(o) == [[float(i), float(i + 1)]]


def test_parallel_threads_share_profile_safely(tmp_path: Path) -> None:
    # Without the profile lock, concurrent soffice runs on one profile lose files.
    srcs = [_wrong_cache_xlsx(tmp_path / f"p{i}.xlsx", a1=i) for i in range(4)]
    results: dict[int, Path | BaseException] = {}

    def work(i: int) -> None:
        try:
            results[i] = convert(srcs[i], "ods", tmp_path / f"out{i}")
        except BaseException as e:  # noqa: BLE001 - reported by the assert below
            results[i] = e

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for i in range(4):
        assert isinstance(results.get(i), Path), results.get(i)
        assert _num(_values(results[i])) == [[float(i), float(i + 1)]]


def test_garbage_input_raises_chinese_error(tmp_path: Path) -> None:
    bad = tmp_path / "坏文件.xlsx"
    bad.write_bytes(os.urandom(4096))
    t0 = time.monotonic()
    with pytest.raises(OfficeError) as ei:
        convert(bad, "xlsx", tmp_path / "out", timeout=120)
    assert time.monotonic() - t0 < 120
    msg = str(ei.value)
    assert "未能" in msg and "坏文件.xlsx" in msg
    # soffice's own output is included. Its words depend on the installed modules: Calc alone
    # says "could not be loaded"; with Writer installed the bytes open as plain text and the
    # export fails ("no export filter") or soffice crashes with a backtrace.
    assert "输出：" in msg and msg.split("输出：", 1)[1].strip()


def test_missing_input_raises_chinese_error(tmp_path: Path) -> None:
    with pytest.raises(OfficeError, match="输入文件不存在"):
        convert(tmp_path / "nope.xlsx", "xlsx", tmp_path / "out")


def test_convert_many_reports_only_failed_files(tmp_path: Path) -> None:
    good = _sample_xlsx(tmp_path / "good.xlsx")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(OfficeError) as ei:
        convert_many([good, bad], "xlsx", tmp_path / "out")
    assert "bad.xlsx" in str(ei.value) and "good.xlsx" not in str(ei.value).split("输出")[0]


def test_stale_output_is_not_mistaken_for_success(tmp_path: Path) -> None:
    bad = tmp_path / "stale.xlsx"
    bad.write_bytes(b"garbage")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.ods").write_bytes(b"old")
    with pytest.raises(OfficeError):
        convert(bad, "ods", tmp_path / "out")


def test_bad_arguments(tmp_path: Path) -> None:
    src = _sample_xlsx(tmp_path / "s.xlsx")
    with pytest.raises(ValueError, match="不支持的输出格式"):
        convert(src, "pptx", tmp_path)  # docx and odt are Writer formats now (extract)
    with pytest.raises(ValueError, match="输出文件与输入文件相同"):
        convert(src, "xlsx", tmp_path)


def test_timeout_kills_process(tmp_path: Path) -> None:
    src = _sample_xlsx(tmp_path / "s.xlsx")
    t0 = time.monotonic()
    with pytest.raises(OfficeError, match="超时"):
        convert(src, "pdf", tmp_path / "out", timeout=0.01)
    assert time.monotonic() - t0 < 30
    # The profile is still usable afterwards (no orphan holding it).
    assert convert(src, "xlsx", tmp_path / "out2").is_file()


def test_pdf_to_png(tmp_path: Path) -> None:
    _require(shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils) not on PATH")
    src = _sample_xlsx(tmp_path / "sample.xlsx")
    pdf = convert(src, "pdf", tmp_path / "out")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pngs = pdf_to_png(pdf, tmp_path / "png" / "page", dpi=40)
    assert pngs and pngs[0].name == "page-1.png"
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
