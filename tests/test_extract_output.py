"""What ``extract`` hands on: the workbook ``extract -o`` writes, consolidating such workbooks,
documents whose extension lies, ``export`` and ``audit`` on report documents (a new user's trial).

Real material: the five seeds and the three reports of ../shared (expected cells in
../shared/reports/expected/*.json), and report documents written from them (.docx by python-docx,
.pdf by LibreOffice).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from xlsxgov.compute import key
from xlsxgov.extract import extract_paths, extract_report, printed_value
from xlsxgov.layout import layout
from xlsxgov.reader import read_workbook
from xlsxgov.validate import validate_paths

from tests.extractdata import REPORTS, expected

NAMES = [p.stem for p in REPORTS]


def _xlsxgov(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("xlsxgov")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, "COLUMNS": "80", "XLSXGOV_WORKERS": "1"})


def _report(stem: str) -> Path:
    return next(p for p in REPORTS if p.stem.startswith(stem))


# ---------------------------------------------------------------------------------------------
# 1. extract -o writes what the document printed


def _comment(ws, a1: str) -> str:
    c = ws[a1].comment
    return c.text if c else ""


@pytest.mark.parametrize("path", REPORTS, ids=NAMES)
def test_written_workbook_shows_every_printed_cell_or_marks_where_it_differs(tmp_path: Path, path: Path):
    from xlsxgov.extract.workbook import write_extracted

    (rep,) = extract_paths([path])
    sub = rep.submission
    out = write_extracted(sub, rep.findings, tmp_path / "out.xlsx")
    formulas = openpyxl.load_workbook(out)
    cached = openpyxl.load_workbook(out, data_only=True)
    lay = layout(sub.spec)
    typed_over = 0
    for cell in sub.spec.cells():
        k = key(cell)
        place = lay[cell.table.id].place(cell)
        f_ws, v_ws = formulas[cell.table.sheet], cached[cell.table.sheet]
        stored, shown, note = f_ws[place.a1].value, v_ws[place.a1].value, _comment(f_ws, place.a1)
        printed = printed_value(sub, k)  # None blank, a text for / and the like, else the number (万元)
        what = f"{cell.table.short} {cell.row.display}/{cell.col.display} {place.a1}"
        if cell.is_input:
            if k in sub.bad_cells:
                assert note, what  # not read, or text that is no number: red with a comment
                assert shown in (None, sub.raw[k]), what
            elif printed is None:
                assert shown is None, what  # a printed blank stays blank (was 0)
            elif isinstance(printed, str):
                assert shown is None and f"“{printed}”" in note, what  # / : blank, quoted in a comment
            else:
                assert shown == printed, what
        elif printed is None or isinstance(printed, str):
            assert str(stored).startswith("="), what
            if printed is None and sub.where[k] != ("", "") and k not in sub.bad_cells:
                assert "印为空白" in note, what
        elif shown != printed or not str(stored).startswith("="):
            # The printed total is in the cell, as a number: a recalculation cannot lose it.
            assert stored == printed and shown == printed, what
            assert f"报告中印的合计为 {printed}" in note, what
            typed_over += 1
        else:
            assert shown == printed, what
    exp = expected(path.stem)
    if path.stem.startswith("003"):
        assert typed_over == 1  # 申请答复数 printed 14, its parts give 12
        answered = sub.spec.table("stats").cell("answered", "value")
        assert formulas[answered.table.sheet][lay["stats"].place(answered).a1].value == 14
    if path.stem.startswith("002"):
        # （七）总计 printed 0 for 科研机构 (its parts give 1) and for 总计, which its formula gives
        # once 科研机构 holds the printed 0.
        assert typed_over == 1
    if path.stem.startswith("2019_shanghai"):
        assert typed_over == 0 and sum(1 for v in exp["cells"].values() if v is None) > 100
    cover = [r for r in formulas["封面"].iter_rows(values_only=True) if r[0] == "数据来源"]
    assert path.name in cover[0][1]
    # The extraction's findings, with their places in the document, are in 问题清单.
    issues = [r for r in formulas["问题清单"].iter_rows(min_row=2, values_only=True)]
    assert [r[4] for r in issues] == [f.message for f in rep.findings]
    # Reading the workbook back gives the verdict the document got.
    (again,) = validate_paths([out])
    assert again.status == rep.status
    errors = lambda r: sorted(f.message.split("：")[0] + f.rule for f in r.findings if f.severity == "error")  # noqa: E731
    assert errors(again) == errors(rep)
    warned = {f.rule for f in again.findings if f.severity == "warning"} - {"cover.code"}
    assert {f.rule for f in rep.findings if f.severity == "warning" and not f.rule.startswith("extract.")} <= warned


def test_blank_tables_stay_blank_and_validate_still_says_so(tmp_path: Path):
    """Seed 004 leaves 表三 and 表四 blank: the workbook was all 0 and validating it lost the warning."""
    out = tmp_path / "o_004.xlsx"
    done = _xlsxgov("extract", _report("004"), "-o", out)
    assert done.returncode == 0, done.stderr
    wb = openpyxl.load_workbook(out, data_only=True)
    sub = read_workbook(out)
    lay = layout(sub.spec)
    for table in (sub.spec.table("t3"), sub.spec.table("t4")):
        assert all(wb[table.sheet][lay[table.id].place(c).a1].value is None for c in table.cells if c.is_input)
    (rep,) = validate_paths([out])
    assert sorted(f.message[:2] for f in rep.findings if f.rule == "workbook.table_blank") == ["表三", "表四"]


@pytest.mark.office
def test_printed_totals_survive_libreoffice_recalculation(tmp_path: Path, soffice: str):
    """A cached result alone would be recomputed away: the printed total is the cell's value,
    and every formula's cached result is what LibreOffice computes."""
    from xlsxgov import office
    from xlsxgov.extract.workbook import write_extracted

    (rep,) = extract_paths([_report("003")])
    out = write_extracted(rep.submission, rep.findings, tmp_path / "o.xlsx")
    again = office.convert(out, "xlsx", tmp_path / "lo", recalc=True)
    mine, theirs = openpyxl.load_workbook(out, data_only=True), openpyxl.load_workbook(again, data_only=True)
    answered = rep.submission.spec.table("stats").cell("answered", "value")
    assert theirs[answered.table.sheet][layout(rep.submission.spec)["stats"].place(answered).a1].value == 14
    for ws in mine.worksheets:
        if ws.title.startswith("_"):
            continue
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, (int, float)):
                    assert theirs[ws.title][c.coordinate].value == pytest.approx(c.value), (ws.title, c.coordinate)


