"""Interpret what a person typed in one spreadsheet cell.

This is the single place that knows how typed values are read. The reader calls
:func:`parse_cell` for every cell of a statutory table, with the kind of the cell:

``Kind.COUNT``
    a whole number >= 0 (件, 条, 人次 ...).
``Kind.DELTA``
    a whole number that may be negative (the 本年增/减 column of the 2019 edition).
``Kind.MONEY``
    an amount in 万元 (10,000 yuan) >= 0 with at most 6 decimals, i.e. exact to the 分
    (FORMATS.md, cell.money; real reports print ``5949.088667`` 万元 and ``75394432.52元``).
    It is stored as an exact integer number of 分 (FEN_PER_WANYUAN, the one place for the
    money factor) so that sums never suffer from binary floating point:
    83.8778 万元 -> 83877800, 5949.088667 万元 -> 5949088667, 75394432.52元 -> 7539443252.
``Kind.TEXT``
    free text; never an error, only cleaned of surrounding whitespace.

The result is a :class:`Parsed`: ``value`` (int or None), ``text`` (TEXT cells only),
``severity`` (None = clean, ``"info"`` = read but worth telling the clerk,
``"error"`` = unusable, value None), a machine ``code`` and a Chinese ``message``
that always quotes what was typed.

Decisions
---------
Clean (no note): plain numbers, numbers stored as text (``"12"``), a leading ``+``,
surrounding whitespace (ASCII, NBSP, U+3000, zero-width), integral floats (``3.0``
from .xls) and float noise from formulas (``0.1+0.2``, see below).

Read as 0 with info ``blank``: None, ``""``, whitespace, ``/``, ``／``, ``无``, ``空``
and any run of dashes (``-``, ``－``, ``—``, ``——``, ``–``, ``―``, ``−``).

Read with an info note (codes, highest priority first):
``chinese_numeral``, ``yuan_to_wanyuan``, ``decrease_word``, ``increase_word``,
``unit``, ``thousands``, ``fullwidth``. A cell can need several normalisations
(``２４，８５０元``); ``code`` is the most important one and ``message`` lists all
of them, most important first, so nothing is hidden from the clerk.

* ``fullwidth``: full-width digits, ``＋ － ． ，`` and the minus sign U+2212 are
  turned into ASCII. Other Unicode digits (Arabic-Indic, circled ①, superscripts)
  are *not* accepted: they are errors, because silently reading them is surprising.
* ``thousands``: ``1,234`` / ``1，234``; the grouping must be exact (``1,23`` is an
  error, it may be a mistyped decimal point).
* ``unit``: for COUNT/DELTA the units 件 条 个 次 项 人 篇 人次 份 起 宗 are dropped;
  for MONEY the suffix ``万元`` (or a bare ``万``) is dropped. A money unit on a count
  or a count unit on money is an error ``wrong_unit``.
* ``yuan_to_wanyuan``: money typed with the suffix ``元`` is yuan and is taken
  exactly (``24850元`` = 2.485 万元, ``75394432.52元`` = 7539.443252 万元). A bare number
  for money is 万元.
* ``decrease_word`` / ``increase_word``: ``减4`` / ``减少4`` -> -4, ``增4`` /
  ``增加4`` -> 4. The words are accepted for every numeric kind, but the sign rules
  still apply: a negative COUNT or MONEY is an error ``negative``.

Errors (value None): ``not_integer`` (3.5 in a count), ``negative``,
``too_large`` (a count or a 本年增/减 beyond ±MAX_NUMBER, money beyond MAX_NUMBER 万元: no
agency handles a billion requests or a billion 万元 of fees, and the bound keeps every sum of
a whole region inside a 64-bit integer, so the ledger can always store it: "数值过大"),
``too_many_decimals`` (money finer than 1 分, i.e. > 6 decimals in 万元, or more than
2 decimals with ``元``), ``not_a_number`` (``abc``, ``12abc``, percentages,
scientific notation such as ``1e3``, more than 30 digits, booleans, infinities: a
clerk can fix these and guessing would hide mistakes), ``formula_error`` (``#REF!``,
``#DIV/0!``, ``#N/A``,
LibreOffice ``Err:502``, ...), ``date`` (date, datetime, time or timedelta values:
usually a cell formatted as a date), ``wrong_unit`` and ``chinese_numeral``.

Chinese numerals: a *standard* numeral below 1亿 made of 零〇一二两三四五六七八九十百千万
(and the financial forms 壹贰叁肆伍陆柒捌玖拾佰仟萬) is converted for COUNT and DELTA,
with info ``chinese_numeral`` so the clerk is told (``十二`` -> 12,
``一百零五`` -> 105, ``三十万五千`` -> 305000, ``两百`` -> 200). Anything that is not
the standard written form is an error ``chinese_numeral``, because its meaning is
uncertain: colloquial abbreviations (``一百五`` may be 150 or 105, ``一万二``),
digit-by-digit strings (``二〇二〇``, ``三四`` = 3 or 4?), misplaced ``零`` or ``两``,
and anything with 亿. Money written in Chinese numerals is always an error
``chinese_numeral``: amounts must be exact and are rare enough to retype.

Floats: integral floats are integers. Float results of formulas carry binary noise
(``3.0000000000000004``, ``0.30000000000000004``); a float within a relative 1e-12
of a whole count (or of a whole 分 for money) is read as that value, which is far
below the 15 significant digits a person can type into Excel. Money floats are
converted through ``Decimal(repr(x))`` so ``83.8778`` is exact.

Note: python-calamine returns an error cell (and a formula saved without a result) as ``""``,
the same as a blank cell; the reader never passes such a cell here but reports it from what
the file stores (``workbook.scan``: rules ``cell.error_value``, ``cell.formula_without_result``).
The ``formula_error`` code fires for error strings that were typed as text.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation, localcontext
from enum import Enum

__all__ = ["Kind", "Parsed", "parse_cell", "format_money", "money_to_wanyuan", "wanyuan_to_money", "FEN_PER_WANYUAN", "MAX_NUMBER"]


class Kind(str, Enum):
    COUNT = "count"
    DELTA = "delta"
    MONEY = "money"
    TEXT = "text"


@dataclass(frozen=True)
class Parsed:
    value: int | None
    text: str | None
    severity: str | None
    code: str | None
    message: str | None

    @property
    def ok(self) -> bool:
        """True when the cell has a usable value (clean or info)."""
        return self.severity != "error"


# Money is kept as an exact integer number of 分: the one place for the money factor.
FEN_PER_WANYUAN = 1_000_000
FEN_PER_YUAN = 100

# Units a clerk appends to a count; longest first so 人次 wins over 人.
COUNT_UNITS = ("人次", "件", "条", "个", "次", "项", "人", "篇", "份", "起", "宗")
MONEY_UNITS = ("万元", "万", "元")

_BLANK_WORDS = frozenset({"/", "／", "无", "空"})
_DASHES_RE = re.compile(r"[-－—–―‐‑−]+")

# Excel's error values, plus the newer dynamic-array ones.
_EXCEL_ERRORS = frozenset(
    {
        "#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NUM!", "#NULL!",
        "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!",
        "#CONNECT!", "#UNKNOWN!", "#BUSY!",
    }
)
_LIBREOFFICE_ERROR_RE = re.compile(r"(?i)err:\s*\d{3}")

# Zero-width characters are not str.isspace() but do sneak in from web copy-paste.
_EDGE_SPACE_RE = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff]+|[\s\u200b-\u200d\u2060\ufeff]+$")

_FULLWIDTH = {0xFF10 + i: ord("0") + i for i in range(10)}
_FULLWIDTH.update({0xFF0B: ord("+"), 0xFF0D: ord("-"), 0x2212: ord("-"), 0xFF0E: ord("."), 0xFF0C: ord(",")})
# Only used to recognise percent / exponent for a better message, not to accept them.
_FULLWIDTH.update({0xFF05: ord("%"), 0xFF45: ord("e"), 0xFF25: ord("E")})

_CN_NUMERAL_CHARS = "零〇一二两三四五六七八九十百千万壹贰叁肆伍陆柒捌玖拾佰仟萬亿億"

_NUMBER_RE = re.compile(
    r"(?P<word>增加|增|减少|减)?\s*"
    r"(?P<sign>[+-])?\s*"
    r"(?P<num>[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+|[" + _CN_NUMERAL_CHARS + r"]+)\s*"
    r"(?P<unit>" + "|".join(COUNT_UNITS + MONEY_UNITS) + r")?"
)
_THOUSANDS_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")
_SCIENTIFIC_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+")

# Priority of info notes: the first present becomes Parsed.code.
_INFO_PRIORITY = (
    "chinese_numeral",
    "yuan_to_wanyuan",
    "decrease_word",
    "increase_word",
    "unit",
    "thousands",
    "fullwidth",
)

# Decimal's default 28 digits would silently round long inputs; 60 is exact for
# anything we accept (strings are capped at _MAX_DIGITS digits).
_DECIMAL_CONTEXT = Context(prec=60)
_MAX_DIGITS = 30

# The plausible bound of any count and of money in 万元 (see the module docstring, too_large).
MAX_NUMBER = 10**9

# Relative tolerance for binary noise in floats produced by formulas.
_FLOAT_NOISE = Decimal("1e-12")


# ---------------------------------------------------------------------------
# Public helpers


def format_money(fen: int) -> str:
    """万元 string with the fewest decimals: 83877800 -> "83.8778", 1000000 -> "1"."""
    sign = "-" if fen < 0 else ""
    whole, rest = divmod(abs(int(fen)), FEN_PER_WANYUAN)
    if rest == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{rest:06d}".rstrip("0")


def money_to_wanyuan(fen: int) -> float:
    """万元 as a float for writing into Excel or JSON.

    int / int is correctly rounded, and every amount within MAX_NUMBER 万元 has at most 15
    significant digits, so the float's repr is the exact 6-decimal value.
    """
    return int(fen) / FEN_PER_WANYUAN


def wanyuan_to_money(wanyuan: float | int) -> int:
    """A 万元 number (as Excel or the ledger hold it) back to exact 分 (the inverse of
    money_to_wanyuan for every amount within MAX_NUMBER 万元)."""
    if isinstance(wanyuan, int):
        return wanyuan * FEN_PER_WANYUAN
    return int((Decimal(repr(float(wanyuan))) * FEN_PER_WANYUAN).to_integral_value())


def _yuan_text(fen: int) -> str:
    whole, rest = divmod(fen, FEN_PER_YUAN)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") if rest else str(whole)


# ---------------------------------------------------------------------------
# Result builders


def _error(code: str, message: str) -> Parsed:
    return Parsed(value=None, text=None, severity="error", code=code, message=message)


def _ok(value: int, notes: dict[str, str], shown: str, kind: Kind) -> Parsed:
    """Clean result, or an info note listing every normalisation then the value read."""
    if not notes:
        return Parsed(value=value, text=None, severity=None, code=None, message=None)
    codes = [c for c in _INFO_PRIORITY if c in notes]
    read_as = f"{format_money(value)}万元" if kind is Kind.MONEY else str(value)
    parts = [notes[c] for c in codes] + [f"按{read_as}读取"]
    return Parsed(
        value=value,
        text=None,
        severity="info",
        code=codes[0],
        message=f"“{shown}”" + "，".join(parts),
    )


def _blank(shown: str | None) -> Parsed:
    msg = "空白单元格按0读取" if not shown else f"“{shown}”按0读取"
    return Parsed(value=0, text=None, severity="info", code="blank", message=msg)


_BLANK_CELL = _blank(None)


def _show_number(x: int | float | Decimal) -> str:
    """How a number is quoted in a message: no trailing .0 for integral floats."""
    if isinstance(x, float) and math.isfinite(x) and x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    if isinstance(x, Decimal):
        return format(x, "f")
    return repr(x) if isinstance(x, float) else str(x)


def raw_text(raw) -> str | None:
    """What a cell held, as text for the ledger and exports: a number as it is shown (15, not
    the 15.0 the reader gives for a whole number), text exactly as typed, None for nothing."""
    if raw is None:
        return None
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        return _show_number(raw)
    return str(raw)


# ---------------------------------------------------------------------------
# Main entry


def parse_cell(raw, kind: Kind) -> Parsed:
    """Read one cell value as returned by python-calamine for the given kind."""
    if kind.__class__ is not Kind:
        kind = Kind(kind)
    if (raw is None or raw.__class__ is str and not raw) and kind is not Kind.TEXT:
        return _BLANK_CELL  # a cell left empty, as _parse reads it (many a returned form has hundreds)
    # Most cells hold a whole number: answer those without Decimal (same result as _parse).
    if raw.__class__ is float and kind is not Kind.TEXT and raw.is_integer() and -MAX_NUMBER <= raw <= MAX_NUMBER:
        if raw >= 0 or kind is Kind.DELTA:
            whole = int(raw)
            return Parsed(whole * FEN_PER_WANYUAN if kind is Kind.MONEY else whole, None, None, None, None)
    with localcontext(_DECIMAL_CONTEXT):
        return _parse(raw, kind)


def _parse(raw, kind: Kind) -> Parsed:
    if kind is Kind.TEXT:
        return Parsed(value=None, text=_as_text(raw), severity=None, code=None, message=None)
    if raw is None:
        return _blank(None)
    # bool before int: bool is a subclass of int.
    if isinstance(raw, bool):
        shown = "TRUE" if raw else "FALSE"
        return _error("not_a_number", f"“{shown}”是逻辑值，不是数字")
    if isinstance(raw, (_dt.date, _dt.time, _dt.timedelta)):
        return _error(
            "date", f"“{_show_temporal(raw)}”是日期或时间，不是数字，请检查单元格格式是否被设成了日期"
        )
    if isinstance(raw, int):
        return _finish(Decimal(raw), kind, str(raw), {}, in_yuan=False)
    if isinstance(raw, float):
        return _parse_float(raw, kind)
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            return _error("not_a_number", f"“{raw}”不是有效的数字")
        return _finish(raw, kind, _show_number(raw), {}, in_yuan=False)
    if isinstance(raw, str):
        return _parse_str(raw, kind)
    return _error("not_a_number", f"“{raw}”不是有效的数字")


# ---------------------------------------------------------------------------
# Text


def _strip(s: str) -> str:
    return _EDGE_SPACE_RE.sub("", s)


def _show_temporal(x) -> str:
    if isinstance(x, _dt.datetime):
        return x.isoformat(sep=" ")
    if isinstance(x, (_dt.date, _dt.time)):
        return x.isoformat()
    return str(x)


def _as_text(raw) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return _strip(raw)
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, (int, float, Decimal)):
        return _show_number(raw)
    if isinstance(raw, (_dt.date, _dt.time, _dt.timedelta)):
        return _show_temporal(raw)
    return _strip(str(raw))


# ---------------------------------------------------------------------------
# Numbers


def _parse_float(x: float, kind: Kind) -> Parsed:
    shown = _show_number(x)
    if not math.isfinite(x):
        return _error("not_a_number", f"“{shown}”不是有效的数字")
    if abs(x) > MAX_NUMBER:
        return _too_large(shown, kind)
    if kind is Kind.MONEY:
        # repr is the shortest round-tripping form: 83.8778 stays 83.8778.
        fen = Decimal(repr(x)) * FEN_PER_WANYUAN
        return _finish_money_fen(_denoise(fen), shown, {})
    if x.is_integer():
        return _finish(Decimal(int(x)), kind, shown, {}, in_yuan=False)
    return _finish(_denoise(Decimal(repr(x))), kind, shown, {}, in_yuan=False)


def _denoise(d: Decimal) -> Decimal:
    """Snap a float-derived value to the nearest integer when off only by binary noise."""
    nearest = d.to_integral_value()
    if nearest != d and abs(d - nearest) <= abs(d) * _FLOAT_NOISE:
        return nearest
    return d


def _parse_str(raw: str, kind: Kind) -> Parsed:
    s = _strip(raw)
    if not s:
        return _blank(None)
    if s in _BLANK_WORDS or _DASHES_RE.fullmatch(s):
        return _blank(s)
    if s.upper() in _EXCEL_ERRORS or _LIBREOFFICE_ERROR_RE.fullmatch(s):
        return _error("formula_error", f"“{s}”是公式错误值，请检查该单元格的公式或改填数字")

    notes: dict[str, str] = {}
    t = s.translate(_FULLWIDTH)
    m = _NUMBER_RE.fullmatch(t)
    if m is None:
        return _not_a_number(s, t)
    word, sign, num, unit = m.group("word"), m.group("sign"), m.group("num"), m.group("unit")
    if word and sign:
        # 减-4 is ambiguous (double negative or a dash?): let the clerk decide.
        return _error("not_a_number", f"“{s}”同时有增减字样和正负号，无法确定数值")

    is_chinese = num[0] in _CN_NUMERAL_CHARS
    if t != s:
        # Only digits, signs, dot and comma are translated, so this is the number's own text.
        notes["fullwidth"] = "含全角字符"

    # Units: which are allowed depends on the kind.
    in_yuan = False
    if unit:
        if kind is Kind.MONEY:
            if unit in COUNT_UNITS:
                return _error("wrong_unit", f"“{s}”的单位“{unit}”不是金额单位，此处应填写金额（万元）")
            if unit == "元":
                in_yuan = True
            else:
                notes["unit"] = f"已去掉单位“{unit}”"
        else:
            if unit in MONEY_UNITS:
                return _error("wrong_unit", f"“{s}”的单位“{unit}”不适用于此处，此处应填写数量")
            notes["unit"] = f"已去掉单位“{unit}”"

    if is_chinese:
        if kind is Kind.MONEY:
            return _error("chinese_numeral", f"“{s}”是中文数字，金额请用阿拉伯数字填写")
        n = chinese_to_int(num)
        if n is None:
            return _error(
                "chinese_numeral", f"“{s}”是含义不明确或不规范的中文数字，请改用阿拉伯数字填写"
            )
        amount = Decimal(n)
        notes["chinese_numeral"] = "是中文数字（建议改用阿拉伯数字）"
    else:
        if sum(ch.isdigit() for ch in num) > _MAX_DIGITS:
            return _error("not_a_number", f"“{s}”位数过多，不是合理的数值")
        if "," in num:
            if not _THOUSANDS_RE.fullmatch(num):
                return _error(
                    "not_a_number", f"“{s}”中的逗号位置不对，无法确定是千位分隔符还是小数点"
                )
            notes["thousands"] = "含千位分隔符"
        try:
            amount = Decimal(num.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the regex only lets digits through
            return _not_a_number(s, t)

    negative = sign == "-" or (word is not None and word.startswith("减"))
    if negative:
        amount = -amount
    if word:
        if word.startswith("减"):
            notes["decrease_word"] = f"中的“{word}”视为负号"
        else:
            notes["increase_word"] = f"中的“{word}”视为正数"
    return _finish(amount, kind, s, notes, in_yuan=in_yuan)


def _not_a_number(s: str, t: str) -> Parsed:
    if "%" in t:
        return _error("not_a_number", f"“{s}”是百分数，此处应填写数字")
    if _SCIENTIFIC_RE.fullmatch(t):
        return _error("not_a_number", f"“{s}”是科学计数法，请填写完整的数字")
    return _error("not_a_number", f"“{s}”不是有效的数字")


def _too_large(shown: str, kind: Kind) -> Parsed:
    limit = f"{MAX_NUMBER // 10**8}亿万元" if kind is Kind.MONEY else f"{MAX_NUMBER // 10**8}亿"
    return _error("too_large", f"“{shown}”数值过大（上限为{limit}），请检查是否填错")


def _finish(amount: Decimal, kind: Kind, shown: str, notes: dict[str, str], *, in_yuan: bool) -> Parsed:
    if abs(amount) > (MAX_NUMBER * (FEN_PER_WANYUAN // FEN_PER_YUAN) if in_yuan else MAX_NUMBER):
        return _too_large(shown, kind)
    if kind is Kind.MONEY:
        fen = amount * FEN_PER_YUAN if in_yuan else amount * FEN_PER_WANYUAN
        return _finish_money_fen(fen, shown, notes, typed_yuan=in_yuan)
    if kind is Kind.COUNT and amount < 0:
        return _error("negative", f"“{shown}”是负数，此处应填写不小于0的数量")
    if amount != amount.to_integral_value():
        return _error("not_integer", f"“{shown}”不是整数，此处应填写整数")
    return _ok(int(amount), notes, shown, kind)


def _finish_money_fen(fen: Decimal, shown: str, notes: dict[str, str], *, typed_yuan: bool = False) -> Parsed:
    if fen < 0:
        return _error("negative", f"“{shown}”是负数，金额不能为负数")
    if fen != fen.to_integral_value():
        if typed_yuan:
            return _error("too_many_decimals", f"“{shown}”含不足1分的零头，金额最多精确到分（以元为单位最多2位小数）")
        return _error(
            "too_many_decimals", f"“{shown}”超过6位小数，金额以万元为单位最多保留6位小数（精确到分）"
        )
    value = int(fen)
    if typed_yuan:
        notes["yuan_to_wanyuan"] = f"以元为单位（{_yuan_text(value)}元 = {format_money(value)}万元）"
    return _ok(value, notes, shown, Kind.MONEY)


# ---------------------------------------------------------------------------
# Chinese numerals

_CN_DIGITS = {
    "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
    "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9,
}
_CN_ZEROS = frozenset("零〇")
_CN_SMALL_UNITS = {"十": 1, "拾": 1, "百": 2, "佰": 2, "千": 3, "仟": 3}
_CN_WAN = frozenset("万萬")

_ZERO = object()  # marker for an explicit 零 between two digits


def chinese_to_int(s: str) -> int | None:
    """Standard Chinese numeral below 1亿 -> int; None when non-standard or ambiguous.

    Accepted: ``零``, ``十二``, ``一十二``, ``一百零五``, ``一千零五十``, ``两百``,
    ``一万二千``, ``一万零五``, ``三十万五千``, ``一千零五万``, ``壹佰零伍``.
    Rejected (None): ``一百五`` / ``一万二`` (colloquial, 150 or 105?), ``二〇二〇`` and
    ``三四`` (digit strings), ``零五``, ``五十零``, ``两十``, ``一万零十``, anything with 亿.
    """
    if not s:
        return None
    if s in _CN_ZEROS:
        return 0
    wan_count = sum(ch in _CN_WAN for ch in s)
    if wan_count > 1:
        return None
    if wan_count == 1:
        idx = next(i for i, ch in enumerate(s) if ch in _CN_WAN)
        high, low = s[:idx], s[idx + 1 :]
        if not high:
            return None
        high_items = _cn_section(high, number_start=True)
        low_items = _cn_section(low, number_start=False) if low else []
        if high_items is None or low_items is None:
            return None
        items = [it if it is _ZERO else (it[0], it[1] + 4, it[2]) for it in high_items] + low_items
    else:
        items = _cn_section(s, number_start=True)
        if items is None:
            return None
    return _cn_validate(items)


def _cn_section(s: str, *, number_start: bool):
    """Tokens of one 万-section as [(digit, power, char) | _ZERO]; None when malformed."""
    items: list = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch in _CN_ZEROS:
            items.append(_ZERO)
            i += 1
        elif ch in _CN_DIGITS:
            nxt = s[i + 1] if i + 1 < len(s) else ""
            if nxt in _CN_SMALL_UNITS:
                items.append((_CN_DIGITS[ch], _CN_SMALL_UNITS[nxt], ch))
                i += 2
            else:
                items.append((_CN_DIGITS[ch], 0, ch))
                i += 1
        elif ch in _CN_SMALL_UNITS and _CN_SMALL_UNITS[ch] == 1 and i == 0 and number_start:
            # A leading bare 十 means 一十 (十二 = 12), but only at the start of the number.
            items.append((1, 1, ch))
            i += 1
        else:
            return None
    return items


def _cn_validate(items: list) -> int | None:
    if not items or items[0] is _ZERO or items[-1] is _ZERO:
        return None
    total = 0
    prev = None  # (digit, power, char) of the previous non-zero item
    zero_pending = False
    for pos, it in enumerate(items):
        if it is _ZERO:
            if zero_pending:
                return None
            zero_pending = True
            continue
        digit, power, ch = it
        if ch == "两" and not _cn_liang_ok(power, first=pos == 0):
            return None
        if prev is not None:
            p, q = prev[1], power
            if q >= p:
                return None  # powers must strictly decrease; catches 三四, 二〇二〇
            gap = p - q
            # 零 marks skipped places; it is mandatory unless the only skipped places
            # are the trailing ones of the 万 section (三十万五千 = 305000).
            required = gap >= 2 and not (p >= 4 and q == 3)
            if zero_pending and gap < 2:
                return None
            if required and not zero_pending:
                return None  # colloquial 一百五 / 一万二: meaning uncertain
        elif zero_pending:  # pragma: no cover - leading zero rejected above
            return None
        total += digit * 10**power
        prev = it
        zero_pending = False
    return total


def _cn_liang_ok(power: int, *, first: bool) -> bool:
    # 两 is used before 百, 千, 万 (两百, 两千, 两万) or alone, never as 两十 or 十两.
    if power % 4 in (2, 3):
        return True
    return power % 4 == 0 and first
