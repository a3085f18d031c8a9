"""Issue #14: what the reader cannot see never becomes 0, one strange file never costs the batch.

Every hostile kind of ``hostile_files.reading_corpus`` (error cells, formulas without results,
far cells, many rows, many shared strings, huge numbers, macros by content, duplicate sheets,
backslash zip names, renamed formats, .et, lock files, Excel 95, calamine panics, markup in
names) is read alone, then all together with good files in one ``validate`` call.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_files as hf
from xlsxgov.reader import Unreadable, read_workbook
from xlsxgov.validate import validate_paths


@pytest.fixture(scope="module")
def plain_cases(tmp_path_factory) -> list[hf.Case]:
    d = tmp_path_factory.mktemp("reading")
    return hf.reading_corpus(d)


@pytest.fixture(scope="module")
def office_cases(plain_cases, soffice) -> list[hf.Case]:
    return hf.convert_office_cases(plain_cases[0].path.parent, plain_cases)


def _check_case(case: hf.Case) -> None:
    """The right value, the right finding, or the right one-line reason; nothing else escapes
    read_workbook (no blanket except here: any other exception fails the test)."""
    if case.unreadable:
        with pytest.raises(Unreadable) as info:
            read_workbook(case.path)
        assert info.value.code == case.unreadable, (case.path.name, info.value.reason)
        assert info.value.reason and "\n" not in info.value.reason
        return
    sub = read_workbook(case.path)
    if case.cell is None:
        return
    fact = {(f.table, f.row, f.col): f for f in sub.facts()}[case.cell]
    assert fact.value == case.value, (case.path.name, fact)
    at_cell = [f for f in sub.findings if case.cell in f.cells]
    if case.rule:
        assert case.rule in {f.rule for f in at_cell}, (case.path.name, at_cell)
        assert all("按0读取" not in f.message for f in at_cell), at_cell


def test_every_kind_has_two_variants(plain_cases):
    kinds: dict[str, int] = {}
    for c in plain_cases:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    assert min(kinds.values()) >= 2, kinds
    assert set(kinds) >= {
        "error_cell", "formula_without_result", "far_cell", "many_rows", "shared_strings", "too_large_number",
        "macros", "duplicate_sheets", "backslash_names", "renamed", "lock_file", "biff5", "calamine_panic",
        "hostile_text"}, kinds


def test_plain_cases_one_by_one(plain_cases):
    for case in plain_cases:
        if not case.needs_office:
            _check_case(case)


@pytest.mark.office
def test_office_cases_one_by_one(office_cases):
    assert office_cases
    for case in office_cases:
        _check_case(case)


def test_error_cell_in_issue_example_is_a_finding_not_zero(plain_cases):
    """表三 E8 ``<c r="E8" t="e"><f>1/0</f><v>#DIV/0!</v></c>`` was read as valid with E8 = 0."""
    case = next(c for c in plain_cases if c.path.name == "err_div0.xlsx")
    (rep,) = validate_paths([case.path])
    assert rep.status == "invalid"
    (f,) = [f for f in rep.findings if f.cell == "E8"]
    assert f.severity == "error" and "单元格显示错误值 #DIV/0!" in f.message
    fact = next(x for x in rep.submission.facts() if x.cell == "E8")
    assert fact.value is None and fact.raw == "#DIV/0!"


