from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from xlsxgov.campaign.roster import (
    USCC_ALPHABET,
    Agency,
    RosterError,
    read_roster,
    uscc_check_char,
    uscc_error,
    uscc_is_valid,
    write_roster_template,
)

# Real, publicly listed codes (enterprise register / government sites).
REAL_CODES = [
    "91350100M000100Y43",  # the GB 32100 example
    "91440300708461136T",
    "91330100799655058B",
    "914403001922038216",
    "91110000710926094P",
    "11100000000013127D",
    "12100000400000624D",
]

HEADERS = ["单位名称", "统一社会信用代码", "上级/地区", "联系人", "电子邮箱"]


def make_code(body17: str) -> str:
    return body17 + uscc_check_char(body17)


CODE_A = make_code("11350100MB0000001")
CODE_B = make_code("11350100MB0000002")
CODE_C = make_code("11350100MB0000003")


# --- codes ---------------------------------------------------------------------


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    assert uscc_is_valid(code)
    assert uscc_check_char(code[:17]) == code[17]


def test_check_char_of_the_standard_example():
    assert uscc_check_char("91350100M000100Y4") == "3"


def test_lowercase_and_spaces_are_tolerated():
    assert uscc_is_valid("91350100m000100y43")
    assert uscc_is_valid(" 9135 0100 M000 100Y43 ")
    assert uscc_is_valid("９１３５０１００Ｍ０００１００Ｙ４３")  # full-width, typed with an IME


def test_check_char_zero_case():
    # Find a body whose weighted sum is a multiple of 31: the check char must be "0", not 31.
    for n in range(10000):
        body = f"11350100MB{n:07d}"
        if uscc_check_char(body) == "0":
            assert uscc_is_valid(body + "0")
            return
    pytest.fail("no body with check char 0 found")


@pytest.mark.parametrize(
    "code, fragment",
    [
        ("91350100M000100Y44", "校验位错误，应为 3"),
        ("91350100M000100Y4", "长度为 17 位"),
        ("91350100M000100I43", "非法字符"),
        ("9135010OM000100Y43", "非法字符"),
        ("B1350100M000100Y43", "登记管理部门"),
        ("9135A100M000100Y43", "行政区划码"),
        ("", "为空"),
    ],
)
def test_invalid_codes(code, fragment):
    assert not uscc_is_valid(code)
    assert fragment in uscc_error(code)


def test_check_char_rejects_bad_input():
    with pytest.raises(ValueError):
        uscc_check_char("123")
    with pytest.raises(ValueError):
        uscc_check_char("91350100M000100O4")


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17), st.sampled_from(USCC_ALPHABET))
def test_single_wrong_check_char_is_detected(body, other):
    code = "9" + body[1:2] + "350100" + body[8:] + uscc_check_char("9" + body[1:2] + "350100" + body[8:])
    assert uscc_is_valid(code)
    if other != code[17]:
        assert not uscc_is_valid(code[:17] + other)


# --- roster files ----------------------------------------------------------------


def write_csv(path: Path, rows, encoding="utf-8-sig") -> Path:
    text = "\r\n".join(",".join(r) for r in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows) -> Path:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


GOOD_ROWS = [
    HEADERS,
    ["某某市教育局", CODE_A, "某某市", "张三", "jyj@example.com"],
    ["某某市公安局（局机关）", CODE_B, "某某市", "李四", "gaj@example.com"],
    ["某某县人民政府办公室", CODE_C, "某某县", "王五", "xzfb@example.com"],
]
EXPECTED = [
    Agency("某某市教育局", CODE_A, "某某市", "张三", "jyj@example.com"),
    Agency("某某市公安局（局机关）", CODE_B, "某某市", "李四", "gaj@example.com"),
    Agency("某某县人民政府办公室", CODE_C, "某某县", "王五", "xzfb@example.com"),
]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_csv_encodings(tmp_path, encoding):
    path = write_csv(tmp_path / "名册.csv", GOOD_ROWS, encoding)
    assert read_roster(path) == EXPECTED


def test_xlsx_roster(tmp_path):
    path = write_xlsx(tmp_path / "名册.xlsx", GOOD_ROWS)
    assert read_roster(path) == EXPECTED


def test_corrupt_spreadsheet_is_reported(tmp_path):
    bogus = tmp_path / "名册.xlsx"
    bogus.write_bytes(b"PK\x03\x04 this is not a workbook")
    with pytest.raises(RosterError) as exc:
        read_roster(bogus)
    assert "无法读取文件" in str(exc.value) and "名册.xlsx" in str(exc.value)


