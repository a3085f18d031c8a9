"""The expression language of totals and checks: parse, evaluate, render to Excel."""

from __future__ import annotations

import random
import re

import pandas as pd
import pytest

from xlsxgov import expr as ex
from xlsxgov.expr import Comparison, ExprError, Linear, Term


def names_to_a1(mapping: dict[str, str]):
    return lambda term: [mapping[term.name]]


# ---------------------------------------------------------------------------------------------
# Parsing


def test_parse_sum_flattens_signed_terms() -> None:
    e = ex.parse("a + b - c")
    assert e == Linear((Term(1, "a"), Term(1, "b"), Term(-1, "c")))
    assert e.names() == ["a", "b", "c"]


def test_parse_nested_parentheses_and_unary_minus() -> None:
    e = ex.parse("a - (b - c) + -d + (+e)")
    assert [(t.sign, t.name) for t in e.terms] == [(1, "a"), (-1, "b"), (1, "c"), (-1, "d"), (1, "e")]
    e = ex.parse("-(a + 2)")
    assert e.terms == (Term(-1, "a"), Term(-1, None, 2))


def test_parse_constants_and_sum_groups() -> None:
    e = ex.parse("sum(denied, unable) + 3")
    assert e.terms == (Term(1, "denied", is_sum=True), Term(1, "unable", is_sum=True), Term(1, None, 3))
    assert e.sum_names() == ["denied", "unable"]


@pytest.mark.parametrize("op", ["==", "<=", ">=", "<", ">"])
def test_parse_comparison(op: str) -> None:
    e = ex.parse(f"new + carried_in {op} results_total + carried_over")
    assert isinstance(e, Comparison)
    assert e.op == op
    assert e.names() == ["new", "carried_in", "results_total", "carried_over"]


def test_parse_check_and_parse_sum_insist_on_their_shape() -> None:
    assert isinstance(ex.parse_check("a == b"), Comparison)
    assert isinstance(ex.parse_sum("a + b"), Linear)
    with pytest.raises(ExprError, match="比较式"):
        ex.parse_check("a + b")
    with pytest.raises(ExprError, match="比较"):
        ex.parse_sum("a == b")


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "a * b",
        "a / 2",
        "a ** 2",
        "a % b",
        "a.b",
        "f(x)",
        "a == b == c",
        "a < b <= c",
        "a != b",
        "a is b",
        "a in b",
        "'text'",
        "a + 'x'",
        "1.5 + a",
        "True",
        "None",
        "a and b",
        "not a",
        "[a, b]",
        "a[0]",
        "lambda: 1",
        "sum()",
        "sum(a.b)",
        "sum(1)",
        "sum(x=a)",
        "sum(a, *b)",
        "(a := 1)",
        "a if b else c",
        "a +",
        "",
    ],
)
def test_rejects_everything_outside_the_language(text: str) -> None:
    with pytest.raises(ExprError) as info:
        ex.parse(text)
    message = str(info.value)
    assert message.startswith("表达式") or "sum()" in message
    assert text.strip() in message  # the message quotes the expression


def test_parse_never_evaluates(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def boom(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("eval/exec must never be called")

    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    assert ex.parse("a + sum(b) - 2 == c").names() == ["a", "b", "c"]


# ---------------------------------------------------------------------------------------------
# Evaluation


def test_evaluate_with_numbers() -> None:
    values = {"a": 5, "b": 7, "c": 2, "x": 1, "y": 2, "z": 3}
    resolve = ex.mapping_resolver(values, {"g": ["x", "y", "z"]})
    assert ex.evaluate(ex.parse("a + b - c"), resolve) == 10
    assert ex.evaluate(ex.parse("a - (b - c) + 4"), resolve) == 4
    assert ex.evaluate(ex.parse("sum(g) - a"), resolve) == 1
    assert ex.evaluate(ex.parse("a + b == sum(g) + 6"), resolve) is True
    assert ex.evaluate(ex.parse("a + b < sum(g)"), resolve) is False
    assert ex.evaluate(ex.parse("a >= a"), resolve) is True
    assert ex.evaluate(ex.parse("-a"), resolve) == -5


def test_evaluate_on_series_is_vectorised() -> None:
    frame = pd.DataFrame(
        {"new": [1, 5, 0, 3], "carried_in": [0, 2, 0, 1], "results_total": [1, 6, 0, 2], "carried_over": [0, 1, 1, 1]},
        index=["甲局", "乙局", "丙局", "丁局"],
    )
    resolve = lambda term: [frame[term.name]]  # noqa: E731
    left = ex.evaluate(ex.parse("new + carried_in"), resolve)
    assert isinstance(left, pd.Series)
    assert left.tolist() == [1, 7, 0, 4]
    verdict = ex.evaluate(ex.parse("new + carried_in == results_total + carried_over"), resolve)
    assert isinstance(verdict, pd.Series)
    assert verdict.dtype == bool
    assert verdict.tolist() == [True, True, False, False]
    assert list(verdict.index) == ["甲局", "乙局", "丙局", "丁局"]


def test_evaluate_sum_group_on_series_and_constants() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [10, 20, 30], "c": [100, 200, 300]})
    resolve = ex.mapping_resolver({n: frame[n] for n in frame}, {"g": ["a", "b", "c"]})
    out = ex.evaluate(ex.parse("sum(g) - 1"), resolve)
    assert isinstance(out, pd.Series)
    assert out.tolist() == [110, 221, 332]
    assert ex.evaluate(ex.parse("c >= sum(g) - c"), resolve).tolist() == [True, True, True]


