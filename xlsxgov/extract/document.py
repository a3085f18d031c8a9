"""A report document as one stream of cell texts, whatever format it came in.

Every reader (text, HTML/MHT, DOCX, PDF) turns a document into a list of :class:`Token`: the
texts of its paragraphs and table cells in reading order (a table row by row, left to right, a
merged cell once, at its first row, as the flattened copies of published reports show it), each
with where it came from. Table parsing (``tables.py``) only ever sees this stream, so all formats
share one way of finding the statutory tables by their labels.

Label comparison: :func:`norm` is ``locate.normalise`` (NFKC width, one kind of each punctuation,
no spaces or line breaks) after converting Traditional characters to Simplified with OpenCC.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

from ..locate import _PUNCT, normalise
from ..values import Kind, parse_cell

_T2S = opencc.OpenCC("t2s")
_SPACE = re.compile(r"[\s\u00a0\u3000\u200b\ufeff]+")
_EDGE = "\u00a0\u3000\u200b\ufeff \t\r\n"
# A number with a note in brackets: 22（其中修订16件） -> 22 and the note.
_NOTE = re.compile(r"^(?P<value>[^（(]*?[0-9０-９][^（(]*?)\s*[（(](?P<note>[^（）()]*)[)）]$")
_DIGITS = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True)
class Token:
    """One cell or paragraph of a document.

    ``text``: as printed (a merged or wrapped cell joined into one string); ``sheet``/``cell``:
    where it is, in the words the findings use (``文本``/``第12行``, ``表格2``/``第5行第3列``,
    ``第2页``/``x=120,y=340``); ``table``: True for a cell of a real table (HTML, Word, PDF
    ruling lines), where an empty text is a blank cell rather than a line break."""

    text: str
    sheet: str
    cell: str
    table: bool = False

    @property
    def norm(self) -> str:
        return norm(self.text)

    @property
    def stripped(self) -> str:
        return self.text.strip(_EDGE)


# An item number written 1、 or 1，(1,) instead of the form's 1. (same length: indexes stay valid).
_ITEM = re.compile(r"(?<![0-9])([0-9]{1,2}),")


@lru_cache(maxsize=65536)
def norm(text: str) -> str:
    """Comparable form of a label: Simplified characters, then ``locate.normalise``, item
    numbers as the form writes them (``1、属于国家秘密`` → ``1.属于国家秘密``)."""
    return _ITEM.sub(r"\1.", normalise(_T2S.convert(text))) if text else ""


def norm_map(text: str) -> tuple[str, list[int]]:
    """``norm(text)`` built one character at a time, with the index in ``text`` of each output
    character: lets a label found in the normalised form cut the original text."""
    out: list[str] = []
    where: list[int] = []
    simple = _T2S.convert(text)
    if len(simple) != len(text):  # a phrase conversion changed the length: convert per character
        simple = "".join(_T2S.convert(ch) or ch for ch in text)
        if len(simple) != len(text):
            simple = text
    for i, ch in enumerate(simple):
        piece = unicodedata.normalize("NFKC", ch).translate(_PUNCT)
        piece = _SPACE.sub("", piece)
        for p in piece:
            out.append(p)
            where.append(i)
    return _ITEM.sub(r"\1.", "".join(out)), where


# ---------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Printed:
    """What a value cell says: ``text`` as printed (stripped), the part read as the number, and
    a note printed inside the cell (``22（其中修订16件）``), if any."""

    text: str
    number_text: str
    note: str | None = None

    @property
    def blank(self) -> bool:
        return not self.number_text


def printed(text: str) -> Printed | None:
    """The printed value in ``text``, or None when it is not a value (a label, a sentence)."""
    s = text.strip(_EDGE)
    if not s:
        return Printed("", "")
    # A run of digits is a value even past the largest number a cell may hold: cells whose
    # borders were lost print as one run (``1001001000`` is 100 / 100 / 1000), split later.
    if _value_like(s) or is_digit_run(s):
        return Printed(s, s)
    m = _NOTE.match(s)
    if m and _value_like(m.group("value").strip(_EDGE)):
        return Printed(s, m.group("value").strip(_EDGE), m.group("note"))
    return None


@lru_cache(maxsize=65536)
def _value_like(s: str) -> bool:
    return any(parse_cell(s, kind).severity != "error" for kind in (Kind.COUNT, Kind.DELTA, Kind.MONEY))


def is_digit_run(text: str) -> bool:
    return bool(_DIGITS.match(text.strip(_EDGE)))


# ---------------------------------------------------------------------------------------------
# Plain text


def text_tokens(text: str, sheet: str = "文本") -> list[Token]:
    """Cells of text copied from a page or a document: ``a | b | c`` lines (including one cell
    per line ending in ``|``), tab-separated or tab-indented cells, one cell per line (blank
    lines between), or everything run together (split later by labels)."""
    lines = text.splitlines()
    piped = [ln.strip(_EDGE) for ln in lines if "|" in ln]
    terminated = bool(piped) and sum(1 for ln in piped if ln.endswith("|") and ln.count("|") == 1) > len(piped) / 2
    tabbed = sum(1 for ln in lines if ln.startswith("\t")) > 20
    out: list[Token] = []
    for n, line in enumerate(lines, 1):
        where = f"第{n}行"
        if "|" in line:
            pieces = line.strip(_EDGE).split("|") if terminated else line.split("|")
            if terminated and pieces and not pieces[-1].strip(_EDGE):
                pieces = pieces[:-1]
            out.extend(Token(p.strip(_EDGE), sheet, where, True) for p in pieces)
        elif tabbed and line.startswith("\t"):
            out.extend(Token(p.strip(_EDGE), sheet, where, True) for p in line[1:].split("\t"))
        elif "\t" in line.strip(_EDGE):
            out.extend(Token(p.strip(_EDGE), sheet, where, True) for p in line.strip(_EDGE).split("\t"))
        elif line.strip(_EDGE):
            out.append(Token(line.strip(_EDGE), sheet, where))
    return out


def split_tokens(tokens: list[Token], labels: re.Pattern) -> list[Token]:
    """Cut tokens at every known label they contain (text that lost its cell borders:
    ``规章000行政规范性文件8855698``), and a token that starts with numbers separated by spaces
    (``0 1 1 0 2 … 五、存在的问题``) into those numbers and the rest."""
    out: list[Token] = []
    for tok in tokens:
        for piece in _cut_at_labels(tok, labels):
            out.extend(_explode_numbers(piece))
    return out


def _cut_at_labels(tok: Token, labels: re.Pattern) -> list[Token]:
    text = tok.text
    if not text:
        return [tok]
    normed, where = norm_map(text)
    cuts: set[int] = set()
    for m in labels.finditer(normed):
        if m.start() == 0 and m.end() == len(normed):
            return [tok]
        cuts.add(where[m.start()])
        if m.end() < len(normed):
            cuts.add(where[m.end()])
    if not cuts:
        return [tok]
    bounds = sorted(cuts | {0, len(text)})
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    # Only numbers that ran into labels justify a cut: a label inside a sentence, a typo'd label
    # holding a shorter one (只计这一情况 … 其他情形) or a province's own row stay whole.
    if not any(_leading_number(p) for p in pieces):
        return [tok]
    return [Token(p.strip(_EDGE), tok.sheet, tok.cell, tok.table) for p in pieces if p.strip(_EDGE)]


def _leading_number(piece: str) -> bool:
    first = _SPACE.split(piece.strip(_EDGE), maxsplit=1)[0]
    shown = printed(first) if first else None
    return shown is not None and not shown.blank


def _explode_numbers(tok: Token) -> list[Token]:
    s = tok.stripped
    if not s or printed(s) is not None or not _SPACE.search(s):
        return [tok]
    words = _SPACE.split(s)
    lead = []
    for w in words:
        if w and printed(w) is not None and not printed(w).blank:
            lead.append(w)
        else:
            break
    if not lead:
        return [tok]
    rest = s
    for w in lead:
        rest = rest[rest.index(w) + len(w):]
    out = [Token(w, tok.sheet, tok.cell, tok.table) for w in lead]
    if rest.strip(_EDGE):
        out.append(Token(rest.strip(_EDGE), tok.sheet, tok.cell, tok.table))
    return out
