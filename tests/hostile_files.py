"""A corpus of broken and hostile "returned workbooks" for testing xlsxgov.filecheck.

Each maker writes one file into a directory and returns ``(path, expected_code)``;
``expected_code`` is None for files that must pass (see GOOD for their format).
Everything is generated on the fly, small on disk and quick to build.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import xlsxwriter

# --------------------------------------------------------------------------- good files


def good_xlsx(path: str | Path) -> Path:
    """A small valid workbook with Chinese text, numbers and shared strings."""
    path = Path(path)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("收到和处理政府信息公开申请情况")
    ws.write_row(0, 0, ["项目", "自然人", "商业企业", "总计"])
    ws.write_row(1, 0, ["一、本年新收政府信息公开申请数量", 12, 3, 15])
    ws.write_row(2, 0, ["二、上年结转政府信息公开申请数量", 1, 0, 1])
    wb.close()
    return path


_ODS_CONTENT = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
    '<table:table-row><table:table-cell office:value-type="string"><text:p>项目</text:p></table:table-cell>'
    '<table:table-cell office:value-type="float" office:value="12"><text:p>12</text:p></table:table-cell>'
    "</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>\n"
)

_ODS_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


def good_ods(path: str | Path) -> Path:
    """Minimal ODS: ``mimetype`` stored first and uncompressed, as the spec requires."""
    path = Path(path)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", _ODS_CONTENT, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", _ODS_MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
    return path


def _rewrite_zip(src: Path, dst: Path, replace: dict[str, bytes | None] = {}, add: dict[str, bytes] = {}) -> Path:
    """Copy a zip member by member, replacing (or dropping, with None) and adding members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    zout.writestr(info.filename, replace[info.filename])
            else:
                zout.writestr(info.filename, zin.read(info))
        for name, data in add.items():
            zout.writestr(name, data)
    return dst


def _set_macro_content_type(xlsx: Path) -> bytes:
    with zipfile.ZipFile(xlsx) as z:
        ct = z.read("[Content_Types].xml")
    return ct.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                      b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")


