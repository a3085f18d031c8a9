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
from rich.table import Table
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
            w = cell_len(token)
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


def message_table(
    console: Console, headers: Sequence[str], rows: Iterable[Sequence[str | Text]], *, message_column: int = 0,
    title: str | None = None,
) -> Table:
    """A table for ``console``'s width whose ``message_column`` takes the room the others leave and
    is wrapped by ``wrap``; the other columns are short (names, labels, counts) and never wrap
    inside a number.  Cell text is data: pass ``Text`` for styled cells, never markup strings."""
    rows = [list(r) for r in rows]
    t = Table(title=title, header_style="bold", show_lines=False, pad_edge=False, box=None, padding=(0, 1))
    widths = []
    for c, h in enumerate(headers):
        if c == message_column:
            widths.append(0)
            continue
        column = [h] + [r[c] for r in rows]
        widths.append(max(cell_len(x.plain if isinstance(x, Text) else str(x)) for x in column))
    # Every other column at its natural width (capped), the message gets the rest (each column
    # also takes 2 cells of padding).
    caps = [min(w, 24) for w in widths]
    room = max(console.width - sum(caps) - 2 * len(headers), 20)
    for c, h in enumerate(headers):
        if c == message_column:
            t.add_column(h, width=room, overflow="fold")
        else:
            t.add_column(h, width=caps[c], overflow="fold", no_wrap=widths[c] <= caps[c])
    for r in rows:
        # Cell text is data from files: terminal control characters shown escaped (safetext).
        cells: list[Text] = [_safe(x) if isinstance(x, Text) else Text(for_terminal(str(x))) for x in r]
        msg = cells[message_column]
        lines = wrap(msg.plain, room)
        wrapped = Text("\n".join(lines))
        first = len(lines[0]) if lines else 0
        for span in msg.spans:  # styles of a prefix on the first line (e.g. a coloured 错误)
            if span.end <= first:
                wrapped.stylize(span.style, span.start, span.end)
        cells[message_column] = wrapped
        t.add_row(*cells)
    return t
