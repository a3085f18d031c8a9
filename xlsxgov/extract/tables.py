"""Find the statutory tables in a document's token stream by their labels and read their cells.

The edition is recognised from the labels (``locate.edition_scores``), never from the year. In
each table, a block starts at its header (``第二十条第（一）项``) or corner; each data row is the
first token after the previous row whose label matches the spec's label (after ``document.norm``;
else the label the same row id has in another edition, as a 2021 table printing the 2019 label
``规范性文件``; else a close match for typos, ``difflib`` ratio ≥ 0.85); its values are the
value tokens right after the label. A row without labels (表四) follows its last column header.
Columns are the spec's leaf columns in the printed order; their headers are looked for and a
missing one is reported.

Run-together digits (``713000074`` for the seven columns of a 表三 row): every split of the
digits into the row's columns (no leading zeros) is tried and kept only if the row's own rules
hold (its total equals its parts); rows still ambiguous are decided together by the table's
column rules (``t3.results_total``, ``t3.balance``), then by the figures the report's text
gives (a warning names the choice and the other candidates). A row that stays ambiguous is
not read: a warning lists the candidates.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from dataclasses import dataclass, field
from functools import cache

from .. import expr as ex
from .. import spec as spec_mod
from ..compute import CellKey, instance_resolver, key
from ..findings import Finding
from ..locate import edition_scores
from ..spec import Block, CheckInstance, Row, Spec, Table
from ..values import COUNT_UNITS, Kind, parse_cell
from .document import Printed, Token, is_digit_run, norm, printed, split_tokens

EDITIONS = ("gov2021", "gov2019", "legacy2008")
MAX_SPAN = 3  # a label broken over this many tokens is still found (商业 / 企业)
MAX_SPLITS = 5000  # more ways than this to cut one row's digits: not tried, said to be ambiguous
MAX_COMBINATIONS = 2000  # rows decided together by the table's rules


class NoTables(Exception):
    """No statutory table in the document; str() is the Chinese reason."""


@dataclass
class CellRead:
    token: Token | None
    shown: Printed | None  # None: the cell was not found


@dataclass
class Reading:
    """What the tables of one document say: spec, each cell as printed, and notes."""

    spec: Spec
    cells: dict[CellKey, CellRead] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    unresolved: set[CellKey] = field(default_factory=set)  # run-together digits that stay ambiguous
    tables_found: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Labels


@cache
def label_pattern() -> re.Pattern:
    """Every label of every edition (normalised), longest first: cuts run-together text."""
    labels: set[str] = set()
    for e in EDITIONS:
        for t in spec_mod.load(e).tables:
            labels.add(norm(t.title))
            for b in t.blocks:
                labels.update(norm(x) for x in (b.header, b.corner, b.unit_header) if x)
                labels.update(norm(r.label) for r in b.rows if r.label)
                labels.update(norm(p) for c in b.columns for p in c.path)
    labels = {lab for lab in labels if len(lab) >= 2}
    return re.compile("|".join(re.escape(lab) for lab in sorted(labels, key=len, reverse=True)))


@cache
def _aliases(edition: str, table_id: str, row_id: str) -> tuple[str, ...]:
    """Labels the same table/row id has in the other editions (a 2021 table that kept 规范性文件)."""
    out = []
    for e in EDITIONS:
        if e == edition:
            continue
        try:
            row = spec_mod.load(e).table(table_id).row(row_id)
        except KeyError:
            continue
        if row.label:
            out.append(norm(row.label))
    return tuple(out)


def _similar(a: str, b: str) -> bool:
    if len(b) < 4 or not a or abs(len(a) - len(b)) > max(3, len(b) // 4):
        return False
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sm.real_quick_ratio() >= 0.85 and sm.quick_ratio() >= 0.85 and sm.ratio() >= 0.85


@dataclass
class Hit:
    start: int
    end: int  # first token after the label
    how: str  # exact | alias | fuzzy


class Stream:
    """The tokens of one document with label search."""

    def __init__(self, tokens: list[Token]):
        self.toks = split_tokens(tokens, label_pattern())
        self.norms = [t.norm for t in self.toks]
        self.values = [printed(t.text) if len(t.text) < 60 else None for t in self.toks]

    def __len__(self) -> int:
        return len(self.toks)

    def find(self, wanted: tuple[str, ...], lo: int, hi: int, *, aliases: tuple[str, ...] = (), need_values: bool = False, fuzzy: bool = True) -> Hit | None:
        """First place in [lo, hi) whose text (one token, or up to MAX_SPAN consecutive ones)
        is one of ``wanted``; then one of ``aliases``; then close to one of ``wanted``; then the
        first part of one of ``wanted`` cut by a page break, with values after it."""
        for how, names in (("exact", wanted), ("alias", aliases)):
            if not names:
                continue
            for i in range(lo, hi):
                if not self.norms[i] or self.values[i] is not None:
                    continue
                for k in range(1, MAX_SPAN + 1):
                    if i + k > hi:
                        break
                    text = "".join(self.norms[i:i + k])
                    if text in names and (not need_values or self._has_values(i + k)):
                        return Hit(i, i + k, how)
                    if not any(n.startswith(text) for n in names):
                        break
        if not fuzzy:
            return None
        for i in range(lo, hi):
            if not self.norms[i] or self.values[i] is not None:
                continue
            for k in (1, 2):
                if i + k > hi:
                    break
                text = "".join(self.norms[i:i + k])
                if any(_similar(text, n) for n in wanted) and (not need_values or self._has_values(i + k)):
                    return Hit(i, i + k, "fuzzy")
        # A label cut by a page break: its first part ends the page with the row's values after
        # it, and the rest (仍不明确) starts the next page below the repeated column headers. Taken
        # only when no whole label is anywhere in range, the part is most of one wanted label
        # (six characters and three fifths at least) and values follow it.
        for i in range(lo, hi):
            text = self.norms[i]
            if len(text) < 6 or self.values[i] is not None:
                continue
            if any(n != text and n.startswith(text) and 5 * len(text) >= 3 * len(n) for n in wanted) and self._has_values(i + 1):
                return Hit(i, i + 1, "cut")
        return None

    def _has_values(self, j: int) -> bool:
        if j < len(self.toks) and self.toks[j].stripped in _UNIT_WORDS:
            j += 1
        return j < len(self.toks) and self.values[j] is not None

    def run(self, j: int, hi: int) -> list[int]:
        """Indexes of the value tokens starting at ``j`` (stops at the first label or sentence)."""
        out = []
        while j < hi and self.values[j] is not None:
            out.append(j)
            j += 1
        return out

    def numbers_outside(self, spans: list[tuple[int, int]]) -> set[str]:
        """Whole numbers (two digits or more) written in the report's text outside the tables."""
        inside: set[int] = set()
        for a, b in spans:
            inside.update(range(a, b))
        found: set[str] = set()
        for i, t in enumerate(self.toks):
            if i not in inside:
                found.update(re.findall(r"(?<![0-9.])[0-9]{2,}(?![0-9.])", t.text))
        return found