# ---------------------------------------------------------------------------------------------
# 2. extracted reports consolidate


def test_extracted_reports_consolidate_with_the_right_sums(tmp_path: Path):
    stems = ("000", "001", "2019_shanghai")
    folder = tmp_path / "读出的表格"
    done = _xlsxgov("extract", *(_report(s) for s in stems), "-o", folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list(folder.glob("*.xlsx"))) == 3
    (one,) = validate_paths([next(folder.glob("000*.xlsx"))])
    code = [f for f in one.findings if f.rule == "cover.code"]
    assert [f.severity for f in code] == ["warning"] and "报告中不印代码" in code[0].message
    out = tmp_path / "汇总.xlsx"
    done = _xlsxgov("consolidate", folder, "-o", out, "--region", "测试")
    assert done.returncode == 0, done.stdout + done.stderr
    total = read_workbook(out)
    subs = [extract_report(_report(s)) for s in stems]
    for k in subs[0].values:
        assert total.values[k] == sum(s.values[k] for s in subs), k
    # --code fills the cover: no warning then.
    coded = tmp_path / "朝阳.xlsx"
    done = _xlsxgov("extract", _report("000"), "-o", coded, "--code", "91350100M000100Y43")
    assert done.returncode == 0, done.stderr
    sub = read_workbook(coded)
    assert sub.code == "91350100M000100Y43" and not [f for f in sub.findings if f.rule == "cover.code"]
    bad = _xlsxgov("extract", _report("000"), "-o", coded, "--code", "123")
    assert bad.returncode == 2 and "统一社会信用代码" in bad.stderr