def test_a_part_lying_about_its_size_is_refused_before_it_is_inflated(plain_cases):
    """Found by a security review: a 1 MB upload whose sheet declared its own size while its
    data inflated to 1 GB took 2 GB of memory (zipfile stops at the declared size and calamine
    inflates the whole stream). Now it is refused as damaged having inflated one byte past the
    declared size: Python's allocations while reading stay far below the 64 MB hidden in it."""
    import tracemalloc

    lying = [c for c in plain_cases if c.kind == "lying_size"]
    assert len(lying) == 2
    for case in lying:
        tracemalloc.start()
        try:
            with pytest.raises(Unreadable) as caught:
                read_workbook(case.path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert caught.value.code == "truncated" and "\n" not in caught.value.reason
        assert peak < 16 * 2**20, (case.path.name, peak)


def test_formula_without_result_message(plain_cases):
    case = next(c for c in plain_cases if c.path.name == "formula_reference.xlsx")
    sub = read_workbook(case.path)
    (f,) = [f for f in sub.findings if case.cell in f.cells]
    assert f.message.endswith("单元格含公式但没有计算结果，请用 Excel/WPS 打开并保存后重新报送")


@pytest.mark.office
def test_all_mixed_with_good_files_in_one_validate_call(plain_cases, office_cases, tmp_path):
    goods = [hf.filled_template(tmp_path / f"good{i}.xlsx", agency=f"良好单位{i}") for i in range(3)]
    paths = [c.path for c in plain_cases]
    mixed = goods[:1] + paths[: len(paths) // 2] + goods[1:2] + paths[len(paths) // 2:] + goods[2:]
    reports = {r.path: r for r in validate_paths(mixed)}
    assert len(reports) == len(mixed)
    for g in goods:
        assert reports[g].status == "valid", reports[g].findings
    for case in plain_cases:
        rep = reports[case.path]
        if case.unreadable:
            assert rep.status == "unreadable" and "\n" not in rep.reason and rep.reason.startswith(case.path.name)
        elif case.rule and case.rule.startswith("cell.") and case.rule != "cell.formula_evaluated":
            assert rep.status == "invalid", (case.path.name, rep.status)
        else:
            assert rep.status in ("valid", "invalid")


@pytest.mark.office
def test_validate_command_on_the_whole_corpus(plain_cases, office_cases, tmp_path):
    """The CLI: one line per file, exit code 2 (some unreadable), no traceback, JSON complete."""
    import subprocess
    import sys

    good = hf.filled_template(tmp_path / "good.xlsx")
    paths = [str(good)] + [str(c.path) for c in plain_cases]
    exe = str(Path(sys.executable).parent / "xlsxgov")
    run = subprocess.run([exe, "validate", "--json", *paths],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and "panicked" not in run.stderr, run.stderr[-2000:]
    files = json.loads(run.stdout)["files"]
    assert [f["path"] for f in files] == paths
    assert files[0]["status"] == "valid"
    for f, case in zip(files[1:], plain_cases):
        if case.unreadable:
            assert f["status"] == "unreadable" and "\n" not in f["reason"], f


# --------------------------------------------------------------------------- reading never raises

_COLS = st.integers(0, 16383)
_ROWS = st.integers(0, 1048575)
_CELL = st.fixed_dictionaries({
    "r": st.one_of(st.tuples(_ROWS, _COLS), st.tuples(st.integers(0, 60), st.integers(0, 12)), st.none()),
    "t": st.sampled_from([None, "n", "e", "s", "str", "inlineStr", "b", "d", "zz"]),
    "v": st.one_of(st.none(), st.text(max_size=12), st.floats().map(repr), st.integers(-10**30, 10**30).map(str),
                   st.sampled_from(["#DIV/0!", "#REF!", "1E+308", "-1E+308", "nan", "inf", "99999999999"])),
    "f": st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["3+4", "1/0", "(((1)))", "9" * 400, "+" * 300 + "1"])),
})


def _cell_xml(c) -> str:
    from xml.sax.saxutils import escape

    ref = f' r="{hf.a1_ref(*c["r"])}"' if c["r"] else ""
    t = f' t="{c["t"]}"' if c["t"] else ""
    inner = (f"<f>{escape(c['f'])}</f>" if c["f"] is not None else "") + (f"<v>{escape(c['v'])}</v>" if c["v"] is not None else "")
    return f"<c{ref}{t}>{inner}</c>"


@pytest.fixture(scope="module")
def good_xlsx(tmp_path_factory) -> Path:
    return hf.filled_template(tmp_path_factory.mktemp("prop") / "good.xlsx")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(_CELL, min_size=1, max_size=6), where=st.integers(0, 10**6), data=st.data())