_UNIT_WORDS = frozenset(COUNT_UNITS) | {"万元", "元"}


# ---------------------------------------------------------------------------------------------
# Edition


def detect_edition(stream: Stream) -> Spec:
    """The edition whose unique labels the document shows most; raises NoTables when none."""
    texts = set(stream.norms)
    # Labels split over two or three tokens (商业 / 企业) count too.
    for k in (2, 3):
        texts.update("".join(stream.norms[i:i + k]) for i in range(len(stream.norms) - k + 1))
    specs = [spec_mod.load(e) for e in EDITIONS]
    scores = edition_scores(specs, texts)
    best = max(EDITIONS, key=lambda e: scores[e])
    if scores[best] <= 0:
        raise NoTables("找不到政府信息公开年度报告的法定表格（没有识别出任何表格标签）")
    return spec_mod.load(best)


# ---------------------------------------------------------------------------------------------
# Reading


def read_tables(stream: Stream, spec: Spec) -> Reading:
    """Every cell of ``spec``'s tables as printed in ``stream``."""
    reading = Reading(spec)
    starts: list[int | None] = []
    cursor = 0
    for table in spec.tables:
        hit = stream.find((norm(table.title),), cursor, len(stream))
        starts.append(hit.end if hit else None)
        if hit:
            cursor = hit.end
    spans: list[tuple[int, int]] = []
    cursor = 0
    ambiguous: list[_Split] = []
    for n, table in enumerate(spec.tables):
        lo = starts[n] if starts[n] is not None else cursor
        hi = next((s for s in starts[n + 1:] if s is not None), len(stream))
        end, splits = _read_table(stream, spec.edition, table, lo, hi, reading)
        if end > lo:
            spans.append((lo, end))
        cursor = max(cursor, end)
        ambiguous.extend(splits)
    if ambiguous:
        _settle(stream, spec, reading, ambiguous, spans)
    return reading


@dataclass
class _Split:
    table: Table
    block: Block
    row: Row
    tokens: list[Token]
    candidates: list[list[str]]


