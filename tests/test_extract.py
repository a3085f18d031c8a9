"""xlsxgov.extract: the statutory tables read from report documents.

Real material: the five seeds and the three reports of ../shared (every visible cell against
../shared/reports/expected/*.json). Written material: the same tables as a report page in the
official layout (render.py), converted by LibreOffice to .docx, .odt and .pdf, plain and with
noise; and random valid tables through every format (hypothesis).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlsxgov import office
from xlsxgov import spec as spec_mod
from xlsxgov.compute import complete, key
from xlsxgov.extract import extract_paths, extract_report, printed_value
from xlsxgov.reader import Unreadable
from xlsxgov.validate import validate_paths, validate_submissions
from xlsxgov.values import Kind, wanyuan_to_money

from tests.extractdata import REPORTS, STYLES, base_values, expected, expected_key, flatten, noisy, report_html

NAMES = [p.stem for p in REPORTS]


def _mismatches(sub, exp: dict) -> list[tuple[str, object, object]]:
    out = []
    for cid, want in exp["cells"].items():
        got = printed_value(sub, expected_key(cid))
        if got != want:
            out.append((cid, want, got))
    return out


# ---------------------------------------------------------------------------------------------
# The published reports


@pytest.mark.parametrize("path", REPORTS, ids=NAMES)
def test_every_visible_cell_of_the_published_reports(path: Path):
    exp = expected(path.stem)
    sub = extract_report(path)
    assert sub.edition == exp["edition"]
    assert _mismatches(sub, exp) == []
    assert sub.year == exp["year"]
    assert sub.agency and exp["agency"].startswith(sub.agency)
    assert sub.meta["source"] == "report"
    spec = sub.spec
    for cid, want in exp.get("recomputed_totals", {}).items():
        k = expected_key(cid)
        cell = spec.table(k[0]).cell(k[1], k[2])
        assert sub.values[k] == (wanyuan_to_money(want) if cell.kind is Kind.MONEY else want), cid


def test_every_fact_says_where_it_came_from():
    path = next(p for p in REPORTS if p.stem == "2019_shanghai_szfbgt")
    sub = extract_report(path)
    facts = {(f.table, f.row, f.col): f for f in sub.facts()}
    f = facts[("t2", "central_procurement", "purchase_amount")]
    assert (f.sheet, f.raw, f.value) == ("文本", "251000元", 25.1)
    line = int(f.cell.removeprefix("第").removesuffix("行"))
    assert "251000元" in path.read_text(encoding="utf-8").splitlines()[line - 1]
    blank = facts[("t3", "new", "research")]
    assert (blank.raw, blank.value) == ("", 0)  # printed blank, read as 0 for the rules
    assert sub.typed[("t3", "new", "research")] is None


def test_seed_002_does_not_balance_in_research_and_total():
    path = next(p for p in REPORTS if p.stem.startswith("002"))
    findings = validate_submissions([extract_report(path)])[0]
    balance = sorted(f.message.split("：")[0] for f in findings if f.rule == "t3.balance")
    assert balance == ["表三 总计列", "表三 科研机构列"]
    assert all(f.severity == "error" for f in findings if f.rule == "t3.balance")


def test_shanghai_blank_totals_are_computed_and_noted():
    path = next(p for p in REPORTS if p.stem.startswith("2019_shanghai"))
    exp = expected(path.stem)
    sub = extract_report(path)
    findings = validate_submissions([sub])[0]
    noted = {f.cells[0] for f in findings if f.rule == "blank.total"}
    for cid in exp["recomputed_totals"]:
        assert expected_key(cid) in noted
    assert not [f for f in findings if f.severity == "error"]  # a blank total is computed, not an error


def test_run_together_digits_are_split_by_the_rules_and_an_ambiguity_is_said():
    path = next(p for p in REPORTS if p.stem.startswith("2022_pingtan"))
    sub = extract_report(path)
    splits = [f for f in sub.findings if f.rule == "extract.split"]
    assert any("713000074" in f.message and "71 | 3 | 0 | 0 | 0 | 0 | 74" in f.message for f in splits)
    (chosen,) = [f for f in splits if "8855698" in f.message]
    assert chosen.severity == "warning" and "8 | 855 | 698" in chosen.message and "按报告正文中出现的数字取 88 | 55 | 698" in chosen.message


def test_ambiguous_run_together_row_is_not_read(tmp_path: Path):
    # 表二 （一） "1234": 1|2|34 and 1|23|4 both fit 制发 ≤ 有效 + 废止, and no figure in the text
    # chooses between them.
    text = "二、主动公开政府信息情况\n第二十条第（一）项\n信息内容 本年制发件数 本年废止件数 现行有效件数\n规章 000\n行政规范性文件 1234\n"
    p = tmp_path / "r.txt"
    p.write_text(text, encoding="utf-8")
    sub = extract_report(p)
    (warn,) = [f for f in sub.findings if f.rule == "extract.ambiguous"]
    assert "1 | 2 | 34" in warn.message and "1 | 23 | 4" in warn.message
    assert sub.typed[("t2", "normative_docs", "issued")] is None
    fact = next(f for f in sub.facts() if (f.table, f.row, f.col) == ("t2", "normative_docs", "issued"))
    assert fact.value is None


def test_values_as_printed_notes_extra_rows_and_older_labels(tmp_path: Path):
    text = "\n".join([
        "某某局2020年政府信息公开工作年度报告",
        "二、主动公开政府信息情况",
        "第二十条第（一）项",
        "信息内容 | 本年新制作数量 | 本年新公开数量 | 对外公开总数量",
        "规章 | 0 | / | ",
        "规范性文件 | 22（其中修订16件） | 20 | 100",
        "其他主动公开文件 | 5 | 5 | 5",
        "第二十条第（五）项",
        "信息内容 | 上一年项目数量 | 本年增/减 | 处理决定数量",
        "行政许可 | 10 | 减4 | 3",
        "其他对外管理服务事项 | 2 | -1 | 0",
        "第二十条第（九）项",
        "信息内容 | 采购项目数量 | 采购总金额",
        "政府集中采购 | 1 | 24850元",
    ])
    p = tmp_path / "r.txt"
    p.write_text(text, encoding="utf-8")
    sub = extract_report(p)
    assert sub.edition == "gov2019" and sub.agency == "某某局" and sub.year == 2020
    assert [sub.raw[("t2", "regulations", c)] for c in ("new_made", "new_published", "total_published")] == ["0", "/", ""]
    assert [sub.typed[("t2", "regulations", c)] for c in ("new_made", "new_published", "total_published")] == [0, None, None]
    assert sub.typed[("t2", "normative_docs", "new_made")] == 22
    assert any(f.rule == "extract.note" and "其中修订16件" in f.message for f in sub.findings)
    assert any(f.rule == "extract.extra_row" and "其他主动公开文件" in f.message for f in sub.findings)
    assert sub.typed[("t2", "licensing", "change")] == -4
    assert sub.typed[("t2", "other_services", "change")] == -1
    assert sub.inputs[("t2", "central_procurement", "purchase_amount")] == 2_485_000  # 分 (values.FEN_PER_WANYUAN)
    assert printed_value(sub, ("t2", "central_procurement", "purchase_amount")) == 2.485


def test_unreadable_documents_get_a_chinese_reason(tmp_path: Path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "story.txt").write_text("今年我局认真做好政务公开工作。", encoding="utf-8")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    reports = extract_paths(sorted(tmp_path.iterdir()))
    assert [r.status for r in reports] == ["unreadable"] * 4
    reasons = {r.path.name: r.reason for r in reports}
    assert "空" in reasons["empty.txt"] and "找不到" in reasons["story.txt"]
    assert "Word" in reasons["broken.docx"] and "PDF" in reasons["broken.pdf"]
    with pytest.raises(Unreadable):
        extract_report(tmp_path / "story.txt")


# ---------------------------------------------------------------------------------------------
# Written reports: HTML, and LibreOffice's .docx / .odt / .pdf of it


def _agency(exp: dict) -> str:
    """The agency without the expected file's annotation (平潭综合实验区（管委会，全区汇总报告）)."""
    return re.sub(r"（.*?）", "", exp["agency"])