def test_reading_never_raises(good_xlsx, tmp_path_factory, cells, where, data):
    """Random cells (any place, type, value, formula) in 表三, or random bytes overwritten: the
    reader answers a Submission or Unreadable with a reason, never anything else, and never
    "internal" (a bug contained by the last line of defence)."""
    d = tmp_path_factory.mktemp("p")
    part = hf.sheet_part("gov2021", "t3")
    rows = "".join(f"<row>{_cell_xml(c)}</row>" if not c["r"] else f'<row r="{c["r"][0] + 1}">{_cell_xml(c)}</row>' for c in cells)
    path = hf.patch_xlsx(good_xlsx, d / "p.xlsx", part, lambda x: hf._append_rows(x, rows) if where % 2 else x.replace("<sheetData>", "<sheetData>" + rows, 1))
    if data.draw(st.booleans()):
        raw = bytearray(path.read_bytes())
        for _ in range(data.draw(st.integers(1, 8))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        path.write_bytes(bytes(raw))
    try:
        sub = read_workbook(path)
    except Unreadable as exc:
        assert exc.code != "internal", exc.reason
        assert exc.reason and "\n" not in exc.reason
        return
    for fact in sub.facts():
        assert fact.value is None or abs(fact.value) <= 10**12


@pytest.mark.office
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255)), min_size=1, max_size=12))
def test_reading_a_damaged_xls_never_raises(office_cases, tmp_path_factory, flips):
    src = next(c.path for c in office_cases if c.path.name == "xls_named.xlsx")
    raw = bytearray(src.read_bytes())
    for at, byte in flips:
        raw[512 + at % (len(raw) - 512)] = byte  # keep the compound-file header: damage the data
    p = tmp_path_factory.mktemp("x") / "damaged.xls"
    p.write_bytes(bytes(raw))
    try:
        read_workbook(p)
    except Unreadable as exc:
        assert exc.code != "internal", exc.reason
        assert exc.reason and "\n" not in exc.reason


# --------------------------------------------------------------------------- text from files is data


def test_terminal_and_markup_escapes():
    from xlsxgov.safetext import for_markup, for_terminal

    assert for_terminal("局\x1b[31m红\x07\u202e\n") == "局\\x1b[31m红\\x07\\u202e\\x0a"
    assert for_markup("[red]某局[/]") == "\\[red]某局\\[/]"
    from rich.console import Console

    console = Console(width=80, record=True, color_system=None)
    console.print(f"[green]合格[/] {for_markup('[/]某局[red]' + chr(27) + '[2J')}")
    assert console.export_text().strip() == "合格 [/]某局[red]\\x1b[2J"


def test_csv_export_escapes_formula_text_and_keeps_numbers(tmp_path):
    import csv

    import pandas as pd

    from xlsxgov import spec as spec_mod
    from xlsxgov.compute import key
    from xlsxgov.export import export_facts

    s19 = spec_mod.load("gov2019")
    vals = hf.filled_values("gov2019")
    delta = next(c for c in s19.cells() if c.kind.value == "delta" and c.is_input)
    vals[key(delta)] = -4
    p = hf.filled_template(tmp_path / "f.xlsx", agency='=HYPERLINK("http://x","点我")', edition="gov2019", values=vals)
    export_facts([p], tmp_path / "out.csv")
    export_facts([p], tmp_path / "out.parquet")
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["agency"] for r in rows} == {"'=HYPERLINK(\"http://x\",\"点我\")"}
    (neg,) = [r for r in rows if (r["table"], r["row"], r["col"]) == key(delta)]
    assert neg["value"] == "-4"  # a negative number stays a number
    frame = pd.read_parquet(tmp_path / "out.parquet")
    assert set(frame["agency"]) == {'=HYPERLINK("http://x","点我")'}  # Parquet keeps text as text


def test_very_long_agency_name_feedback(plain_cases, tmp_path):
    from xlsxgov.feedback import feedback_path, write_feedback

    case = next(c for c in plain_cases if c.path.name == "long_name.xlsx")
    bad = hf.patch_xlsx(case.path, tmp_path / "long_bad.xlsx", hf.sheet_part("gov2021", "t3"),
                        lambda x: hf.set_cell_xml(x, "E8", "<v>#N/A</v>", ' t="e"'))
    (rep,) = validate_paths([bad])
    assert len(rep.submission.agency) >= 73
    (tmp_path / "fb").mkdir()
    out = write_feedback(rep.submission, rep.findings, feedback_path(tmp_path / "fb", rep.submission))
    assert out.is_file() and len(out.name.encode("utf-8")) <= 255


