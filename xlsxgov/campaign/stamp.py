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
# Zip parts that carry agency fields in a template written by xlsxwriter.
STAMPED_PARTS = ("xl/sharedStrings.xml", "docProps/app.xml")


class TemplateStamper:
    """Build the edition's template once, then stamp agency fields into byte copies of it.

    The base template carries unique placeholder strings; xlsxwriter stores strings as shared
    strings, so a personalised copy differs only in ``xl/sharedStrings.xml`` (cover cells and
    metadata values) and ``docProps/app.xml`` (the Company property).  All other zip members are
    compressed once: their local entries and central-directory records are kept as bytes, and
    each copy is those bytes plus the two stamped members (deflated, with their own local
    headers and directory records) and the end record, written directly in the zip format.
    """

    def __init__(self, spec, year: int | None, values: dict | None = None, *, link: bool = False, office_line: str = ""):
        """``values``: input values of the base (default none: the blank template); ``link``:
        the cover carries the agency's portal link (``stamp_bytes(..., link=)``); ``office_line``:
        whom to ask, the same on every agency's cover (``letters.Office.cover_line``)."""
        from ..template import Meta, write_workbook

        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "base.xlsx"
            write_workbook(base, spec, Meta(
                year=year, agency=PLACEHOLDERS["agency"], code=PLACEHOLDERS["code"], region=PLACEHOLDERS["region"],
                portal_link=LINK_PLACEHOLDER if link else "", office_line=office_line, footer_who="",
            ), values=values)
            self.base_bytes = base.read_bytes()
        out = io.BytesIO()
        self.parts: dict[str, tuple[zipfile.ZipInfo, str]] = {}
        with zipfile.ZipFile(io.BytesIO(self.base_bytes)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename in STAMPED_PARTS:
                    self.parts[info.filename] = (info, data.decode("utf-8"))
                else:
                    zout.writestr(info, data)
        if "xl/sharedStrings.xml" not in self.parts or PLACEHOLDERS["agency"] not in self.parts["xl/sharedStrings.xml"][1]:
            raise RuntimeError("template has no shared strings with the agency placeholders")
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

    def stamp_bytes(self, agency: str, code: str, region: str, link: str = "") -> bytes:
        """The template's bytes with the agency's name, code, region (and portal link) on its cover."""
        values = {"agency": escape(agency), "code": escape(code), "region": escape(region), "link": escape(link)}
        chunks = [self._local]
        offset = len(self._local)
        directory = [self._directory]
        count = self._count
        for name in STAMPED_PARTS:
            if name not in self.parts:
                continue
            info, text = self.parts[name]
            for placeholder, key in self._escaped:
                text = text.replace(placeholder, values[key])
            raw = text.encode("utf-8")
            z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            packed = z.compress(raw) + z.flush()
            crc = zlib.crc32(raw)
            y, mo, d, h, mi, sec = info.date_time
            dos_time, dos_date = h << 11 | mi << 5 | sec // 2, (y - 1980) << 9 | mo << 5 | d
            fname = name.encode("ascii")
            local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dos_time, dos_date, crc, len(packed), len(raw), len(fname), 0)
            directory.append(struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, dos_time, dos_date, crc, len(packed), len(raw),
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
