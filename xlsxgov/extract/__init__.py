"""Read the statutory tables from the report itself: Word, web page, PDF, text.

``extract_report(path)`` gives the same ``reader.Submission`` a returned workbook gives, so
validation, export, consolidation and the template writer work unchanged on it:

- ``inputs`` / ``typed`` / ``raw`` as for a workbook: ``raw`` is the cell's text as printed
  (``""``, ``"0"`` and ``"/"`` stay apart), ``typed`` the number it says (None for a blank or
  ``/``), ``inputs`` what the rules use (a blank is 0, as in workbooks, FORMATS.md "blank");
  money in 元 (``24850元`` → 24850 元 = 2.485 万元);
- ``where[cell]`` = (place, position): ``("表格2", "第5行第3列")`` for a table of a web page or a
  Word document, ``("第2页", "x=120,y=340")`` for a PDF, ``("文本", "第87行")`` for text;
- ``meta``: ``agency`` and ``year`` from the title (``XX局2019年政府信息公开工作年度报告``) and
  the ``统计期限`` line, ``source`` = ``report`` (a report-derived submission), ``format``.

How the tables are found: ``tables.py``; formats: ``formats.py``; the stream: ``document.py``.
Errors: ``reader.Unreadable`` with a one-line Chinese reason (no tables, a damaged file,
a PDF without text, LibreOffice missing for .doc/.wps/.rtf/.odt).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..compute import CellKey, key, to_display
from ..findings import Finding
from ..reader import Submission, Unreadable
from ..values import parse_cell
from .document import Token
from .formats import SUFFIXES, FormatError, IsWorkbook, tokens_of
from .tables import NoTables, Reading, Stream, detect_edition, read_tables

if TYPE_CHECKING:  # validate imports pandas: not for commands that only need the suffixes
    from ..validate import FileReport

__all__ = ["SUFFIXES", "extract_report", "extract_paths", "is_report", "printed_value"]


def is_report(path: Path | str) -> bool:
    """True for a file type ``extract`` reads (.txt .html .htm .mht .docx .pdf .doc .wps .rtf .odt)."""
    return Path(path).suffix.lower() in SUFFIXES


def extract_report(path: Path | str, *, edition: str | None = None) -> Submission:
    """The statutory tables of one report document as a Submission (see the module docstring).

    ``edition`` forces an edition (else recognised from the labels). A file whose content is a
    workbook (whatever its name) is read as one (``reader.read_workbook``). Raises ``Unreadable``."""
    path = Path(path)
    try:
        tokens = tokens_of(path)
    except IsWorkbook:  # a workbook under a document's name: read as the workbook it is
        from ..reader import read_workbook

        return read_workbook(path, edition=edition)
    except FormatError as exc:
        raise Unreadable(str(exc), "unreadable") from None
    stream = Stream(tokens)
    try:
        spec = detect_edition(stream)
    except NoTables as exc:
        raise Unreadable(str(exc), "no_tables") from None
    findings: list[Finding] = []
    if edition:
        from .. import spec as spec_mod

        forced = spec_mod.load(edition)
        if forced.edition != spec.edition:
            findings.append(Finding("error", "workbook.edition", "", "", f"表格版本不符：应使用{forced.name}，但报告中的表格是{spec.name}"))
    reading = read_tables(stream, spec)
    if not reading.tables_found:
        raise Unreadable("找到了表格标签，但读不出任何一行数据", "no_tables")
    sub = _submission(path, reading, tokens)
    sub.findings[:0] = findings
    return sub


def _submission(path: Path, reading: Reading, tokens: list[Token]) -> Submission:
    spec = reading.spec
    inputs: dict[CellKey, int] = {}
    typed: dict[CellKey, int | None] = {}
    raw: dict[CellKey, object] = {}
    where: dict[CellKey, tuple[str, str]] = {}
    bad: set[CellKey] = set()
    findings = list(reading.findings)
    for cell in spec.cells():
        k = key(cell)
        what = cell.named
        read = reading.cells.get(k)
        if read is None or read.shown is None:
            where[k], raw[k], typed[k] = ("", ""), None, None
            if cell.is_input:
                inputs[k] = 0
            if k in reading.unresolved:
                bad.add(k)
            continue
        tok = read.token
        where[k] = (tok.sheet, tok.cell) if tok else ("", "")
        raw[k] = read.shown.text
        parsed = parse_cell(read.shown.number_text, cell.kind)
        sheet, pos = where[k]
        if parsed.severity == "error":
            typed[k] = None
            if cell.is_input:
                inputs[k] = 0
                bad.add(k)
            findings.append(Finding("error", f"cell.{cell.kind.value}", sheet, pos, f"{what}{'' if cell.is_input else '（合计）'}：{parsed.message}", (k,)))
            continue
        typed[k] = None if read.shown.blank or parsed.code == "blank" else parsed.value
        if cell.is_input:
            inputs[k] = parsed.value or 0
            if parsed.severity == "info":
                rule = "blank" if parsed.code == "blank" else "cell.normalised"
                findings.append(Finding("info", rule, sheet, pos, f"{what}：{parsed.message}", (k,)))
        elif typed[k] is None:
            findings.append(Finding("info", "blank.total", sheet, pos, f"{what}（合计）印为空白，按各项之和计算", (k,)))
    meta = {"source": "report", "format": path.suffix.lower().lstrip("."), **cover_facts(tokens)}
    sub = Submission(path, spec, meta, inputs, typed, raw, where, findings, bad)
    if not sub.agency:
        sub.findings.append(Finding("warning", "cover.agency", "", "", "报告标题中找不到单位名称"))
    if not sub.year:
        sub.findings.append(Finding("warning", "cover.year", "", "", "报告中找不到报告年度（标题或统计期限）"))
    return sub


_TITLE = re.compile(r"^(?:标题[:：]\s*)?(?P<agency>[^\s，。:：|]{2,40}?)(?P<year>(?:19|20)\d\d)\s*年(?:度)?\s*(?:政府信息公开|政务公开|信息公开)")
_TITLE_YEAR_FIRST = re.compile(r"^(?P<year>(?:19|20)\d\d)\s*年(?:度)?(?P<agency>[^\s，。:：|]{2,40}?)(?:政府信息公开|政务公开)工作(?:年度)?报告")
_YEAR_HEADING = re.compile(r"^(?P<year>(?:19|20)\d\d)\s*年(?:度)?(?:政府信息公开|政务公开)")
_ORG_YEAR = re.compile(r"(?P<agency>[\u4e00-\u9fff]{2,20}?(?:局|委员会|办公室|政府|管委会|中心))(?:19|20)\d\d年")
_PERIOD = re.compile(r"统计(?:期限|时限|时间|期间)[^0-9]{0,12}(?P<year>(?:19|20)\d\d)\s*年\s*1\s*月\s*1\s*日")
_ORG = re.compile(r"^[^\s，。,.:：、]{2,30}(?:局|委|办|厅|部|处|中心|政府|委员会|管委会|办公室|实验区|新区|街道|镇|乡|院|所|队|站|馆|会)$")


def cover_facts(tokens: Sequence[Token]) -> dict[str, str]:
    """Agency and year of a report: the title (``XX局2019年政府信息公开工作年度报告``, also
    ``2019年XX局…``), the ``统计期限`` line, and a first line that names an office alone."""
    out: dict[str, str] = {}
    head = [t for t in tokens[:80] if not t.table]
    for t in head:
        s = t.stripped.replace(" ", "")
        m = _TITLE.match(s) or _TITLE_YEAR_FIRST.match(s)
        if m:
            out.setdefault("agency", m.group("agency"))
            out.setdefault("year", m.group("year"))
            break
    if "year" not in out:
        for t in head:
            m = _YEAR_HEADING.match(t.stripped)
            if m:
                out["year"] = m.group("year")
                break
    if "year" not in out:
        for t in tokens:
            m = _PERIOD.search(t.text)
            if m:
                out["year"] = m.group("year")
                break
    if "agency" not in out:
        for t in head[:10]:
            s = t.stripped.replace(" ", "")
            if _ORG.match(s):
                out["agency"] = s
                break
    if "agency" not in out:  # no title: the office that names its own documents (《XX局2019年…》)
        seen = Counter(m.group("agency") for t in tokens if not t.table for m in _ORG_YEAR.finditer(t.text))
        if seen:
            out["agency"] = seen.most_common(1)[0][0]
    return out


def printed_value(sub: Submission, k: CellKey):
    """A cell as printed, for comparing with a published report: None for a blank, the text for
    ``/`` and other blank words, else the number in the form's unit (万元 for money)."""
    text = sub.raw.get(k)
    if text is None:
        return None
    cell = sub.spec.table(k[0]).cell(k[1], k[2])
    typed = sub.typed.get(k)
    if typed is None:
        s = str(text).strip()
        return s if s else None
    return to_display(cell, typed)  # money in 万元 (values.FEN_PER_WANYUAN)


def extract_paths(paths: Sequence[Path | str], *, edition: str | None = None) -> list[FileReport]:
    """Extract and validate many reports (``validate.validate_paths`` with this module's
    reader): one ``FileReport`` each; a file that cannot be read never stops the batch."""
    from ..validate import validate_paths

    return validate_paths(paths, edition=edition, reader=extract_report)