def _pages(tmp_path: Path, *, with_noise: bool) -> dict[str, Path]:
    out = {}
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        exp = expected(name)
        page = report_html(exp["edition"], base_values(exp["edition"], exp["cells"]), agency=_agency(exp), year=exp["year"])
        p = tmp_path / f"{name}.html"
        p.write_text(noisy(page) if with_noise else page, encoding="utf-8")
        out[name] = p
    return out


def _inputs_as_expected(sub, exp) -> dict:
    spec = spec_mod.load(exp["edition"])
    want = complete(spec, base_values(exp["edition"], exp["cells"]))
    return {k: (sub.values[k], v) for k, v in want.items() if sub.values.get(k) != v}


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_written_html_pages_extract_to_the_same_cells(tmp_path: Path, encoding: str):
    for name, p in _pages(tmp_path, with_noise=False).items():
        exp = expected(name)
        if encoding != "utf-8":
            p.write_bytes(p.read_text(encoding="utf-8").replace('charset="utf-8"', f'charset="{encoding}"').encode(encoding))
        sub = extract_report(p)
        assert sub.edition == exp["edition"], name
        # A "/" cell of the report is written blank by render.py: compare numbers and blanks.
        assert [m for m in _mismatches(sub, exp) if not isinstance(m[1], str)] == [], name
        assert (sub.agency, sub.year) == (_agency(exp), exp["year"])


