"""Per-agency templates: the edition's template built once, agency fields stamped into byte copies."""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

from ..atomic import write_atomic
from .mail import safe_filename
from .roster import Agency

PLACEHOLDERS = {"agency": "@@AGENCY@@", "code": "@@CODE@@", "region": "@@REGION@@"}
LINK_PLACEHOLDER = "@@PORTAL_LINK@@"
# The agency in each printed sheet's footer: a footer doubles "&" (its control character).
FOOTER_PLACEHOLDER = "@@FOOTER@@"
# Zip parts that carry agency fields in a template written by xlsxwriter, besides the sheets
# whose footer names the agency (found by their placeholder: ``TemplateStamper.stamped``).
STAMPED_PARTS = ("xl/sharedStrings.xml", "docProps/app.xml")


class TemplateStamper:
    """Build the edition's template once, then stamp agency fields into byte copies of it.

    The base template carries unique placeholder strings; xlsxwriter stores strings as shared
    strings, so a personalised copy differs only in ``xl/sharedStrings.xml`` (cover cells and
    metadata values), ``docProps/app.xml`` (the Company property) and the printed sheets, whose
    footer names the agency (issue #9, point 8; a footer lives in each sheet's XML).  All other
    zip members are compressed once: their local entries and central-directory records are kept
    as bytes, and each copy is those bytes plus the stamped members (with their own local
    headers and directory records) and the end record, written directly in the zip format.

    A stamped member's text before its first placeholder is deflated once, ending on a byte
    boundary with a non-final block (``Z_SYNC_FLUSH``); each copy appends only its tail,
    deflated by a fresh compressor (RFC 1951 blocks are independent of how the earlier ones were
    made), so a 50 KB sheet whose footer is near its end costs a few hundred bytes per agency.
    """

    def __init__(self, spec, year: int | None, values: dict | None = None, *, link: bool = False, office_line: str = ""):
        """``values``: input values of the base (default none: the blank template); ``link``:
        the cover carries the agency's portal link (``stamp_bytes(..., link=)``); ``office_line``:
        whom to ask, the same on every agency's cover (``letters.Office.cover_line``)."""
        from ..template import Meta, footer_name, write_workbook

        self._footer_name = footer_name
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "base.xlsx"
            write_workbook(base, spec, Meta(
                year=year, agency=PLACEHOLDERS["agency"], code=PLACEHOLDERS["code"], region=PLACEHOLDERS["region"],
                portal_link=LINK_PLACEHOLDER if link else "", office_line=office_line, footer_who=FOOTER_PLACEHOLDER,
            ), values=values)
            self.base_bytes = base.read_bytes()
        out = io.BytesIO()
        markers = [*PLACEHOLDERS.values(), LINK_PLACEHOLDER, FOOTER_PLACEHOLDER]
        # name -> (zip info, deflated head, head's CRC-32, head's length, tail text)
        self.parts: dict[str, tuple[zipfile.ZipInfo, bytes, int, int, str]] = {}
        with zipfile.ZipFile(io.BytesIO(self.base_bytes)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                found = [i for i in (data.find(m.encode("ascii")) for m in markers) if i >= 0]
                if info.filename in STAMPED_PARTS or found:
                    first = min(found, default=len(data))
                    z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
                    head = z.compress(data[:first]) + z.flush(zlib.Z_SYNC_FLUSH)
                    self.parts[info.filename] = (info, head, zlib.crc32(data[:first]), first, data[first:].decode("utf-8"))
                else:
                    zout.writestr(info, data)
        if "xl/sharedStrings.xml" not in self.parts or PLACEHOLDERS["agency"] not in self.parts["xl/sharedStrings.xml"][4]:
            raise RuntimeError("template has no shared strings with the agency placeholders")
        #: the zip members that differ between agencies' copies
        self.stamped = tuple(self.parts)
        self.prefix = out.getvalue()
        # Split the prefix zip into its local entries and its central directory (no comment,
        # no zip64: the end record is the last 22 bytes).
        sig, _, _, _, count, cd_size, cd_offset, comment = struct.unpack("<IHHHHIIH", self.prefix[-22:])
        if sig != 0x06054B50 or comment or cd_offset + cd_size + 22 != len(self.prefix):
            raise RuntimeError("unexpected zip layout of the base template")
        self._local = self.prefix[:cd_offset]
        self._directory = self.prefix[cd_offset:cd_offset + cd_size]
        self._count = count
        self._escaped = [(escape(p), k) for k, p in PLACEHOLDERS.items()] + ([(LINK_PLACEHOLDER, "link")] if link else [])
        self._escaped.append((FOOTER_PLACEHOLDER, "footer"))

    def stamp_bytes(self, agency: str, code: str, region: str, link: str = "") -> bytes:
        """The template's bytes with the agency's name, code, region (and portal link) on its
        cover and its name in every printed sheet's footer."""
        values = {"agency": escape(agency), "code": escape(code), "region": escape(region), "link": escape(link),
                  "footer": escape(self._footer_name(agency))}
        chunks = [self._local]
        offset = len(self._local)
        directory = [self._directory]
        count = self._count
        for name, (info, head, head_crc, head_len, text) in self.parts.items():
            for placeholder, key in self._escaped:
                text = text.replace(placeholder, values[key])
            tail = text.encode("utf-8")
            z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            packed = head + z.compress(tail) + z.flush()
            crc = zlib.crc32(tail, head_crc)
            size = head_len + len(tail)
            y, mo, d, h, mi, sec = info.date_time
            dos_time, dos_date = h << 11 | mi << 5 | sec // 2, (y - 1980) << 9 | mo << 5 | d
            fname = name.encode("ascii")
            local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dos_time, dos_date, crc, len(packed), size, len(fname), 0)
            directory.append(struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, dos_time, dos_date, crc, len(packed), size,
                len(fname), 0, 0, 0, 0, info.external_attr, offset,
            ) + fname)
            chunks += [local, fname, packed]
            offset += len(local) + len(fname) + len(packed)
            count += 1
        cd = b"".join(directory)
        chunks += [cd, struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(cd), offset, 0)]
        return b"".join(chunks)

    def stamp(self, path: Path, agency: str, code: str, region: str) -> Path:
        write_atomic(path, self.stamp_bytes(agency, code, region))
        return path


def template_name(agency: Agency, year: int | str) -> str:
    """The file name of an agency's template: ``{code}_{name}_{year}年政府信息公开年报统计表.xlsx``, made safe for every file system."""
    return safe_filename(f"{agency.code}_{agency.name}_{year}年政府信息公开年报统计表.xlsx")