def test_evaluate_empty_group_is_zero() -> None:
    assert ex.evaluate(ex.parse("sum(g) + 2"), lambda term: []) == 2


# ---------------------------------------------------------------------------------------------
# Excel rendering


def test_to_excel_plain_and_comparison() -> None:
    refs = {"new": "D6", "carried_in": "D7", "results_total": "D29", "carried_over": "D30"}
    assert ex.to_excel(ex.parse("new + carried_in"), names_to_a1(refs)) == "D6+D7"
    assert (
        ex.to_excel(ex.parse("new + carried_in == results_total + carried_over"), names_to_a1(refs))
        == "D6+D7=D29+D30"
    )
    assert ex.to_excel(ex.parse("new <= carried_in - 1"), names_to_a1(refs)) == "--D6<=D7-1"
    assert ex.to_excel(ex.parse("-new + 2 > carried_in"), names_to_a1(refs)) == "-D6+2>--D7"
    assert ex.to_excel(ex.parse("new - (carried_in - results_total)"), names_to_a1(refs)) == "D6-D7+D29"


def test_to_excel_sum_groups_become_ranges() -> None:
    groups = {
        "denied": [f"D{r}" for r in range(10, 18)],
        "row": ["D6", "E6", "F6", "H6"],
        "one": ["B3"],
    }
    resolve = lambda term: groups[term.name]  # noqa: E731
    # SUMPRODUCT(--(...)), not SUM: a number stored as text counts, as the reader reads it.
    assert ex.to_excel(ex.parse("sum(denied)"), resolve) == "SUMPRODUCT(--(D10:D17))"
    assert ex.to_excel(ex.parse("sum(row)"), resolve) == "(SUMPRODUCT(--(D6:F6))+SUMPRODUCT(--(H6)))"
    # A sum over a single cell is still a sum, a plain name never is; a lone reference is
    # coerced with -- ("+" and "-" coerce the others).
    assert ex.to_excel(ex.parse("sum(one)"), resolve) == "SUMPRODUCT(--(B3))"
    assert ex.to_excel(ex.parse("one"), resolve) == "--B3"
    assert ex.to_excel(ex.parse("-one"), resolve) == "-B3"
    assert ex.to_excel(ex.parse("one + one == one"), resolve) == "B3+B3=--B3"
    assert ex.to_excel(ex.parse("one - sum(denied) == 0"), resolve) == "B3-SUMPRODUCT(--(D10:D17))=0"
    assert ex.to_excel(ex.parse("-sum(row) <= 0"), resolve) == "-(SUMPRODUCT(--(D6:F6))+SUMPRODUCT(--(H6)))<=0"


def test_compress_refs_keeps_sheet_prefix() -> None:
    refs = ["'三、表'!D10", "'三、表'!D11", "'三、表'!D12", "'三、表'!E12"]
    assert ex.compress_refs(refs) == ["'三、表'!D10:D12", "'三、表'!E12"]
    assert ex.compress_refs(["A1", "C1"]) == ["A1", "C1"]
    assert ex.compress_refs(["A1", "B1", "C1"]) == ["A1:C1"]


def _excel_eval(formula: str, values: dict[str, int]):
    """A tiny evaluator for the formulas to_excel makes of plain linear checks (no eval)."""
    m = re.fullmatch(r"(.+?)(<=|>=|=|<|>)(.+)", formula)
    sides = [m.group(1), m.group(3)] if m else [formula]
    totals = []
    for side in sides:
        side = side.removeprefix("--")  # a lone reference, coerced from text
        tokens = re.findall(r"([+-]?)([A-Z]+[0-9]+|[0-9]+)", side)
        assert "".join(sign + tok for sign, tok in tokens) == side, side
        totals.append(sum((-1 if sign == "-" else 1) * (values[tok] if tok[0].isalpha() else int(tok)) for sign, tok in tokens))
    if not m:
        return totals[0]
    op = {"=": "==", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}[m.group(2)]
    return ex.compare(totals[0], op, totals[1])


def test_to_excel_agrees_with_evaluate() -> None:
    """Render random linear checks to Excel and evaluate that text independently."""
    rng = random.Random(7)
    names = [f"n{i}" for i in range(6)]
    cells = {n: f"B{i + 1}" for i, n in enumerate(names)}
    for _ in range(300):
        parts = []
        for _k in range(rng.randint(1, 5)):
            part = rng.choice(names + [str(rng.randint(0, 9))])
            parts.append(rng.choice(["+", "-"]) + " " + part)
        left = " ".join(parts).lstrip("+ ")
        op = rng.choice(["==", "<=", ">=", "<", ">", None])
        text = left if op is None else f"{left} {op} {rng.choice(names)}"
        values = {n: rng.randint(-5, 5) for n in names}
        python = ex.evaluate(ex.parse(text), ex.mapping_resolver(values))
        excel = ex.to_excel(ex.parse(text), names_to_a1(cells))
        assert "==" not in excel
        assert _excel_eval(excel, {cells[n]: v for n, v in values.items()}) == python, (text, excel)