def test_noisy_html_pages_extract_to_the_same_facts(tmp_path: Path):
    for name, p in _pages(tmp_path, with_noise=True).items():
        exp = expected(name)
        sub = extract_report(p)
        assert sub.edition == exp["edition"], name
        assert _inputs_as_expected(sub, exp) == {}, name
        assert not [f for f in sub.findings if f.rule.startswith("extract.") and f.severity != "info"], name


def test_page_laid_out_inside_a_table(tmp_path: Path):
    """Many sites put the whole article in a layout table: headings and the nested statutory
    tables inside one cell are read in order."""
    name = "2019_shanghai_szfbgt"
    exp = expected(name)
    page = report_html(exp["edition"], base_values(exp["edition"], exp["cells"]), agency=exp["agency"], year=exp["year"])
    page = page.replace("<body>", "<body><table><tr><td>导航</td><td>", 1).replace("</body>", "</td></tr></table></body>", 1)
    p = tmp_path / "r.htm"
    p.write_text(page, encoding="utf-8")
    sub = extract_report(p)
    assert [m for m in _mismatches(sub, exp) if not isinstance(m[1], str)] == []


def test_mht_archive(tmp_path: Path):
    name = "2023_shuyang_fgj"
    exp = expected(name)
    page = report_html(exp["edition"], base_values(exp["edition"], exp["cells"]), agency=exp["agency"], year=exp["year"])
    import base64

    body = base64.encodebytes(page.encode("gb18030")).decode("ascii")
    mht = (
        "MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"b1\"\r\n\r\n--b1\r\n"
        "Content-Type: text/html; charset=\"gb18030\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{body}\r\n--b1--\r\n"
    )
    p = tmp_path / "r.mht"
    p.write_text(mht, encoding="ascii")
    assert _mismatches(extract_report(p), exp) == []


@pytest.mark.office
@pytest.mark.parametrize("with_noise", [False, True], ids=["plain", "noise"])
def test_libreoffice_docx_odt_pdf_extract_to_the_same_facts(tmp_path: Path, soffice: str, with_noise: bool):
    pages = _pages(tmp_path / "html", with_noise=with_noise)
    srcs = list(pages.values())
    made = {
        "docx": office.convert_many(srcs, "docx", tmp_path / "docx", infilter="HTML (StarWriter)"),
        "odt": office.convert_many(srcs, "odt", tmp_path / "odt", infilter="HTML (StarWriter)"),
        "pdf": office.convert_many(srcs, "pdf", tmp_path / "pdf", infilter="HTML (StarWriter)", filter="pdf:writer_pdf_Export"),
    }
    for fmt, paths in made.items():
        for p in paths:
            exp = expected(p.stem)
            sub = extract_report(p)
            assert sub.edition == exp["edition"], (fmt, p.stem)
            if with_noise:
                assert _inputs_as_expected(sub, exp) == {}, (fmt, p.stem)
            else:
                assert [m for m in _mismatches(sub, exp) if not isinstance(m[1], str)] == [], (fmt, p.stem)
            if fmt == "pdf":
                places = [w for w in sub.where.values() if w[0]]
                assert places and all(s.startswith("第") and c.startswith("x=") for s, c in places)  # page and position


# ---------------------------------------------------------------------------------------------
# Property: random valid tables through every format


def _valid_inputs(edition: str, draw) -> dict:
    spec = spec_mod.load(edition)
    out = {}
    for cell in spec.cells():
        if not cell.is_input:
            continue
        if cell.kind is Kind.MONEY:
            out[key(cell)] = draw(st.integers(0, 5_000_000))
        elif cell.kind is Kind.DELTA:
            out[key(cell)] = draw(st.integers(-30, 300))
        else:
            out[key(cell)] = draw(st.one_of(st.just(0), st.integers(0, 3000)))
    return out


