"""The tiny expression language of totals and checks.

Grammar (a whitelisted subset of Python expressions, parsed with ``ast``, never ``eval``)::

    check   := sum OP sum            OP in == <= >= < >
    sum     := term (('+' | '-') term)*
    term    := NAME | INTEGER | 'sum(' NAME (',' NAME)* ')' | '(' sum ')' | '-' term

Every expression is linear, so it is kept as a flat list of signed terms. That one shape
renders to an Excel formula, evaluates vectorised on pandas Series and explains itself in a
message ("第一项(0)+第二项(0)=0"), so template, validator and report cannot disagree.

``sum(x)`` names a group: its meaning (the leaf rows or columns below ``x``, or ``x`` itself when
it is a leaf) is decided by whoever resolves names, not here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from .errors import ExprError

COMPARATORS = {ast.Eq: "==", ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<", ast.Gt: ">"}
EXCEL_OPERATORS = {"==": "=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}


@dataclass(frozen=True)
class Term:
    sign: int  # +1 or -1
    name: str | None  # None for a constant
    constant: int = 0
    is_sum: bool = False  # written as sum(name): a group


@dataclass(frozen=True)
class Linear:
    terms: tuple[Term, ...]

    def names(self) -> list[str]:
        return [t.name for t in self.terms if t.name is not None]

    def sum_names(self) -> list[str]:
        return [t.name for t in self.terms if t.is_sum]


@dataclass(frozen=True)
class Comparison:
    left: Linear
    op: str
    right: Linear

    def names(self) -> list[str]:
        return self.left.names() + self.right.names()

    def sum_names(self) -> list[str]:
        return self.left.sum_names() + self.right.sum_names()


Expr = Linear | Comparison


def parse(text: str) -> Expr:
    """Parse ``text`` into a Linear sum or a Comparison of two sums."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"表达式“{text}”无法解析：{exc.msg}") from None
    node = tree.body
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in COMPARATORS:
            raise ExprError(f"表达式“{text}”只能包含一个比较运算（== <= >= < >）")
        return Comparison(
            _linear(node.left, text), COMPARATORS[type(node.ops[0])], _linear(node.comparators[0], text)
        )
    return _linear(node, text)


def parse_check(text: str) -> Comparison:
    expr = parse(text)
    if not isinstance(expr, Comparison):
        raise ExprError(f"校验规则“{text}”必须是一个比较式，例如 a + b == c")
    return expr


def parse_sum(text: str) -> Linear:
    expr = parse(text)
    if not isinstance(expr, Linear):
        raise ExprError(f"合计公式“{text}”不能包含比较运算")
    return expr


def _linear(node: ast.AST, text: str, sign: int = 1) -> Linear:
    return Linear(tuple(_terms(node, text, sign)))


def _terms(node: ast.AST, text: str, sign: int) -> Iterable[Term]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        yield from _terms(node.left, text, sign)
        yield from _terms(node.right, text, sign if isinstance(node.op, ast.Add) else -sign)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        yield from _terms(node.operand, text, -sign if isinstance(node.op, ast.USub) else sign)
    elif isinstance(node, ast.Name):
        yield Term(sign, node.id)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield Term(sign, None, node.value)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sum":
        if node.keywords or not node.args:
            raise ExprError(f"表达式“{text}”中的 sum() 需要至少一个名称参数")
        for arg in node.args:
            if not isinstance(arg, ast.Name):
                raise ExprError(f"表达式“{text}”中 sum() 的参数只能是名称")
            yield Term(sign, arg.id, is_sum=True)
    else:
        fragment = ast.get_source_segment(text.strip(), node) or type(node).__name__
        raise ExprError(f"表达式“{text}”包含不支持的部分“{fragment}”（只允许名称、整数、+、-、sum()）")


# ---------------------------------------------------------------------------------------------
# Rendering and evaluation. A resolver maps one term to what it stands for: a list of things
# (cell references, Series, numbers), so sum(group) and a plain name are handled alike.

Resolver = Callable[[Term], Sequence]


def to_excel(expr: Expr, resolve: Callable[[Term], Sequence[str]]) -> str:
    """Render as an Excel formula body (without the leading '='), e.g.
    ``B5+B6=SUMPRODUCT(--(B8:B15))+B20`` (see ``excel_side``)."""
    if isinstance(expr, Comparison):
        return f"{excel_side(expr.left, resolve)}{EXCEL_OPERATORS[expr.op]}{excel_side(expr.right, resolve)}"
    return excel_side(expr, resolve)


