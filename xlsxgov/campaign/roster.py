"""Agency roster: who receives the template, validated before any mail goes out.

The roster is a small spreadsheet kept by the regional office (.csv, .xlsx,
.xls or .ods) with one agency per row.  Every agency is identified by its
统一社会信用代码 (unified social credit code, GB 32100-2015), whose check
character catches most typing mistakes, so it is verified here.

``read_roster`` is all-or-nothing: it either returns the complete list or
raises one ``RosterError`` listing every problem found, with row numbers as
the user sees them in the spreadsheet.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from ..errors import Problem, RosterError
from ..locate import agency_key

__all__ = [
    "Agency",
    "EMAIL_SEPARATOR",
    "RosterError",
    "USCC_ALPHABET",
    "read_roster",
    "split_emails",
    "uscc_check_char",
    "uscc_error",
    "uscc_is_valid",
    "write_roster_template",
]

# --- 统一社会信用代码 (GB 32100-2015) ---------------------------------------

# 31 characters: digits plus upper-case letters without I, O, Z, S, V
# (excluded because they are easily confused with 1, 0, 2, 5, U).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# First character: registration authority (1 机构编制, 2 外交, 3 司法行政,
# 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商, A 军队, N 农业, Y 其他).
_USCC_AUTHORITIES = "123456789ANY"
_WS_RE = re.compile(r"\s+")






def uscc_check_char(code17: str) -> str:
    """Return the 18th (check) character for the first 17 characters of a code."""
    body = agency_key(code17)
    if len(body) != 17:
        raise ValueError(f"统一社会信用代码本体应为 17 位，实际为 {len(body)} 位：{code17!r}")
    bad = [c for c in body if c not in _USCC_VALUE]
    if bad:
        raise ValueError(f"统一社会信用代码含有非法字符“{bad[0]}”：{code17!r}")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_error(code: str) -> str | None:
    """Describe what is wrong with a code in Chinese, or None if it is valid.

    The text is meant to follow the column label, e.g.
    ``统一社会信用代码“…”校验位错误，应为 3``.
    """
    shown = str(code).strip()
    norm = agency_key(code)
    if not norm:
        return "为空"
    if len(norm) != 18:
        return f"“{shown}”长度为 {len(norm)} 位，应为 18 位"
    bad = sorted({c for c in norm if c not in _USCC_VALUE})
    if bad:
        chars = "、".join(f"“{c}”" for c in bad)
        return f"“{shown}”含有非法字符 {chars}（代码中不使用 I、O、Z、S、V 等字符）"
    if norm[0] not in _USCC_AUTHORITIES:
        return f"“{shown}”第 1 位（登记管理部门代码）“{norm[0]}”无效"
    if not norm[2:8].isdigit():
        return f"“{shown}”第 3-8 位应为 6 位数字的行政区划码"
    expected = uscc_check_char(norm[:17])
    if norm[17] != expected:
        return f"“{shown}”校验位错误，应为 {expected}"
    return None


def uscc_is_valid(code: str) -> bool:
    """True if ``code`` is a well-formed 18-character code with a correct check char.

    Lower case and spaces are tolerated; positions 3-8 must be digits (the
    administrative division itself is not looked up).
    """
    return uscc_error(code) is None


# --- roster ----------------------------------------------------------------


# The one way a roster cell's several addresses are kept (in Agency.email and the ledger): an
# RFC 5322 address list. A ledger of one address per agency reads the same.
EMAIL_SEPARATOR = ", "
# What separates addresses in a roster cell (after NFKC: ；，／ are ASCII by then): ; , 、 / and
# any whitespace, line breaks included.
_EMAIL_SPLIT = re.compile(r"[;,、/\s]+")


def split_emails(text: str) -> list[str]:
    """The addresses of a roster cell or of ``Agency.email``, in order, without empty parts
    (``"a@x.gov.cn； b@y.gov.cn"`` → two). Not checked here: ``read_roster`` checks each."""
    return [p for p in _EMAIL_SPLIT.split(unicodedata.normalize("NFKC", text or "")) if p]


@dataclass(frozen=True)
class Agency:
    """One roster row: name, 统一社会信用代码 (normalised: upper case, no spaces), region, contact,
    e-mail addresses and phone (optional column).

    ``email``: "" when the agency has none (it reports through the portal only and gets no mail),
    else its addresses joined by EMAIL_SEPARATOR (``a@x.gov.cn, b@y.gov.cn``); ``emails`` lists them."""

    name: str
    code: str  # normalized: upper case, no spaces
    region: str
    contact: str
    email: str
    phone: str = ""  # the optional 联系电话 column: whom to phone about a missing report

    @property
    def emails(self) -> list[str]:
        """The agency's addresses: every one gets its mails, a reply from any is its own."""
        return split_emails(self.email)