@st.composite
def valid_reports(draw):
    edition = draw(st.sampled_from(["gov2021", "gov2019", "legacy2008"]))
    spec = spec_mod.load(edition)
    values = complete(spec, _valid_inputs(edition, draw))
    return edition, values


def _check_same(sub, edition: str, values: dict) -> None:
    assert sub.edition == edition
    assert {k: sub.values[k] for k in values} == values


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=valid_reports(), style=st.sampled_from(STYLES[:-1] + ("html",)))
def test_property_random_tables_html_and_text(tmp_path_factory, case, style):
    edition, values = case
    page = report_html(edition, values, agency="某某县某某局", year=2024)
    d = tmp_path_factory.mktemp("prop")
    p = d / ("r.html" if style == "html" else "r.txt")
    p.write_text(page if style == "html" else flatten(page, style), encoding="utf-8")
    _check_same(extract_report(p), edition, values)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=valid_reports())
def test_property_run_together_text_is_right_or_says_it_is_ambiguous(tmp_path_factory, case):
    """Without any separator a split may be ambiguous: then a warning says so and the row is not
    read; a value is never silently wrong."""
    edition, values = case
    page = report_html(edition, values, agency="某某县某某局", year=2024)
    p = tmp_path_factory.mktemp("prop") / "r.txt"
    p.write_text(flatten(page, "run_together"), encoding="utf-8")
    sub = extract_report(p)
    unsure = {k for f in sub.findings if f.rule in ("extract.ambiguous", "extract.missing_values", "extract.split") and f.severity == "warning" for k in _row_cells(sub, f)}
    for k, v in values.items():
        if k in unsure or sub.typed.get(k) is None and k in sub.bad_cells:
            continue
        typed = sub.typed.get(k)
        assert typed is None or typed == v or k in unsure, k


def test_run_together_row_longer_than_one_number_is_still_read(tmp_path: Path):
    """Found by the property above: 100 | 100 | 1000 with no separator prints as ``1001001000``,
    past the largest number a cell may hold; it is still a row of values, not a missing table
    (when every label only this edition has runs into such a row, none was recognised)."""
    spec = spec_mod.load("gov2021")
    inputs = {key(c): 0 for c in spec.cells() if c.is_input}
    inputs.update({("t2", "normative_docs", "issued"): 100, ("t2", "normative_docs", "repealed"): 100,
                   ("t2", "normative_docs", "valid"): 1000, ("t3", "overdue_correction", "ngo"): 1000,
                   ("t3", "overdue_fee", "ngo"): 1000, ("t3", "other", "ngo"): 100,
                   ("t3", "other", "other_org"): 100})
    values = complete(spec, inputs)
    p = tmp_path / "r.txt"
    p.write_text(flatten(report_html("gov2021", values, agency="某某县某某局", year=2024), "run_together"), encoding="utf-8")
    sub = extract_report(p)
    assert sub.edition == "gov2021"
    unsure = {k for f in sub.findings if f.severity == "warning" for k in _row_cells(sub, f)}
    assert all(sub.typed.get(k) in (None, v) or k in unsure for k, v in values.items())
    assert sub.typed.get(("t2", "regulations", "issued")) == 0


def test_a_short_row_the_form_cites_as_an_item_is_named_without_a_second_row_word(tmp_path: Path):
    """表三's 第一项 names a row already: "表三 第一项只找到…", never "第一项行" (a trial's finding)."""
    spec = spec_mod.load("gov2021")
    page = report_html("gov2021", complete(spec, {key(c): 0 for c in spec.cells() if c.is_input}), agency="某某县某某局", year=2024)
    text = flatten(page, "pipes").replace("一、本年新收政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0 | 0 | 0",
                                          "一、本年新收政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0")
    p = tmp_path / "r.txt"
    p.write_text(text, encoding="utf-8")
    (short,) = [f for f in extract_report(p).findings if f.rule == "extract.missing_values"]
    assert short.message.startswith("表三 第一项只找到5个数值"), short.message


def _row_cells(sub, finding) -> set:
    out = set()
    for table in sub.spec.tables:
        for cell in table.cells:
            if f"{table.short} {cell.row.named}" in finding.message:
                out.add(key(cell))
    return out