# --------------------------------------------------------------------------- campaign import


def _campaign(tmp_path: Path) -> tuple[Path, str]:
    from test_consolidate_campaign import code_for
    from xlsxgov.campaign.init import init_campaign

    other = code_for(5)
    roster = tmp_path / "roster.csv"
    roster.write_text("单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n"
                      f"某市某局,{hf.READ_CODE},某市,张三,a@example.com\n"
                      f"良好单位,{other},某市,李四,b@example.com\n", encoding="utf-8")
    d = tmp_path / "c"
    init_campaign(d, year=2024, roster_path=roster)
    return d, other


def _dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_campaign_import_of_the_corpus_with_good_files(plain_cases, tmp_path):
    """Every hostile file and good files in one inbox: each gets its outcome, good files are
    valid, lock files and other files are listed as not imported with why, a re-run is clean."""
    import shutil

    from xlsxgov.campaign.importer import import_paths
    from xlsxgov.campaign.status import campaign_status

    d, other = _campaign(tmp_path)
    inbox = d / "inbox"
    for case in plain_cases:
        if case.path.exists():
            shutil.copyfile(case.path, inbox / case.path.name)
    hf.filled_template(inbox / "良好单位.et", agency="良好单位", code=other)  # a WPS name, xlsx content
    (inbox / "数据.dat").write_bytes(b"\x00\x01 not a report")
    result = import_paths(d)
    by_name = {f.name: f for f in result.files}
    assert by_name["良好单位.et"].outcome == "valid", by_name["良好单位.et"]
    assert by_name["~$报表.xlsx"].outcome == "skipped" and "临时锁定文件" in by_name["~$报表.xlsx"].reason
    assert by_name["数据.dat"].outcome == "skipped" and "未导入" in by_name["数据.dat"].reason
    for case in plain_cases:
        if not case.path.exists() or case.kind == "lock_file":
            continue
        f = by_name[case.path.name]
        if case.unreadable:
            assert f.outcome in ("unreadable", "duplicate"), (case.path.name, f)
            assert f.outcome == "duplicate" or ("\n" not in f.reason and f.reason)
        else:
            assert f.outcome in ("valid", "invalid", "duplicate"), (case.path.name, f)
    status = {a["code"]: a["status"] for a in campaign_status(d)["agencies"]}
    assert status[other] == "valid"
    assert list((d / "quarantine").glob("*.reason.txt"))
    again = import_paths(d)
    assert {f.outcome for f in again.files} <= {"duplicate", "skipped"}


def test_import_after_a_process_died_once_while_reading_reads_it_again(tmp_path):
    """One death while reading a file may be the user's kill: the next run reads it again."""
    import hashlib

    from xlsxgov.campaign.importer import import_paths

    d, _ = _campaign(tmp_path)
    good = hf.filled_template(d / "inbox" / "某市某局.xlsx")
    sha = hashlib.sha256(good.read_bytes()).hexdigest()
    (d / ".tmp").mkdir(exist_ok=True)
    (d / ".tmp" / f"reading-{_dead_pid()}").write_text(f"{sha}.xlsx", encoding="utf-8")
    result = {f.name: f for f in import_paths(d).files}
    assert result["某市某局.xlsx"].outcome == "valid"
    assert not list((d / ".tmp").glob("suspect-*")) and not list((d / ".tmp").glob("reading-*"))


def test_reading_note_names_the_file_being_read(tmp_path):
    """The note a reading process keeps (rewritten in place, never truncated) names the file
    being read, a shorter name after a longer one included, as the next import reads it; the
    note is gone once closed."""
    from xlsxgov.campaign.importer import _noted, _ReadingNote

    path = tmp_path / "reading-1"
    note = _ReadingNote(path)
    for name in ("a" * 64 + ".xlsx", "b" * 64 + ".et", "某" * 3 + ".html", "c" * 64 + ".xlsx"):
        note(Path(name))
        assert _noted(path) == name
    note.close()
    assert not path.exists()


