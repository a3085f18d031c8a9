"""Tests for xlsxgov.render: the statutory tables as HTML (from the layout) and as Markdown."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from seeddata import load_seed, seed_path

from xlsxgov import compute
from xlsxgov import spec as spec_mod
from xlsxgov.layout import layout
from xlsxgov.errors import RenderError
from xlsxgov.render import render_file, render_tables, show_value
from xlsxgov.template import Meta, write_workbook
from xlsxgov.values import parse_cell

XLSXGOV = str(Path(sys.executable).with_name("xlsxgov"))

OUTPUT_DIR = Path(__file__).resolve().parent / "output"
SEED_TABLES_START = "二、主动公开政府信息情况"
SEED_TABLES_END = "五、存在问题及下一步工作打算"


def norm(text: str) -> str:
    """NFKC (full-width brackets, colons, commas) without any white space: （一） == (一)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def seed_values(number: int = 0) -> tuple[spec_mod.Spec, dict]:
    """A seed's published numbers, parsed; totals recomputed as the reader does."""
    seed = load_seed(number)
    spec = spec_mod.load(seed.edition)
    inputs = {}
    for (t, r, c), raw in seed.raw.items():
        cell = spec.table(t).cell(r, c)
        if cell is not None and cell.is_input:
            inputs[(t, r, c)] = parse_cell(raw, cell.kind).value
    return spec, compute.complete(spec, inputs)


class TableCells(HTMLParser):
    """Every <table>'s rows of cells: (tag, text, rowspan, colspan, classes), in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, str, int, int, set[str]]]]] = []
        self._cell: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("th", "td"):
            self._cell = {
                "tag": tag,
                "text": [],
                "rowspan": int(a.get("rowspan") or 1),
                "colspan": int(a.get("colspan") or 1),
                "classes": set((a.get("class") or "").split()),
            }

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            c = self._cell
            self.tables[-1][-1].append((c["tag"], "".join(c["text"]), c["rowspan"], c["colspan"], c["classes"]))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"].append(data)


def parse_tables(page: str):
    parser = TableCells()
    parser.feed(page)
    parser.close()
    return parser.tables


def grid_of(rows) -> dict[tuple[int, int], tuple]:
    """The HTML table model: where each cell's top-left corner lands once spans are applied."""
    occupied: set[tuple[int, int]] = set()
    starts = {}
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while (r, c) in occupied:
                c += 1
            _, _, rowspan, colspan, _ = cell
            for dr in range(rowspan):
                for dc in range(colspan):
                    assert (r + dr, c + dc) not in occupied, f"cells overlap at {(r + dr, c + dc)}"
                    occupied.add((r + dr, c + dc))
            starts[(r, c)] = cell
            c += colspan
    return starts, occupied


# ---------------------------------------------------------------------------------------------
# Seed 000: the render shows what the agency published


def seed_rows(number: int, spec: spec_mod.Spec) -> list[list[str]]:
    """The seed's table lines between part 二 and part 五, minus the table titles, as lists of
    non-empty ``|`` tokens (empty tokens are padding for merged cells in this flattening)."""
    lines = seed_path(number).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if norm(line) == norm(SEED_TABLES_START))
    end = next(i for i, line in enumerate(lines) if norm(line) == norm(SEED_TABLES_END))
    titles = {norm(t.title) for t in spec.tables}
    rows = []
    for line in lines[start + 1 : end]:
        if norm(line) in titles:
            continue
        tokens = [norm(t) for t in line.split("|") if norm(t)]
        if tokens:
            rows.append(tokens)
    return rows


def test_seed000_render_shows_the_seeds_labels_and_numbers():
    """Seed 000 flattens each printed grid row to one ``a | b | c`` line, cells in row-major
    order with a merged cell written once, on its first row: exactly the document order of the
    rendered <tr>/<th>/<td>. So the comparison is the strongest one: row by row, token by token,
    after normalising (NFKC, no white space). Equal rows imply equal token sequences."""
    spec, values = seed_values(0)
    page = render_tables(spec, values)
    rendered = [
        [norm(text) for _, text, *_ in row if norm(text)]
        for table in parse_tables(page)
        for row in table
    ]
    expected = seed_rows(0, spec)
    assert len(rendered) == len(expected)
    for i, (got, want) in enumerate(zip(rendered, expected)):
        assert got == want, f"row {i}: rendered {got} != seed {want}"
    # The seed's non-zero numbers made it through (规范性文件 7/7/7; 行政许可 0/11/11).
    flat = [t for row in rendered for t in row]
    assert flat.count("7") == 3 and flat.count("11") == 2