# --------------------------------------------------------------------------- compound file writer

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def cfb_bytes(streams: dict[str, bytes]) -> bytes:
    """Tiny compound-file (OLE2, version 3) writer: root storage holding ``streams``.

    Streams under 4096 bytes go to the mini stream, larger ones to regular
    sectors.  Layout: header, FAT, directory, mini FAT, mini stream, streams.
    """
    ss = 512
    names = list(streams)
    mini, minifat, big, placement = bytearray(), [], [], {}
    for name in names:
        data = streams[name]
        if len(data) < 4096:
            first = len(mini) // 64
            n = max(1, -(-len(data) // 64))
            minifat += [first + k + 1 for k in range(n - 1)] + [_END]
            placement[name] = ("mini", first)
            mini += data.ljust(n * 64, b"\0")
        else:
            big.append(name)

    def nsec(nbytes: int) -> int:
        return -(-nbytes // ss)

    n_dir = nsec((1 + len(names)) * 128)
    n_minifat = nsec(len(minifat) * 4) if minifat else 0
    n_mini = nsec(len(mini)) if mini else 0
    n_big = sum(nsec(len(streams[n])) for n in big)
    n_fat = 1
    while n_fat * (ss // 4) < n_fat + n_dir + n_minifat + n_mini + n_big:
        n_fat += 1
    assert n_fat <= 109, "no DIFAT support in this little writer"

    fat: list[int] = [_FATSECT] * n_fat
    body = bytearray()

    def put(data: bytes) -> int:
        """Append data as a chain of sectors; return the first sector number."""
        first, n = len(fat), nsec(len(data))
        fat.extend([first + k + 1 for k in range(n - 1)] + [_END])
        body.extend(data.ljust(n * ss, b"\0"))
        return first

    # Directory: balanced binary tree over the (length, upper-case) name order.
    order = sorted(range(len(names)), key=lambda i: (len(names[i]), names[i].upper()))
    left = [_NOSTREAM] * len(names)
    right = [_NOSTREAM] * len(names)

    def build(lo: int, hi: int) -> int:
        if lo >= hi:
            return _NOSTREAM
        mid = (lo + hi) // 2
        i = order[mid]
        left[i], right[i] = build(lo, mid), build(mid + 1, hi)
        return i + 1  # entry 0 is the root

    top = build(0, len(order))

    dir_placeholder_first = len(fat)
    dir_first = put(b"\0" * (n_dir * ss))
    minifat_first = put(struct.pack(f"<{len(minifat)}I", *minifat)) if minifat else _END
    mini_first = put(bytes(mini)) if mini else _END
    for name in big:
        placement[name] = ("big", put(streams[name]))
    assert dir_first == dir_placeholder_first

    def entry(name: str, etype: int, lft: int, rgt: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le")
        return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw) + 2 if name else 0, etype, 1)
                + struct.pack("<III", lft, rgt, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IQ", start, size))

    dirs = entry("Root Entry", 5, _NOSTREAM, _NOSTREAM, top, mini_first, len(mini))
    for i, name in enumerate(names):
        dirs += entry(name, 2, left[i], right[i], _NOSTREAM, placement[name][1], len(streams[name]))
    while len(dirs) < n_dir * ss:
        dirs += entry("", 0, _NOSTREAM, _NOSTREAM, _NOSTREAM, 0, 0)
    body[0:len(dirs)] = dirs  # the directory was put first in body

    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(n_fat * ss, b"\xff")
    difat = list(range(n_fat)) + [_FREE] * (109 - n_fat)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, n_fat, dir_first, 0, 4096, minifat_first, n_minifat, _END, 0)
              + struct.pack("<109I", *difat))
    assert len(header) == 512
    return header + fat_bytes + bytes(body)


def _biff(*records: tuple[int, bytes]) -> bytes:
    return b"".join(struct.pack("<HH", rt, len(data)) + data for rt, data in records)


_BOF = (0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 0x06))
_EOF = (0x000A, b"")
_FILEPASS = (0x002F, struct.pack("<H", 1) + b"\0" * 52)  # RC4 header, contents irrelevant here

# --------------------------------------------------------------------------- hostile makers


def empty_xlsx(d: Path):
    p = d / "empty.xlsx"
    p.write_bytes(b"")
    return p, "empty"


def random_bytes_xlsx(d: Path):
    p = d / "random.xlsx"
    p.write_bytes(b"\x93" + random.Random(20240101).randbytes(8191))
    return p, "not_spreadsheet"


def truncated_xlsx(d: Path):
    full = good_xlsx(d / "_full_for_truncation.xlsx")
    data = full.read_bytes()
    p = d / "truncated.xlsx"
    p.write_bytes(data[: len(data) // 2])
    return p, "truncated"


def crc_damaged_xlsx(d: Path):
    """Central directory intact but a small XML part's bytes altered: CRC mismatch."""
    src = good_xlsx(d / "_full_for_crc.xlsx")
    buf = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info), compress_type=zipfile.ZIP_STORED)
    data = bytearray(buf.getvalue())
    pos = data.find(b"<workbook")
    data[pos + 1:pos + 9] = b"WORKBOOK"  # stored member: same length, wrong CRC
    p = d / "crc_damaged.xlsx"
    p.write_bytes(bytes(data))
    return p, "truncated"


def html_as_xls(d: Path):
    p = d / "report_html.xls"
    p.write_text(
        '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta charset="utf-8"></head>'
        "<body><table><tr><td>项目</td><td>总计</td></tr><tr><td>新收申请</td><td>15</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    return p, "html"


def mht_as_xls(d: Path):
    p = d / "report_mht.xls"
    p.write_bytes(b'MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary="----=_NextPart"\r\n\r\n'
                  b"------=_NextPart\r\nContent-Type: text/html\r\n\r\n<html></html>\r\n")
    return p, "html"


def csv_gbk_as_xls(d: Path):
    p = d / "report_csv.xls"
    rows = ["项目,自然人,商业企业,总计", "一、本年新收政府信息公开申请数量,12,3,15", "二、上年结转政府信息公开申请数量,1,0,1"]
    p.write_bytes("\r\n".join(rows).encode("gbk"))
    return p, "csv"


def unicode_text_as_xls(d: Path):
    """Excel's "Unicode text" export: UTF-16LE with BOM, tab separated."""
    p = d / "report_unicode.xls"
    p.write_bytes("项目\t总计\r\n新收申请\t15\r\n".encode("utf-16"))
    return p, "csv"


def docx_as_xlsx(d: Path):
    p = d / "report_docx.xlsx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="urn:w"><w:body/></w:document>')
    return p, "word"


def doc_as_xls(d: Path):
    p = d / "report_doc.xls"
    p.write_bytes(cfb_bytes({"WordDocument": b"\xec\xa5" + b"\0" * 5000, "1Table": b"\0" * 100}))
    return p, "word"


def rtf_as_xls(d: Path):
    p = d / "report_rtf.xls"
    p.write_bytes(b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 SimSun;}} hello}")
    return p, "word"


def zip_bomb_xlsx(d: Path):
    """One member of 300 MB of zeros (about 300 KB on disk), written streaming."""
    p = d / "zip_bomb.xlsx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            chunk = b"\0" * 2**20
            for _ in range(300):
                fh.write(chunk)
    return p, "zip_bomb"


def ratio_bomb_xlsx(d: Path):
    """Under the total cap but a 16 MB member packed ~1000:1."""
    src = good_xlsx(d / "_full_for_ratio.xlsx")
    p = d / "ratio_bomb.xlsx"
    _rewrite_zip(src, p, add={"xl/media/blob.bin": b"\0" * (16 * 2**20)})
    return p, "zip_bomb"