def _read_table(stream: Stream, edition: str, table: Table, lo: int, hi: int, reading: Reading) -> tuple[int, list[_Split]]:
    cursor = lo
    found_any = False
    splits: list[_Split] = []
    missing: list[str] = []
    prev_end: int | None = None  # after the last row read: extra rows are looked for from there
    for block in table.blocks:
        anchor_names = tuple(norm(x) for x in (block.header, block.corner) if x)
        if anchor_names:
            hit = stream.find(anchor_names, cursor, hi)
            if hit:
                cursor = hit.end
        block_start = cursor
        labelled = [r for r in block.data_rows if r.label]
        rows_at: list[tuple[Row, Hit, list[int]]] = []
        for row in labelled:
            hit = stream.find((norm(row.label),), cursor, hi, aliases=_aliases(edition, table.id, row.id), need_values=True)
            if hit is None:
                missing.append(row.label)
                continue
            if hit.how == "alias":
                reading.findings.append(Finding("info", "extract.label", stream.toks[hit.start].sheet, stream.toks[hit.start].cell, f"{table.short}“{stream.toks[hit.start].stripped}”是其他版本表格的栏目名称，按“{row.label}”读取", ()))
            run = _value_run(stream, hit.end, hi, row)
            if prev_end is not None:
                _extra_rows(stream, table, prev_end, hit.start, reading)
            rows_at.append((row, hit, run))
            cursor = prev_end = (run[-1] + 1) if run else hit.end
        header_hi = rows_at[0][1].start if rows_at else hi
        header_end = _check_headers(stream, table, block, block_start, header_hi, missing)
        if not labelled:  # 表四: the data row follows the column headers
            for row in block.data_rows:
                run = _value_run(stream, header_end, hi, row)
                rows_at.append((row, Hit(header_end, header_end, "position"), run))
                cursor = (run[-1] + 1) if run else header_end
        for row, _hit, run in rows_at:
            found_any = True
            split = _assign(stream, table, block, row, run, reading)
            if split is not None:
                splits.append(split)
    if found_any:
        reading.tables_found.append(table.id)
        if missing:
            names = "、".join(dict.fromkeys(missing))
            reading.findings.append(Finding("error", "extract.labels_missing", table.short, "", f"{table.short}中找不到以下栏目：{names[:300]}"))
    else:
        reading.findings.append(Finding("error", "extract.table_missing", table.short, "", f"找不到{table.short}“{table.title}”"))
    return cursor, splits


def _check_headers(stream: Stream, table: Table, block: Block, lo: int, hi: int, missing: list[str]) -> int:
    """Look for the leaf column headers (in order, else anywhere in the header: 总计 is printed
    before 商业企业 in 表三); returns the index after the last one found."""
    cursor = lo
    end = lo
    for col in block.columns:
        if not col.label:
            continue
        fuzzy = len(norm(col.label)) >= 4
        hit = stream.find((norm(col.label),), cursor, hi, fuzzy=fuzzy)
        if hit is not None:
            cursor = hit.end
        else:
            hit = stream.find((norm(col.label),), lo, hi, fuzzy=fuzzy)
        if hit is None:
            if len(block.columns) > 1 or table.label_columns == 0:
                missing.append("/".join(col.path))
            continue
        end = max(end, hit.end)
    return end


def _value_run(stream: Stream, j: int, hi: int, row: Row) -> list[int]:
    if j < hi and stream.toks[j].stripped in _UNIT_WORDS | ({row.unit} if row.unit else set()):
        j += 1  # the 单位 column of the statistics table
    elif j < hi and row.unit is not None and stream.values[j] is not None and stream.values[j].blank and j + 1 < hi and stream.values[j + 1] is not None:
        j += 1  # an empty 单位 cell before the value
    return stream.run(j, hi)


def _extra_rows(stream: Stream, table: Table, lo: int, hi: int, reading: Reading) -> None:
    """Rows a province added (湖北: 其他主动公开文件): reported, never assigned to a spec row."""
    for i in range(lo, hi):
        if stream.values[i] is not None or not stream.norms[i] or len(stream.norms[i]) > 40:
            continue
        run = stream.run(i + 1, hi)
        shown = [stream.toks[j].stripped for j in run if not stream.values[j].blank]
        if shown and not label_pattern().fullmatch(stream.norms[i]):
            t = stream.toks[i]
            reading.findings.append(Finding("info", "extract.extra_row", t.sheet, t.cell, f"{table.short}中有表格格式以外的栏目“{t.stripped}”（{'、'.join(shown)}），未计入统计"))