# ---------------------------------------------------------------------------------------------
# Structure: the HTML grid is the layout grid


@pytest.mark.parametrize("edition", spec_mod.available_editions())
def test_html_grid_matches_layout(edition):
    spec = spec_mod.load(edition)
    inputs = {compute.key(c): 1 + i % 7 for i, c in enumerate(spec.cells()) if c.is_input}
    values = compute.complete(spec, inputs)
    page = render_tables(spec, values)
    tables = parse_tables(page)
    layouts = layout(spec)
    assert len(tables) == len(spec.tables)
    for table, rows in zip(spec.tables, tables):
        lay = layouts[table.id]
        body = [b for b in lay.boxes if b.role != "title"]
        first = min(b.r1 for b in body)
        starts, occupied = grid_of(rows)
        # Every grid position covered exactly once, every row as wide as the layout.
        assert occupied == {(r, c) for r in range(len(rows)) for c in range(lay.width)}, table.id
        assert len(rows) == lay.last_row - first + 1
        for box in body:
            tag, text, rowspan, colspan, _ = starts[(box.r1 - first, box.c1)]
            assert (text, rowspan, colspan) == (box.text, box.r2 - box.r1 + 1, box.c2 - box.c1 + 1)
            if box.role in ("corner", "col_header", "block_header", "row_label"):
                assert tag == "th"
        for place in lay.places.values():
            tag, text, rowspan, colspan, classes = starts[(place.r - first, place.c)]
            assert tag == "td" and "num" in classes
            assert (rowspan, colspan) == (1, place.c2 - place.c + 1)
            assert text == show_value(place.cell, values)
            assert ("total" in classes) == (not place.cell.is_input), (table.id, place.cell.key)


def test_html_page_basics():
    spec, values = seed_values(0)
    page = render_tables(spec, values, title="朝阳市商务局2019年政府信息公开工作年度报告")
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert "<h1>朝阳市商务局2019年政府信息公开工作年度报告</h1>" in page
    assert [m for m in re.findall(r"<h2>(.*?)</h2>", page)] == [t.title for t in spec.tables]
    assert "max-width: 100%" in page and "@media print" in page
    assert "<h1>" not in render_tables(spec, values)  # no title, no heading


def test_money_in_wanyuan_html_and_md():
    spec, values = seed_values(0)
    values = dict(values)
    values[("t2", "central_procurement", "purchase_amount")] = 5949088667  # 5949.088667万元, exact to the 分
    page = render_tables(spec, values)
    assert '<td class="num money" colspan="2">5949.088667</td>' in page
    assert "注：采购总金额的单位为万元。" in page
    md = render_tables(spec, values, fmt="md")
    assert "| 政府集中采购 | 0 | 5949.088667 |" in md


def test_text_is_escaped(tmp_path):
    source = (spec_mod.SPEC_DIR / "gov2019.yaml").read_text(encoding="utf-8")
    source = source.replace("title: 二、主动公开政府信息情况", "title: 二、<主动> & 公开")
    source = source.replace("label: 规章}", "label: 规章<b>|x}")
    path = tmp_path / "evil.yaml"
    path.write_text(source, encoding="utf-8")
    spec = spec_mod.load(str(path))
    values = compute.complete(spec, {})
    page = render_tables(spec, values, title='<script>alert("x")</script>')
    assert "<h2>二、&lt;主动&gt; &amp; 公开</h2>" in page
    assert "规章&lt;b&gt;|x" in page and "<b>" not in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(&quot;x&quot;)" in page
    md = render_tables(spec, values, fmt="md")
    assert "| 规章<b>\\|x | 0 | 0 | 0 |" in md