HEADERS = ("单位名称", "统一社会信用代码", "上级/地区", "联系人", "电子邮箱")
_FIELDS = ("name", "code", "region", "contact", "email", "phone")
# 电子邮箱 may be absent or empty: an agency with no address reports through the portal only.
_REQUIRED = ("name", "code")


def _header_key(text: str) -> str:
    # NFKC maps full-width "／" and "Ｅｍａｉｌ"; "*" marks required columns in some templates.
    t = unicodedata.normalize("NFKC", text)
    return _WS_RE.sub("", t).strip("*").casefold()


_ALIASES: dict[str, str] = {}
for _field, _names in {
    "name": ("单位名称", "单位", "单位全称", "机构名称"),
    "code": ("统一社会信用代码", "社会信用代码", "信用代码"),
    "region": ("上级/地区", "地区/上级", "上级", "地区"),
    "contact": ("联系人",),
    "email": ("电子邮箱", "邮箱", "Email", "E-mail", "电子邮件"),
    "phone": ("联系电话", "电话", "手机", "联系方式"),
}.items():
    for _n in _names:
        _ALIASES[_header_key(_n)] = _field
_LABEL = {**dict(zip(_FIELDS, HEADERS)), "phone": "联系电话"}
_ALIAS_HINT = {"name": "（也可写作“单位”或“单位全称”）", "code": "（也可写作“社会信用代码”或“信用代码”）",
               "region": "（也可写作“上级”或“地区”）", "email": "（也可写作“邮箱”或“Email”）"}

# Deliberately simple: ASCII local part and a dotted domain.  Government
# mailboxes are ASCII; anything cleverer only lets typos through.
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)


def _email_error(value: str) -> str | None:
    """What is wrong with one address (the text follows the column label), or None."""
    if not value:
        return "为空"
    if "\r" in value or "\n" in value:
        # A line break inside an address could inject mail headers.
        return "含有换行符，请只填写一个邮箱地址"
    if not _EMAIL_RE.fullmatch(value) or ".." in value or value.startswith("."):
        return f"“{value}”格式不正确（应为一个邮箱地址，如 name@example.gov.cn）"
    return None


def _emails_cell(value: str) -> tuple[str, str | None]:
    """A roster cell of addresses as Agency.email keeps it (EMAIL_SEPARATOR between them, the
    same address once; "" for none) and what is wrong with it, naming each malformed part
    (None: nothing)."""
    parts = split_emails(value)
    bad = [p for p in parts if _email_error(p)]
    if len(parts) == 1 and bad:
        return "", _email_error(parts[0])
    if bad:
        named = "、".join(f"“{p}”" for p in bad)
        return "", f"{named}不是邮箱地址（每个地址应如 name@example.gov.cn，多个地址之间用分号隔开）"
    kept: dict[str, str] = {}
    for part in parts:
        kept.setdefault(part.lower(), part)
    return EMAIL_SEPARATOR.join(kept.values()), None


class _NumberText(str):
    """The text of a cell the spreadsheet stored as a number (an all-digit code typed into a
    General cell): Excel keeps 15 significant digits, so an 18-digit code has lost its tail."""


