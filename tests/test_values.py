"""Tests for xlsxgov.values: reading what clerks type into number cells."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlsxgov.values import MAX_NUMBER, Kind, Parsed, chinese_to_int, format_money, parse_cell, money_to_wanyuan, wanyuan_to_money

C, D, M, T = Kind.COUNT, Kind.DELTA, Kind.MONEY, Kind.TEXT

FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


# --- clean and normalised values -------------------------------------------------
# (raw, kind, value, severity, code)
OK_CASES = [
    # plain numbers, from Excel and as text
    (12, C, 12, None, None),
    (0, C, 0, None, None),
    (3.0, C, 3, None, None),  # .xls stores integers as floats
    ("12", C, 12, None, None),
    ("  12 ", C, 12, None, None),
    ("\u3000１２\u00a0", C, 12, "info", "fullwidth"),
    ("\u200b12\ufeff", C, 12, None, None),
    ("007", C, 7, None, None),
    ("+3", C, 3, None, None),
    ("+3", D, 3, None, None),
    ("3.0", C, 3, None, None),
    ("-0", C, 0, None, None),
    (-2, D, -2, None, None),
    (-2.0, D, -2, None, None),
    ("-7", D, -7, None, None),
    (3.0000000000000004, C, 3, None, None),  # formula noise (0.1*30)
    ("999999999", C, 999999999, None, None),
    ("999999999.9999", M, 999999999999900, None, None),  # exact: no binary rounding
    # full-width
    ("１２", C, 12, "info", "fullwidth"),
    ("－３", D, -3, "info", "fullwidth"),
    ("＋３", D, 3, "info", "fullwidth"),
    ("−3", D, -3, "info", "fullwidth"),  # U+2212 minus sign
    ("２．４８５", M, 2485000, "info", "fullwidth"),
    # thousands separators
    ("1,234", C, 1234, "info", "thousands"),
    ("1，234", C, 1234, "info", "thousands"),
    ("１，２３４", C, 1234, "info", "thousands"),  # thousands outranks fullwidth
    ("12,345,678", C, 12345678, "info", "thousands"),
    ("1,234.5", M, 1234500000, "info", "thousands"),
    # units on counts
    ("12件", C, 12, "info", "unit"),
    ("12 件", C, 12, "info", "unit"),
    ("7条", C, 7, "info", "unit"),
    ("3个", C, 3, "info", "unit"),
    ("5次", C, 5, "info", "unit"),
    ("2项", C, 2, "info", "unit"),
    ("4人", C, 4, "info", "unit"),
    ("9篇", C, 9, "info", "unit"),
    ("30人次", C, 30, "info", "unit"),
    ("0件", C, 0, "info", "unit"),
    ("１２件", C, 12, "info", "unit"),
    ("-2件", D, -2, "info", "unit"),
    # increase / decrease words
    ("减4", D, -4, "info", "decrease_word"),
    ("减少4", D, -4, "info", "decrease_word"),
    ("减 4", D, -4, "info", "decrease_word"),
    ("减4件", D, -4, "info", "decrease_word"),
    ("减0", C, 0, "info", "decrease_word"),
    ("增4", D, 4, "info", "increase_word"),
    ("增加4", D, 4, "info", "increase_word"),
    ("增加4", C, 4, "info", "increase_word"),
    # money: bare number = 万元, exact integer 元
    (26.55, M, 26550000, None, None),
    (83.8778, M, 83877800, None, None),
    (2.485, M, 2485000, None, None),
    (0, M, 0, None, None),
    (1, M, 1000000, None, None),
    (0.0001, M, 100, None, None),
    ("26.55", M, 26550000, None, None),
    ("83.87780", M, 83877800, None, None),  # trailing zero
    ("5949.088667", M, 5949088667, None, None),  # a 2023 收费, exact to the 分
    (5949.088667, M, 5949088667, None, None),
    ("4166.241619万元", M, 4166241619, "info", "unit"),
    (4166.241619, M, 4166241619, None, None),
    ("75394432.52元", M, 7539443252, "info", "yuan_to_wanyuan"),
    (2.48501, M, 2485010, None, None),
    (0.000001, M, 1, None, None),
    (".5", M, 500000, None, None),
    (0.30000000000000004, M, 300000, None, None),  # =0.1+0.2
    (Decimal("2.485"), M, 2485000, None, None),
    ("83.8778万元", M, 83877800, "info", "unit"),
    ("83.8778 万元", M, 83877800, "info", "unit"),
    ("2.5万", M, 2500000, "info", "unit"),
    ("24850元", M, 2485000, "info", "yuan_to_wanyuan"),
    ("24,850元", M, 2485000, "info", "yuan_to_wanyuan"),
    ("２４，８５０元", M, 2485000, "info", "yuan_to_wanyuan"),
    ("24850.00元", M, 2485000, "info", "yuan_to_wanyuan"),
    ("0元", M, 0, "info", "yuan_to_wanyuan"),
    # Chinese numerals (count / delta only)
    ("十二", C, 12, "info", "chinese_numeral"),
    ("零", C, 0, "info", "chinese_numeral"),
    ("〇", C, 0, "info", "chinese_numeral"),
    ("三", C, 3, "info", "chinese_numeral"),
    ("两", C, 2, "info", "chinese_numeral"),
    ("一百零五", C, 105, "info", "chinese_numeral"),
    ("三件", C, 3, "info", "chinese_numeral"),
    ("两个", C, 2, "info", "chinese_numeral"),
    ("减三", D, -3, "info", "chinese_numeral"),
    ("壹佰零伍", C, 105, "info", "chinese_numeral"),
]


@pytest.mark.parametrize(("raw", "kind", "value", "severity", "code"), OK_CASES)
def test_parse_ok(raw, kind, value, severity, code):
    p = parse_cell(raw, kind)
    assert (p.value, p.severity, p.code) == (value, severity, code), p.message
    assert p.text is None
    assert p.ok
    if severity is None:
        assert p.message is None
    else:
        assert p.message  # every note is explained to the clerk


# --- blanks ----------------------------------------------------------------------
BLANKS = [None, "", " ", "\u3000", "\u00a0\t\n", "/", "／", "-", "－", "—", "——", "–", "--", "无", "空", " / "]


@pytest.mark.parametrize("kind", [C, D, M])
@pytest.mark.parametrize("raw", BLANKS)
def test_blank_reads_as_zero_with_info(raw, kind):
    p = parse_cell(raw, kind)
    assert p == Parsed(value=0, text=None, severity="info", code="blank", message=p.message)
    assert p.message


def test_blank_message_quotes_the_placeholder():
    assert "“/”" in parse_cell("/", C).message
    assert parse_cell(None, C).message == "空白单元格按0读取"


# --- errors ----------------------------------------------------------------------
# (raw, kind, code, text the message must contain)
ERROR_CASES = [
    # not integers
    (3.5, C, "not_integer", "“3.5”"),
    ("3.5", D, "not_integer", "“3.5”"),
    (2.0000001, C, "not_integer", "“2.0000001”"),
    # negatives
    ("减4", C, "negative", "“减4”"),
    ("减少4", C, "negative", "“减少4”"),
    (-2, C, "negative", "“-2”"),
    (-2.0, C, "negative", "“-2”"),
    ("－３", C, "negative", "“－３”"),
    ("-1", M, "negative", "“-1”"),
    ("减三", C, "negative", "“减三”"),
    ("减100元", M, "negative", "“减100元”"),
    # money precision
    (2.4850001, M, "too_many_decimals", "“2.4850001”"),
    ("83.8778551", M, "too_many_decimals", "“83.8778551”"),
    ("83.8778551万元", M, "too_many_decimals", "“83.8778551万元”"),
    ("24850.505元", M, "too_many_decimals", "“24850.505元”"),
    (0.0000001, M, "too_many_decimals", "“1e-07”"),
    # not numbers
    ("abc", C, "not_a_number", "“abc”不是有效的数字"),
    ("12abc", C, "not_a_number", "“12abc”"),
    ("abc", M, "not_a_number", "“abc”"),
    ("50%", C, "not_a_number", "百分数"),
    ("５０％", C, "not_a_number", "百分数"),
    ("1e3", C, "not_a_number", "科学计数法"),
    ("1.5E+03", M, "not_a_number", "科学计数法"),
    ("1,23", C, "not_a_number", "“1,23”"),
    ("12,34,567", C, "not_a_number", "逗号"),
    ("1 234", C, "not_a_number", "“1 234”"),
    ("共12件", C, "not_a_number", "“共12件”"),
    ("减-4", D, "not_a_number", "“减-4”"),
    ("--4", D, "not_a_number", "“--4”"),
    ("١٢", C, "not_a_number", "“١٢”"),  # Arabic-Indic digits are not silently accepted
    ("①", C, "not_a_number", "“①”"),
    ("1.2.3", C, "not_a_number", "“1.2.3”"),
    ("十几", C, "not_a_number", "“十几”"),
    ("NaN", C, "not_a_number", "“NaN”"),
    ("9" * 31, C, "not_a_number", "位数过多"),
    ("9" * 30, C, "too_large", "数值过大"),
    ("9300000000000000000", C, "too_large", "数值过大"),
    (9.3e18, C, "too_large", "数值过大"),
    (1e308, C, "too_large", "数值过大"),
    (-1e308, D, "too_large", "数值过大"),
    (1e308, M, "too_large", "数值过大"),
    ("1000000001", D, "too_large", "数值过大"),
    ("1000000000.0001", M, "too_large", "数值过大"),
    ("100000000000001元", M, "too_large", "数值过大"),
    ("Infinity", M, "not_a_number", "“Infinity”"),
    (float("nan"), C, "not_a_number", "“nan”"),
    (float("inf"), M, "not_a_number", "“inf”"),
    (True, C, "not_a_number", "“TRUE”"),
    (False, M, "not_a_number", "“FALSE”"),
    (object, C, "not_a_number", "不是有效的数字"),
    # wrong units
    ("5万元", C, "wrong_unit", "“5万元”"),
    ("24850元", D, "wrong_unit", "“24850元”"),
    ("12万", C, "wrong_unit", "“12万”"),
    ("12件", M, "wrong_unit", "“12件”"),
    # formula errors
    ("#REF!", C, "formula_error", "“#REF!”"),
    ("#VALUE!", D, "formula_error", "“#VALUE!”"),
    ("#DIV/0!", M, "formula_error", "“#DIV/0!”"),
    ("#N/A", C, "formula_error", "“#N/A”"),
    ("#NAME?", C, "formula_error", "“#NAME?”"),
    ("#NUM!", C, "formula_error", "“#NUM!”"),
    ("#NULL!", C, "formula_error", "“#NULL!”"),
    ("#SPILL!", C, "formula_error", "“#SPILL!”"),
    ("Err:502", C, "formula_error", "“Err:502”"),
    (" Err:504 ", M, "formula_error", "“Err:504”"),
    # dates and times (a cell formatted as a date)
    (dt.datetime(2020, 1, 5, 0, 0), C, "date", "“2020-01-05 00:00:00”"),
    (dt.date(2020, 1, 5), M, "date", "“2020-01-05”"),
    (dt.time(12, 30), D, "date", "“12:30:00”"),
    (dt.timedelta(days=3), C, "date", "“3 days, 0:00:00”"),
    # Chinese numerals that are ambiguous, or used for money
    ("一百五", C, "chinese_numeral", "“一百五”"),
    ("一万二", C, "chinese_numeral", "“一万二”"),
    ("二〇二〇", C, "chinese_numeral", "“二〇二〇”"),
    ("三四", D, "chinese_numeral", "“三四”"),
    ("一亿", C, "chinese_numeral", "“一亿”"),
    ("五万元", M, "chinese_numeral", "“五万元”"),
    ("十二", M, "chinese_numeral", "金额请用阿拉伯数字"),
]


@pytest.mark.parametrize(("raw", "kind", "code", "quoted"), ERROR_CASES)
def test_parse_error(raw, kind, code, quoted):
    p = parse_cell(raw, kind)
    assert (p.value, p.severity, p.code) == (None, "error", code), p
    assert not p.ok
    assert quoted in p.message


# --- messages --------------------------------------------------------------------


def test_yuan_message_explains_conversion():
    p = parse_cell("24850元", M)
    assert p.value == 2485000
    assert "24850元 = 2.485万元" in p.message
    assert "“24850元”" in p.message
    p = parse_cell("75394432.52元", M)
    assert p.value == 7539443252 and "75394432.52元 = 7539.443252万元" in p.message


def test_decrease_message():
    p = parse_cell("减4", D)
    assert "“减4”" in p.message and "-4" in p.message


def test_several_notes_are_all_reported():
    p = parse_cell("２４，８５０元", M)
    assert p.code == "yuan_to_wanyuan"
    assert "千位分隔符" in p.message and "全角" in p.message


def test_messages_are_chinese():
    for raw, kind, *_ in ERROR_CASES:
        msg = parse_cell(raw, kind).message
        assert any("\u4e00" <= ch <= "\u9fff" for ch in msg), msg


def test_kind_accepts_plain_string():
    assert parse_cell("12", "count").value == 12


# --- text ------------------------------------------------------------------------
TEXT_CASES = [
    (None, ""),
    ("", ""),
    ("  本机关 无 问题\u3000", "本机关 无 问题"),
    ("/", "/"),
    ("#REF!", "#REF!"),
    (12, "12"),
    (3.0, "3"),
    (83.8778, "83.8778"),
    (-2.0, "-2"),
    (True, "TRUE"),
    (dt.date(2021, 1, 31), "2021-01-31"),
    (dt.datetime(2021, 1, 31, 8, 0), "2021-01-31 08:00:00"),
]


@pytest.mark.parametrize(("raw", "text"), TEXT_CASES)
def test_text(raw, text):
    assert parse_cell(raw, T) == Parsed(value=None, text=text, severity=None, code=None, message=None)


# --- Chinese numeral converter ---------------------------------------------------
CHINESE_OK = [
    ("零", 0), ("〇", 0), ("一", 1), ("两", 2), ("九", 9), ("十", 10), ("十二", 12),
    ("一十二", 12), ("二十", 20), ("九十九", 99), ("一百", 100), ("两百", 200), ("二百", 200),
    ("一百零五", 105), ("一百〇五", 105), ("一百一十", 110), ("一百五十", 150),
    ("一千", 1000), ("两千", 2000), ("一千零五", 1005), ("一千零五十", 1050),
    ("一千零一十", 1010), ("一千二百三十四", 1234), ("一万", 10000), ("两万", 20000),
    ("一万二千", 12000), ("一万零五", 10005), ("一万零五百", 10500), ("十万", 100000),
    ("十二万", 120000), ("三十万五千", 305000), ("三十万零五千", 305000),
    ("三十万零五百", 300500), ("一百万", 1000000), ("两百万", 2000000),
    ("一千零五万", 10050000), ("一万两千", 12000),
    ("九千九百九十九万九千九百九十九", 99999999), ("壹佰零伍", 105), ("拾贰", 12),
    ("壹萬贰仟", 12000),
]
CHINESE_BAD = [
    "", "百", "千", "万", "万五", "一百五", "一千五", "一万二", "一万五十", "二〇二〇", "三四",
    "零五", "五十零", "一百零零五", "一万零五千", "两十", "十两", "二十两", "一万十",
    "一万零十", "一千零十", "一万一万", "一亿", "十十", "一百一百", "百五",
]


@pytest.mark.parametrize(("text", "n"), CHINESE_OK)
def test_chinese_to_int(text, n):
    assert chinese_to_int(text) == n


@pytest.mark.parametrize("text", CHINESE_BAD)
def test_chinese_to_int_rejects(text):
    assert chinese_to_int(text) is None


def _to_chinese(n: int) -> str:
    """Independent canonical writer used to check the reader on every form."""
    digits = "零一二三四五六七八九"

    def section(x: int) -> str:
        out, zero = "", False
        for power, unit in ((3, "千"), (2, "百"), (1, "十"), (0, "")):
            d = x // 10**power % 10
            if d == 0:
                zero = bool(out)
                continue
            if zero:
                out += "零"
                zero = False
            out += digits[d] + unit
        return out

    if n == 0:
        return "零"
    high, low = divmod(n, 10000)
    if not high:
        s = section(low)
    else:
        s = section(high) + "万" + ("零" if 0 < low < 1000 else "") + section(low)
    return s[1:] if s.startswith("一十") else s


@given(st.integers(min_value=0, max_value=99_999_999))
def test_chinese_roundtrip(n):
    assert chinese_to_int(_to_chinese(n)) == n


# --- money helpers ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("fen", "text"),
    [(83877800, "83.8778"), (2485000, "2.485"), (1000000, "1"), (0, "0"), (1, "0.000001"),
     (26550000, "26.55"), (10000000000, "10000"), (5949088667, "5949.088667"), (4166241619, "4166.241619"),
     (7539443252, "7539.443252"), (999999999999999, "999999999.999999")],
)
def test_format_money(fen, text):
    assert format_money(fen) == text


@pytest.mark.parametrize(("fen", "wan"), [(83877800, 83.8778), (2485000, 2.485), (1000000, 1.0), (0, 0.0), (1, 0.000001),
                                          (5949088667, 5949.088667), (4166241619, 4166.241619), (7539443252, 7539.443252)])
def test_money_to_wanyuan(fen, wan):
    assert money_to_wanyuan(fen) == wan
    assert wanyuan_to_money(wan) == fen
    assert parse_cell(money_to_wanyuan(fen), M).value == fen


# --- properties ------------------------------------------------------------------
@given(st.integers(min_value=0, max_value=MAX_NUMBER))
def test_count_forms_parse_to_n(n):
    forms = [n, str(n), f"{n:,}", str(n).translate(FULLWIDTH_DIGITS), f"{n}件", f" {n} "]
    if n <= 2**53:  # floats are exact only up to 2**53
        forms.append(float(n))
    for raw in forms:
        p = parse_cell(raw, C)
        assert p.value == n, (raw, p)
        assert p.severity != "error"


@given(st.integers(min_value=-MAX_NUMBER, max_value=MAX_NUMBER))
def test_delta_forms(n):
    assert parse_cell(str(n), D).value == n
    assert parse_cell(float(n), D).value == n
    if n < 0:
        assert parse_cell(f"减{-n}", D).value == n
        assert parse_cell(str(n), C).code == "negative"


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=MAX_NUMBER * 10**6))
def test_money_roundtrip(y):
    """Every amount exact to the 分 within the bound survives text, 万元 floats (Excel, the
    ledger) and 元 text."""
    text = format_money(y)
    assert parse_cell(text, M) == Parsed(value=y, text=None, severity=None, code=None, message=None)
    assert parse_cell(f"{text}万元", M).value == y
    assert parse_cell(money_to_wanyuan(y), M).value == y
    assert wanyuan_to_money(money_to_wanyuan(y)) == y
    yuan = f"{y // 100}.{y % 100:02d}"
    p = parse_cell(f"{yuan}元", M)
    assert (p.value, p.code) == (y, "yuan_to_wanyuan")


@given(st.integers(min_value=MAX_NUMBER + 1, max_value=10**30 - 1), st.sampled_from([Kind.COUNT, Kind.DELTA, Kind.MONEY]))
def test_beyond_the_bound_is_too_large(n, kind):
    for raw in (n, str(n), float(n), -n if kind is Kind.DELTA else n):
        assert parse_cell(raw, kind).code == "too_large", raw


@given(st.text(max_size=12))
def test_never_raises(s):
    for kind in Kind:
        p = parse_cell(s, kind)
        assert p.severity in (None, "info", "error")
        if p.severity == "error":
            assert p.value is None and p.message


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**17), 10**17).map(float)),
       st.sampled_from([Kind.COUNT, Kind.DELTA, Kind.MONEY]))
def test_whole_number_fast_path_agrees_with_the_full_parse(x, kind):
    from decimal import localcontext

    from xlsxgov.values import _DECIMAL_CONTEXT, _parse

    with localcontext(_DECIMAL_CONTEXT):
        slow = _parse(x, kind)
    assert parse_cell(x, kind) == slow