def test_several_reports_to_an_xlsx_file_are_refused(tmp_path: Path):
    out = tmp_path / "one.xlsx"
    done = _xlsxgov("extract", _report("000"), _report("001"), "-o", out)
    assert done.returncode == 2 and not out.exists()
    assert "-o 应为目录" in done.stderr and "Traceback" not in done.stderr
    done = _xlsxgov("extract", _report("000"), _report("001"), "-o", out, "--code", "91350100M000100Y43")
    assert done.returncode == 2 and "--code 只能用于一个报告" in done.stderr
    # A folder that does not exist yet is made; a file in the way is said, never a traceback.
    assert _xlsxgov("extract", _report("000"), "-o", tmp_path / "新" / "目录" / "o.xlsx").returncode == 0
    (tmp_path / "文件").write_text("x", encoding="utf-8")
    for target in (tmp_path / "文件" / "o.xlsx", tmp_path / "文件" / "下" / "o.xlsx"):
        done = _xlsxgov("extract", _report("000"), "-o", target)
        assert done.returncode == 2 and "是文件，不是目录" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------------
# 3. the content decides the format


def _docx_of(report: Path, out: Path) -> Path:
    """A Word document of a report's text: ``a | b`` lines as a table, other lines as paragraphs."""
    import docx

    d = docx.Document()
    block: list[list[str]] = []

    def flush() -> None:
        if block:
            t = d.add_table(rows=len(block), cols=max(len(r) for r in block))
            for i, r in enumerate(block):
                for j, c in enumerate(r):
                    t.cell(i, j).text = c.strip()
            block.clear()

    for line in report.read_text(encoding="utf-8").splitlines()[2:]:
        if "|" in line:
            block.append(line.split("|"))
        else:
            flush()
            d.add_paragraph(line)
    flush()
    d.save(out)
    return out


def test_a_document_is_read_by_its_content_whatever_its_extension(tmp_path: Path):
    report = _report("2023_shuyang")
    want = extract_report(report).values
    word = _docx_of(report, tmp_path / "沭阳.docx")
    for name in ("沭阳.pdf", "沭阳.txt", "沭阳", "沭阳.doc"):
        renamed = tmp_path / name
        renamed.write_bytes(word.read_bytes())
        assert extract_report(renamed).values == want, name
    text = tmp_path / "沭阳文本.docx"
    text.write_bytes(report.read_bytes())
    assert extract_report(text).values == want


@pytest.mark.office
def test_pdf_and_old_word_files_with_the_wrong_extension(tmp_path: Path, soffice: str):
    from xlsxgov import office

    report = _report("2023_shuyang")
    want = extract_report(report).values
    word = _docx_of(report, tmp_path / "沭阳.docx")
    pdf = office.convert(word, "pdf", tmp_path / "pdf", filter="pdf:writer_pdf_Export")
    (tmp_path / "pdf_as.txt").write_bytes(pdf.read_bytes())
    assert extract_report(tmp_path / "pdf_as.txt").values == extract_report(pdf).values
    # An old Word 97-2003 file (office.convert writes no .doc): LibreOffice itself.
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--convert-to", "doc",
                    "--outdir", str(tmp_path / "doc"), str(word)], check=True, capture_output=True, timeout=180)
    doc = tmp_path / "doc" / "沭阳.doc"
    assert doc.read_bytes().startswith(b"\xd0\xcf\x11\xe0")
    (tmp_path / "doc_as.docx").write_bytes(doc.read_bytes())
    assert extract_report(tmp_path / "doc_as.docx").values == want


