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
