"""Chinese text laid out for an 80-column terminal: lines broken between characters, never inside
a number or an ASCII word, and tables whose widest column is the message.

Rich wraps only at spaces: a Chinese sentence is one long "word" to it, which it either crops
with "…" or folds at any character, splitting ``(12)`` over two lines.  ``wrap`` breaks where a
Chinese reader expects it (between CJK characters, at spaces and after punctuation), keeping runs
of digits and ASCII letters whole; ``message_table`` gives Rich the lines ready-made.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from ..safetext import for_terminal

# An unbreakable token: a run of ASCII non-space characters (a number, a cell list D6,D7, a
# file name), or one character of anything else (CJK characters and full-width punctuation).
_TOKEN = re.compile(r"[\x21-\x7e]+| +|.", re.S)
_NO_LINE_START = set("，。、；：！？）》」』”’,.;:!?)]")  # kinsoku: never begin a line with these


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` cells (a longer unbreakable token gets a
    line of its own, folded only if it alone exceeds the width).  A closing punctuation mark
    never begins a line: the token before it moves down with it."""
    width = max(width, 8)
    out: list[str] = []
    for paragraph in str(text).split("\n"):
        tokens: list[str] = []  # of the current line
        used = 0
        for token in _TOKEN.findall(paragraph):
            w = len(token) if token.isascii() else cell_len(token)
            if used + w > width and "".join(tokens).strip():
                carry: list[str] = []
                if token[0] in _NO_LINE_START:  # move down what must not end up leading the line
                    while len(tokens) > 1 and not tokens[-1].isspace():
                        carry.insert(0, tokens.pop())
                        if carry[0][0] not in _NO_LINE_START:
                            break
                out.append("".join(tokens).rstrip())
                tokens, used = carry, sum(cell_len(t) for t in carry)
                if token.isspace():
                    continue
            while w > width:  # a token longer than a line (a long path): fold it
                cut = _fit(token, width - used)
                out.append("".join(tokens) + token[:cut])
                token, tokens, used = token[cut:], [], 0
                w = cell_len(token)
            tokens.append(token)
            used += w
        out.append("".join(tokens).rstrip())
    return out


def _fit(token: str, room: int) -> int:
    n, used = 0, 0
    for ch in token:
        if used + cell_len(ch) > room:
            break
        used += cell_len(ch)
        n += 1
    return max(n, 1)


def _safe(text: Text) -> Text:
    clean = for_terminal(text.plain)
    return text if clean == text.plain else Text(clean)


class Laid:
    """Lines laid out already (by ``wrap`` and ``message_table``), printed as they are: Rich
    neither wraps nor crops them again. Its table and text wrapping were most of the CLI's own
    work per file (``validate`` of 1,000 files: 1.6 ms each in the process that also collects
    the workers' results, issue #13)."""

    def __init__(self, lines: Sequence[Text]):
        self.lines = list(lines)

    def __rich_console__(self, console: Console, options) -> Iterable[Segment]:
        for line in self.lines:
            yield from line.render(console)
            yield Segment.line()


def message_table(
    console: Console, headers: Sequence[str], rows: Iterable[Sequence[str | Text]], *, message_column: int = 0,
    title: str | None = None,
) -> Laid:
    """A table for ``console``'s width whose ``message_column`` takes the room the others leave and
    is wrapped by ``wrap``; the other columns are short (names, labels, counts), never wrapped
    inside a number, and folded at 24 cells.  No borders: a bold header line, then each row's
    lines, the columns two spaces apart.  Cell text is data: pass ``Text`` for styled cells,
    never markup strings (terminal control characters are shown escaped, ``safetext``)."""
    cells = [[_safe(x) if isinstance(x, Text) else Text(for_terminal(str(x))) for x in r] for r in rows]
    widths = [max([cell_len(h)] + [cell_len(r[c].plain) for r in cells]) for c, h in enumerate(headers)]
    caps = [min(w, 24) for w in widths]
    # Every other column at its natural width (capped), the message gets the rest (each column
    # also takes 2 cells of padding).
    caps[message_column] = 0
    room = max(console.width - sum(caps) - 2 * len(headers), 20)
    caps[message_column] = room
    lines: list[Text] = []
    if title:
        lines.append(Text(title.center(sum(caps) + 2 * (len(headers) - 1)).rstrip(), style="italic"))
    lines += _row_lines([Text(h, style="bold") for h in headers], caps)
    for row in cells:
        lines += _row_lines(row, caps)
    return Laid(lines)


def _row_lines(row: Sequence[Text], widths: Sequence[int]) -> list[Text]:
    """One table row as lines: each cell wrapped to its column (``wrap``), padded, two spaces
    between columns. A cell's styles are kept on its first line (e.g. a coloured 错误)."""
    columns: list[list[Text]] = []
    for cell, width in zip(row, widths):
        parts = wrap(cell.plain, width) if cell_len(cell.plain) > width else [cell.plain]
        first = len(parts[0]) if parts else 0
        laid = []
        for i, part in enumerate(parts):
            text = Text(part)
            if i == 0:
                for span in cell.spans:
                    if span.end <= first:
                        text.stylize(span.style, span.start, span.end)
                if cell.style:
                    text.stylize(cell.style)
            laid.append(text)
        columns.append(laid)
    out = []
    for i in range(max(len(c) for c in columns)):
        line = Text()
        for c, (column, width) in enumerate(zip(columns, widths)):
            piece = column[i] if i < len(column) else Text()
            line.append_text(piece)
            line.append(" " * (width - cell_len(piece.plain)) + ("  " if c < len(widths) - 1 else ""))
        out.append(line)
    return out