@pytest.mark.office
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=valid_reports())
def test_property_random_tables_docx_and_pdf(tmp_path_factory, soffice, case):
    edition, values = case
    d = tmp_path_factory.mktemp("prop")
    page = d / "r.html"
    page.write_text(report_html(edition, values, agency="某某县某某局", year=2024), encoding="utf-8")
    docx = office.convert(page, "docx", d, infilter="HTML (StarWriter)")
    pdf = office.convert(page, "pdf", d, infilter="HTML (StarWriter)", filter="pdf:writer_pdf_Export")
    for p in (docx, pdf):
        _check_same(extract_report(p), edition, values)


def test_a_label_cut_by_a_page_break_is_read(tmp_path):
    """Found by the PDF property above: LibreOffice broke 表三's row 3.补正后申请内容仍不明确 over
    two pages, its first part with the row's values at the foot of one page and 仍不明确 below
    the column headers repeated at the top of the next; the row was reported missing."""
    spec = spec_mod.load("gov2019")
    inputs = {key(c): 0 for c in spec.cells() if c.is_input}
    inputs.update({("t3", "still_unclear", "natural"): 134, ("t3", "still_unclear", "legal"): 668})
    values = complete(spec, inputs)
    text = flatten(report_html("gov2019", values, agency="某某县某某局", year=2024), "pipes")
    row = "3.补正后申请内容仍不明确 | 134 | 0 | 0 | 0 | 668 | 0 | 802\n"
    assert row in text
    text = text.replace(row, "3.补正后申请内容 | 134 | 0 | 0 | 0 | 668 | 0 | 802\n"
                             "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和） | 申请人情况\n"
                             "自然人 | 法人或其他组织 | 总计\n商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他\n"
                             " |  | 仍不明确 |  |  |  |  |  |  | \n")
    p = tmp_path / "r.txt"
    p.write_text(text, encoding="utf-8")
    sub = extract_report(p)
    _check_same(sub, "gov2019", values)
    assert not [f for f in sub.findings if f.severity == "error"]
    # A part too short to tell one label from another is not taken for a label.
    p.write_text(text.replace("3.补正后申请内容 | 134", "3.补正 | 134"), encoding="utf-8")
    assert any(f.rule == "extract.labels_missing" for f in extract_report(p).findings)


def test_json_shape_is_that_of_validate(tmp_path: Path):
    path = next(p for p in REPORTS if p.stem.startswith("002"))
    (report,) = extract_paths([path])
    data = json.loads(json.dumps(report.as_json()))
    assert set(data) == {"path", "status", "edition", "agency", "year", "reason", "findings", "facts"}
    assert data["status"] == "invalid"
    fact = next(f for f in data["facts"] if f["row"] == "central_procurement" and f["col"] == "purchase_amount")
    assert (fact["value"], fact["raw"]) == (2.485, "24850元")


# ---------------------------------------------------------------------------------------------
# Commands


def _xlsxgov(*args) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("xlsxgov")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "80"})


def test_extract_command_json_and_filled_template(tmp_path: Path):
    seed = next(p for p in REPORTS if p.stem.startswith("002"))
    done = _xlsxgov("extract", seed, "--json")
    assert done.returncode == 1, done.stderr
    (data,) = json.loads(done.stdout)["files"]
    assert data["status"] == "invalid" and data["edition"] == "gov2019"
    out = tmp_path / "金东.xlsx"
    done = _xlsxgov("extract", seed, "-o", out)
    # The terminal names no rule ids (--json keeps them): the verdict, then the same failure below.
    assert out.is_file() and "有错误" in done.stdout
    # The filled template reads back as a workbook with the same numbers and the same failure.
    (rep,) = validate_paths([out])
    sub = extract_report(seed)
    assert {k: rep.submission.values[k] for k in sub.values} == sub.values
    assert {f.rule for f in rep.findings if f.severity == "error"} >= {"t3.balance"}


def test_audit_command(tmp_path: Path):
    folder = tmp_path / "reports"
    folder.mkdir()
    for p in REPORTS:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 junk")
    out = tmp_path / "审查.xlsx"
    done = _xlsxgov("audit", folder, "-o", out)
    assert done.returncode == 2, done.stderr  # validate's exit code: a file could not be read
    assert "共 9 份报告：合格 6，有错误 2，无法读取 1" in done.stdout
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("报告").to_python()
    by_file = {Path(r[0]).name: r for r in rows[1:]}
    assert by_file["002_cf6b3b2b2c1c1616.txt"][4] == "有错误" and "t3.balance" in by_file["002_cf6b3b2b2c1c1616.txt"][7]
    assert by_file["broken.pdf"][4] == "无法读取"