def test_header_aliases_spaces_and_extra_columns(tmp_path):
    rows = [
        ["序号", " 单位 名称 ", "统一社会信用代码", "地区", "联系人", "Email", "备注"],
        ["1", "某某市教育局", CODE_A.lower(), "某某市", "张三", " jyj@example.com ", "x"],
    ]
    [agency] = read_roster(write_csv(tmp_path / "r.csv", rows))
    assert agency == Agency("某某市教育局", CODE_A, "某某市", "张三", "jyj@example.com")


def test_region_and_contact_columns_are_optional(tmp_path):
    rows = [["单位名称", "统一社会信用代码", "邮箱"], ["某某市教育局", CODE_A, "jyj@example.com"]]
    [agency] = read_roster(write_csv(tmp_path / "r.csv", rows))
    assert agency.region == "" and agency.contact == ""


def test_blank_rows_are_skipped_and_row_numbers_stay_true(tmp_path):
    rows = [
        HEADERS,
        ["某某市教育局", CODE_A, "", "", "jyj@example.com"],
        ["", "", "", "", ""],
        [" ", "", "", "", ""],
        ["某某市公安局", "91350100M000100Y44", "", "", "gaj@example.com"],
    ]
    for path in (write_csv(tmp_path / "r.csv", rows), write_xlsx(tmp_path / "r.xlsx", rows)):
        with pytest.raises(RosterError) as exc:
            read_roster(path)
        assert exc.value.problems == [(5, "统一社会信用代码", "“91350100M000100Y44”校验位错误，应为 3")]
        assert "第5行 统一社会信用代码“91350100M000100Y44”校验位错误，应为 3" in str(exc.value)
        assert path.name in str(exc.value)


def test_xlsx_with_leading_blank_rows_keeps_sheet_row_numbers(tmp_path):
    # calamine skips leading empty rows by default; row numbers must not shift.
    wb = Workbook()
    ws = wb.active
    ws["A3"] = "某某市政府信息公开年报报送名册"
    for col, h in enumerate(HEADERS, 1):
        ws.cell(row=4, column=col, value=h)
    for col, v in enumerate(["某某市教育局", CODE_A, "", "", "bad-email"], 1):
        ws.cell(row=5, column=col, value=v)
    wb.save(tmp_path / "r.xlsx")
    with pytest.raises(RosterError) as exc:
        read_roster(tmp_path / "r.xlsx")
    [(row, label, message)] = exc.value.problems
    assert (row, label) == (5, "电子邮箱") and "格式不正确" in message


def test_an_empty_email_is_accepted_and_several_in_one_cell_are_kept_as_one_list(tmp_path):
    """Found by new-user trials: agencies that report only through the portal have no address
    (refused as 为空), and a cell with two addresses was refused with a confusing message. Every
    separator clerks type is read; the ledger keeps one form ("a, b"), which an old ledger's single
    address already is."""
    cells = ["", "a@x.gov.cn; b@y.gov.cn", "a@x.gov.cn；b@y.gov.cn", "a@x.gov.cn，b@y.gov.cn", "a@x.gov.cn、b@y.gov.cn",
             "a@x.gov.cn / b@y.gov.cn", "a@x.gov.cn b@y.gov.cn", "a@x.gov.cn\nb@y.gov.cn", "ａ@ｘ.gov.cn,, b@y.gov.cn, A@X.gov.cn"]
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    for i, cell in enumerate(cells):
        ws.append([f"某某市第{i}局", make_code(f"11350100MB{i:07d}"), "", "", cell])
    wb.save(tmp_path / "r.xlsx")
    agencies = read_roster(tmp_path / "r.xlsx")
    assert agencies[0].email == "" and agencies[0].emails == []
    assert {a.email for a in agencies[1:]} == {"a@x.gov.cn, b@y.gov.cn"}
    assert all(a.emails == ["a@x.gov.cn", "b@y.gov.cn"] for a in agencies[1:])
    assert Agency("x", CODE_A, "", "", "old@example.com").emails == ["old@example.com"]  # a ledger of one address