def many_entries_zip(d: Path):
    p = d / "many_entries.xlsx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as z:
        for i in range(2001):
            z.writestr(f"x/{i}.txt", b"")
    return p, "zip_bomb"


_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + ']>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
    "<si><t>&lol9;</t></si></sst>"
)


def entity_bomb_xlsx(d: Path):
    src = good_xlsx(d / "_full_for_entities.xlsx")
    p = d / "entity_bomb.xlsx"
    _rewrite_zip(src, p, replace={"xl/sharedStrings.xml": _LAUGHS.encode()})
    return p, "xml_bomb"


def external_entity_xlsx(d: Path):
    src = good_xlsx(d / "_full_for_xxe.xlsx")
    with zipfile.ZipFile(src) as z:
        wbxml = z.read("xl/workbook.xml").decode()
    body = wbxml.split("?>", 1)[1]
    evil = '<?xml version="1.0"?><!DOCTYPE workbook [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + body
    p = d / "external_entity.xlsx"
    _rewrite_zip(src, p, replace={"xl/workbook.xml": evil.encode()})
    return p, "xml_bomb"


def dtd_in_oddly_named_part(d: Path):
    """Readers follow relationships, so a sheet may be stored under any name."""
    src = good_xlsx(d / "_full_for_oddname.xlsx")
    p = d / "odd_part_name.xlsx"
    _rewrite_zip(src, p, add={"xl/worksheets/sheet2.dat": _LAUGHS.encode()})
    return p, "xml_bomb"


def duplicate_members_xlsx(d: Path):
    """Two sharedStrings.xml: a checker and a reader may pick different ones."""
    src = good_xlsx(d / "_full_for_dupes.xlsx")
    p = d / "duplicate_members.xlsx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate, which is the point
        _rewrite_zip(src, p, add={"xl/sharedStrings.xml": _LAUGHS.encode()})
    return p, "unsupported"


def xlsm_with_macros(d: Path):
    src = good_xlsx(d / "_full_for_vba.xlsx")
    p = d / "with_macros.xlsm"
    _rewrite_zip(src, p, replace={"[Content_Types].xml": _set_macro_content_type(src)},
                 add={"xl/vbaProject.bin": cfb_bytes({"PROJECT": b"ID=\"{0}\"\r\n"})})
    return p, "macros"


def encrypted_xlsx(d: Path):
    """What Excel writes for a password-protected .xlsx: an OLE2 file, not a zip."""
    p = d / "encrypted.xlsx"
    p.write_bytes(cfb_bytes({
        "EncryptionInfo": struct.pack("<HHI", 4, 4, 0x40) + b"<encryption/>".ljust(200, b" "),
        "EncryptedPackage": struct.pack("<Q", 5000) + random.Random(7).randbytes(5008),
    }))
    return p, "encrypted"


