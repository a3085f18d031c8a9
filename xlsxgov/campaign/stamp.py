"""Per-agency templates: the edition's template built once, agency fields stamped into byte copies."""

from __future__ import annotations

import io
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from ..atomic import write_atomic
from .mail import base64_lines, safe_filename
from .roster import Agency

PLACEHOLDERS = {"agency": "@@AGENCY@@", "code": "@@CODE@@", "region": "@@REGION@@"}
LINK_PLACEHOLDER = "@@PORTAL_LINK@@"
# The agency in each printed sheet's footer: a footer doubles "&" (its control character).
FOOTER_PLACEHOLDER = "@@FOOTER@@"
# Zip parts that carry agency fields in a template written by xlsxwriter, besides the sheets
# whose footer names the agency (found by their placeholder: ``TemplateStamper.stamped``).
STAMPED_PARTS = ("xl/sharedStrings.xml", "docProps/app.xml")


class _Crc:
    """How a fixed run of bytes moves a running CRC-32: ``zlib.crc32(data, value)`` is affine in
    ``value`` over GF(2), so four byte tables give it without reading ``data`` again."""

    def __init__(self, data: bytes):
        self.constant = zlib.crc32(data, 0)
        columns = [zlib.crc32(data, 1 << i) ^ self.constant for i in range(32)]
        self.tables = []
        for k in range(4):
            table = [0] * 256
            for v in range(1, 256):
                low = v & -v  # lowest set bit: table[v] = table[v without it] ^ its column
                table[v] = table[v ^ low] ^ columns[8 * k + low.bit_length() - 1]
            self.tables.append(table)

    def after(self, value: int) -> int:
        """``zlib.crc32(data, value)``."""
        t0, t1, t2, t3 = self.tables
        return t0[value & 255] ^ t1[value >> 8 & 255] ^ t2[value >> 16 & 255] ^ t3[value >> 24] ^ self.constant