def test_every_problem_kind_with_row_numbers(tmp_path):
    rows = [
        HEADERS,
        ["某某市教育局", CODE_A, "", "", "jyj@example.com"],  # 2 ok
        ["", CODE_B, "", "", "a@example.com"],  # 3 missing name
        ["某某市公安局", "", "", "", "gaj@example.com"],  # 4 missing code
        ["某某市财政局", "91350100M000100Y44", "", "", "czj@example.com"],  # 5 bad check char
        ["某某市民政局", CODE_A, "", "", "mzj@example.com"],  # 6 duplicate code of row 2
        ["某某市教育局", CODE_C, "", "", "jyj2@example.com"],  # 7 duplicate name of row 2
        ["某某市卫健委", make_code("11350100MB0000009"), "", "", "wjw@example"],  # 8 bad email
        ["某某市审计局", make_code("11350100MB0000010"), "", "", '"x@example.com\r\nBcc: y@example.com"'],  # 9 CR/LF
        ["某某市统计局", make_code("11350100MB0000011"), "", "", "tjj@example.com；tjj@"],  # 10 a malformed second address
        ["某某市水利局", "1135010", "", "", "slj@example.com"],  # 11 wrong length
        ["某某市林业局", make_code("11350100MB0000012"), "", "", ""],  # 12 no address: the portal only, fine
    ]
    path = write_csv(tmp_path / "roster.csv", rows)
    with pytest.raises(RosterError) as exc:
        read_roster(path)
    by_row = {(r, label): msg for r, label, msg in exc.value.problems}
    assert by_row[(3, "单位名称")] == "为空"
    assert by_row[(4, "统一社会信用代码")] == "为空"
    assert by_row[(5, "统一社会信用代码")].endswith("校验位错误，应为 3")
    assert "与第2行重复" in by_row[(6, "统一社会信用代码")]
    assert "某某市教育局" in by_row[(6, "统一社会信用代码")] and "某某市民政局" in by_row[(6, "统一社会信用代码")]
    assert by_row[(7, "单位名称")] == "“某某市教育局”与第2行重复"
    assert "格式不正确" in by_row[(8, "电子邮箱")]
    # a header injection is no list of addresses: each part that is not one is named
    assert by_row[(9, "电子邮箱")].startswith("“Bcc:”不是邮箱地址")
    assert by_row[(10, "电子邮箱")].startswith("“tjj@”不是邮箱地址")
    assert "长度" in by_row[(11, "统一社会信用代码")]
    assert len(exc.value.problems) == 9  # rows 3-11; row 2 is fine
    text = str(exc.value)
    assert "roster.csv" in text and "9 处问题" in text
    assert text.count("\n") == 9


def test_missing_required_headers(tmp_path):
    path = write_csv(tmp_path / "r.csv", [["单位名称", "联系人"], ["某某市教育局", "张三"]])
    with pytest.raises(RosterError) as exc:
        read_roster(path)
    labels = {(r, label) for r, label, _ in exc.value.problems}
    assert labels == {(1, "统一社会信用代码")}  # 电子邮箱 may be absent: agencies that report on the portal only
    assert "列缺失" in str(exc.value)
    # what the header row holds is named, so the clerk sees which name to change (a second trial)
    assert "该行的列名为：“单位名称”、“联系人”" in str(exc.value)


def test_a_name_column_headed_dan_wei_is_read(tmp_path):
    """Found by a second trial: a roster headed 单位 (not 单位名称) was refused."""
    from test_campaign import code_for

    path = write_csv(tmp_path / "r.csv", [["单位", "统一社会信用代码", "电子邮箱"], ["某某市教育局", code_for(1), "a@example.com"]])
    assert [a.name for a in read_roster(path)] == ["某某市教育局"]


def test_empty_roster_and_empty_file(tmp_path):
    with pytest.raises(RosterError) as exc:
        read_roster(write_csv(tmp_path / "r.csv", [HEADERS, ["", "", "", "", ""]]))
    assert "没有任何单位" in str(exc.value)
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(RosterError) as exc:
        read_roster(tmp_path / "e.csv")
    assert "表头" in str(exc.value)


def test_unsupported_and_missing_files(tmp_path):
    (tmp_path / "r.txt").write_text("x")
    with pytest.raises(RosterError, match="不支持的文件类型"):
        read_roster(tmp_path / "r.txt")
    with pytest.raises(RosterError, match="不存在"):
        read_roster(tmp_path / "nope.xlsx")


def test_nothing_half_read_on_error(tmp_path):
    rows = GOOD_ROWS + [["某某市新单位", "91350100M000100Y44", "", "", "x@example.com"]]
    path = write_xlsx(tmp_path / "r.xlsx", rows)
    result = None
    with pytest.raises(RosterError):
        result = read_roster(path)
    assert result is None  # no partial list escapes
    # Fixing the one row makes the whole file load.
    rows[-1][1] = "91350100M000100Y43"
    assert len(read_roster(write_xlsx(tmp_path / "r2.xlsx", rows))) == 4