def test_format_follows_the_output_suffix(tmp_path):
    """``render -o x.md`` writes Markdown and ``-o x.html`` HTML without --format; a suffix that
    names no format needs --format, and one that names the other format is refused."""
    book = write_workbook(tmp_path / "单位.xlsx", spec_mod.load("gov2021"), Meta(year=2025, agency="某局"))
    md = render_file(book, tmp_path / "a.md")
    assert md.read_text(encoding="utf-8").lstrip().startswith("#") and "<table" not in md.read_text(encoding="utf-8")
    assert "<table" in render_file(book, tmp_path / "a.HTML").read_text(encoding="utf-8")
    with pytest.raises(RenderError, match="--format"):
        render_file(book, tmp_path / "a.txt")
    assert not (tmp_path / "a.txt").exists()
    assert "<table" in render_file(book, tmp_path / "b.txt", "html").read_text(encoding="utf-8")
    with pytest.raises(RenderError, match="不符"):
        render_file(book, tmp_path / "c.html", "md")
    proc = subprocess.run([XLSXGOV, "render", str(book), "-o", str(tmp_path / "d.txt")], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "--format" in proc.stderr and len(proc.stderr.strip().splitlines()) <= 3


def test_unknown_format():
    spec, values = seed_values(0)
    with pytest.raises(ValueError):
        render_tables(spec, values, fmt="pdf")


# ---------------------------------------------------------------------------------------------
# Markdown


def md_tables(md: str) -> list[list[list[str]]]:
    """Markdown tables as rows of cells (header, alignment, data rows)."""
    tables, current = [], None
    for line in md.splitlines():
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            current.append([c.strip() for c in cells])
        else:
            current = None
    return tables


@pytest.mark.parametrize("edition", ["gov2019", "gov2021"])
def test_md_table3_has_every_leaf_column_path_and_row_label(edition):
    spec = spec_mod.load(edition)
    values = compute.complete(spec, {})
    md = render_tables(spec, values, fmt="md")
    t3 = spec.table("t3")
    section = md.split(f"## {t3.title}")[1].split("\n## ")[0]
    block = t3.blocks[0]
    (header, align, *rows) = md_tables(section)[0]
    assert header[1:] == ["/".join(c.path) for c in block.columns]
    assert "申请人情况/法人或其他组织/商业企业" in header
    assert all(a.endswith(":") for a in align[1:])
    for row in block.rows:  # headings too: they appear inside their children's paths
        assert row.label in section
    assert [r[0] for r in rows] == [" / ".join(r.path) for r in block.data_rows]
    assert "三、本年度办理结果 / （三）不予公开 / 1.属于国家秘密" in [r[0] for r in rows]
    assert all(len(r) == len(header) and r[1:] == ["0"] * len(block.columns) for r in rows)


def test_md_seed000_flat_tables():
    spec, values = seed_values(0)
    md = render_tables(spec, values, fmt="md", title="朝阳市商务局2019年政府信息公开工作年度报告")
    assert md.startswith("# 朝阳市商务局2019年政府信息公开工作年度报告\n")
    for table in spec.tables:
        assert f"## {table.title}" in md
    assert "### 第二十条第（五）项" in md
    assert "| 行政许可 | 0 | 11 | 11 |" in md
    tables = md_tables(md)
    assert len(tables) == sum(len(t.blocks) for t in spec.tables)
    for rows in tables:
        assert len({len(r) for r in rows}) == 1  # every line as wide as its header
    t4 = tables[-1]
    assert t4[0][5] == "行政诉讼/未经复议直接起诉/结果维持" and t4[2] == ["0"] * 15


# ---------------------------------------------------------------------------------------------
# Headless Chromium: the page fits 1000 px without horizontal scrolling


def _chromium() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("chromium not found (CI=true: required in CI)")
    pytest.skip("chromium not found")


def _run_chromium(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1000,3000",
        *args,
    ]
    env = dict(os.environ, HOME=str(tmp_path))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def test_renders_in_chromium_without_overflow(tmp_path):
    chromium = _chromium()
    spec, values = seed_values(0)
    page = tmp_path / "render_seed000.html"
    page.write_text(render_tables(spec, values, title="朝阳市商务局2019年政府信息公开工作年度报告"), encoding="utf-8")

    png = tmp_path / "render.png"
    shot = _run_chromium(chromium, tmp_path, f"--screenshot={png}", page.as_uri())
    assert png.exists() and png.stat().st_size > 0, shot.stderr[-2000:]
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1000, 3000)
    print(png)
    OUTPUT_DIR.mkdir(exist_ok=True)
    shutil.copyfile(png, OUTPUT_DIR / "render_seed000.png")
    print(OUTPUT_DIR / "render_seed000.png")

    dom = _run_chromium(chromium, tmp_path, "--dump-dom", page.as_uri() + "#measure")
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stderr[-2000:]
    scroll = re.search(r'data-scroll-width="(\d+)"', body.group(0))
    client = re.search(r'data-client-width="(\d+)"', body.group(0))
    assert scroll and client, f"measure script did not run: {body.group(0)}"
    scroll_width, client_width = int(scroll.group(1)), int(client.group(1))
    assert client_width > 900  # the 1000 px window, minus a scroll bar at most
    assert scroll_width <= client_width, f"horizontal overflow: {scroll_width} > {client_width}"