def test_campaign_imports_report_documents_and_consolidates_them(tmp_path: Path):
    """Two agencies send their report (a web page, text copied from it), one its workbook: all
    three are imported, the two reports marked as report-derived, and consolidated like workbooks."""
    import random

    from xlsxgov.campaign import status as status_mod
    from xlsxgov.campaign.importer import import_paths
    from xlsxgov.campaign.init import init_campaign
    from xlsxgov.campaign.roster import uscc_check_char
    from xlsxgov.consolidate import consolidate_campaign
    from xlsxgov.reader import read_workbook
    from xlsxgov.template import Meta, write_workbook

    spec = spec_mod.load("gov2021")
    rng = random.Random(11)
    names = ["某某市第一局", "某某市第二局", "某某市第三局"]
    codes = [(b := f"11350100MB{i:07d}") + uscc_check_char(b) for i in range(3)]
    roster = tmp_path / "roster.csv"
    roster.write_text("单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n" + "".join(f"{n},{c},某某市,联系人,a{i}@example.com\n" for i, (n, c) in enumerate(zip(names, codes))), encoding="utf-8")
    d = tmp_path / "c"
    init_campaign(d, year=2024, roster_path=roster, region="某某市")
    from test_consolidate import random_inputs  # valid tables (balanced 表三)

    inputs = [random_inputs(spec, rng) for _ in range(3)]
    values = [complete(spec, i) for i in inputs]
    (d / "inbox" / "第一局年报.html").write_text(report_html("gov2021", values[0], agency=names[0], year=2024), encoding="utf-8")
    (d / "inbox" / "第二局年报.txt").write_text(flatten(report_html("gov2021", values[1], agency=names[1], year=2024), "pipes"), encoding="utf-8")
    write_workbook(d / "inbox" / "第三局.xlsx", spec, Meta(year=2024, agency=names[2], code=codes[2], region="某某市"), values=inputs[2])
    result = import_paths(d)
    assert [f.outcome for f in result.files] == ["valid"] * 3, [(f.name, f.reason, f.outcome) for f in result.files]
    rows = {a["name"]: a for a in status_mod.campaign_status(d)["agencies"]}
    assert [rows[n]["from_report"] for n in names] == [True, True, False]
    out = consolidate_campaign(d, tmp_path / "汇总.xlsx")
    total = read_workbook(Path(getattr(out, "path", tmp_path / "汇总.xlsx")))
    for k in values[0]:
        assert total.values[k] == sum(v[k] for v in values), k


def test_mail_reply_with_only_the_report_document_is_imported(tmp_path: Path):
    """A reply carrying only the report (Word/PDF …) yields that document; a reply with the
    workbook keeps ignoring its other documents (tests/test_mail.py)."""
    from email.message import EmailMessage

    from xlsxgov.campaign.mail import extract_attachments

    page = next(p for p in REPORTS if p.stem.startswith("2019_shanghai"))
    msg = EmailMessage()
    msg["From"] = "bgt@example.com"
    msg["To"] = "gk@example.com"
    msg["Subject"] = "年报"
    msg["Message-ID"] = "<r9@example.com>"
    msg.set_content("年度报告见附件。")
    msg.add_attachment(page.read_bytes(), maintype="application", subtype="pdf", filename="年报.pdf")
    eml = tmp_path / "r.eml"
    eml.write_bytes(bytes(msg))
    [f] = extract_attachments(eml, tmp_path / "out")
    assert f.original_name == "年报.pdf"


def test_docx_merged_cells_keep_their_columns_without_warnings(tmp_path: Path) -> None:
    """A Word cell merged across two columns counts as two (w:gridSpan), the lower part of a
    vertical merge is not a cell of its own (w:vMerge), and reading raises no warning (python-docx
    elements were truth-tested before: lxml's FutureWarning)."""
    import warnings

    import docx

    from xlsxgov.extract.formats import tokens_of

    document = docx.Document()
    table = document.add_table(rows=2, cols=4)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "合并两列"
    table.cell(0, 2).merge(table.cell(1, 2)).text = "合并两行"
    table.cell(0, 3).text = "右上"
    table.cell(1, 3).text = "右下"
    path = tmp_path / "merged.docx"
    document.save(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokens = [t for t in tokens_of(path) if t.table]
    where = {t.text: t.cell for t in tokens}
    assert where["合并两列"] == "第1行第1列" and where["合并两行"] == "第1行第3列"
    assert where["右上"] == "第1行第4列" and where["右下"] == "第2行第4列"
    assert [t.text for t in tokens].count("合并两行") == 1 and len(tokens) == 3 + 3  # row 2: two, one merged away
