"""Open a returned workbook by its content, within budgets, and see what python-calamine hides.

Every place that opens a spreadsheet (reader, roster, cross-year data, export) goes through
:func:`open_workbook`. It

1. screens the file with :func:`xlsxgov.filecheck.screen_file` (format by content, never by
   extension; bombs, encryption, macros);
2. scans what the file *stores*, before any parser builds a grid (:func:`scan`): the extent
   of every sheet, the shared-string count, error cells (``#DIV/0!``…) and formulas saved
   without a result. python-calamine returns ``""`` for both, the same as a blank cell, so the
   reader asks this scan wherever calamine says blank (xlsx ``t="e"``; ods
   ``calcext:value-type="error"``; xls BOOLERR and FORMULA records);
3. refuses, with a one-line Chinese reason naming the sheet, any file whose grids would exceed
   the budgets below: calamine builds a dense grid from A1 to the farthest cell, so one stray
   cell at ``XFD1048576`` would cost terabytes and abort the process;
4. opens the bytes with calamine by content (``from_filelike``), containing every failure,
   including ``pyo3_runtime.PanicException`` (a ``BaseException``), as :class:`Unreadable`.

Old Excel 5.0/95 ``.xls`` (BIFF5) files are converted with LibreOffice when it is installed
(calamine garbles their Chinese text); otherwise they are refused with what to do.

Longer than 600 lines on purpose: the scans of what each format stores (xlsx and ods XML, xls
BIFF records) and the budgets they feed belong beside the one opener that relies on them.
"""

from __future__ import annotations

import html
import io
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import XlsxgovError
from .filecheck import FileVerdict, member_bytes, screen_file

__all__ = [
    "Unreadable", "SheetScan", "WorkbookScan", "Opened", "open_workbook", "read_sheet", "scan", "contained",
    "MAX_ROWS", "MAX_COLS", "MAX_CELLS", "MAX_SHARED_STRINGS", "MAX_PART_BYTES",
]

# Budgets (documented in README "What is read how"). A statutory table is under 60 rows and
# 20 columns; a template's metadata sheet under 1,000 rows; a consolidated workbook's 明细 has a
# row per agency and a column per cell (a few hundred); a filled template has a few hundred
# shared strings. calamine and Python hold a sheet as a dense grid from A1 to its farthest cell,
# about 40 bytes a cell (measured): MAX_CELLS is about 60 MB.
MAX_ROWS = 50_000
MAX_COLS = 2_000
MAX_CELLS = 1_500_000
MAX_SHARED_STRINGS = 100_000
MAX_PART_BYTES = 16 * 2**20  # one sheet's XML (xlsx) or content.xml (ods), inflated

_RESUBMIT = "请用 Excel 打开后另存为 .xlsx 重新报送"