def test_unreadable_files_get_one_chinese_line_in_extract_and_audit(tmp_path: Path):
    import zipfile

    folder = tmp_path / "年报"
    folder.mkdir()
    (folder / "截断.docx").write_bytes(_docx_of(_report("000"), tmp_path / "w.docx").read_bytes()[:3000])
    with zipfile.ZipFile(folder / "压缩包.docx", "w") as zf:
        zf.writestr("readme.txt", "hello")
    (folder / "图片.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (folder / "坏.pdf").write_bytes(b"%PDF-1.4 junk")
    from xlsxgov.template import Meta, write_template
    from xlsxgov import spec as spec_mod

    write_template(folder / "工作簿.doc", spec_mod.load("gov2021"), Meta())
    want = {
        "截断.docx": "Word 文档已损坏（压缩包不完整），无法打开",
        "压缩包.docx": "这是压缩文件，不是 Word 文档；请解压后读取其中的报告",
        "图片.pdf": "这是图片文件，读不出表格；请提供 Word、网页或带文字的 PDF",
        "坏.pdf": "PDF 文件已损坏或已加密，无法打开",
        "没有.txt": "文件不存在",
    }
    reports = extract_paths([*(folder / n for n in want)])
    assert {r.path.name: r.reason for r in reports} == {n: f"{n}：{reason}" for n, reason in want.items()}
    done = _xlsxgov("extract", *(folder / n for n in want))
    assert done.returncode == 2
    said = "".join(done.stdout.split())  # wrapped at 80 columns
    for reason in want.values():
        assert "".join(reason.split()) in said
    assert "Exception" not in done.stdout + done.stderr and "No such file" not in done.stdout
    done = _xlsxgov("audit", folder)
    assert done.returncode == 2 and "无法读取 4" in done.stdout  # 没有.txt is not in the folder
    # A workbook under a document's name is read as the workbook it is (a blank template: invalid).
    (book,) = extract_paths([folder / "工作簿.doc"])
    assert book.status == "invalid" and "workbook.unfilled" in {f.rule for f in book.findings}
    assert _xlsxgov("extract", folder / "工作簿.doc", "-o", tmp_path / "反馈.xlsx").returncode == 1
    assert "问题清单" in openpyxl.load_workbook(tmp_path / "反馈.xlsx").sheetnames


def test_documents_pass_the_same_screen_as_workbooks(tmp_path: Path):
    """extract decides a document's format with filecheck (one sniffer): a Word document
    hiding an XML entity bomb, or a zip bomb, is refused in one line before python-docx opens
    it; a page saved as UTF-16 is read as a page."""
    import zipfile

    from tests.hostile_files import _rewrite_zip, lying_size_xlsx

    word = _docx_of(_report("000"), tmp_path / "w.docx")
    with zipfile.ZipFile(word) as zf:
        body = zf.read("word/document.xml")
    bomb = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>' + body.split(b"?>", 1)[1]
    _rewrite_zip(word, tmp_path / "实体.docx", replace={"word/document.xml": bomb})
    with zipfile.ZipFile(tmp_path / "炸弹.docx", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"<w/>" + b" " * (300 * 2**20))
    lying_size_xlsx(word, tmp_path / "谎报大小.docx", "word/document.xml")  # inflates 64 MB past its declared size
    reports = extract_paths([tmp_path / "实体.docx", tmp_path / "炸弹.docx", tmp_path / "谎报大小.docx"])
    assert [r.reason for r in reports] == [
        "实体.docx：文件内部 XML 含有 DTD/实体声明（疑似“XML 炸弹”），已拒绝读取",
        "炸弹.docx：文件内部结构异常（疑似“压缩炸弹”），已拒绝读取",
        "谎报大小.docx：Word 文档已损坏（压缩包不完整），无法打开",
    ]
    page = tmp_path / "utf16.html"
    text = _report("000").read_text(encoding="utf-8").splitlines()[2:]
    rows = "".join("<tr>" + "".join(f"<td>{c.strip()}</td>" for c in line.split("|")) + "</tr>" if "|" in line else f"<p>{line}</p>" for line in text)
    page.write_bytes(f"<html><body><table>{rows}</table></body></html>".encode("utf-16"))
    assert extract_report(page).values == extract_report(_report("000")).values


def _pdf_with_content(content_stream: bytes) -> bytes:
    """A one-page PDF whose page content is ``content_stream`` (already FlateDecode-compressed)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content_stream) + content_stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_pdf_bomb_is_refused_before_pdfminer_inflates_it(tmp_path: Path):
    """pdfminer inflates a page's content stream whole: 300 KB of PDF became 300 MB. Its zlib
    streams are inflated first in bounded steps, and a stream past PDF_STREAM_MAX is refused."""
    import tracemalloc
    import zlib

    from xlsxgov.extract.formats import PDF_STREAM_MAX

    packer = zlib.compressobj()
    chunk = b" " * 2**20
    bomb = b"".join(packer.compress(chunk) for _ in range(PDF_STREAM_MAX // len(chunk) + 16)) + packer.flush()
    (tmp_path / "炸弹.pdf").write_bytes(_pdf_with_content(bomb))
    (tmp_path / "正常.pdf").write_bytes(_pdf_with_content(zlib.compress(b"BT /F1 12 Tf 72 720 Td (x) Tj ET")))
    tracemalloc.start()
    try:
        reports = extract_paths([tmp_path / "炸弹.pdf", tmp_path / "正常.pdf"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reports[0].reason == f"炸弹.pdf：PDF 文件其中一段压缩数据解压后超过 {PDF_STREAM_MAX // 2**20} MB（疑似“压缩炸弹”），已拒绝读取"
    assert "压缩炸弹" not in (reports[1].reason or "")  # a page of text is read (it holds no tables)
    assert peak < PDF_STREAM_MAX // 2, peak


# ---------------------------------------------------------------------------------------------
# 4. export of a report document, 6. audit's exit code and numbers, 7. the blank note


def test_export_of_a_report_document_points_to_extract(tmp_path: Path):
    report = _report("002")
    done = _xlsxgov("export", report, "-o", tmp_path / "x.csv")
    assert done.returncode == 2
    said = done.stderr.replace("\n", "")
    assert "这是年度报告文档" in said and f"xlsxgov extract {report.name} -o" in said and "另存为" not in said


def test_audit_exit_code_and_numbers(tmp_path: Path):
    folder = tmp_path / "年报"
    folder.mkdir()
    for s in ("000", "001"):
        (folder / _report(s).name).write_bytes(_report(s).read_bytes())
    out = tmp_path / "审查.xlsx"
    assert _xlsxgov("audit", folder, "-o", out).returncode == 0
    (folder / _report("002").name).write_bytes(_report("002").read_bytes())
    assert _xlsxgov("audit", folder, "-o", out).returncode == 1
    (folder / "坏.pdf").write_bytes(b"%PDF-1.4 junk")
    assert _xlsxgov("audit", folder, "-o", out).returncode == 2
    in_the_way = tmp_path / "文件"
    in_the_way.write_text("x", encoding="utf-8")
    done = _xlsxgov("audit", folder, "-o", in_the_way / "审查.xlsx")
    assert done.returncode == 2 and "是文件，不是目录" in done.stderr and "Traceback" not in done.stderr
    ws = openpyxl.load_workbook(out)["报告"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows[_report("002").name][2] == 2019 and rows[_report("002").name][5] == 4
    assert rows[_report("000").name][5] == 0 and rows["坏.pdf"][2] is None


def test_blank_note_names_each_line_once():
    (rep,) = extract_paths([_report("2019_shanghai")])
    (note,) = [f for f in rep.findings if f.rule == "blank" and f.message.startswith("表三")]
    places = note.message.split("（")[-1].removesuffix("等）").split("、")
    assert len(places) == len(set(places)) == 5, note.message


def test_slash_and_text_cells_keep_what_was_printed(tmp_path: Path):
    """沭阳 2023 with 表四's second cell printed ``/``, its sixth ``2.5`` (no count) and the row cut
    after its tenth (no real report here prints these in a value cell)."""
    from xlsxgov.extract.workbook import write_extracted

    lines = _report("2023_shuyang").read_text(encoding="utf-8").splitlines()
    cells = lines[79].split(" | ")
    assert lines[79].startswith("0 | 0 | 0 | 1 | 1 |") and len(cells) == 15
    cells[1], cells[5] = "/", "2.5"
    lines[79] = " | ".join(cells[:10])
    doc = tmp_path / "沭阳.txt"
    doc.write_text("\n".join(lines), encoding="utf-8")
    (rep,) = extract_paths([doc])
    sub = rep.submission
    out = write_extracted(sub, rep.findings, tmp_path / "沭阳.xlsx")
    lay = layout(sub.spec)["t4"]
    t4 = sub.spec.table("t4")
    slash, text, cut = (lay.place(t4.cell("cases", t4.blocks[0].columns[i].id)).a1 for i in (1, 5, 12))
    ws = openpyxl.load_workbook(out)[t4.sheet]
    assert ws[slash].value is None and "“/”" in _comment(ws, slash)
    assert ws[text].value == "2.5" and "2.5" in _comment(ws, text)
    assert ws[cut].value is None and "找不到" in _comment(ws, cut)
    (again,) = validate_paths([out])
    assert again.status == rep.status == "invalid"
    assert [f.cells for f in again.findings if f.rule.startswith("cell.")] == [f.cells for f in rep.findings if f.rule.startswith("cell.")]
