"""Tests for xlsxgov.filecheck against the hostile corpus in hostile_files.py."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

import hostile_files as hf

try:
    from xlsxgov.filecheck import CODES, KINDS, FileVerdict, check_bytes, check_file
except ModuleNotFoundError:  # package not installed and pytest has no pythonpath set: use the checkout
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from xlsxgov.filecheck import CODES, KINDS, FileVerdict, check_bytes, check_file


def _assert_well_formed(v: FileVerdict) -> None:
    assert isinstance(v, FileVerdict)
    if v.ok:
        assert v.format in ("xlsx", "xlsm", "xls", "ods") and v.code is None and v.reason is None
    else:
        assert v.format is None and v.code in CODES
        assert v.reason and "\n" not in v.reason
    assert all(isinstance(w, str) and w for w in v.warnings)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("corpus")


@pytest.mark.parametrize("make", hf.HOSTILE, ids=lambda f: f.__name__)
def test_hostile_file_gets_expected_code(make, corpus_dir):
    path, code = make(corpus_dir)
    v = check_file(path)
    _assert_well_formed(v)
    assert not v.ok
    assert v.code == code, v.reason


# What each hostile file's content is (FileVerdict.kind): extract reads report documents by it.
_KIND_OF = {
    "truncated_xlsx": "zip", "crc_damaged_xlsx": "zip", "html_as_xls": "html", "mht_as_xls": "mht",
    "csv_gbk_as_xls": "csv", "docx_as_xlsx": "docx", "doc_as_xls": "doc", "rtf_as_xls": "rtf",
    "pdf_as_xlsx": "pdf", "png_as_xlsx": "image", "zip_of_workbooks": "zip", "truncated_ole": "ole",
    "spreadsheetml_2003_as_xls": "xml2003", "plain_text_as_xlsx": "text", "xlsm_with_macros": "xlsm",
}


@pytest.mark.parametrize("make", hf.HOSTILE, ids=lambda f: f.__name__)
def test_verdict_names_what_the_content_is(make, corpus_dir):
    path, _ = make(corpus_dir)
    v = check_file(path)
    assert v.kind is None or v.kind in KINDS
    if make.__name__ in _KIND_OF:
        assert v.kind == _KIND_OF[make.__name__], v.reason
    assert check_bytes(path.read_bytes(), path.name) == v  # the same screen over bytes already read


@pytest.mark.parametrize("head,kind", [
    (b"\r\n%PDF-1.7\n", "pdf"),  # a few bytes before the header, as some writers leave them
    (b"BM" + bytes(4) + bytes(4) + b"\x36\x00\x00\x00", "image"),
    (b"II*\x00" + bytes(20), "image"),
    (b"  {\\rtf1\\ansi", "rtf"),
    ("<html><body><table><tr><td>1</td></tr></table></body></html>".encode("utf-16"), "html"),
    (b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=x\r\n\r\n--x\r\n<html>", "mht"),
    (b"BMW,Audi\n1,2\n", "csv"),  # "BM" alone is no image
    (b"2025????,\n????,2021\x93??\x94,30\n????,11330727\n", "csv"),  # a Western code page (found by a trial)
])
def test_kind_of_other_content(head, kind):
    assert check_bytes(head, "x.bin").kind == kind


@pytest.mark.parametrize("make,fmt", hf.GOOD, ids=lambda x: getattr(x, "__name__", x))
def test_good_file_is_ok(make, fmt, corpus_dir):
    path, _ = make(corpus_dir)
    v = check_file(path)
    _assert_well_formed(v)
    assert v.ok, v.reason
    assert v.format == fmt


def test_reason_names_the_extension(corpus_dir):
    path, _ = hf.html_as_xls(corpus_dir)
    reason = check_file(path).reason
    assert "扩展名为 .xls" in reason and "HTML" in reason and ".xlsx" in reason


def test_renamed_workbook_is_read_with_a_warning(corpus_dir):
    path, _ = hf.xlsx_named_xls(corpus_dir)
    v = check_file(path)
    assert v.ok and v.format == "xlsx"
    assert any(".xls" in w for w in v.warnings)


def test_macros_are_refused_with_advice(corpus_dir):
    path, _ = hf.xlsm_with_macros(corpus_dir)
    v = check_file(path)
    assert v.code == "macros" and "宏" in v.reason and ".xlsx" in v.reason


def test_xlsm_without_macros_warns(corpus_dir):
    path, _ = hf.xlsm_without_macros(corpus_dir)
    v = check_file(path)
    assert v.ok and v.format == "xlsm" and v.warnings


def test_zip_bomb_is_never_inflated(corpus_dir, monkeypatch):
    path, _ = hf.zip_bomb_xlsx(corpus_dir)
    assert path.stat().st_size < 2**20  # the corpus itself stays small on disk
    inflated = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = real_read(self, n)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    assert check_file(path).code == "zip_bomb"
    assert sum(inflated) < 2**20


def test_limits_are_parameters(tmp_path):
    path = hf.good_xlsx(tmp_path / "good.xlsx")
    assert check_file(path, max_bytes=100).code == "too_large"
    assert check_file(path, max_entries=3).code == "zip_bomb"
    assert check_file(path, max_inflated=1000).code == "zip_bomb"
    assert check_file(path).ok


def test_missing_file_does_not_raise(tmp_path):
    v = check_file(tmp_path / "nope.xlsx")
    _assert_well_formed(v)
    assert v.code == "unsupported"


def test_cfb_writer_is_real_enough_for_calamine(corpus_dir):
    # python-calamine must see the helper's OLE2 file as a password-protected workbook.
    path, _ = hf.encrypted_xlsx(corpus_dir)
    with pytest.raises(Exception, match="(?i)password"):
        CalamineWorkbook.from_path(str(path))


def test_good_ods_is_readable_by_calamine(tmp_path):
    path = hf.good_ods(tmp_path / "g.ods")
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert rows == [["项目", 12.0]]


# --------------------------------------------------------------------------- properties

def _good_xlsx_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        return hf.good_xlsx(Path(d) / "good.xlsx").read_bytes()


_GOOD_XLSX = _good_xlsx_bytes()
_ENCRYPTED = hf.cfb_bytes({"EncryptionInfo": b"\0" * 300, "EncryptedPackage": b"\1" * 9000})
_PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_bytes(data: bytes, name: str = "x.xlsx") -> FileVerdict:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        v = check_file(p)
    _assert_well_formed(v)
    return v


@_PROPS
@given(st.binary(max_size=4096), st.sampled_from(["x.xlsx", "x.xls", "x", "x.csv"]))
def test_random_bytes_never_raise(data, name):
    _check_bytes(data, name)


@_PROPS
@given(st.binary(max_size=2048))
def test_random_bytes_behind_magic_never_raise(tail):
    # Push random data into the zip and OLE2 code paths.
    _check_bytes(b"PK\x03\x04" + tail)
    _check_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + tail)
    _check_bytes(_ENCRYPTED[:512] + tail)


@_PROPS
@given(st.integers(min_value=0, max_value=len(_GOOD_XLSX) - 1))
def test_truncated_xlsx_is_reported_truncated(cut):
    v = _check_bytes(_GOOD_XLSX[:cut])
    assert v.code == ("empty" if cut == 0 else "truncated"), v.reason


@_PROPS
@given(st.integers(min_value=1, max_value=len(_ENCRYPTED) - 1))
def test_truncated_ole_is_reported_truncated(cut):
    assert _check_bytes(_ENCRYPTED[:cut]).code == "truncated"


@_PROPS
@given(st.lists(st.tuples(st.integers(0, len(_GOOD_XLSX) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_xlsx_never_raises(edits):
    data = bytearray(_GOOD_XLSX)
    for pos, byte in edits:
        data[pos] = byte
    _check_bytes(bytes(data))


def _read_both(data: bytes, name: str, limit: int | None):
    """(zipfile's answer, member_bytes's answer) for one member: bytes, or the exception type."""
    from xlsxgov.filecheck import member_bytes

    def outcome(read):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            return read(zf, zf.getinfo(name))
        except Exception as exc:
            return type(exc)

    def by_zipfile(zf, info):
        if limit is None:
            return zf.read(info)
        with zf.open(info) as fh:
            return fh.read(limit)

    return outcome(by_zipfile), outcome(lambda zf, info: member_bytes(zf, info, limit))


@_PROPS
@given(st.lists(st.tuples(st.integers(0, len(_GOOD_XLSX) - 1), st.integers(0, 255)), min_size=1, max_size=4),
       st.sampled_from(["xl/workbook.xml", "[Content_Types].xml", "xl/worksheets/sheet3.xml", "xl/styles.xml"]),
       st.sampled_from([None, 1, 512, 10**6]))
def test_member_bytes_reads_what_zipfile_reads(edits, name, limit):
    """The in-memory inflate (issue #13) gives zipfile's bytes, and for a damaged member read
    whole zipfile's error (a bad CRC, a broken deflate stream, a damaged header): never other
    bytes. A head read inflates only as far as it needs, where zipfile reads ahead: damage
    past the head may then go unseen there, and is found when the member is read whole."""
    buf = bytearray(_GOOD_XLSX)
    for pos, byte in edits:
        buf[pos] = byte
    expected, got = _read_both(bytes(buf), name, limit)
    if isinstance(expected, bytes) or limit is None:
        assert got == expected
    elif isinstance(got, bytes):
        whole_expected, whole_got = _read_both(bytes(buf), name, None)
        assert not isinstance(whole_expected, bytes) and whole_got == whole_expected


def test_member_bytes_of_good_members_equal_zipfile():
    for name in zipfile.ZipFile(io.BytesIO(_GOOD_XLSX)).namelist():
        for limit in (None, 0, 100, 512):
            expected, got = _read_both(_GOOD_XLSX, name, limit)
            assert isinstance(expected, bytes) and got == expected, (name, limit)


# --------------------------------------------------------------------------- real .xls via LibreOffice


@pytest.mark.office
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not on PATH")
@pytest.mark.parametrize("fmt", ["xls", "xlsx", "ods"])
def test_libreoffice_output_is_recognised(fmt, tmp_path):
    src = hf.good_xlsx(tmp_path / "src.xlsx")
    out = tmp_path / "out"
    # A private profile so parallel soffice runs do not fight over the user one.
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", fmt, "--outdir", str(out), str(src)],
        check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)},
    )
    converted = out / f"src.{fmt}"
    v = check_file(converted)
    assert v.ok and v.format == fmt, v.reason

    data = converted.read_bytes()
    half = tmp_path / f"half.{fmt}"
    half.write_bytes(data[: len(data) // 2])
    assert check_file(half).code == "truncated"


def test_a_missing_path_or_a_folder_is_named_in_chinese(tmp_path):
    """Found by a new user's trial: a mistyped path was reported with Python's exception name
    and told to "重新报送"."""
    from xlsxgov.filecheck import check_file

    missing = check_file(tmp_path / "不存在.xlsx")
    assert not missing.ok and missing.reason == "找不到这个文件，请检查文件名和路径是否写对"
    folder = check_file(tmp_path)
    assert not folder.ok and "Error" not in folder.reason and folder.reason.isascii() is False