# What Excel writes into a CSV for a long number in a General cell: 9.13501E+17.
_SCIENTIFIC_RE = re.compile(r"[+-]?\d(?:\.\d+)?[eE]\+?\d+")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return _NumberText(value)
    if isinstance(value, float):
        if not value.is_integer():
            return _NumberText(repr(value))
        # What Excel shows for the number: 15 significant digits, then zeros.
        mantissa, exponent = f"{abs(value):.14e}".split("e")
        digits = mantissa.replace(".", "")
        exp = int(exponent)
        text = (digits + "0" * max(0, exp - 14))[: exp + 1] if exp >= 0 else "0"
        return _NumberText(str(int(text)) if value >= 0 else f"-{int(text)}")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value).strip()


def _read_rows(path: Path) -> list[list[str]]:
    """All rows of the file as text; index 0 is spreadsheet row 1."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise RosterError(path, [(None, "", "文件不存在")])
    try:
        if suffix == ".csv":
            raw = path.read_bytes()
            # Excel on Chinese Windows saves CSV as GBK; "CSV UTF-8" adds a BOM.
            # GB18030 is a superset of GBK, so it also covers rare characters.
            for encoding in ("utf-8-sig", "gb18030"):
                try:
                    text = raw.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                raise RosterError(path, [(None, "", "文件编码无法识别，请另存为 UTF-8 或 GBK 编码的 CSV")])
            return [[_cell_text(c) for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
        if suffix in (".xlsx", ".xlsm", ".xls", ".ods", ".et"):
            from ..workbook import Unreadable, read_sheet

            try:
                data = read_sheet(path, 0)  # opened by content, whatever the extension says
            except Unreadable as exc:
                raise RosterError(path, [(None, "", f"无法读取文件：{exc.reason}")]) from None
            return [[_cell_text(c) for c in row] for row in data or []]
    except RosterError:
        raise
    except Exception as exc:  # calamine raises its own error types for corrupt files
        hint = ""
        if suffix == ".xls":
            hint = "（从业务系统导出的 .xls 有时实际是网页格式，请用 Excel 另存为 .xlsx 后再试）"
        raise RosterError(path, [(None, "", f"无法读取文件：{exc}{hint}")]) from exc
    raise RosterError(path, [(None, "", f"不支持的文件类型“{path.suffix}”，请使用 .xlsx、.xls、.ods、.et 或 .csv")])


def _number_code_error(raw: str) -> str | None:
    """The message for a code the spreadsheet stored as a number, or None.

    Excel turns an all-digit code typed into a General cell into a number and keeps only 15
    significant digits, so the last digits of the 18 are gone (and a CSV saved from it holds
    ``9.13501E+17``); the check character would fail for a reason the clerk cannot see."""
    if not isinstance(raw, _NumberText) and not _SCIENTIFIC_RE.fullmatch(raw.strip()):
        return None
    return (
        f"“{raw.strip()}”在表格中被存成了数字（Excel 只保留 15 位有效数字，18 位代码的末几位已丢失），"
        "请把这一列设为“文本”格式后重新输入代码（或在代码前加英文单引号 '）"
    )


def _find_header(rows: list[list[str]]) -> int | None:
    """Index of the header row: normally row 1, but tolerate a title row above it."""
    first_nonblank = None
    for i, row in enumerate(rows[:10]):
        if not any(row):
            continue
        if first_nonblank is None:
            first_nonblank = i
        fields = {_ALIASES.get(_header_key(c)) for c in row}
        if {"name", "code"} <= fields:
            return i
    return first_nonblank


def read_roster(path: str | Path) -> list[Agency]:
    """Read and validate a roster; raise ``RosterError`` listing all problems.

    The 电子邮箱 column may be missing and a cell empty (an agency with no address: portal
    only); a cell may hold several addresses (``split_emails``), each checked."""
    path = Path(path)
    rows = _read_rows(path)
    header_index = _find_header(rows)
    if header_index is None:
        raise RosterError(path, [(None, "", "文件为空，未找到表头（第1行应为：" + "、".join(HEADERS) + "）")])

    problems: list[Problem] = []
    header_row = header_index + 1
    columns: dict[str, int] = {}
    for col, text in enumerate(rows[header_index]):
        field = _ALIASES.get(_header_key(text))
        if field is None:
            continue  # extra columns (备注 etc.) are allowed
        if field in columns:
            problems.append((header_row, text, f"列重复（与第 {columns[field] + 1} 列表示同一项）"))
        else:
            columns[field] = col
    found = "、".join(f"“{t}”" for t in (str(v).strip() for v in rows[header_index] if v is not None) if t)
    for field in _REQUIRED:
        if field not in columns:
            # Say what the header row holds: the clerk sees at once which name to change.
            problems.append((header_row, _LABEL[field], "列缺失" + _ALIAS_HINT.get(field, "") + f"；该行的列名为：{found or '（空）'}"))
    if problems:
        # Without the columns every row would be reported; the header is the problem.
        raise RosterError(path, problems)

    agencies: list[Agency] = []
    seen_code: dict[str, tuple[int, str]] = {}
    seen_name: dict[str, int] = {}
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        if not any(row):
            continue
        row_number = index + 1
        values = {f: (row[c] if c < len(row) else "") for f, c in columns.items()}
        name = _WS_RE.sub(" ", values["name"]).strip()
        code = agency_key(values["code"])
        email, email_problem = _emails_cell(values.get("email", ""))
        row_ok = True

        if not name:
            problems.append((row_number, _LABEL["name"], "为空"))
            row_ok = False
        else:
            key = agency_key(name)  # spaces and full-/half-width differences do not count
            if key in seen_name:
                problems.append((row_number, _LABEL["name"], f"“{name}”与第{seen_name[key]}行重复"))
                row_ok = False
            else:
                seen_name[key] = row_number

        code_problem = _number_code_error(values["code"]) or uscc_error(values["code"])
        if code_problem:
            problems.append((row_number, _LABEL["code"], code_problem))
            row_ok = False
        if code:
            if code in seen_code:
                first_row, first_name = seen_code[code]
                problems.append(
                    (
                        row_number,
                        _LABEL["code"],
                        f"“{code}”与第{first_row}行重复（第{first_row}行：{first_name or '（无名称）'}；"
                        f"第{row_number}行：{name or '（无名称）'}）",
                    )
                )
                row_ok = False
            else:
                seen_code[code] = (row_number, name)

        if email_problem:
            problems.append((row_number, _LABEL["email"], email_problem))
            row_ok = False

        if row_ok:
            agencies.append(
                Agency(
                    name=name,
                    code=code,
                    region=_WS_RE.sub(" ", values.get("region", "")).strip(),
                    contact=_WS_RE.sub(" ", values.get("contact", "")).strip(),
                    email=email,
                    phone=_WS_RE.sub(" ", str(values.get("phone", "") or "")).strip(),
                )
            )

    if not problems and not agencies:
        problems.append((None, "", "名册中没有任何单位（表头以下没有数据行）"))
    if problems:
        raise RosterError(path, problems)
    return agencies


_EXAMPLES = (
    ("某某市教育局", "11350100MB0123456", "某某市", "张三", "jyj@example.com"),
    ("某某市公安局", "11350100MB0234567", "某某市", "李四", "gaj@example.com"),
    ("某某县人民政府办公室", "11350121MB0345678", "某某市某某县", "王五", "xzfb@example.com"),
)


def write_roster_template(path: str | Path) -> Path:
    """Write an example roster .xlsx with the five headers and three sample agencies."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "名册"
    ws.append(list(HEADERS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for name, body, region, contact, email in _EXAMPLES:
        ws.append([name, body + uscc_check_char(body), region, contact, email])
    for letter, width in zip("ABCDE", (28, 24, 16, 10, 28)):
        ws.column_dimensions[letter].width = width
    # Text format so codes typed later are not turned into numbers by Excel;
    # a column style, not per-cell, so no phantom empty rows are created.
    ws.column_dimensions["B"].number_format = "@"
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        row[0].number_format = "@"
    ws.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
