"""Text that comes from files is data: never terminal control, never markup, never a formula,
never an over-long file name. The one place for each of those escapes.

- :func:`for_terminal`: control characters (C0, DEL, C1, so escape sequences ``\\x1b[31m``,
  bell, newlines) and bidirectional overrides (U+202A–U+202E, U+2066–U+2069, which reorder
  what a clerk reads) are shown as ``\\x1b``-style escapes; everything else is kept.
- :func:`for_markup`: the same, then Rich markup escaped (``[red]``, ``[/]`` print literally).
- file names made from file text: ``campaign.mail.safe_filename`` (bounded, controls dropped).
- :func:`for_csv`: a text cell beginning with ``= + - @``, tab or CR gets a leading ``'`` so a
  spreadsheet opening the CSV never runs it as a formula (OWASP ASVS 5.0 §1.2.10); numbers,
  negative ones included, are left as they are, also when written as text (``-4``, ``-2.5``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["for_terminal", "for_markup", "for_csv"]

_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f" + _BIDI + r"]")
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


def _escape(m: re.Match) -> str:
    ch = m.group(0)
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: Any) -> str:
    """``text`` with every control and bidi character shown as an escape (one line, inert)."""
    return _CONTROL_RE.sub(_escape, "" if text is None else str(text))


def for_markup(text: Any) -> str:
    """``text`` safe inside a Rich markup string: inert controls, markup brackets escaped."""
    from rich.markup import escape

    return escape(for_terminal(text))


def for_csv(value: Any) -> Any:
    """A CSV cell: text that a spreadsheet would run as a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(_CSV_TRIGGERS) and not _PLAIN_NUMBER_RE.fullmatch(value):
        return "'" + value
    return value