def _assign(stream: Stream, table: Table, block: Block, row: Row, run: list[int], reading: Reading) -> _Split | None:
    cols = block.columns
    n = len(cols)
    toks = [stream.toks[j] for j in run]
    shown = [stream.values[j] for j in run]
    while len(toks) > n and shown[-1].blank:
        toks.pop(), shown.pop()
    while len(toks) > n and shown[0].blank:
        toks.pop(0), shown.pop(0)
    first = toks[0] if toks else None
    where = (first.sheet, first.cell) if first else ("", "")
    if len(toks) > n:
        reading.findings.append(Finding("warning", "extract.extra_values", *where, f"{table.short} {row.named}有{len(toks)}个数值，多于{n}栏，只读取前{n}个：{'、'.join(p.text for p in shown)}"))
        toks, shown = toks[:n], shown[:n]
    if len(toks) < n and toks and all(is_digit_run(t.text) for t in toks) and sum(len(t.stripped) for t in toks) >= n:
        if math.comb(sum(len(t.stripped) for t in toks) - 1, n - 1) > MAX_SPLITS:
            for col in cols:
                reading.cells[(table.id, row.id, col.id)] = CellRead(first, None)
                reading.unresolved.add((table.id, row.id, col.id))
            reading.findings.append(Finding("warning", "extract.ambiguous", *where, f"{table.short} {row.named}的数字连在一起（“{''.join(t.stripped for t in toks)}”），拆分为{n}栏的方式太多（超过{MAX_SPLITS}种），本行未读取，请核对原文"))
            return None
        candidates = [c for c in _compositions([t.stripped for t in toks], n) if _row_ok(table, row, cols, c, "error")]
        if len(candidates) == 1:
            text = "".join(t.stripped for t in toks)
            reading.findings.append(Finding("info", "extract.split", *where, f"{table.short} {row.named}的数字连在一起（“{text}”），按{n}栏和本行合计拆分为：{' | '.join(candidates[0])}"))
            for col, part in zip(cols, candidates[0]):
                reading.cells[(table.id, row.id, col.id)] = CellRead(first, Printed(part, part))
            return None
        for col in cols:
            reading.cells[(table.id, row.id, col.id)] = CellRead(first, None)
        return _Split(table, block, row, toks, candidates)
    if len(toks) < n:
        got = "、".join(p.text or "空白" for p in shown) or "无"
        reading.findings.append(Finding("warning", "extract.missing_values", *where, f"{table.short} {row.named}只找到{len(toks)}个数值（{got}），应有{n}栏；缺少的栏按未填写处理"))
    for i, col in enumerate(cols):
        tok = toks[i] if i < len(toks) else None
        reading.cells[(table.id, row.id, col.id)] = CellRead(tok, shown[i] if i < len(shown) else None)
        if tok is not None and shown[i].note:
            reading.findings.append(Finding("info", "extract.note", tok.sheet, tok.cell, f"{table.cell(row.id, col.id).named}：“{shown[i].text}”按{shown[i].number_text}读取，括号中的说明“{shown[i].note}”未计入"))
    return None


def _compositions(runs: list[str], n: int) -> list[list[str]]:
    """Every way to cut the digit strings ``runs`` into ``n`` numbers without leading zeros."""
    out: list[list[str]] = []

    def cut(s: str, k: int) -> list[list[str]]:
        if k == 1:
            return [[s]] if s and (s == "0" or s[0] != "0") else []
        res = []
        for i in range(1, len(s) - k + 2):
            head = s[:i]
            if len(head) > 1 and head[0] == "0":
                break
            for tail in cut(s[i:], k - 1):
                res.append([head, *tail])
        return res

    def spread(i: int, left: int, acc: list[str]) -> None:
        if len(out) > MAX_SPLITS:
            return
        if i == len(runs):
            if left == 0:
                out.append(acc)
            return
        for k in range(1, min(left - (len(runs) - i - 1), len(runs[i])) + 1):
            for parts in cut(runs[i], k):
                spread(i + 1, left - k, acc + parts)

    spread(0, n, [])
    return out


@cache
def _row_instances(table: Table, row_id: str, severity: str) -> tuple[CheckInstance, ...]:
    return tuple(
        inst for c in table.checks if c.severity == severity for inst in c.instances()
        if inst.cells() and all(cell.row.id == row_id for cell in inst.cells())
    )


def _parse(text: str, kind: Kind) -> int | None:
    p = parse_cell(text, kind)
    return None if p.severity == "error" else (p.value or 0)


