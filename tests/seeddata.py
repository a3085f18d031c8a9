"""Test support: the statutory tables of the five seed reports, keyed by spec ids.

Every value is the text exactly as published ("0", "-2", "24850元", "" for a blank cell),
parsed from /work/shared/seeds/*.txt by walking the spec: find each data row's label, take
the values that follow it. Only agency, year and edition are hard-coded (metadata).

Layouts: 000 ``a | b | c`` lines; 001 one cell per line ending in `` |``; 002 one cell per
line, blank-line separated; 003 legacy form, tab-indented label / unit / value lines;
004 tab-indented cells, blanks written as spaces.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from xlsxgov import spec as specmod

# <tmp>/p (the repo) and <tmp>/shared sit side by side, as do /work/main and /work/shared.
SEED_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"

# number -> (edition, agency, report year), from the seed README.
SEED_META: dict[int, tuple[str, str, int]] = {
    0: ("gov2019", "朝阳市商务局", 2019),
    1: ("gov2019", "锡林郭勒盟工业和信息化局", 2019),
    2: ("gov2019", "金东区经济商务局", 2019),
    3: ("legacy2008", "青岛西海岸新区商务局", 2018),
    4: ("gov2019", "南通市海门区商务局", 2020),
}

# A part heading of the report body (二、…), never a continuation of a table cell.
_HEADING_RE = re.compile(r"^[一二三四五六七八九十]+、")
# The end of the tables: part 五 at the start of a line (003 has "\t五、行政诉讼数量" inside).
_END_RE = re.compile(r"^五、")


@dataclass
class Seed:
    number: int
    path: Path
    edition: str
    agency: str
    year: int
    raw: dict[tuple[str, str, str], str]  # (table_id, row_id, col_id) -> text as published


class SeedParseError(ValueError):
    """The seed text does not line up with the spec."""


def norm(text: str) -> str:
    """Label comparison key: NFKC (full-width brackets, colons, commas, digits) minus whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def tokenize(text: str) -> list[str]:
    """Flat list of cell texts, stripped, with "" for a blank cell.

    - ``|`` lines: split on ``|``; trailing empty pieces are padding of merged cells and are
      dropped, interior empty pieces are blank cells.
    - tab lines: every tab starts a cell; a whitespace-only cell (tab, spaces, NBSP) is blank.
    - a non-empty line of only whitespace is a blank cell; an empty line separates nothing.
    - a plain text line after a tab cell continues that cell (a label broken over lines, even
      across a blank line as in 003), unless it is a part heading.
    """
    tokens: list[str] = []
    after_tab_cell = False
    for line in text.splitlines():
        if "|" in line:
            pieces = [p.strip() for p in line.split("|")]
            while pieces and pieces[-1] == "":
                pieces.pop()
            tokens.extend(pieces)
            after_tab_cell = False
        elif "\t" in line:
            head, *cells = line.split("\t")
            if head.strip():
                tokens.append(head.strip())
            tokens.extend(c.strip() for c in cells)
            after_tab_cell = True
        elif line == "":
            continue
        elif not line.strip():
            tokens.append("")
        elif after_tab_cell and tokens and not _HEADING_RE.match(line.strip()):
            tokens[-1] += line.strip()
        else:
            tokens.append(line.strip())
            after_tab_cell = False
    return tokens


def _tables_text(text: str, first_title: str) -> str:
    """The part of the report holding the tables: from the first table's title to part 五."""
    lines = text.splitlines()
    key = norm(first_title)
    start = next((i for i, ln in enumerate(lines) if ln.strip() and norm(ln).endswith(key)), None)
    if start is None:
        raise SeedParseError(f"table title {first_title!r} not found")
    end = next((i for i in range(start + 1, len(lines)) if _END_RE.match(lines[i])), len(lines))
    return "\n".join(lines[start:end])


def _find(tokens: list[str], label: str, start: int, stop: int, *, suffix: bool = False) -> int:
    key = norm(label)
    for i in range(start, stop):
        t = norm(tokens[i])
        if t == key or (suffix and t.endswith(key)):
            return i
    return -1


def parse(text: str, edition: str) -> dict[tuple[str, str, str], str]:
    """Every cell of the edition's tables, as published in ``text``."""
    spec = specmod.load(edition)
    tokens = tokenize(_tables_text(text, spec.tables[0].title))

    # Each table's tokens run from its title to the next table's title.
    starts = []
    for table in spec.tables:
        i = _find(tokens, table.title, starts[-1] if starts else 0, len(tokens), suffix=True)
        if i < 0:
            raise SeedParseError(f"table title {table.title!r} not found")
        starts.append(i)
    bounds = list(zip(starts, starts[1:] + [len(tokens)]))

    raw: dict[tuple[str, str, str], str] = {}
    for table, (lo, hi) in zip(spec.tables, bounds):
        headers = {
            norm(label)
            for b in table.blocks
            for label in [*(r.label for r in b.rows if r.label), *_column_labels(b.column_tree)]
        }
        pos = lo + 1
        for block in table.blocks:
            k = len(block.columns)
            with_unit = bool(block.unit_header)
            for row in block.data_rows:
                if row.label:
                    at = _find(tokens, row.label, pos, hi)
                    if at < 0:
                        raise SeedParseError(f"{table.id}/{row.id}: label {row.label!r} not found")
                else:
                    # No row label (table 四): the values follow the last column header.
                    last = norm(block.columns[-1].label)
                    at = max((i for i in range(pos, hi) if norm(tokens[i]) == last), default=-1)
                    if at < 0:
                        raise SeedParseError(f"{table.id}/{row.id}: header {last!r} not found")
                values = tokens[at + 1 : at + 1 + k + with_unit]
                if len(values) < k + with_unit:
                    raise SeedParseError(f"{table.id}/{row.id}: only {len(values)} tokens after the label")
                if with_unit:
                    unit, *values = values
                    if unit != (row.unit or ""):
                        raise SeedParseError(f"{table.id}/{row.id}: unit {unit!r}, spec says {row.unit!r}")
                for col, value in zip(block.columns, values):
                    if norm(value) in headers:
                        where = f"{table.id}/{row.id}/{col.id}"
                        raise SeedParseError(f"{where}: label {value!r} where a value belongs")
                    if table.cell(row.id, col.id) is not None:
                        raw[(table.id, row.id, col.id)] = value
                pos = at + 1 + k + with_unit
    return raw


def _column_labels(columns) -> list[str]:
    return [label for c in columns for label in [c.label, *_column_labels(c.children)] if label]


def seed_path(number: int) -> Path:
    found = sorted(SEED_DIR.glob(f"{number:03d}_*.txt"))
    if len(found) != 1:
        raise FileNotFoundError(f"seed {number:03d} not found (or ambiguous) in {SEED_DIR}")
    return found[0]


@cache
def _load(number: int) -> Seed:
    edition, agency, year = SEED_META[number]
    path = seed_path(number)
    raw = parse(path.read_text(encoding="utf-8"), edition)
    return Seed(number=number, path=path, edition=edition, agency=agency, year=year, raw=raw)


def load_seed(number: int) -> Seed:
    """Seed ``number`` (0..4); a fresh copy, so callers may modify ``raw``."""
    s = _load(number)
    return Seed(s.number, s.path, s.edition, s.agency, s.year, dict(s.raw))


def all_seeds() -> list[Seed]:
    return [load_seed(n) for n in sorted(SEED_META)]