def excel_side(linear: Linear, resolve: Callable[[Term], Sequence[str]]) -> str:
    """One side of a check (or a total) as an Excel formula body over the cells ``resolve`` gives.

    A number stored as text ("12" pasted, or typed into a cell formatted as text) counts as
    that number, as the reader reads it (``values.parse_cell``), so the workbook's totals and
    校验 verdicts agree with ``validate`` (issue #9, point 4): "+" and "-" coerce such text in
    Excel and LibreOffice, a side that is one plain reference is coerced with ``--``, and a
    group is added up by ``SUMPRODUCT(--(range))`` because ``SUM`` skips text. Text that is no
    number gives ``#VALUE!`` (the 校验 sheet's 无法计算)."""
    def text(term: Term) -> str:
        refs = list(resolve(term))
        if len(refs) == 1 and not term.is_sum:
            return refs[0]
        sums = [f"SUMPRODUCT(--({r}))" for r in compress_refs(refs)]
        return sums[0] if len(sums) == 1 else f"({'+'.join(sums)})"

    body = _join_terms(linear, text, minus="-")
    (first, *rest) = linear.terms or (None,)
    if first is not None and not rest and first.sign > 0 and first.name is not None and not body.startswith(("SUMPRODUCT", "(")):
        body = "--" + body
    return body


def _join_terms(linear: Linear, text: Callable[[Term], str], *, minus: str) -> str:
    """The terms of ``linear`` written with signs, each named term as ``text`` gives it."""
    parts: list[str] = []
    for term in linear.terms:
        body = str(term.constant) if term.name is None else text(term)
        if parts or term.sign < 0:
            parts.append(("+" if term.sign > 0 else minus) + body)
        else:
            parts.append(body)
    return "".join(parts) if parts else "0"


def compress_refs(refs: Sequence[str]) -> list[str]:
    """Turn runs of vertically or horizontally adjacent A1 references into ranges."""
    from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

    prefixes = {r.rpartition("!")[0] for r in refs}
    if len(prefixes) > 1:
        return list(refs)
    prefix = prefixes.pop() + "!" if prefixes and "!" in refs[0] else ""
    refs = [r.rpartition("!")[2] for r in refs]
    out: list[str] = []
    cells = [xl_cell_to_rowcol(r) for r in refs]
    i = 0
    while i < len(cells):
        j = i
        r0, c0 = cells[i]
        while j + 1 < len(cells) and (
            (cells[j + 1] == (cells[j][0] + 1, c0) and all(c == c0 for _, c in cells[i : j + 2]))
            or (cells[j + 1] == (r0, cells[j][1] + 1) and all(r == r0 for r, _ in cells[i : j + 2]))
        ):
            j += 1
        if j > i:
            out.append(f"{xl_rowcol_to_cell(*cells[i])}:{xl_rowcol_to_cell(*cells[j])}")
        else:
            out.append(xl_rowcol_to_cell(*cells[i]))
        i = j + 1
    return [prefix + r for r in out]


def evaluate(expr: Expr, resolve: Resolver):
    """Evaluate with numbers or pandas Series: a Linear gives a value, a Comparison a boolean."""
    if isinstance(expr, Comparison):
        left, right = evaluate_linear(expr.left, resolve), evaluate_linear(expr.right, resolve)
        return compare(left, expr.op, right)
    return evaluate_linear(expr, resolve)


def evaluate_linear(linear: Linear, resolve: Resolver):
    total = 0
    for term in linear.terms:
        if term.name is None:
            value = term.constant
        else:
            value = 0
            for part in resolve(term):
                value = value + part
        total = total + value if term.sign > 0 else total - value
    return total


def compare(left, op: str, right):
    if op == "==":
        return left == right
    if op == "<=":
        return left <= right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    return left > right


def describe_side(linear: Linear, label: Callable[[Term], str], value: Callable[[Term], object]) -> str:
    """``第一项(0)+第二项(3)`` for a message: each term's short label with its value."""
    return _join_terms(linear, lambda term: f"{label(term)}({value(term)})", minus="−")


def names_in(exprs: Iterable[Expr]) -> set[str]:
    return {name for e in exprs for name in e.names()}


def constant_only(linear: Linear) -> bool:
    return all(t.name is None for t in linear.terms)


def mapping_resolver(values: Mapping[str, object], groups: Mapping[str, Sequence[str]] | None = None) -> Resolver:
    """Resolve names from a plain mapping; handy for tests and simple callers."""
    groups = groups or {}

    def resolve(term: Term) -> Sequence:
        if term.is_sum and term.name in groups:
            return [values[n] for n in groups[term.name]]
        return [values[term.name]]

    return resolve