def _row_ok(table: Table, row: Row, cols, parts: list[str], severity: str) -> bool:
    values: dict[CellKey, int] = {}
    for col, part in zip(cols, parts):
        cell = table.cell(row.id, col.id)
        v = _parse(part, cell.kind)
        if v is None:
            return False
        values[key(cell)] = v
    return all(_holds(inst, values) for inst in _row_instances(table, row.id, severity))


def _holds(inst: CheckInstance, values: dict[CellKey, int]) -> bool:
    resolve = instance_resolver(inst, values)
    e = inst.check.expr
    return bool(ex.compare(ex.evaluate_linear(e.left, resolve), e.op, ex.evaluate_linear(e.right, resolve)))


def _settle(stream: Stream, spec: Spec, reading: Reading, splits: list[_Split], spans: list[tuple[int, int]]) -> None:
    """Decide ambiguous run-together rows with the tables' rules, then the report's own figures."""
    base: dict[CellKey, int] = {}
    for k, read in reading.cells.items():
        if read.shown is not None and not read.shown.blank:
            cell = spec.table(k[0]).cell(k[1], k[2])
            v = _parse(read.shown.number_text, cell.kind)
            base[k] = v or 0
    for k in (key(c) for c in spec.cells()):
        base.setdefault(k, 0)
    by_table: dict[str, list[_Split]] = {}
    for s in splits:
        by_table.setdefault(s.table.id, []).append(s)
    narrative = stream.numbers_outside(spans)
    for table_id, group in by_table.items():
        table = spec.table(table_id)
        live = [s for s in group if s.candidates]
        count = 1
        for s in live:
            count *= len(s.candidates)
        if live and count <= MAX_COMBINATIONS:
            rows = {s.row.id for s in live}
            insts = [i for c in table.checks if c.severity == "error" for i in c.instances() if any(cell.row.id in rows for cell in i.cells())]
            fits = []
            for combo in itertools.product(*(s.candidates for s in live)):
                values = dict(base)
                for s, parts in zip(live, combo):
                    for col, part in zip(s.block.columns, parts):
                        values[(table.id, s.row.id, col.id)] = _parse(part, table.cell(s.row.id, col.id).kind) or 0
                if all(_holds(i, values) for i in insts):
                    fits.append(combo)
            if fits:
                for n, s in enumerate(live):
                    s.candidates = [list(c) for c in dict.fromkeys(tuple(f[n]) for f in fits)]
        for s in group:
            _decide(reading, s, narrative)


def _decide(reading: Reading, s: _Split, narrative: set[str]) -> None:
    table, row, cols = s.table, s.row, s.block.columns
    first = s.tokens[0]
    text = "".join(t.stripped for t in s.tokens)
    shown = "；".join(" | ".join(c) for c in s.candidates[:8]) + ("……" if len(s.candidates) > 8 else "")
    chosen = None
    if len(s.candidates) == 1:
        chosen = s.candidates[0]
        reading.findings.append(Finding("info", "extract.split", first.sheet, first.cell, f"{table.short} {row.named}的数字连在一起（“{text}”），按{len(cols)}栏和表内勾稽关系拆分为：{' | '.join(chosen)}"))
    elif s.candidates:
        # Plausibility (warning rules) and the report's own figures may point at one split: it is
        # taken, with a warning naming the others.
        plausible = [c for c in s.candidates if _row_ok(table, row, cols, c, "warning")] or s.candidates
        if len(plausible) == 1:
            chosen, reason = plausible[0], "按表格的合理性规则"
        else:
            scores = [sum(1 for p in set(c) if len(p) >= 2 and p in narrative) for c in plausible]
            best = max(scores)
            if best > 0 and scores.count(best) == 1:
                chosen, reason = plausible[scores.index(best)], "按报告正文中出现的数字"
        if chosen is not None:
            reading.findings.append(Finding("warning", "extract.split", first.sheet, first.cell, f"{table.short} {row.named}的数字连在一起（“{text}”），有多种拆分都符合勾稽关系（{shown}），{reason}取 {' | '.join(chosen)}，请核对"))
    if chosen is None:
        reading.findings.append(Finding("warning", "extract.ambiguous", first.sheet, first.cell, f"{table.short} {row.named}的数字连在一起（“{text}”），无法确定如何拆分为{len(cols)}栏（可能的拆分：{shown or '没有符合勾稽关系的拆分'}），本行未读取，请核对原文"))
        for col in cols:
            reading.unresolved.add((table.id, row.id, col.id))
        return
    for col, part in zip(cols, chosen):
        reading.cells[(table.id, row.id, col.id)] = CellRead(first, Printed(part, part))
