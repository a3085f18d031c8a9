"""Test support for ``xlsxgov.extract``: the published reports with their expected cells, and
report documents written from a spec and values (the official layout of ``render.py``) in every
shape the extractor reads: HTML, flattened text in each separator style, and (through
LibreOffice) .docx / .odt / .pdf."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping

import lxml.html
import opencc

from xlsxgov import spec as spec_mod
from xlsxgov.compute import CellKey
from xlsxgov.render import render_tables
from xlsxgov.values import Kind, wanyuan_to_money

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EXPECTED = SHARED / "reports" / "expected"
REPORTS = sorted((SHARED / "seeds").glob("*.txt")) + sorted((SHARED / "reports").glob("*.txt"))


def expected(name: str) -> dict:
    """``expected/<name>.json``: cell ids are ``table.row.col`` of the spec (they match the
    project's specs one to one; no mapping needed)."""
    return json.loads((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))


def expected_key(cid: str) -> CellKey:
    t, r, c = cid.split(".")
    return (t, r, c)


def base_values(edition: str, cells: Mapping[str, object]) -> dict[CellKey, int]:
    """Expected printed cells → base units (money in 元); blanks and ``/`` left out."""
    spec = spec_mod.load(edition)
    out = {}
    for cid, v in cells.items():
        if v is None or isinstance(v, str):
            continue
        k = expected_key(cid)
        cell = spec.table(k[0]).cell(k[1], k[2])
        out[k] = wanyuan_to_money(v) if cell.kind is Kind.MONEY else int(v)
    return out


def report_html(edition: str, values: Mapping[CellKey, int], *, agency: str, year: int) -> str:
    """A report page: title, the statutory tables in the official layout (rowspans, colspans)
    with visible borders, and a sentence of narrative with other figures."""
    spec = spec_mod.load(edition)
    page = render_tables(spec, values, title=f"{agency}{year}年政府信息公开工作年度报告")
    page = page.replace("<table ", '<table border="1" cellspacing="0" ')
    narrative = f"<p>本年度报告中所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。全年共发布信息9999条。</p>"
    return page.replace("<body>", "<body>\n" + narrative, 1)


# ---------------------------------------------------------------------------------------------
# Flattened text, as sites and crawlers give it


def html_rows(page: str) -> list[tuple[bool, list[str]]]:
    """(is a table row, cell texts) for every paragraph and table row of ``page``, in order."""
    root = lxml.html.document_fromstring(page)
    out = []
    for el in root.iter("h1", "h2", "p", "tr"):
        if el.tag == "tr":
            out.append((True, ["".join(td.itertext()).strip() for td in el if td.tag in ("td", "th")]))
        else:
            out.append((False, ["".join(el.itertext()).strip()]))
    return out


STYLES = ("pipes", "terminated", "tabs", "lines", "run_together")


def flatten(page: str, style: str) -> str:
    """The text of ``page`` in one of the shapes of the published copies:

    - ``pipes``: each row ``a | b | c`` (Shanghai, 沭阳);
    - ``terminated``: one cell per line ending in `` |`` (seed 001);
    - ``tabs``: one tab-indented cell per line, a blank line after each row (seed 004);
    - ``lines``: one cell per line, a blank line between cells (seed 002; blanks are lost);
    - ``run_together``: a row's cells with no separator at all (the 平潭 crawler text)."""
    lines: list[str] = []
    for is_row, cells in html_rows(page):
        if not is_row:
            lines.append(cells[0])
        elif style == "pipes":
            lines.append(" | ".join(cells))
        elif style == "terminated":
            lines.extend(f"{c} |" for c in cells)
        elif style == "tabs":
            lines.extend(f"\t{c}" for c in cells)
            lines.append("")
        elif style == "lines":
            for c in cells:
                if c:
                    lines.extend([c, ""])
        elif style == "run_together":
            lines.append("".join(cells))
        else:
            raise ValueError(style)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Noise, as FORMATS.md "What real files look like" lists it

_S2T = opencc.OpenCC("s2t")
TYPOS = {"只计这一情形": "只计这一情况", "属于三类内部事务信息": "属于三类内容事务信息"}


def noisy(page: str) -> str:
    """``page`` as a careless copy prints it: header words broken by a space or a line break
    (``商业 企业``, ``本年新<br>制作数量``), half-width punctuation, item numbers as ``1、``,
    Traditional characters in the
    labels, typos from FORMATS.md, and zeros printed as blank cells."""
    page = re.sub(r">0</td>", "></td>", page)
    for right, wrong in TYPOS.items():
        page = page.replace(right, wrong)
    page = page.replace("商业企业", "商业 企业").replace("科研机构", "科研<br>机构").replace("本年新制作数量", "本年新<br>制作数量")

    def relabel(m: re.Match) -> str:
        text = m.group(2).replace("（", "(").replace("）", ")").replace("，", ",").replace("：", ":")
        text = re.sub(r"^(\d)\.", r"\1、", text)  # 1、属于国家秘密
        return m.group(1) + _S2T.convert(text) + m.group(3)

    return re.sub(r"(<th[^>]*>)(.*?)(</th>)", relabel, page)


NAMES_AND_PATHS = [(p.stem, p) for p in REPORTS]
