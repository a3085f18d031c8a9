"""The statutory tables as a standalone HTML page or as Markdown, for reading and publishing.

HTML tables are built from ``layout.layout(spec)``, the same grid the template writer uses, so a
rendered table has exactly the merged cells of the printed form. Markdown cannot merge cells:
each block becomes a flat table whose headers are the leaf column paths.

``values`` are base units as ``compute.complete`` returns them (counts as ints, money in 分);
they are shown as given (totals are not recomputed here) and a missing value shows as empty.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Mapping

from .errors import RenderError
from .layout import Box, CellPlace, TableLayout, layout
from .spec import Block, Cell, Spec, Table
from .values import Kind, format_money

CellKey = tuple[str, str, str]  # (table, row, col)

FORMATS = ("html", "md")
DEFAULT_PAGE_TITLE = "政府信息公开工作年度报告"

_HEADER_ROLES = {"corner", "col_header", "block_header", "row_label"}

_CSS = """\
:root { color-scheme: light; }
body {
  margin: 0 auto; padding: 16px; max-width: 1200px; box-sizing: border-box;
  font-family: "SimSun", "Songti SC", "Noto Serif CJK SC", "Source Han Serif SC",
    "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", serif;
  font-size: 15px; line-height: 1.5; color: #000; background: #fff;
}
h1 { font-size: 22px; text-align: center; margin: 0.5em 0 1em; }
h2 { font-size: 17px; margin: 1.5em 0 0.5em; }
table { border-collapse: collapse; width: 100%; max-width: 100%; }
th, td { border: 1px solid #000; padding: 4px 6px; vertical-align: middle; }
th { font-weight: normal; text-align: center; overflow-wrap: anywhere; }
th.row-label { text-align: left; }
th.block-header { text-align: left; font-weight: bold; background: #f2f2f2; }
th.col-header, th.corner { background: #f7f7f7; }
th.indent-1 { padding-left: 1.5em; }
th.indent-2 { padding-left: 3em; }
th.indent-3 { padding-left: 4.5em; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.total { font-weight: bold; }
td.unit, th.unit { text-align: center; white-space: nowrap; }
p.note { font-size: 13px; margin: 0.4em 0 0; }
@media print {
  @page { size: A4; margin: 15mm; }
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h1 { font-size: 16pt; }
  h2 { font-size: 12pt; break-after: avoid; }
  th.block-header, th.col-header, th.corner { background: none; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
}
"""

# Opened as ``page.html#measure``: record the page's widths on <body> (used by the tests to
# check that nothing overflows horizontally). Does nothing otherwise.
_MEASURE_JS = """\
if (location.hash === "#measure") {
  addEventListener("load", function () {
    var d = document.documentElement;
    document.body.setAttribute("data-scroll-width", d.scrollWidth);
    document.body.setAttribute("data-client-width", d.clientWidth);
  });
}
"""


def render_tables(
    spec: Spec,
    values: Mapping[CellKey, int],
    *,
    fmt: str = "html",
    title: str | None = None,
) -> str:
    """The statutory tables of ``spec`` filled with ``values``: an HTML page or Markdown text."""
    if fmt == "html":
        return _html_page(spec, values, title)
    if fmt in ("md", "markdown"):
        return _markdown(spec, values, title)
    raise RenderError(f"未知的输出格式“{fmt}”；可用格式：{'、'.join(FORMATS)}")


def show_value(cell: Cell, values: Mapping[CellKey, int]) -> str:
    """A cell's value as printed: counts as integers, money in 万元; "" when missing."""
    value = values.get((cell.table.id, cell.row.id, cell.col.id))
    if value is None or cell.kind is Kind.TEXT:
        return "" if value is None else str(value)
    if cell.kind is Kind.MONEY:
        return format_money(int(value))
    return str(int(value))


def unit_notes(table: Table) -> list[str]:
    """Money columns whose label does not state the unit get a note saying it is 万元."""
    notes = []
    for block in table.blocks:
        for col in block.columns:
            if col.kind is Kind.MONEY and "万元" not in col.label:
                note = f"注：{col.label}的单位为万元。"
                if note not in notes:
                    notes.append(note)
    return notes


# ---------------------------------------------------------------------------------------------
# HTML


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_page(spec: Spec, values: Mapping[CellKey, int], title: str | None) -> str:
    layouts = layout(spec)
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title or DEFAULT_PAGE_TITLE)}</title>",
        f"<style>\n{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    if title:
        out.append(f"<h1>{_e(title)}</h1>")
    for table in spec.tables:
        out.append(f'<section class="statutory-table" id="{_e(table.id)}">')
        out.append(f"<h2>{_e(table.title)}</h2>")
        out.extend(_html_table(layouts[table.id], values))
        out.extend(f'<p class="note">{_e(n)}</p>' for n in unit_notes(table))
        out.append("</section>")
    out.append(f"<script>\n{_MEASURE_JS}</script>")
    out.extend(["</body>", "</html>", ""])
    return "\n".join(out)


def _html_table(lay: TableLayout, values: Mapping[CellKey, int]) -> list[str]:
    """Walk the layout grid row by row; each box or value starts where its top-left corner is."""
    boxes = [b for b in lay.boxes if b.role != "title"]
    starts: dict[tuple[int, int], Box | CellPlace] = {}
    for item in [*boxes, *lay.places.values()]:
        pos = (item.r1, item.c1) if isinstance(item, Box) else (item.r, item.c)
        if pos in starts:
            raise ValueError(f"表 {lay.table.id}：布局中 {pos} 处有两个单元格")
        starts[pos] = item
    if not starts:
        return []
    first = min(r for r, _ in starts)
    last = max([lay.last_row] + [b.r2 for b in boxes])
    header_rows = {r for b in boxes if b.role == "col_header" for r in range(b.r1, b.r2 + 1)}
    head_end = _thead_end(lay, boxes, first)

    out = [f'<table class="{_e(lay.table.id)}">', *_colgroup(lay)]
    covered: set[tuple[int, int]] = set()
    for r in range(first, last + 1):
        if r == first:
            out.append("<thead>" if head_end is not None else "<tbody>")
        elif head_end is not None and r == head_end + 1:
            out.extend(["</thead>", "<tbody>"])
        cells = []
        for c in range(lay.width):
            if (r, c) in covered:
                if (r, c) in starts:
                    raise ValueError(f"表 {lay.table.id}：布局中 {(r, c)} 处的单元格重叠")
                continue
            item = starts.get((r, c))
            if item is None:
                cells.append("<td></td>")
                continue
            r2, c2 = (item.r2, item.c2) if isinstance(item, Box) else (item.r, item.c2)
            for rr in range(r, r2 + 1):
                for cc in range(c, c2 + 1):
                    if (rr, cc) in covered:
                        raise ValueError(f"表 {lay.table.id}：布局中 {(rr, cc)} 处的单元格重叠")
                    covered.add((rr, cc))
            span = _span(r2 - r + 1, c2 - c + 1)
            if isinstance(item, Box):
                cells.append(_box_html(item, span, lay, header_rows))
            else:
                cells.append(_value_html(item.cell, span, values))
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.extend(["</tbody>" if head_end is None or head_end < last else "</thead>", "</table>"])
    return out


def _colgroup(lay: TableLayout) -> list[str]:
    """Equal data columns: together at most half the width beside labels (each at most 20%),
    all of it in a table without labels."""
    data = lay.width - lay.data_start_col
    if data <= 0:
        return []
    share = min(20, 50 / data) if lay.data_start_col else 100 / data
    cols = ["<col>"] * lay.data_start_col + [f'<col style="width: {share:.2f}%">'] * data
    return ["<colgroup>" + "".join(cols) + "</colgroup>"]


def _thead_end(lay: TableLayout, boxes: list[Box], first: int) -> int | None:
    """Last row of a <thead> (repeated on every printed page): only for one-block tables whose
    header rows no span crosses; a table of several blocks has headers inside its body."""
    if len(lay.table.blocks) != 1:
        return None
    end = lay.header_rows[1]
    if end < first or not any(b.role == "col_header" for b in boxes):
        return None
    spans = [(b.r1, b.r2) for b in boxes] + [(p.r, p.r) for p in lay.places.values()]
    if any(r1 <= end < r2 for r1, r2 in spans):
        return None
    return end


def _span(rows: int, cols: int) -> str:
    return (f' rowspan="{rows}"' if rows > 1 else "") + (f' colspan="{cols}"' if cols > 1 else "")


def _box_html(box: Box, span: str, lay: TableLayout, header_rows: set[int]) -> str:
    text = _e(box.text)
    multi_row, multi_col = box.r2 > box.r1, box.c2 > box.c1
    if box.role == "col_header":
        scope = "colgroup" if multi_col else "col"
        return f'<th class="col-header" scope="{scope}"{span}>{text}</th>'
    if box.role == "block_header":
        return f'<th class="block-header" scope="colgroup"{span}>{text}</th>'
    if box.role == "corner":
        return f'<th class="corner"{span}>{text}</th>'
    if box.role == "row_label":
        classes = "row-label"
        if lay.table.label_columns == 1 and box.depth:  # one label column: nesting by indentation
            classes += f" indent-{min(box.depth, 3)}"
        scope = "rowgroup" if multi_row else "row"
        return f'<th class="{classes}" scope="{scope}"{span}>{text}</th>'
    if box.role == "unit" and box.r1 in header_rows:
        return f'<th class="col-header unit" scope="col"{span}>{text}</th>'
    return f'<td class="{_e(box.role)}"{span}>{text}</td>'


def _value_html(cell: Cell, span: str, values: Mapping[CellKey, int]) -> str:
    classes = ["num"]
    if cell.kind is Kind.MONEY:
        classes.append("money")
    if not cell.is_input:
        classes.append("total")
    return f'<td class="{" ".join(classes)}"{span}>{_e(show_value(cell, values))}</td>'


# ---------------------------------------------------------------------------------------------
# Markdown


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def _markdown(spec: Spec, values: Mapping[CellKey, int], title: str | None) -> str:
    out: list[str] = []
    if title:
        out += [f"# {_md(title)}", ""]
    for table in spec.tables:
        out += [f"## {_md(table.title)}", ""]
        for block in table.blocks:
            if block.header:
                out += [f"### {_md(block.header)}", ""]
            out += _md_block(table, block, values) + [""]
        for note in unit_notes(table):
            out += [_md(note), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _md_block(table: Table, block: Block, values: Mapping[CellKey, int]) -> list[str]:
    units = any(b.unit_header for b in table.blocks)
    header, align = [], []
    if table.label_columns:
        header.append(block.corner or "")
        align.append(":---")
    if units:
        header.append(block.unit_header or "单位")
        align.append(":---:")
    for col in block.columns:
        header.append("/".join(col.path))
        align.append("---:")
    lines = [_md_row(header), _md_row(align, escape=False)]
    for row in block.data_rows:
        line = []
        if table.label_columns:
            line.append(" / ".join(row.path))
        if units:
            line.append(row.unit or "")
        line += [show_value(table.cell(row.id, col.id), values) for col in block.columns]
        lines.append(_md_row(line))
    return lines


def _md_row(cells: list[str], *, escape: bool = True) -> str:
    return "| " + " | ".join(_md(c) if escape else c for c in cells) + " |"


SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}


def render_file(path: Path | str, output: Path | str, fmt: str | None = None) -> Path:
    """Read the workbook ``path`` (a return or a consolidation) and write its tables to ``output``
    as ``fmt`` (html | md; default: by the output's suffix, SUFFIX_FORMATS), titled with the
    agency and year of its cover.

    Raises ``reader.Unreadable`` naming the file when it cannot be read, ``RenderError`` for an
    unknown format, an output suffix that names no format when ``fmt`` is not given, or one
    that names the other format.
    """
    from .reader import Unreadable, read_workbook

    suffix = Path(output).suffix.lower()
    by_suffix = SUFFIX_FORMATS.get(suffix)
    if fmt is None:
        if by_suffix is None:
            raise RenderError(f"无法从输出文件名 {output} 看出要输出的格式：请以 .html 或 .md 结尾，或用 --format 指定 html 或 md")
        fmt = by_suffix
    if fmt not in FORMATS:
        raise RenderError(f"--format 只能是 {' 或 '.join(FORMATS)}")
    if by_suffix is not None and by_suffix != fmt:
        raise RenderError(f"输出文件 {output} 的扩展名是 {suffix}，与 --format {fmt} 不符，请改用一致的扩展名")
    try:
        sub = read_workbook(path)
    except Unreadable as exc:
        raise Unreadable(f"无法读取 {path}：{exc.reason}", exc.code) from None
    title = f"{sub.agency}{sub.year or ''}年政府信息公开工作年度报告" if sub.agency else None
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_tables(sub.spec, sub.values, fmt=fmt, title=title), encoding="utf-8")
    return output