def encrypted_ods(d: Path):
    """LibreOffice "save with password": manifest stays readable, content.xml is ciphertext."""
    p = d / "encrypted.ods"
    manifest = _ODS_MANIFEST.replace(
        'manifest:media-type="text/xml"/>',
        'manifest:media-type="text/xml" manifest:size="900"><manifest:encryption-data manifest:checksum-type="SHA1/1K"'
        ' manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc"'
        ' manifest:initialisation-vector="AAAA"/></manifest:encryption-data></manifest:file-entry>',
    )
    with zipfile.ZipFile(p, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", random.Random(3).randbytes(900), compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return p, "encrypted"


def encrypted_xls(d: Path):
    """BIFF8 workbook with a FILEPASS record (open password); small stream, lives in the mini stream."""
    p = d / "encrypted.xls"
    p.write_bytes(cfb_bytes({"Workbook": _biff(_BOF, _FILEPASS, _EOF)}))
    return p, "encrypted"


def truncated_ole(d: Path):
    data = cfb_bytes({"EncryptionInfo": b"\0" * 300, "EncryptedPackage": b"\1" * 9000})
    p = d / "truncated_ole.xlsx"
    p.write_bytes(data[: len(data) * 2 // 3])
    return p, "truncated"


def pdf_as_xlsx(d: Path):
    p = d / "report_pdf.xlsx"
    p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n")
    return p, "not_spreadsheet"


def png_as_xlsx(d: Path):
    p = d / "screenshot.xlsx"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    return p, "not_spreadsheet"


def zip_of_workbooks(d: Path):
    inner = good_xlsx(d / "_inner.xlsx")
    p = d / "archive.xlsx"
    with zipfile.ZipFile(p, "w") as z:
        z.write(inner, "某某局.xlsx")
    return p, "not_spreadsheet"


def spreadsheetml_2003_as_xls(d: Path):
    p = d / "report_2003.xls"
    p.write_text('<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
                 '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet/></Workbook>',
                 encoding="utf-8")
    return p, "unsupported"


def plain_text_as_xlsx(d: Path):
    p = d / "notes.xlsx"
    p.write_text("本单位今年没有收到申请。\n特此说明。\n", encoding="utf-8")
    return p, "not_spreadsheet"


HOSTILE = [
    empty_xlsx, random_bytes_xlsx, truncated_xlsx, crc_damaged_xlsx, html_as_xls, mht_as_xls, csv_gbk_as_xls,
    unicode_text_as_xls, docx_as_xlsx, doc_as_xls, rtf_as_xls, zip_bomb_xlsx, ratio_bomb_xlsx, many_entries_zip,
    entity_bomb_xlsx, external_entity_xlsx, dtd_in_oddly_named_part, duplicate_members_xlsx, xlsm_with_macros, encrypted_xlsx, encrypted_xls, encrypted_ods, truncated_ole,
    pdf_as_xlsx, png_as_xlsx, zip_of_workbooks, spreadsheetml_2003_as_xls, plain_text_as_xlsx,
]

# --------------------------------------------------------------------------- good makers (expected format)


def good_xlsx_case(d: Path):
    return good_xlsx(d / "good.xlsx"), None


def good_ods_case(d: Path):
    return good_ods(d / "good.ods"), None


def xlsm_without_macros(d: Path):
    src = good_xlsx(d / "_full_for_xlsm.xlsx")
    p = d / "no_macros.xlsm"
    _rewrite_zip(src, p, replace={"[Content_Types].xml": _set_macro_content_type(src)})
    return p, None


def openpyxl_xlsx(d: Path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["项目", 1])
    p = d / "openpyxl.xlsx"
    wb.save(p)
    return p, None


def xlsx_named_xls(d: Path):
    return good_xlsx(d / "renamed.xls"), None


def minimal_xls(d: Path):
    """A compound file with a BIFF8 Workbook stream (BOF/EOF only) in regular sectors."""
    p = d / "minimal.xls"
    p.write_bytes(cfb_bytes({"Workbook": _biff(_BOF, _EOF).ljust(4096, b"\0")}))
    return p, None


GOOD = [
    (good_xlsx_case, "xlsx"), (good_ods_case, "ods"), (openpyxl_xlsx, "xlsx"), (xlsm_without_macros, "xlsm"),
    (xlsx_named_xls, "xlsx"), (minimal_xls, "xls"),
]


def write_corpus(d: str | Path) -> list[tuple[Path, str | None]]:
    """Write every hostile and good file into ``d``; return (path, expected code)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    return [make(d) for make in HOSTILE] + [make(d) for make, _ in GOOD]


# =========================================================================== reading corpus
# Filled gov2021 templates made hostile in one way each (issue #14): every case says what the
# reader must answer, a value at a cell, a finding at a cell, or the file's unreadable code.

import dataclasses  # noqa: E402
import re  # noqa: E402

READ_CODE = "91350100M000100Y43"


@dataclasses.dataclass
class Case:
    kind: str  # what is hostile about it (the benchmark groups by this)
    path: Path
    unreadable: str | None = None  # expected Unreadable code
    cell: tuple[str, str, str] | None = None  # (table, row, col) whose reading is checked
    value: float | int | None = None  # expected fact value at ``cell`` (None: no value)
    rule: str | None = None  # expected finding rule at ``cell``
    needs_office: bool = False


def filled_values(edition: str = "gov2021", seed: int = 14) -> dict:
    """Input values (base units) that satisfy every rule, as an agency would send them."""
    from xlsxgov import spec as spec_mod
    from xlsxgov.demo import reply_values

    return reply_values(spec_mod.load(edition), random.Random(seed))


def filled_template(path: Path, *, agency: str = "某市某局", edition: str = "gov2021", values: dict | None = None,
                    code: str = READ_CODE) -> Path:
    """A real template filled with valid values (the good file every hostile one derives from)."""
    from xlsxgov import spec as spec_mod
    from xlsxgov.template import Meta, write_workbook

    spec = spec_mod.load(edition)
    write_workbook(path, spec, Meta(year=2024, agency=agency, code=code),
                   values=filled_values(edition) if values is None else values)
    return path


def sheet_part(edition: str, table_id: str) -> str:
    """The xlsx part of a table's sheet in a template (xlsxwriter numbers sheets in order)."""
    from xlsxgov import spec as spec_mod

    spec = spec_mod.load(edition)
    return f"xl/worksheets/sheet{[t.id for t in spec.tables].index(table_id) + 2}.xml"


def a1_of(table_id: str, row: str, col: str, edition: str = "gov2021") -> str:
    from xlsxgov import spec as spec_mod
    from xlsxgov.layout import layout

    spec = spec_mod.load(edition)
    return layout(spec)[table_id].a1(row, col)


def patch_xlsx(src: Path, dst: Path, part: str, edit) -> Path:
    """Copy ``src`` with ``edit(xml text) -> xml text`` applied to one part."""
    with zipfile.ZipFile(src) as z:
        text = z.read(part).decode("utf-8")
    return _rewrite_zip(src, dst, replace={part: edit(text).encode("utf-8")})


def set_cell_xml(xml: str, a1: str, inner: str, attrs: str = "") -> str:
    """Replace cell ``a1`` (as xlsxwriter wrote it) by ``<c r=a1 attrs>inner</c>``."""
    new, n = re.subn(rf'<c r="{a1}"( s="\d+")?[^>]*?(?:/>|>.*?</c>)', lambda m: f'<c r="{a1}"{m.group(1) or ""}{attrs}>{inner}</c>', xml, count=1)
    assert n == 1, a1
    return new


def _append_rows(xml: str, rows: str) -> str:
    i = xml.index("</sheetData>")
    return xml[:i] + rows + xml[i:]


def lying_size_xlsx(src: Path, dst: Path, part: str, extra: int = 64 * 2**20) -> Path:
    """``src`` with ``part`` followed by ``extra`` bytes of spaces in its deflate stream while its
    local header and directory entry keep the part's own size and CRC-32."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename != part:
                zout.writestr(info.filename, data)
                continue
            with zout.open(info.filename, "w", force_zip64=False) as fh:
                fh.write(data)
                chunk = b" " * 2**20
                for _ in range(extra // len(chunk)):
                    fh.write(chunk)
            honest = (zlib.crc32(data), len(data))
    raw = bytearray(dst.read_bytes())
    name = part.encode()
    for sig, crc_at in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        pos = 0
        while (pos := raw.find(sig, pos)) >= 0:
            name_len = struct.unpack_from("<H", raw, pos + (26 if sig == b"PK\x03\x04" else 28))[0]
            start = pos + (30 if sig == b"PK\x03\x04" else 46)
            if bytes(raw[start:start + name_len]) == name:
                struct.pack_into("<I", raw, pos + crc_at, honest[0])
                struct.pack_into("<I", raw, pos + crc_at + 8, honest[1])  # the uncompressed size
            pos += 4
    dst.write_bytes(bytes(raw))
    return dst


def reading_corpus(d: Path) -> list[Case]:
    """Write every hostile kind of issue #14 (two variants or more, in each format where it
    applies) into ``d``. Cases with ``needs_office`` are converted by LibreOffice afterwards
    (see :func:`convert_office_cases`)."""
    d.mkdir(parents=True, exist_ok=True)
    good = filled_template(d / "_good.xlsx")
    vals = filled_values()
    t3 = sheet_part("gov2021", "t3")
    cases: list[Case] = []

    def add(kind, name, edit, part=t3, **kw):
        p = patch_xlsx(good, d / name, part, edit)
        cases.append(Case(kind, p, **kw))

    # 1. error cells (typed, pasted, computed) — 表三 E8 is （一）予以公开/商业企业
    e8 = ("t3", "disclosed", "business")
    add("error_cell", "err_div0.xlsx", lambda x: set_cell_xml(x, "E8", "<f>1/0</f><v>#DIV/0!</v>", ' t="e"'), cell=e8, rule="cell.error_value")
    na = ("t3", "partial", "natural")
    add("error_cell", "err_na_typed.xlsx", lambda x: set_cell_xml(x, a1_of(*na), "<v>#N/A</v>", ' t="e"'), cell=na, rule="cell.error_value")
    tot = ("t3", "new", "total")
    add("error_cell", "err_ref_total.xlsx", lambda x: set_cell_xml(x, a1_of(*tot), "<f>#REF!+1</f><v>#REF!</v>", ' t="e"'), cell=tot, rule="cell.error_value",
        value=sum(v for k, v in vals.items() if k[:2] == ("t3", "new")))  # a total is recomputed, and the error reported
    for fmt in ("xls", "ods"):
        cases.append(Case("error_cell", d / f"err_div0_{fmt}.xlsx", cell=e8, rule="cell.error_value", needs_office=True))

    # 2. formulas saved without a result (programs such as openpyxl)
    f_cell = ("t3", "disclosed", "research")
    add("formula_without_result", "formula_plain.xlsx",
        lambda x: set_cell_xml(x, a1_of(*f_cell), "<f>3+4</f>"), cell=f_cell, value=7, rule="cell.formula_evaluated")
    add("formula_without_result", "formula_minus.xlsx",
        lambda x: set_cell_xml(x, a1_of(*f_cell), "<f>=20-(3+5)</f>"), cell=f_cell, value=12, rule="cell.formula_evaluated")
    add("formula_without_result", "formula_reference.xlsx",
        lambda x: set_cell_xml(x, a1_of(*f_cell), "<f>D6*2</f>"), cell=f_cell, rule="cell.formula_without_result")
    add("formula_without_result", "formula_total.xlsx",  # a total without result is recomputed
        lambda x: set_cell_xml(x, a1_of(*tot), "<f>SUM(D6:I6)</f>"), cell=tot, value=sum(v for k, v in vals.items() if k[:2] == ("t3", "new")))

    # 11. budgets: a stray cell far away, many rows, many shared strings
    add("far_cell", "far_xfd.xlsx", lambda x: _append_rows(x, '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'), unreadable="too_large")
    add("far_cell", "far_note.xlsx", lambda x: _append_rows(x, '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>备注</t></is></c></row>'), unreadable="too_large")
    # The scan looks only inside the (first) sheetData, where calamine reads cells: a comment
    # holding "</sheetData>" must not end that span early and hide a far cell after it.
    add("far_cell", "far_after_comment.xlsx", lambda x: _append_rows(x, '<!-- </sheetData> --><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'), unreadable="too_large")
    # ... while a second sheetData is ignored by calamine (and so by the budgets): the file reads.
    add("far_cell", "far_in_second_sheetdata.xlsx", lambda x: x.replace("</sheetData>", '</sheetData><sheetData><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>', 1),
        cell=e8, value=vals[e8])
    cases.append(Case("far_cell", d / "far_note_ods.xlsx", unreadable="too_large", needs_office=True))
    cases.append(Case("far_cell", d / "far_note_xls.xlsx", unreadable="too_large", needs_office=True))
    add("many_rows", "rows_300k.xlsx", lambda x: _append_rows(x, "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="J{r}"><v>1</v></c></row>' for r in range(100, 300_100))), unreadable="too_large")
    add("many_rows", "rows_no_ref.xlsx", lambda x: _append_rows(x, "".join(f"<row><c><v>{i}</v></c></row>" for i in range(60_000))), unreadable="too_large")
    add("many_rows", "rows_2m.xlsx", lambda x: _append_rows(x, "".join(f'<row r="{r}"><c r="B{r}"><v>{r * 7919 % 1000003}</v></c></row>' for r in range(100, 2_000_100))), unreadable="too_large")
    sst = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           + "".join(f"<si><t>{i}</t></si>" for i in range(1_000_000)) + "</sst>")
    add("shared_strings", "sst_million.xlsx", lambda x: sst, part="xl/sharedStrings.xml", unreadable="too_large")
    add("shared_strings", "sst_200k.xlsx", lambda x: x.replace("</sst>", "".join(f"<si><t>{i * 7919 % 1000003}</t></si>" for i in range(200_000)) + "</sst>"), part="xl/sharedStrings.xml", unreadable="too_large")

    # 11b. a part whose data inflates past the size its directory entry declares (the first
    # bytes are the part as it was, so its CRC-32 holds for them): zipfile stops at the declared
    # size and calamine would inflate it whole. Found by a security review (1 MB → 1 GB).
    for name, part in (("lying_sheet.xlsx", t3), ("lying_styles.xlsx", "xl/styles.xml")):
        cases.append(Case("lying_size", lying_size_xlsx(good, d / name, part), unreadable="truncated"))

    # 12. numbers out of range
    big = ("t3", "disclosed", "natural")
    add("too_large_number", "num_1e308.xlsx", lambda x: set_cell_xml(set_cell_xml(x, a1_of(*big), "<v>1E+308</v>"), a1_of("t3", "partial", "natural"), "<v>1E+308</v>"), cell=big, rule="cell.count")
    add("too_large_number", "num_2pow63.xlsx", lambda x: set_cell_xml(x, a1_of(*big), "<v>9300000000000000000</v>"), cell=big, rule="cell.count")

    # 13. macros found by content
    p = d / "vba_renamed.xlsm"
    ct = _set_macro_content_type(good).replace(b"</Types>", b'<Override PartName="/xl/stuff.dat" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    _rewrite_zip(good, p, replace={"[Content_Types].xml": ct}, add={"xl/stuff.dat": cfb_bytes({"PROJECT": b'ID="{0}"\r\n'})})
    cases.append(Case("macros", p, unreadable="macros"))
    p = d / "vba_by_relationship.xlsx"
    with zipfile.ZipFile(good) as z:
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    rels = rels.replace("</Relationships>", '<Relationship Id="rIdV" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="code.bin"/></Relationships>')
    _rewrite_zip(good, p, replace={"xl/_rels/workbook.xml.rels": rels.encode()}, add={"xl/code.bin": cfb_bytes({"PROJECT": b'ID="{0}"\r\n'})})
    cases.append(Case("macros", p, unreadable="macros"))
    cases.append(Case("macros", d / "vba_project_cur.xls", unreadable="macros", needs_office=True))

    # 14. two sheets with the same statutory name
    from xlsxgov import spec as spec_mod

    s21 = spec_mod.load("gov2021")
    t3name = s21.table("t3").sheet
    add("duplicate_sheets", "dup_sheet.xlsx", lambda x: x.replace(f'name="{s21.table("t4").sheet}"', f'name="{t3name}"'), part="xl/workbook.xml", unreadable="duplicate_sheets")
    add("duplicate_sheets", "dup_sheet_fullwidth.xlsx", lambda x: x.replace(f'name="{s21.table("t4").sheet}"', f'name="{t3name.replace("、", "､ ")}"'), part="xl/workbook.xml", unreadable="duplicate_sheets")

    # 9. zip members named with backslashes (read after normalising)
    p = d / "backslash.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename.replace("/", "\\") if info.filename != "[Content_Types].xml" else info.filename, zin.read(info))
    cases.append(Case("backslash_names", p, cell=e8, value=vals[e8]))
    p = d / "backslash_partly.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename.replace("/", "\\") if info.filename.startswith("xl/worksheets") else info.filename, zin.read(info))
    cases.append(Case("backslash_names", p, cell=e8, value=vals[e8]))

    # 5/6. content, not extension: an .ods or .xls named .xlsx, an .xlsx named .xls, WPS .et
    for name in ("ods_named.xlsx", "xls_named.xlsx", "xls_as.et"):
        cases.append(Case("renamed", d / name, cell=e8, value=vals[e8], needs_office=True))
    shutil_copy(good, d / "xlsx_as.et")
    cases.append(Case("renamed", d / "xlsx_as.et", cell=e8, value=vals[e8]))
    shutil_copy(good, d / "xlsx_named.xls")
    cases.append(Case("renamed", d / "xlsx_named.xls", cell=e8, value=vals[e8]))

    # 7. Excel lock files
    p = d / "~$报表.xlsx"
    p.write_bytes(bytes([8]) + "张三".encode("utf-16-le").ljust(108, b" ") + b"\0" * 56)
    cases.append(Case("lock_file", p, unreadable="lock_file"))
    p = d / "~$某局.xls"
    p.write_bytes(bytes([4]) + b"user".ljust(53, b" ") + b"\0" * 108)
    cases.append(Case("lock_file", p, unreadable="lock_file"))

    # 8. Excel 5.0/95 .xls (BIFF5) with Chinese text
    cases.append(Case("biff5", d / "excel95.xls", cell=e8, value=vals[e8], needs_office=True))
    cases.append(Case("biff5", d / "excel95_named.xlsx", cell=e8, value=vals[e8], needs_office=True))

    # 10. .xls that make python-calamine panic: a BoundSheet past the end of the stream
    cases.append(Case("calamine_panic", d / "boundsheet_past_end.xls", unreadable="corrupt", needs_office=True))
    cases.append(Case("calamine_panic", d / "boundsheet_not_bof.xls", unreadable="corrupt", needs_office=True))

    # 15/16. text that is markup or escape sequences, a very long agency name
    for name, agency in (("markup.xlsx", "[red]某局[/]"), ("escape.xlsx", "\x1b[31m某局\x07\u202e局某"),
                         ("long_name.xlsx", "某省某市某县" + "人民政府办公室" * 11)):
        filled_template(d / name, agency=agency)
        cases.append(Case("hostile_text", d / name, cell=e8, value=vals[e8]))
    return cases


def shutil_copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copyfile(src, dst)
    return dst


def convert_office_cases(d: Path, cases: list[Case]) -> list[Case]:
    """Build the cases that need LibreOffice (xls, ods, BIFF5) from the good file and the
    xlsx variants; returns them (the others are untouched)."""
    from xlsxgov import office

    good = d / "_good.xlsx"
    todo = [c for c in cases if c.needs_office]
    if not todo:
        return []
    work = d / "_office"
    work.mkdir(exist_ok=True)
    src_err = shutil_copy(d / "err_div0.xlsx", work / "err.xlsx")
    src_far = patch_xlsx(good, work / "far.xlsx", sheet_part("gov2021", "t3"),
                         lambda x: _append_rows(x, '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>备注</t></is></c></row>'))
    src_far_xls = patch_xlsx(good, work / "farx.xlsx", sheet_part("gov2021", "t3"),
                             lambda x: _append_rows(x, '<row r="65536"><c r="A65536" t="inlineStr"><is><t>备注</t></is></c></row>'))
    src_good = shutil_copy(good, work / "good.xlsx")
    outs = office.convert_many([src_err, src_good, src_far_xls], "xls", work / "xls", recalc=False)
    outs += office.convert_many([src_err, src_good, src_far], "ods", work / "ods", recalc=False)
    err_xls, good_xls, far_xls, err_ods, good_ods, far_ods = outs
    made = {
        "err_div0_xls.xlsx": err_xls, "err_div0_ods.xlsx": err_ods,
        "far_note_ods.xlsx": far_ods, "far_note_xls.xlsx": far_xls,
        "ods_named.xlsx": good_ods, "xls_named.xlsx": good_xls, "xls_as.et": good_xls,
    }
    for c in todo:
        name = c.path.name
        if name in made:
            shutil_copy(made[name], c.path)
    biff5 = _excel95(good, work)
    shutil_copy(biff5, d / "excel95.xls")
    shutil_copy(biff5, d / "excel95_named.xlsx")
    _vba_xls(good_xls, d / "vba_project_cur.xls")
    _boundsheet(good_xls, d / "boundsheet_past_end.xls", past_end=True)
    _boundsheet(good_xls, d / "boundsheet_not_bof.xls", past_end=False)
    return todo


def _excel95(src: Path, work: Path) -> Path:
    """An Excel 5.0/95 workbook (BIFF5, stream "Book", text in code page 936) holding the cells
    of ``src``: LibreOffice imports BIFF5 but no longer exports it, so it is written here."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(src))
    sheets = {n: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in wb.sheet_names}
    out = work / "excel95.xls"
    out.write_bytes(cfb_bytes({"Book": biff5_bytes(sheets)}))
    return out


def biff5_bytes(sheets: dict[str, list[list]]) -> bytes:
    """BIFF5 globals (BOF, CODEPAGE 936, BOUNDSHEETs) then one substream of LABEL/NUMBER
    records per sheet."""
    def rec(rt: int, data: bytes) -> bytes:
        return struct.pack("<HH", rt, len(data)) + data

    bof = lambda dt: rec(0x0809, struct.pack("<HHHH", 0x0500, dt, 0x0DBB, 0x07CC))  # noqa: E731
    bodies = []
    for grid in sheets.values():
        body = bof(0x0010)
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if isinstance(v, str) and v:
                    raw = v.encode("gbk", "replace")[:255]
                    body += rec(0x0204, struct.pack("<HHHH", r, c, 0x0F, len(raw)) + raw)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    body += rec(0x0203, struct.pack("<HHHd", r, c, 0x0F, float(v)))
        bodies.append(body + rec(0x000A, b""))
    names = [n[:31].encode("gbk") for n in sheets]
    head = bof(0x0005) + rec(0x0042, struct.pack("<H", 936))
    size = len(head) + sum(4 + 7 + len(n) for n in names) + 4
    globals_ = head
    offset = size
    for n, body in zip(names, bodies):
        globals_ += rec(0x0085, struct.pack("<IHB", offset, 0, len(n)) + n)
        offset += len(body)
    globals_ += rec(0x000A, b"")
    assert len(globals_) == size
    return (globals_ + b"".join(bodies)).ljust(4096, b"\0")


def _workbook_stream(xls: Path):
    from xlsxgov.filecheck import _Cfb

    data = bytearray(xls.read_bytes())
    cfb = _Cfb(bytes(data))
    entry = cfb.root_children()["Workbook"]
    return data, cfb, entry


def _boundsheet(xls: Path, dst: Path, *, past_end: bool) -> None:
    """Rewrite the first BOUNDSHEET record's stream offset in place (the record lies in one
    sector of the Workbook stream, found by its bytes)."""
    data, cfb, entry = _workbook_stream(xls)
    stream = cfb.read_stream(entry, entry[6])
    pos = 0
    while True:
        rtype, rlen = struct.unpack_from("<HH", stream, pos)
        if rtype == 0x0085:
            break
        pos += 4 + rlen
    record = stream[pos:pos + 4 + rlen]
    at = bytes(data).find(record)
    assert at > 0 and bytes(data).find(record, at + 1) < 0
    offset = entry[6] + 4096 if past_end else struct.unpack_from("<I", record, 4)[0] + 2
    struct.pack_into("<I", data, at + 4, offset)
    dst.write_bytes(bytes(data))


def _vba_xls(xls: Path, dst: Path) -> None:
    """A workbook whose compound file also holds a ``_VBA_PROJECT_CUR`` storage (macros)."""
    data, cfb, entry = _workbook_stream(xls)
    stream = cfb.read_stream(entry, entry[6])
    dst.write_bytes(cfb_bytes({"Workbook": stream, "_VBA_PROJECT_CUR": b"\0" * 600}))


def a1_ref(r: int, c: int) -> str:
    """0-based (row, col) -> A1."""
    col, n = "", c + 1
    while n:
        n, rem = divmod(n - 1, 26)
        col = chr(65 + rem) + col
    return f"{col}{r + 1}"