def test_import_after_a_process_died_while_reading(tmp_path):
    """The file on which imports died twice is quarantined at the next run, never read again;
    the temporary files the killed run left are removed, those of running processes kept."""
    import hashlib
    import os

    from xlsxgov.campaign.importer import import_paths

    d, other = _campaign(tmp_path)
    culprit = hf.filled_template(d / "inbox" / "某市某局.xlsx")
    good = hf.filled_template(d / "inbox" / "良好单位.xlsx", agency="良好单位", code=other)
    sha = hashlib.sha256(culprit.read_bytes()).hexdigest()
    dead = _dead_pid()
    (d / ".tmp").mkdir(exist_ok=True)
    (d / ".tmp" / f"reading-{dead}").write_text(f"{sha}.xlsx", encoding="utf-8")
    (d / ".tmp" / f"suspect-{sha}.xlsx").touch()  # an earlier import died on it already
    orphans = [d / "archive" / f".{sha}.xlsx.{dead}.0123abcd.tmp.xlsx", d / "feedback" / f".x_问题反馈.xlsx.{dead}.89abcdef.tmp.xlsx"]
    alive = d / "feedback" / f".y.xlsx.{os.getppid()}.fedcba98.tmp.xlsx"
    for p in orphans + [alive]:
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"partial")
    result = {f.name: f for f in import_paths(d).files}
    assert result["某市某局.xlsx"].outcome == "unreadable"
    assert "异常终止" in result["某市某局.xlsx"].reason
    assert result["良好单位.xlsx"].outcome == "valid"
    assert not any(p.exists() for p in orphans) and alive.exists()
    assert not list((d / ".tmp").glob("reading-*"))
    assert good.exists()


