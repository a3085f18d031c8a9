"""Edition specs: the shipped editions load with the shape FORMATS.md describes, bad specs are refused."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import pytest
import yaml

from xlsxgov import spec as specmod
from xlsxgov.spec import SpecError
from xlsxgov.values import Kind

EDITIONS = ("gov2021", "gov2019", "legacy2008")

T3_COLUMNS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_edition_loads(edition: str) -> None:
    s = specmod.load(edition)
    assert s.edition == edition
    assert s.path.name == f"{edition}.yaml"
    assert s.tables
    assert all(t.cells for t in s.tables)
    assert s.instances()
    for cell in s.cells():
        assert cell.row.id and cell.col.id
        assert isinstance(cell.kind, Kind)
        assert cell.table.cell(cell.row.id, cell.col.id) is cell
    # Keys are unique per table, sheets unique per spec.
    for t in s.tables:
        assert len({c.key for c in t.cells}) == len(t.cells)
    assert len({t.sheet for t in s.tables}) == len(s.tables)


def test_editions_are_listed_and_unknown_is_refused() -> None:
    assert set(EDITIONS) <= set(specmod.available_editions())
    assert specmod.DEFAULT_EDITION == "gov2021"
    with pytest.raises(SpecError, match="gov1999"):
        specmod.load("gov1999")


def _t3_result_rows(edition: str):
    t3 = specmod.load(edition).table("t3")
    results = t3.row("results")
    return t3, [r for r in results.walk() if r.has_cells]


@pytest.mark.parametrize("edition, result_rows, data_rows", [("gov2021", 22, 25), ("gov2019", 20, 23)])
def test_table3_counts(edition: str, result_rows: int, data_rows: int) -> None:
    """FORMATS.md: 7 columns of whole counts; 22 result rows in 2021 (（一）…（七）), 20 in 2019."""
    t3, results = _t3_result_rows(edition)
    (block,) = t3.blocks
    assert [c.label for c in block.columns] == T3_COLUMNS
    assert len(block.data_rows) == data_rows
    assert len(t3.cells) == data_rows * 7
    assert {c.kind for c in t3.cells} == {Kind.COUNT}
    assert len(results) == result_rows
    assert results[-1].label == "（七）总计"
    # （七）总计 sums the leaf items of （一）…（六）: every result row but itself.
    natural = [c for c in t3.cells if c.col.id == "natural"]
    total_cell = t3.cell("results_total", "natural")
    parts = [c for term in total_cell.total.terms for c in specmod.total_term_cells(total_cell, term)]
    assert [c.row for c in parts] == results[:-1]
    assert len(parts) == result_rows - 1
    # Inputs: every row except （七）总计, every column except 总计.
    assert len(t3.input_cells) == (data_rows - 1) * 6
    assert all(not c.is_input for c in t3.cells if c.col.id == "total" or c.row.id == "results_total")
    assert len(natural) == data_rows


def test_table3_editions_differ_only_in_other_handling() -> None:
    t21, r21 = _t3_result_rows("gov2021")
    t19, r19 = _t3_result_rows("gov2019")
    other21 = t21.row("other_handling")
    other19 = t19.row("other_handling")
    assert other21.label == other19.label == "（六）其他处理"
    assert [c.label for c in other21.children] == [
        "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        "3.其他",
    ]
    assert not other21.has_cells and other19.has_cells and not other19.children
    labels21 = [r.label for r in r21 if r.id not in {c.id for c in other21.children}]
    assert labels21 == [r.label for r in r19 if r.id != "other_handling"]


@pytest.mark.parametrize("edition", ["gov2021", "gov2019"])
def test_table4_counts(edition: str) -> None:
    t4 = specmod.load(edition).table("t4")
    (block,) = t4.blocks
    assert len(block.data_rows) == 1
    assert len(block.columns) == 15
    assert block.header_depth == 3
    assert len(t4.input_cells) == 12
    totals = [c for c in t4.cells if not c.is_input]
    assert [c.col.label for c in totals] == ["总计"] * 3
    assert [c.col.path[0] for c in totals] == ["行政复议", "行政诉讼", "行政诉讼"]
    assert [len(c.total.terms) for c in totals] == [4, 4, 4]


def test_table2_gov2021() -> None:
    t2 = specmod.load("gov2021").table("t2")
    assert [b.header for b in t2.blocks] == ["第二十条第（一）项", "第二十条第（五）项", "第二十条第（六）项", "第二十条第（八）项"]
    assert [[c.label for c in b.columns] for b in t2.blocks] == [
        ["本年制发件数", "本年废止件数", "现行有效件数"],
        ["本年处理决定数量"],
        ["本年处理决定数量"],
        ["本年收费金额（单位：万元）"],
    ]
    assert [[r.label for r in b.data_rows] for b in t2.blocks] == [
        ["规章", "行政规范性文件"],
        ["行政许可"],
        ["行政处罚", "行政强制"],
        ["行政事业性收费"],
    ]
    assert len(t2.cells) == 10 and all(c.is_input for c in t2.cells)
    assert [c.key for c in t2.cells if c.kind is Kind.MONEY] == [("admin_fees", "fees")]


def test_table2_gov2019() -> None:
    t2 = specmod.load("gov2019").table("t2")
    assert [b.header for b in t2.blocks] == [f"第二十条第（{n}）项" for n in "一五六八九"]
    assert [[c.label for c in b.columns] for b in t2.blocks] == [
        ["本年新制作数量", "本年新公开数量", "对外公开总数量"],
        ["上一年项目数量", "本年增/减", "处理决定数量"],
        ["上一年项目数量", "本年增/减", "处理决定数量"],
        ["上一年项目数量", "本年增/减"],
        ["采购项目数量", "采购总金额"],
    ]
    assert [r.label for b in t2.blocks for r in b.data_rows] == [
        "规章", "规范性文件", "行政许可", "其他对外管理服务事项", "行政处罚", "行政强制", "行政事业性收费", "政府集中采购",
    ]
    assert sorted(c.row.id for c in t2.cells if c.kind is Kind.DELTA) == sorted(
        ["licensing", "other_services", "penalty", "coercion", "admin_fees"]
    )
    assert [c.key for c in t2.cells if c.kind is Kind.MONEY] == [("central_procurement", "purchase_amount")]


def test_legacy2008_shape() -> None:
    s = specmod.load("legacy2008")
    (stats,) = s.tables
    (block,) = stats.blocks
    assert block.corner == "统计指标" and block.unit_header == "单位"
    assert [c.label for c in block.columns] == ["统计数"]
    tops = [r.label for r in block.row_tree]
    assert [t.split("、")[0] for t in tops] == ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一"]
    # One label column: parents are rows of their own, so every row node carries a cell.
    assert len(block.data_rows) == len(block.rows) == len(stats.cells) == 74
    assert {c.kind for c in stats.cells} == {Kind.COUNT, Kind.MONEY}
    assert sorted(c.row.id for c in stats.cells if c.kind is Kind.MONEY) == ["application_fees", "budget"]
    totals = {c.row.id: [t.name for t in c.total.terms] for c in stats.cells if not c.is_input}
    assert totals["received"] == ["in_person", "fax", "online", "letter"]
    assert totals["concluded"] == ["on_time", "extended"]
    assert len(totals["answered"]) == 8
    assert set(totals) == {"received", "concluded", "answered", "reviews", "lawsuits", "complaints", "archives", "staff"}
    # 不同意公开答复数 ≥ its six reasons: the "其中" items do not exhaust it.
    (refused,) = [c for c in s.checks if c.id == "stats.refused_reasons"]
    assert refused.expr.op == ">="
    (inst,) = refused.instances()
    assert len(inst.cells()) == 7
    assert {c.kind for c in block.rows[0].leaves() for c in [stats.cell(c.id, "value")]} == {Kind.COUNT}


@pytest.mark.parametrize("edition", EDITIONS)
def test_every_computed_cell_carries_an_error_rule(edition: str) -> None:
    s = specmod.load(edition)
    implicit = {id(i.check.implicit_total) for i in s.instances() if i.check.implicit_total is not None}
    for cell in s.cells():
        if not cell.is_input:
            assert id(cell) in implicit, cell.key
    for inst in s.instances():
        assert inst.check.severity in ("error", "warning")
        assert inst.cells(), inst.key
        for term in inst.terms():
            assert inst.cells_of(term), (inst.key, term)


@pytest.mark.parametrize(
    "edition, rule, severity, count",
    [
        ("gov2021", "t3.balance", "error", 7),
        ("gov2019", "t3.balance", "error", 7),
        ("gov2021", "t3.row_total", "error", 25),
        ("gov2019", "t3.row_total", "error", 23),
        ("gov2021", "t4.totals", "error", 3),
        ("gov2021", "t2.issued_le_valid_plus_repealed", "warning", 2),
        ("gov2019", "t2.new_le_total", "warning", 2),
        ("gov2019", "t2.items_not_negative", "warning", 5),
        ("legacy2008", "stats.refused_reasons", "error", 1),
    ],
)
def test_rules_of_formats_md(edition: str, rule: str, severity: str, count: int) -> None:
    instances = [i for i in specmod.load(edition).instances() if i.check.id == rule]
    assert len(instances) == count
    assert {i.check.severity for i in instances} == {severity}


def test_balance_rule_is_the_official_one() -> None:
    for edition in ("gov2021", "gov2019"):
        (check,) = [c for c in specmod.load(edition).checks if c.id == "t3.balance"]
        assert check.expr.left.names() == ["new", "carried_in"]
        assert check.expr.right.names() == ["results_total", "carried_over"]
        assert check.expr.op == "=="
        assert check.message == "第一项加第二项之和应等于第三项加第四项之和"


# ---------------------------------------------------------------------------------------------
# Bad specs: copy gov2021.yaml, break one thing, expect a SpecError naming the file and the problem.


def _gov2021() -> dict:
    return yaml.safe_load((specmod.SPEC_DIR / "gov2021.yaml").read_text(encoding="utf-8"))


def _t3(d: dict) -> dict:
    return next(t for t in d["tables"] if t["id"] == "t3")


def _t3_total_column(d: dict) -> dict:
    (applicants,) = _t3(d)["blocks"][0]["columns"]
    return next(c for c in applicants["children"] if c.get("id") == "total")


def _dup_row(d):
    _t3(d)["blocks"][0]["rows"][1]["id"] = "new"


def _unknown_row_in_check(d):
    _t3(d)["checks"][0]["rule"] = "new + carried_in == results_total + carried_away"


def _self_total(d):
    _t3_total_column(d)["total"] += " + total"


def _cycle_through_other_total(d):
    # 总计 uses 其他, and 其他 (now a total) uses 总计.
    (applicants,) = _t3(d)["blocks"][0]["columns"]
    organisations = next(c for c in applicants["children"] if c["label"] == "法人或其他组织")
    other = next(c for c in organisations["children"] if c["id"] == "other_org")
    other.update(total="total - natural", rule="t3.other_total")


def _unknown_key(d):
    _t3(d)["colour"] = "red"


def _unknown_kind(d):
    d["tables"][0]["blocks"][0]["columns"][0]["kind"] = "integer"


def _bad_severity(d):
    _t3(d)["checks"][0]["severity"] = "fatal"


def _bad_expression(d):
    _t3(d)["checks"][0]["rule"] = "new * 2 == carried_over"


def _unknown_block(d):
    d["tables"][0]["checks"][0]["block"] = "item99"


def _total_names_missing_column(d):
    _t3_total_column(d)["total"] = "natural + business + nobody"


def _bad_id(d):
    _t3(d)["blocks"][0]["rows"][0]["id"] = "New-Applications"


def _missing_label(d):
    del _t3(d)["blocks"][0]["rows"][0]["label"]


def _dup_sheet(d):
    d["tables"][1]["sheet"] = d["tables"][0]["title"]


MUTATIONS: list[tuple[str, Callable[[dict], None], list[str]]] = [
    ("duplicate row id", _dup_row, ["t3", "重复", "new"]),
    ("check names a missing row", _unknown_row_in_check, ["t3.balance", "不存在", "carried_away"]),
    ("total depends on itself", _self_total, ["循环", "总计"]),
    ("total cycle through another total", _cycle_through_other_total, ["循环"]),
    ("unknown key", _unknown_key, ["未知的键", "colour"]),
    ("unknown kind", _unknown_kind, ["未知的单元格类型", "integer"]),
    ("bad severity", _bad_severity, ["t3.balance", "severity"]),
    ("expression outside the language", _bad_expression, ["new * 2"]),
    ("unknown block", _unknown_block, ["item99"]),
    ("total names a missing column", _total_names_missing_column, ["nobody"]),
    ("bad id", _bad_id, ["New-Applications"]),
    ("missing label", _missing_label, ["label"]),
    ("duplicate sheet", _dup_sheet, ["工作表名称", "重复"]),
]


@pytest.mark.parametrize("name, mutate, words", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_bad_spec_is_rejected_with_file_and_problem(tmp_path: Path, name, mutate, words) -> None:
    data = _gov2021()
    mutate(data)
    path = tmp_path / f"broken_{len(name)}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for loader in (specmod.load_file, lambda p: specmod.load(str(p))):
        with pytest.raises(SpecError) as info:
            loader(path)
        message = str(info.value)
        assert str(path) in message, message
        for word in words:
            assert word in message, (word, message)
        assert "Traceback" not in message


def test_unmodified_copy_loads(tmp_path: Path) -> None:
    """The mutation tests start from a copy that is itself valid."""
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(_gov2021()), allow_unicode=True, sort_keys=False), encoding="utf-8")
    s = specmod.load_file(path)
    assert len(s.table("t3").cells) == 175
    assert [len(t.cells) for t in s.tables] == [len(t.cells) for t in specmod.load("gov2021").tables]


def test_unreadable_spec_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tables: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        specmod.load_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(SpecError) as info:
        specmod.load_file(tmp_path / "missing.yaml")
    assert "missing.yaml" in str(info.value)


def test_table_four_rules_name_their_column_group():
    """表四 has one unlabelled data row; its three total rules must still say which total they check."""
    t4 = specmod.load("gov2021").table("t4")
    labels = sorted(inst.scope_label for check in t4.checks for inst in check.instances())
    assert labels == ["行政复议", "行政诉讼/复议后起诉", "行政诉讼/未经复议直接起诉"]