def test_numeric_looking_cells(tmp_path):
    # An all-digit code stored as a number loses precision in Excel: reported, not crashed.
    rows = [HEADERS, ["某某市教育局", 913501001234567890, "", "", "jyj@example.com"]]
    with pytest.raises(RosterError) as exc:
        read_roster(write_xlsx(tmp_path / "r.xlsx", rows))
    assert exc.value.problems[0][:2] == (2, "统一社会信用代码")
    # What went wrong, in the clerk's terms: a number, digits lost; not a check-character riddle.
    message = exc.value.problems[0][2]
    assert message.startswith("“913501001234568000”在表格中被存成了数字")
    assert "文本" in message and "校验位" not in message


def test_code_saved_by_excel_as_number_into_csv(tmp_path):
    # Excel saves a General cell holding the number as 9.13501E+17 into a CSV.
    rows = [HEADERS, ["某某市人社局", "9.13501E+17", "", "", "rsj@example.com"], GOOD_ROWS[1]]
    with pytest.raises(RosterError) as exc:
        read_roster(write_csv(tmp_path / "r.csv", rows))
    assert exc.value.problems == [
        (2, "统一社会信用代码", exc.value.problems[0][2])
    ] and "“9.13501E+17”在表格中被存成了数字" in exc.value.problems[0][2]


def test_code_typed_as_text_is_not_taken_for_a_number(tmp_path):
    # The same digits stored as text (the 文本 format, or a leading apostrophe) are read as typed.
    code = "913501001234567800"  # all digits, valid check character
    rows = [HEADERS, ["某某市教育局", code, "", "", "jyj@example.com"]]
    assert read_roster(write_xlsx(tmp_path / "r.xlsx", rows))[0].code == code


def test_template_round_trips(tmp_path):
    path = write_roster_template(tmp_path / "名册模板.xlsx")
    agencies = read_roster(path)
    assert len(agencies) == 3
    assert all(uscc_is_valid(a.code) for a in agencies)
    assert all(a.email and a.name and a.region and a.contact for a in agencies)


def test_an_optional_phone_column_reaches_the_status_workbook(tmp_path):
    """Found by a second trial: the roster's 联系电话 column was ignored, so the 报送进度 workbook
    had no number to phone for exactly the agencies that had sent nothing."""
    from test_campaign import code_for

    from xlsxgov.campaign.init import init_campaign
    from xlsxgov.campaign.status import campaign_status

    path = write_csv(tmp_path / "r.csv", [["单位名称", "统一社会信用代码", "电子邮箱", "联系电话"],
                                          ["某某市教育局", code_for(1), "a@example.com", "0591-87654321"],
                                          ["某某市公安局", code_for(2), "b@example.com", ""]])
    assert [a.phone for a in read_roster(path)] == ["0591-87654321", ""]
    d = tmp_path / "c"
    init_campaign(d, year=2025, roster_path=path, region="某某市")
    rows = {a["name"]: a for a in campaign_status(d)["agencies"]}
    assert rows["某某市教育局"]["status"] == "missing" and rows["某某市教育局"]["phone"] == "0591-87654321"
    assert rows["某某市公安局"]["phone"] == ""


def test_contact_and_phone_come_as_a_pair(tmp_path):
    """Found by a trial: the 报送进度 workbook showed the roster's 联系人 beside the phone typed on
    the cover by someone else. Both come from the cover when it gives either, else both from
    the roster."""
    import openpyxl
    from test_campaign import code_for, template_of

    from xlsxgov.campaign.importer import import_paths
    from xlsxgov.campaign.init import init_campaign
    from xlsxgov.campaign.issue import issue_templates
    from xlsxgov.campaign.status import campaign_status

    path = write_csv(tmp_path / "r.csv", [["单位名称", "统一社会信用代码", "联系人", "电子邮箱", "联系电话"],
                                          ["某某市第0局", code_for(0), "王0", "a@example.com", "0591-80000000"],
                                          ["某某市第1局", code_for(1), "王1", "b@example.com", "0591-80000001"]])
    d = tmp_path / "c"
    init_campaign(d, year=2025, roster_path=path, region="某某市")
    issue_templates(d)
    wb = openpyxl.load_workbook(template_of(d, 0))
    wb["封面"]["B8"], wb["封面"]["B9"], wb["封面"]["B11"] = "李1", "13800000001", "是"
    wb.save(tmp_path / "reply.xlsx")
    import_paths(d, [tmp_path / "reply.xlsx"])
    rows = {a["name"]: a for a in campaign_status(d)["agencies"]}
    assert (rows["某某市第0局"]["contact"], rows["某某市第0局"]["phone"]) == ("李1", "13800000001")
    assert (rows["某某市第1局"]["contact"], rows["某某市第1局"]["phone"]) == ("王1", "0591-80000001")