@pytest.mark.office
def test_cli_prints_file_text_literally(plain_cases, office_cases, tmp_path):
    """Agency names with Rich markup, escape sequences, bell and bidi overrides: printed as
    text at 80 columns, exit code as documented, no traceback; the same in campaign import."""
    import os
    import shutil
    import subprocess
    import sys

    exe = str(Path(sys.executable).parent / "xlsxgov")
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm-256color"}
    files = [str(c.path) for c in plain_cases if c.path.name in ("markup.xlsx", "escape.xlsx")]
    run = subprocess.run([exe, "validate", *files], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    joined = run.stdout.replace("\n", "")  # lines are broken at 80 columns, between characters
    assert "[red]某局[/]" in joined and "\\x1b[31m某局\\x07\\u202e局某" in joined
    assert "\x1b" not in run.stdout + run.stderr and "\x07" not in run.stdout and "\u202e" not in run.stdout
    assert "Traceback" not in run.stderr
    d, _ = _campaign(tmp_path)
    bad_name = d / "inbox" / "[red]坏[bold]\x1b[2J.xlsx"
    shutil.copyfile(next(c.path for c in plain_cases if c.path.name == "far_note.xlsx"), bad_name)
    wide = {**env, "COLUMNS": "250"}  # so that the table does not fold the name
    run = subprocess.run([exe, "campaign", "import", str(d)], capture_output=True, text=True, env=wide, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[red]坏[bold]\\x1b[2J.xlsx" in run.stdout and "\x1b" not in run.stdout
    (note,) = (d / "quarantine").glob("*.reason.txt")
    assert "\\x1b[2J" in note.read_text(encoding="utf-8") and "\x1b" not in note.read_text(encoding="utf-8")


@pytest.mark.parametrize("flip", [0.25, 0.5, 0.75])
def test_damaged_compressed_sheet_is_truncated_not_internal(good_xlsx, tmp_path, flip):
    """Bytes overwritten inside a sheet's compressed data (found by the property above: the
    screen reads only each part's head): "truncated" with a one-line reason, not a contained bug."""
    import zipfile

    raw = bytearray(good_xlsx.read_bytes())
    with zipfile.ZipFile(good_xlsx) as zf:
        info = zf.getinfo(hf.sheet_part("gov2021", "t3"))
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    at = start + int(info.compress_size * flip)
    raw[at:at + 4] = bytes(b ^ 0xA5 for b in raw[at:at + 4])
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(bytes(raw))
    with pytest.raises(Unreadable) as caught:
        read_workbook(path)
    assert caught.value.code == "truncated", caught.value.reason
    assert "\n" not in caught.value.reason


def test_metadata_that_lost_a_row_place_is_not_trusted():
    """A damaged metadata sheet (found by the damaged-.xls property above: one byte lost a row's
    place) makes the cells be located by their labels, not a KeyError contained as a bug."""
    from xlsxgov import spec as spec_mod
    from xlsxgov.reader import _meta_fits

    table = spec_mod.load("gov2021").table("t2")
    places = {cell.key: ("表二", 5, 2) for cell in table.cells}
    places.pop(table.cells[0].key)
    assert _meta_fits(table, {"表二": [[""] * 10 for _ in range(40)]}, places) is False


def test_a_damaged_place_in_the_metadata_is_not_read_as_a1(tmp_path):
    """Found through the damaged-.xls property: a metadata reference such as " 29" made xlsxwriter
    warn and answer A1, so a cover field would have been read from the cover's title cell. Such
    a place is now distrusted: the field is found by its label, and nothing is printed."""
    import warnings

    good = hf.filled_template(tmp_path / "good.xlsx")
    damaged = hf.patch_xlsx(good, tmp_path / "damaged.xlsx", "xl/sharedStrings.xml", lambda x: x.replace("<t>B3</t>", "<t> 3</t>", 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # xlsxwriter's "Invalid cell reference" would fail here
        for full in (False, True):
            sub = read_workbook(damaged, full=full)
            assert sub.agency == read_workbook(good).agency == "某市某局"


def test_a_total_showing_value_error_blames_the_text_typed_in_its_part(tmp_path):
    """Found by a new user's trial: "五" typed in 表三 D6 and the file saved by Excel or LibreOffice
    (the total J6 then shows #VALUE!) gave an error on J6, a protected formula cell, and only a
    提示 on D6. The error is now on D6, naming what it holds."""
    part = hf.sheet_part("gov2021", "t3")
    d6, j6 = hf.a1_of("t3", "new", "natural"), hf.a1_of("t3", "new", "total")
    good = hf.filled_template(tmp_path / "good.xlsx")
    typed = hf.patch_xlsx(good, tmp_path / "typed.xlsx", part, lambda x: hf.set_cell_xml(
        hf.set_cell_xml(x, d6, "<is><t>五</t></is>", ' t="inlineStr"'), j6, "<f>SUM(D6:I6)</f><v>#VALUE!</v>", ' t="e"'))
    for full in (False, True):
        sub = read_workbook(typed, full=full)
        errors = [f for f in sub.findings if f.rule == "cell.error_value"]
        assert [(f.severity, f.cell, f.cells) for f in errors] == [("error", d6, (("t3", "new", "natural"),))], errors
        assert "“五”" in errors[0].message and "阿拉伯数字" in errors[0].message and "#VALUE!" in errors[0].message
    # "无" read as a blank breaks the sheet's sum too (found by a second trial: 表四 A6 "无" gave
    # the error on the protected total E6)
    none = hf.patch_xlsx(good, tmp_path / "none.xlsx", part, lambda x: hf.set_cell_xml(
        hf.set_cell_xml(x, d6, "<is><t>无</t></is>", ' t="inlineStr"'), j6, "<f>SUM(D6:I6)</f><v>#VALUE!</v>", ' t="e"'))
    (error,) = [f for f in read_workbook(none).findings if f.rule == "cell.error_value"]
    assert error.cell == d6 and "“无”" in error.message and "阿拉伯数字" in error.message
    # a total whose error has no such cause still says so on the total
    broken = hf.patch_xlsx(good, tmp_path / "broken.xlsx", part, lambda x: hf.set_cell_xml(x, j6, "<f>1/0</f><v>#DIV/0!</v>", ' t="e"'))
    (error,) = [f for f in read_workbook(broken).findings if f.rule == "cell.error_value"]
    assert error.cell == j6