class TemplateStamper:
    """Build the edition's template once, then stamp agency fields into byte copies of it.

    The base template carries unique placeholder strings; xlsxwriter stores strings as shared
    strings, so a personalised copy differs only in ``xl/sharedStrings.xml`` (cover cells and
    metadata values), ``docProps/app.xml`` (the Company property) and the printed sheets, whose
    footer names the agency (issue #9, point 8; a footer lives in each sheet's XML).  All other
    zip members are compressed once: their local entries and central-directory records are kept
    as bytes.  Each stamped member is cut at its placeholders; the fixed pieces between them are
    deflated once, each ending on a byte boundary with a non-final block (``Z_SYNC_FLUSH``), and
    a copy puts its agency's fields between them as stored blocks (RFC 1951 3.2.4: blocks are
    independent of how the earlier ones were made) and ends with an empty final block.  A copy
    thus costs no compression and no pass over the fixed text (its CRC-32 is carried across the
    fixed pieces by ``_Crc``): only the zip headers and end record, written directly in the zip
    format (APPNOTE.TXT 4.3).  The untouched leading bytes are also kept in base64
    (``Stamped.base64``), so that the mail carrying a copy encodes only the rest.
    """

    def __init__(self, spec, year: int | None, values: dict | None = None, *, link: bool = False, office_line: str = ""):
        """``values``: input values of the base (default none: the blank template); ``link``:
        the cover carries the agency's portal link (``stamp_bytes(..., link=)``); ``office_line``:
        whom to ask, the same on every agency's cover (``letters.Office.cover_line``).
        Raises RuntimeError when the base template is not laid out as expected (a bug)."""
        from ..template import Meta, footer_name, write_workbook

        self._footer_name = footer_name
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "base.xlsx"
            write_workbook(base, spec, Meta(
                year=year, agency=PLACEHOLDERS["agency"], code=PLACEHOLDERS["code"], region=PLACEHOLDERS["region"],
                portal_link=LINK_PLACEHOLDER if link else "", office_line=office_line, footer_who=FOOTER_PLACEHOLDER,
            ), values=values)
            self.base_bytes = base.read_bytes()
        keys = {p: k for k, p in PLACEHOLDERS.items()} | {LINK_PLACEHOLDER: "link", FOOTER_PLACEHOLDER: "footer"}
        cut = re.compile(("(" + "|".join(re.escape(p) for p in keys) + ")").encode("ascii"))
        out = io.BytesIO()
        # name -> (zip info, [(fixed bytes deflated, their CRC step, their length, the field after them or None)])
        self.parts: dict[str, tuple[zipfile.ZipInfo, list[tuple[bytes, _Crc, int, str | None]]]] = {}
        with zipfile.ZipFile(io.BytesIO(self.base_bytes)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                split = cut.split(data)  # fixed, placeholder, fixed, …, fixed
                if info.filename not in STAMPED_PARTS and len(split) == 1:
                    zout.writestr(info, data)
                    continue
                pieces = []
                for i in range(0, len(split), 2):
                    z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
                    field = keys[split[i + 1].decode("ascii")] if i + 1 < len(split) else None
                    pieces.append((z.compress(split[i]) + z.flush(zlib.Z_SYNC_FLUSH), _Crc(split[i]), len(split[i]), field))
                self.parts[info.filename] = (info, pieces)
        shared = self.parts.get("xl/sharedStrings.xml")
        if shared is None or "agency" not in [p[3] for p in shared[1]]:
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
        # The base64 of the fixed leading bytes, in whole 57-byte groups (one 76-character line each).
        self._b64_cut = len(self._local) // 57 * 57
        self._b64_head = base64_lines(self._local[:self._b64_cut])

    @classmethod
    def for_campaign(cls, store, office, *, link: bool = False) -> TemplateStamper:
        """The stamper of a campaign's templates (``store``: campaign.store.CampaignStore): its
        edition and year, ``office``'s contact on the cover (letters.Office), a portal link when ``link``."""
        from .. import spec as spec_mod

        settings = store.settings()
        return cls(spec_mod.load(settings.edition), settings.year or 0, link=link, office_line=office.cover_line())

    def stamp_copy(self, agency: str, code: str, region: str, link: str = "") -> Stamped:
        """The template with the agency's name, code, region (and portal link) on its cover and
        its name in every printed sheet's footer."""
        values = {"agency": escape(agency), "code": escape(code), "region": escape(region), "link": escape(link),
                  "footer": escape(self._footer_name(agency))}
        fields = {k: (v.encode("utf-8"), _stored_blocks(v.encode("utf-8"))) for k, v in values.items()}
        chunks = [self._local]
        offset = len(self._local)
        directory = [self._directory]
        count = self._count
        for name, (info, pieces) in self.parts.items():
            packed_parts, crc, size = [], 0, 0
            for packed, step, length, key in pieces:
                packed_parts.append(packed)
                crc = step.after(crc)
                size += length
                if key is not None:
                    raw, blocks = fields[key]
                    packed_parts.append(blocks)
                    crc = zlib.crc32(raw, crc)
                    size += len(raw)
            packed_parts.append(_FINAL_BLOCK)
            packed = b"".join(packed_parts)
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
        return Stamped(b"".join(chunks), self._b64_head, self._b64_cut)

    def stamp_bytes(self, agency: str, code: str, region: str, link: str = "") -> bytes:
        """The bytes of ``stamp_copy``: the agency's template."""
        return self.stamp_copy(agency, code, region, link).data

    def stamp(self, path: Path, agency: str, code: str, region: str) -> Path:
        """Write the agency's template to ``path`` atomically; returns ``path``."""
        write_atomic(path, self.stamp_bytes(agency, code, region))
        return path


_FINAL_BLOCK = b"\x01\x00\x00\xff\xff"  # an empty stored block with BFINAL set: the deflate stream's end


def _stored_blocks(data: bytes) -> bytes:
    """``data`` as non-final stored deflate blocks (RFC 1951 3.2.4: byte-aligned, at most 65,535 bytes each)."""
    out = []
    for i in range(0, len(data), 65535):
        piece = data[i:i + 65535]
        out += [struct.pack("<BHH", 0, len(piece), len(piece) ^ 0xFFFF), piece]
    return b"".join(out)


@dataclass(frozen=True)
class Stamped:
    """One stamped template: ``data`` its bytes; ``base64`` the same bytes as mail carries them
    (``mail.base64_lines``), of which the fixed head was encoded once for all copies."""

    data: bytes
    _b64_head: bytes
    _b64_cut: int

    @property
    def base64(self) -> bytes:
        return self._b64_head + base64_lines(self.data[self._b64_cut:])


def template_name(agency: Agency, year: int | str) -> str:
    """The file name of an agency's template: ``{code}_{name}_{year}年政府信息公开年报统计表.xlsx``, made safe for every file system;
    a ``/`` in the name becomes ``_`` (``safe_filename(flatten=True)``): the code stays, so two agencies never share a name."""
    return safe_filename(f"{agency.code}_{agency.name}_{year}年政府信息公开年报统计表.xlsx", flatten=True)