class Unreadable(XlsxgovError):
    """A file that cannot be read as a workbook of the statutory tables; str() is the Chinese reason."""

    def __init__(self, reason: str, code: str = "unreadable"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass
class SheetScan:
    """What one sheet stores. Positions are 0-based (row, col), as in calamine's grids."""

    # extent: rows and columns up to the last cell; left 0 by the fast scan of a sheet whose
    # references are all under row 1000 and column AAA (plainly within the budgets)
    rows: int = 0
    cols: int = 0
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # error value shown, e.g. "#DIV/0!"
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # formula text saved without a result


@dataclass
class WorkbookScan:
    """What a workbook stores. An xlsx sheet is scanned on first use (a file read through its
    metadata never pays for its 校验 sheet); call :meth:`sheet` before a parser reads it."""

    names: list[str]  # sheet names in workbook order, duplicates kept
    sheets: dict[str, SheetScan]
    pending: dict[str, Any] = field(default_factory=dict)  # name -> () -> SheetScan
    # xlsx only (None otherwise): the first bytes of a sheet's XML, inflated no further
    # (sheet name, bytes wanted) -> bytes | None; and the shared strings as plain text, None
    # for an entry that is not one plain run (rich text, escapes): see reader._meta_fast.
    head: Any = None
    strings: Any = None

    def sheet(self, name: str) -> SheetScan:
        """The scan of sheet ``name``; raises Unreadable when it exceeds the budgets."""
        found = self.sheets.get(name)
        if found is None:
            load = self.pending.pop(name, None)
            found = self.sheets[name] = load() if load is not None else SheetScan()
        return found


@dataclass
class Opened:
    """An open workbook: calamine's handle, the scan, the screening verdict."""

    book: Any  # python_calamine.CalamineWorkbook
    scan: WorkbookScan
    verdict: FileVerdict
    notes: list[str] = field(default_factory=list)  # Chinese notes (converted, renamed…)


def contained(what: str, exc: BaseException, code: str = "corrupt") -> Unreadable:
    """A failure while reading one file as that file's Unreadable (``code``: "corrupt" for a
    parser's failure, "internal" for xlsxgov's own). Re-raises Ctrl-C and exit."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        raise exc
    if isinstance(exc, Unreadable):
        return exc
    if isinstance(exc, MemoryError):
        return Unreadable(f"{what}需要的内存超出限制，已拒绝读取，{_RESUBMIT}", "too_large")
    if isinstance(exc, (zlib.error, zipfile.BadZipFile, EOFError)):
        # Damaged compressed data inside a part: the screen reads only each part's head, so
        # this surfaces when the part is read (a download cut short, bytes overwritten).
        return Unreadable(f"文件内部结构已损坏（压缩数据校验失败），可能上传或下载中断，{_RESUBMIT}", "truncated")
    detail = str(exc).splitlines()[0][:120] if str(exc) else ""
    return Unreadable(f"{what}时出错，文件已损坏或格式不受支持（{type(exc).__name__}{'：' + detail if detail else ''}），{_RESUBMIT}", code)


def open_workbook(path: Path | str) -> Opened:
    """Screen, scan and open ``path`` by content. Raises :class:`Unreadable` only."""
    from python_calamine import CalamineWorkbook

    path = Path(path)
    verdict, screened, screened_zip = screen_file(path)
    if not verdict.ok or screened is None:
        raise Unreadable(verdict.reason or "无法读取", verdict.code or "unreadable")
    notes: list[str] = list(verdict.warnings)
    try:
        data = screened  # parsed exactly as screened, read once
        if verdict.format in ("xlsx", "xlsm"):
            data, zf = _normalised_zip(data, notes, screened_zip)
            result = _scan_xlsx(data, zf)
        else:
            result = scan(data, verdict.format or "")
    except Unreadable:
        raise
    except _Biff5:
        return _open_biff5(path, verdict, notes)
    except BaseException as exc:
        raise contained("检查文件内容", exc) from None
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except BaseException as exc:
        raise contained("打开工作簿", exc) from None
    return Opened(book, result, verdict, notes)


def read_sheet(path: Path | str, sheet: str | int = 0) -> list[list[Any]] | None:
    """One sheet of the workbook at ``path`` (by name, or by index) as calamine's rows, opened
    by content within the budgets; None when there is no such sheet. Raises Unreadable only."""
    opened = open_workbook(path)
    names = opened.book.sheet_names
    if isinstance(sheet, int):
        if sheet >= len(names):
            return None
        name = names[sheet]
    else:
        name = sheet
    if name not in names:
        return None
    opened.scan.sheet(name)  # budgets before the parser builds the grid
    try:
        return opened.book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except BaseException as exc:
        raise contained(f"读取工作表“{sheet}”", exc) from None


def _open_biff5(path: Path, verdict: FileVerdict, notes: list[str]) -> Opened:
    from . import office

    if office.soffice_path() is None:
        raise Unreadable(
            "这是 Excel 5.0/95 格式的旧版工作簿（.xls），其中的中文无法准确读取，"
            "请用 Excel 或 WPS 打开后另存为 .xlsx 重新报送", "biff5")
    with tempfile.TemporaryDirectory(prefix="xlsxgov-biff5-") as tmp:
        src = Path(tmp) / "in.xls"
        src.write_bytes(path.read_bytes())
        try:
            out = office.convert(src, "xlsx", Path(tmp) / "out", recalc=False, timeout=120)
        except Exception as exc:
            raise Unreadable(f"这是 Excel 5.0/95 格式的旧版工作簿（.xls），用 LibreOffice 转换失败，请用 Excel 或 WPS 打开后另存为 .xlsx 重新报送（{str(exc)[:80]}）", "biff5") from None
        opened = open_workbook(out)
    opened.verdict = verdict
    opened.notes = notes + ["文件为 Excel 5.0/95 格式的旧版工作簿，已用 LibreOffice 转换后读取"]
    return opened


# --------------------------------------------------------------------------- scanning


class _Biff5(Exception):
    pass


def scan(data: bytes, fmt: str) -> WorkbookScan:
    """What ``data`` (a workbook of format ``fmt`` as check_file named it) stores; raises
    Unreadable when a sheet exceeds the budgets. Reads are bounded by MAX_PART_BYTES."""
    if fmt in ("xlsx", "xlsm"):
        return _scan_xlsx(data)
    if fmt == "ods":
        return _scan_ods(data)
    if fmt == "xls":
        return _scan_xls(data)
    raise Unreadable(f"不支持的工作簿格式（{fmt or '未知'}），{_RESUBMIT}", "unsupported")


def _a1(r: int, c: int) -> str:
    col, n = "", c + 1
    while n:
        n, rem = divmod(n - 1, 26)
        col = chr(65 + rem) + col
    return f"{col}{r + 1}"


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def _over_budget(sheet: str, r: int, c: int) -> Unreadable:
    return Unreadable(
        f"工作表“{sheet}”在 {_a1(r, c)}（第{r + 1}行、第{c + 1}列）处仍有内容，远超出法定表格的范围"
        f"（每个工作表最多读取 {MAX_ROWS} 行、{MAX_COLS} 列、{MAX_CELLS // 10_000} 万个单元格），"
        f"请删除表格以外的内容后重新报送", "too_large")


def _check_extent(sheet: str, s: SheetScan, r: int, c: int) -> None:
    if r >= MAX_ROWS or c >= MAX_COLS:
        raise _over_budget(sheet, r, c)
    grew = False
    if r >= s.rows:
        s.rows, grew = r + 1, True
    if c >= s.cols:
        s.cols, grew = c + 1, True
    if grew and s.rows * s.cols > MAX_CELLS:
        raise _over_budget(sheet, r, c)


def _part_too_large(what: str, size: int) -> Unreadable:
    return Unreadable(
        f"{what}的内容过多（解压后 {size / 2**20:.0f} MB，上限 {MAX_PART_BYTES // 2**20} MB），"
        f"远超出法定表格的范围，请删除表格以外的内容后重新报送", "too_large")


# xlsx ------------------------------------------------------------------------------------------

_NS = rb"(?:[A-Za-z_][\w.-]*:)?"
_SHEET_RE = re.compile(rb"<" + _NS + rb"sheet\s([^>]*)/?>")
_REL_RE = re.compile(rb"<" + _NS + rb"Relationship\s([^>]*)/?>")
_ATTR_RE = re.compile(rb"(?:^|\s)([\w.:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_ROW_OR_CELL_RE = re.compile(
    rb"<" + _NS + rb"(?:(row)(?=[\s/>])([^>]*)>|c(?=[\s/>])([^>]*?)(/>|>(.*?)</" + _NS + rb"c>))", re.S)
_CELL_R_RE = re.compile(rb"^([A-Z]{1,3})([0-9]{1,7})$")
_V_RE = re.compile(rb"<" + _NS + rb"v(?:\s[^>]*)?>([^<]*)</" + _NS + rb"v>")
_F_RE = re.compile(rb"<" + _NS + rb"f(?:\s[^>]*?)?(?:/>|>([^<]*)</" + _NS + rb"f>)")
_SST_COUNT_RE = re.compile(rb"<" + _NS + rb"si[\s>/]")


def _attrs(raw: bytes) -> dict[str, str]:
    """The attributes of one start tag, read only: a short tag's dict is cached and shared
    (workbook.xml and its relationships repeat from file to file; a long one is never kept)."""
    return _attrs_cached(raw) if len(raw) <= 512 else _parse_attrs(raw)


@lru_cache(maxsize=1024)
def _attrs_cached(raw: bytes) -> dict[str, str]:
    return _parse_attrs(raw)


def _parse_attrs(raw: bytes) -> dict[str, str]:
    out = {}
    for m in _ATTR_RE.finditer(raw):
        name = m.group(1).decode("ascii", "replace")
        value = m.group(2) if m.group(2) is not None else m.group(3)
        out[name] = html.unescape(value.decode("utf-8", "replace"))
    return out


def _normalised_zip(data: bytes, notes: list[str], zf: zipfile.ZipFile | None = None) -> tuple[bytes, zipfile.ZipFile]:
    """A zip whose member names use ``\\`` (some Windows tools) rewritten with ``/``, as Excel
    reads it; with the zip opened on those bytes (``zf``: the screen's, already open on
    ``data``; opened once for the scan as well)."""
    zf = zf or zipfile.ZipFile(io.BytesIO(data))
    infos = zf.infolist()
    if not any("\\" in i.filename for i in infos):
        return data, zf
    out = io.BytesIO()
    with zf, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            zout.writestr(info.filename.replace("\\", "/"), zf.read(info))
    notes.append("文件内部路径使用了反斜杠（\\），已按 Excel 的方式读取")
    data = out.getvalue()
    return data, zipfile.ZipFile(io.BytesIO(data))


def _scan_xlsx(data: bytes, zf: zipfile.ZipFile | None = None) -> WorkbookScan:
    if zf is None:
        zf = zipfile.ZipFile(io.BytesIO(data))  # kept open by the pending sheet scans (in memory)
    members = {i.filename.lstrip("/"): i for i in zf.infolist()}
    lower = {k.lower(): k for k in members}

    def member(name: str) -> zipfile.ZipInfo | None:
        k = lower.get(name.lstrip("/").lower())
        return members[k] if k else None

    def read(info: zipfile.ZipInfo, what: str) -> bytes:
        if info.file_size > MAX_PART_BYTES:
            raise _part_too_large(what, info.file_size)
        return member_bytes(zf, info)

    wb_info = member("xl/workbook.xml")
    if wb_info is None:
        raise Unreadable(f"Excel 文件结构不完整（缺少 xl/workbook.xml），{_RESUBMIT}", "corrupt")
    rels_info = member("xl/_rels/workbook.xml.rels")
    targets: dict[str, str] = {}
    if rels_info is not None:
        for m in _REL_RE.finditer(read(rels_info, "文件内部的工作簿关系表")):
            a = _attrs(m.group(1))
            if "Id" in a and "Target" in a:
                targets[a["Id"]] = a["Target"]
    names: list[str] = []
    pending: dict[str, Any] = {}
    parts: dict[str, zipfile.ZipInfo] = {}
    for m in _SHEET_RE.finditer(read(wb_info, "文件内部的工作簿目录")):
        a = _attrs(m.group(1))
        name = a.get("name", "")
        names.append(name)
        rid = next((v for k, v in a.items() if k.endswith(":id") or k == "id"), "")
        target = targets.get(rid, "")
        if not target:
            continue
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        part = _resolve(part)
        info = member(part)
        if info is None or name in pending:
            continue
        parts[name] = info
        pending[name] = lambda info=info, name=name: _scan_sheet_xml(read(info, f"工作表“{name}”"), name)

    def head(name: str, n: int) -> bytes | None:
        info = parts.get(name)
        if info is None:
            return None
        return member_bytes(zf, info, n)

    sst = member("xl/sharedStrings.xml")
    raw = b""
    if sst is not None:
        raw = read(sst, "文件内部的文字表（sharedStrings.xml）")
        n = raw.count(b"<si>") + raw.count(b"<si ") if b":si" not in raw else len(_SST_COUNT_RE.findall(raw))
        if n > MAX_SHARED_STRINGS:
            raise Unreadable(
                f"文件含有 {n} 个不同的文字（上限 {MAX_SHARED_STRINGS}），远超出法定表格的范围，"
                f"请删除表格以外的内容后重新报送", "too_large")
    # Every other part calamine may read (styles, relationships, metadata…) is inflated once
    # here, bounded by its declared size: a part whose data inflates past it is refused before
    # calamine, which would inflate it whole (a 1 MB file became 1 GB, found by a security
    # review). Sheets are checked the same way when first read (``pending``); images and
    # themes are never parsed.
    sheet_parts = {i.filename for i in parts.values()}
    for name, info in members.items():
        if name.startswith("xl/") and name.endswith((".xml", ".rels")) and info.filename not in sheet_parts \
                and not name.startswith(("xl/theme/", "xl/media/")) and info not in (wb_info, rels_info, sst):
            read(info, "文件内部的部件")
    plain: list[PlainStrings] = []

    def strings() -> PlainStrings:
        if not plain:
            plain.append(PlainStrings(raw))
        return plain[0]

    return WorkbookScan(names, {}, pending, head, strings)


# One <si> of a single plain run, as Excel, WPS, LibreOffice and xlsxwriter write most strings
# (what follows an "<si>" up to its end).
_PLAIN_SI_RE = re.compile(rb'(?:<t>|<t xml:space="preserve">)([^<]*)</t></si>')


class PlainStrings:
    """The shared strings of a sharedStrings.xml by index, decoded only when asked for:
    ``self[i]`` is the text of a plain one, None for any other (rich text, ``_xHHHH_``
    escapes), an index past the end, or every index of a part written unusually (an ``<si>``
    with attributes or a prefix, a comment, CDATA): a caller needing such a string reads the
    sheet through calamine instead. The part is only split at each ``<si>`` (one C-level pass):
    the metadata check asks for a dozen strings of thousands."""

    def __init__(self, raw: bytes):
        unusual = b"<si " in raw or b"<si/>" in raw or b":si" in raw or b"<!" in raw
        self._pieces = None if unusual else raw.split(b"<si>")  # [0]: the prolog and <sst>

    def __getitem__(self, i: int) -> str | None:
        if self._pieces is None or not 0 <= i < len(self._pieces) - 1:
            return None
        piece = self._pieces[i + 1]
        try:
            return _PIECE_TEXT[piece]
        except KeyError:
            pass
        if len(_PIECE_TEXT) >= _PIECE_TEXT_MAX:
            _PIECE_TEXT.clear()
        text = _PIECE_TEXT[piece] = _piece_text(piece)
        return text


# Decoded pieces by their bytes: every workbook of a batch repeats the same labels and
# metadata keys, so each is decoded once per process (bounded: cleared when full).
_PIECE_TEXT: dict[bytes, str | None] = {}
_PIECE_TEXT_MAX = 4096


def _piece_text(piece: bytes) -> str | None:
    m = _PLAIN_SI_RE.match(piece)
    if m is None:
        return None
    text = m.group(1).decode("utf-8", "replace")
    if "_x" in text:
        return None
    return html.unescape(text) if "&" in text else text


def _resolve(part: str) -> str:
    out: list[str] = []
    for seg in part.replace("\\", "/").split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg and seg != ".":
            out.append(seg)
    return "/".join(out)


# Fast path for sheets as Excel, WPS, LibreOffice, openpyxl and xlsxwriter write them: no
# namespace prefix, ``r`` the first attribute of every cell, no error cell. Everything is
# found by C-level regex scans; any other sheet takes the element-by-element path.
# Every cell counts here, even an empty formatted one (calamine skips those): a sheet over the
# budgets this way is looked at again element by element, which does not count them.
_FAST_ROW_RE = re.compile(rb'<c r="[A-Z]{1,3}([0-9]{1,7})"')
_FAST_COL_RE = re.compile(rb'<c r="([A-Z]{1,3})[0-9]')
_FAST_FORMULA_RE = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>]*[^/>]>(?:<f(?:\s[^>]*)?/>|<f(?:\s[^>]*)?>([^<]*)</f>)(?:<v\s*/>|<v></v>)?</c>')


# A cell element not starting with its reference; a reference at column AAA or row 1000 and
# beyond. Without either, the grid is under 702 columns × 999 rows: within every budget.
_CELL_WITHOUT_R_RE = re.compile(rb'<c(?:>|/>|\s(?!r="))')
_FAR_REF_RE = re.compile(rb'<c r="(?:[A-Z]{3}|[A-Z]{1,2}[0-9]{4})')


def _sheet_data(xml: bytes) -> tuple[int, int] | None:
    """(start, end) of the first ``<sheetData>`` element: calamine reads the cells of that one
    element and ignores any other (a second sheetData, cells after it). None when it is not
    plainly written (a prefix, a comment, CDATA or processing instruction inside, no end): the
    caller then scans the whole part. Scanning only this span matters: a template sheet's
    conditional formats and data validations are most of its bytes."""
    start = xml.find(b"sheetData")
    if start < 1 or xml[start - 1:start] != b"<":
        return None
    after = xml[start + 9:start + 11]
    if after == b"/>":
        return start, start
    if after[:1] not in (b">", b" ", b"\t", b"\r", b"\n"):
        return None
    end = xml.find(b"</sheetData>", start)
    if end < 0 or xml.find(b"<!", start, end) >= 0 or xml.find(b"<?", start, end) >= 0:
        return None
    return start, end


def _scan_sheet_xml(xml: bytes, name: str) -> SheetScan:
    bounds = _sheet_data(xml)
    if bounds is not None:
        start, end = bounds
        if (xml.find(b't="e"', start, end) < 0 and xml.find(b":c", start, end) < 0
                and _CELL_WITHOUT_R_RE.search(xml, start, end) is None):
            s = SheetScan()
            far = _FAR_REF_RE.search(xml, start, end) is not None
            rows = _FAST_ROW_RE.findall(xml, start, end) if far else None
            if rows:
                s.rows = max(map(int, rows))
                s.cols = max(map(_col_index, set(_FAST_COL_RE.findall(xml, start, end)))) + 1
            if s.rows <= MAX_ROWS and s.cols <= MAX_COLS and s.rows * s.cols <= MAX_CELLS:
                if any(xml.find(mark, start, end) >= 0 for mark in _NO_RESULT_MARKS):
                    for col, row, text in _FAST_FORMULA_RE.findall(xml, start, end):
                        s.formulas[(int(row) - 1, _col_index(col))] = html.unescape(text.decode("utf-8", "replace"))
                return s
    return _scan_sheet_slow(xml, name)


# How a formula saved without its result shows (the formula regex runs only when one is there).
_NO_RESULT_MARKS = (b"</f></c>", b"/></c>", b"<v/>", b"<v />", b"<v></v>")


def _scan_sheet_slow(xml: bytes, name: str) -> SheetScan:
    s = SheetScan()
    row = -1
    col = -1
    for m in _ROW_OR_CELL_RE.finditer(xml):
        if m.group(1):  # <row ...>
            a = _ATTR_RE.findall(m.group(2))
            r = next((v for k, v, _ in a if k == b"r"), None)
            row = int(r) - 1 if r and r.isdigit() and len(r) <= 8 else row + 1
            col = -1
            continue
        attrs = m.group(3)
        r_attr = t_attr = None
        for k, v1, v2 in _ATTR_RE.findall(attrs):
            if k == b"r":
                r_attr = v1 or v2
            elif k == b"t":
                t_attr = v1 or v2
        if r_attr and (rm := _CELL_R_RE.match(r_attr)):
            row, col = int(rm.group(2)) - 1, _col_index(rm.group(1))
        else:
            col += 1
        body = m.group(5)
        if m.group(4) == b"/>" or not body:
            continue  # an empty (only formatted) cell: calamine does not place it either
        if row < 0:
            row = 0
        _check_extent(name, s, row, col)
        v = _V_RE.search(body)
        if t_attr == b"e":
            shown = v.group(1).decode("utf-8", "replace").strip() if v else ""
            s.errors[(row, col)] = shown or "#VALUE!"
        elif v is None and b"<is" not in body and b":is" not in body:
            f = _F_RE.search(body)
            if f is not None:
                s.formulas[(row, col)] = html.unescape((f.group(1) or b"").decode("utf-8", "replace"))
    return s


# ods -------------------------------------------------------------------------------------------

_T = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_O = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_CALCEXT = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"


def _repeat(v: str | None) -> int:
    try:
        return max(1, int(v)) if v else 1
    except ValueError:
        return 1


def _scan_ods(data: bytes) -> WorkbookScan:
    from defusedxml.ElementTree import iterparse

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo("content.xml")
        if info.file_size > MAX_PART_BYTES:
            raise _part_too_large("文件内部的表格内容（content.xml）", info.file_size)
        names: list[str] = []
        sheets: dict[str, SheetScan] = {}
        cur: SheetScan | None = None
        name = ""
        row = 0
        col = 0
        row_rep = 1
        # Inflated whole and checked against its declared size first, as calamine will read it
        # whole (see _scan_xlsx): bounded by MAX_PART_BYTES.
        with io.BytesIO(member_bytes(zf, info)) as fh:
            for event, el in iterparse(fh, events=("start", "end"), forbid_dtd=True):
                tag = el.tag
                if event == "start":
                    if tag == _T + "table":
                        name = el.get(_T + "name", "")
                        names.append(name)
                        cur = SheetScan()
                        sheets.setdefault(name, cur)
                        row = 0
                    elif tag == _T + "table-row":
                        row_rep = _repeat(el.get(_T + "number-rows-repeated"))
                        col = 0
                    continue
                # end events
                if tag in (_T + "table-cell", _T + "covered-table-cell") and cur is not None:
                    rep = _repeat(el.get(_T + "number-columns-repeated"))
                    vtype = el.get(_O + "value-type")
                    formula = el.get(_T + "formula")
                    has_text = any(child.tag == _TEXT + "p" for child in el)
                    if vtype or formula or has_text:
                        last = col + rep - 1
                        _check_extent(name, cur, row + row_rep - 1, last)
                        if el.get(_CALCEXT + "value-type") == "error":
                            shown = "".join(el.itertext()).strip() or "#VALUE!"
                            for c in range(col, min(col + rep, MAX_COLS)):
                                cur.errors[(row, c)] = shown
                        elif formula and vtype is None:
                            text = formula.split(":", 1)[-1].lstrip("=")
                            for c in range(col, min(col + rep, MAX_COLS)):
                                cur.formulas[(row, c)] = text
                    col += rep
                    el.clear()
                elif tag == _T + "table-row":
                    row += row_rep
                    el.clear()
                elif tag == _T + "table":
                    el.clear()
                    cur = None
    return WorkbookScan(names, sheets)


# xls (BIFF) ------------------------------------------------------------------------------------

_BIFF_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?",
                0x24: "#NUM!", 0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
# Records whose first two fields are (row, col) and that hold a value calamine places.
_CELL_RECORDS = {0x0203, 0x027E, 0x00FD, 0x0204, 0x0205, 0x0006, 0x00D6}
_MULRK = 0x00BD


def _scan_xls(data: bytes) -> WorkbookScan:
    from .filecheck import _Cfb

    cfb = _Cfb(data)
    streams = cfb.root_children()
    entry = streams.get("Workbook") or streams.get("Book")
    if entry is None:
        raise Unreadable(f"文件已损坏（缺少工作簿数据），{_RESUBMIT}", "corrupt")
    stream = cfb.read_stream(entry, len(data))
    if len(stream) < 8:
        raise Unreadable(f"文件已损坏（工作簿数据不完整），{_RESUBMIT}", "corrupt")
    rtype, _, version = struct.unpack_from("<HHH", stream, 0)
    if rtype in (0x0009, 0x0209, 0x0409) or version < 0x0600:
        raise _Biff5
    # Globals: sheet names and offsets, shared-string count.
    bound: list[tuple[str, int]] = []
    pos = 0
    end = len(stream)
    while pos + 4 <= end:
        rtype, rlen = struct.unpack_from("<HH", stream, pos)
        body = stream[pos + 4:pos + 4 + rlen]
        pos += 4 + rlen
        if rtype == 0x0085 and len(body) >= 8:
            (offset,) = struct.unpack_from("<I", body, 0)
            cch, flags = body[6], body[7]
            raw = body[8:8 + (cch * 2 if flags & 1 else cch)]
            name = raw.decode("utf-16-le", "replace") if flags & 1 else raw.decode("latin-1")
            bound.append((name, offset))
        elif rtype == 0x00FC and len(body) >= 8:
            (unique,) = struct.unpack_from("<I", body, 4)
            if unique > MAX_SHARED_STRINGS:
                raise Unreadable(
                    f"文件含有 {unique} 个不同的文字（上限 {MAX_SHARED_STRINGS}），远超出法定表格的范围，"
                    f"请删除表格以外的内容后重新报送", "too_large")
        elif rtype == 0x000A:
            break
    names = [n for n, _ in bound]
    sheets: dict[str, SheetScan] = {}
    for name, offset in bound:
        if offset + 4 > end:
            # calamine panics on this (a BoundSheet pointing past the Workbook stream).
            raise Unreadable(f"文件已损坏（工作表“{name}”的位置超出了工作簿数据的范围），{_RESUBMIT}", "corrupt")
        if name not in sheets:
            sheets[name] = _scan_biff_sheet(stream, offset, name)
    return WorkbookScan(names, sheets)


def _scan_biff_sheet(stream: bytes, pos: int, name: str) -> SheetScan:
    s = SheetScan()
    end = len(stream)
    rtype, _ = struct.unpack_from("<HH", stream, pos)
    if rtype != 0x0809:
        raise Unreadable(f"文件已损坏（工作表“{name}”的数据位置错误），{_RESUBMIT}", "corrupt")
    while pos + 4 <= end:
        rtype, rlen = struct.unpack_from("<HH", stream, pos)
        b = pos + 4
        pos = b + rlen
        if rtype == 0x000A:
            break
        if rtype == 0x0200 and rlen >= 14:  # DIMENSIONS: calamine may size its grid from it
            rmax, cmax = struct.unpack_from("<I", stream, b + 4)[0], struct.unpack_from("<H", stream, b + 10)[0]
            if rmax > 0 and cmax > 0 and (rmax > MAX_ROWS or cmax > MAX_COLS):
                raise _over_budget(name, rmax - 1, cmax - 1)
        elif rtype in _CELL_RECORDS and rlen >= 6:
            r, c = struct.unpack_from("<HH", stream, b)
            _check_extent(name, s, r, c)
            if rtype == 0x0205 and rlen >= 8 and stream[b + 7] == 1:
                s.errors[(r, c)] = _BIFF_ERRORS.get(stream[b + 6], "#VALUE!")
            elif rtype == 0x0006 and rlen >= 14 and stream[b + 12:b + 14] == b"\xff\xff" and stream[b + 6] == 2:
                s.errors[(r, c)] = _BIFF_ERRORS.get(stream[b + 8], "#VALUE!")
        elif rtype == _MULRK and rlen >= 6:
            r, c = struct.unpack_from("<HH", stream, b)
            (last,) = struct.unpack_from("<H", stream, b + rlen - 2)
            _check_extent(name, s, r, max(c, last))
    return s
