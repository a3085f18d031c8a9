"""Read each document format into the token stream of ``document.py``.

- ``.txt``: ``document.text_tokens`` (encodings UTF-8, GB18030).
- ``.html`` ``.htm``: lxml; a table row by row, a merged cell once at its top-left position
  (``rowspan``/``colspan`` only move the positions reported); a nested table is read in place of
  the cell holding it. Encoding: BOM, else UTF-8 if valid, else the page's ``charset``, else GB18030.
- ``.mht`` ``.mhtml``: the first ``text/html`` part of the MIME archive, then as HTML.
- ``.docx``: python-docx's XML: paragraphs and tables in body order; ``gridSpan`` and
  ``vMerge`` as spans (a ``vMerge="continue"`` cell is the lower part of a merged cell: skipped);
  nested tables in place of their cell; a table split over pages is two tables, read in turn.
- ``.pdf``: pdfplumber: tables from ruling lines (``find_tables``), other text as lines of
  words; a page's tables and lines in top-to-bottom order; a table continued on the next page is
  read in turn. A page whose table has no ruling lines is read as lines of words, cut into cells
  at wide gaps.
- ``.doc`` ``.wps`` ``.rtf`` ``.odt``: converted to .docx by LibreOffice (``office.convert``).

The format is decided by the content (``sniff``) where it shows one (PDF, Word, a zip of
another kind, a compound file, RTF, MHT, HTML); plain text is text whatever its extension.
"""

from __future__ import annotations

import email
import re
import tempfile
import zlib
from email import policy
from pathlib import Path

from .document import Token, text_tokens

TEXT_SUFFIXES = (".txt",)
HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
MHT_SUFFIXES = (".mht", ".mhtml")
DOCX_SUFFIXES = (".docx",)
PDF_SUFFIXES = (".pdf",)
OFFICE_SUFFIXES = (".doc", ".wps", ".rtf", ".odt", ".wpt", ".dot")
SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + MHT_SUFFIXES + DOCX_SUFFIXES + PDF_SUFFIXES + OFFICE_SUFFIXES


class FormatError(Exception):
    """A document that cannot be opened; str() is the Chinese reason (without the file name)."""


class IsWorkbook(FormatError):
    """The content is a spreadsheet (.xlsx/.xls/.ods/.et, whatever the file's name): read it as one."""


def tokens_of(path: Path) -> list[Token]:
    """The token stream of the document at ``path``; raises FormatError with a Chinese reason.

    The format is the one the content shows (``sniff``: a .docx renamed .pdf is read as Word, a
    PDF renamed .txt as PDF), else the one the extension names, as ``validate`` does for
    workbooks (``filecheck``)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError("文件不存在") from None
    except IsADirectoryError:
        raise FormatError("是文件夹，不是报告文件") from None
    except PermissionError:
        raise FormatError("没有读取这个文件的权限") from None
    except OSError:
        raise FormatError("无法读取文件（磁盘或网络错误）") from None
    if not data.strip():
        raise FormatError("文件是空的")
    kind = sniff(data, path.name)
    if kind is None:  # text: a web page or MHT by its name, else plain text whatever the name says
        suffix = path.suffix.lower()
        kind = "mht" if suffix in MHT_SUFFIXES else "html" if suffix in HTML_SUFFIXES else "text"
    if kind == "text":
        return text_tokens(_decode(data))
    if kind == "html":
        return html_tokens(data)
    if kind == "mht":
        return html_tokens(_mht_html(data))
    if kind == "docx":
        return docx_tokens(path)
    if kind == "pdf":
        return pdf_tokens(data)
    return _via_office(path)


_WORKBOOK = "这是 Excel/WPS 工作簿，不是年度报告文档；工作簿请用 xlsxgov validate 校验"
_WORKBOOK_KINDS = frozenset({"xlsx", "xlsm", "xls", "ods", "xlsb", "xml2003"})
# How each kind of content is read ("office": converted by LibreOffice; None: plain text, the
# extension then decides between text, HTML and MHT). "ole" is a compound file that is neither
# a workbook nor a presentation: WPS writes its documents so.
_READ_AS: dict[str, str | None] = {
    "pdf": "pdf", "docx": "docx", "odt": "office", "doc": "office", "rtf": "office", "ole": "office",
    "mht": "mht", "html": "html", "csv": None, "text": None, "xml": None,
}
_REFUSED = {
    "encrypted": "文件已加密（设置了打开密码），无法读取；请去掉密码后重新提供",
    "zip_bomb": "文件内部结构异常（疑似“压缩炸弹”），已拒绝读取",
    "xml_bomb": "文件内部 XML 含有 DTD/实体声明（疑似“XML 炸弹”），已拒绝读取",
    "lock_file": "这是 Word/WPS 打开文件时生成的临时锁定文件，不是报告；请读取同目录下的原文件",
}


def sniff(data: bytes, name: str = "") -> str | None:
    """How to read ``data`` (the content of the file called ``name``), as its content shows:
    ``pdf`` ``docx`` ``office`` (a Word 97–2003 / WPS / ODF text / RTF document, through
    LibreOffice) ``mht`` ``html``; None for plain text (the extension then decides). What the
    content is comes from ``filecheck.check_bytes`` (``FileVerdict.kind``), the screen every
    workbook passes, so that a document gets the same zip-bomb and XML-entity checks. Raises
    FormatError for content that is no report document (an image, another archive;
    ``IsWorkbook`` for a spreadsheet), a damaged or refused file (``name`` words that message)."""
    from ..filecheck import check_bytes

    verdict = check_bytes(data, name or "report")
    suffix = Path(name).suffix.lower()
    if verdict.code == "truncated":
        what = "Word 文档" if suffix in DOCX_SUFFIXES else "文档" if suffix in OFFICE_SUFFIXES else "文件"
        raise FormatError(f"{what}已损坏（{'压缩包' if verdict.kind == 'zip' else '文件'}不完整），无法打开")
    if verdict.kind in _WORKBOOK_KINDS:
        raise IsWorkbook(_WORKBOOK)
    if verdict.kind in _READ_AS:
        return _READ_AS[verdict.kind]
    if verdict.code in _REFUSED:
        raise FormatError(_REFUSED[verdict.code])
    if verdict.kind == "image":
        raise FormatError("这是图片文件，读不出表格；请提供 Word、网页或带文字的 PDF")
    if verdict.kind in ("zip", "rar", "7z", "gz"):
        raise FormatError("这是压缩文件，不是 Word 文档；请解压后读取其中的报告")
    raise FormatError("不是年度报告文档（无法识别的文件格式）")


# ---------------------------------------------------------------------------------------------
# Text and encodings


def _decode(data: bytes, declared: str | None = None) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    enc = (declared or "").lower()
    if enc in ("gb2312", "gbk", "gb18030", "x-gbk", "") or enc.startswith("gb"):
        enc = "gb18030"  # a superset of GB2312 and GBK
    try:
        return data.decode(enc, errors="replace")
    except LookupError:
        return data.decode("gb18030", errors="replace")


_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)


# ---------------------------------------------------------------------------------------------
# HTML

_BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "section", "article", "header", "footer", "blockquote", "pre", "title", "dt", "dd", "center", "ul", "ol", "form", "body", "tr"}
_SKIP = {"script", "style", "noscript", "head", "template"}


def html_tokens(data: bytes | str) -> list[Token]:
    import lxml.html

    if isinstance(data, bytes):
        m = _CHARSET.search(data[:4096])
        text = _decode(data, m.group(1).decode("ascii") if m else None)
    else:
        text = data
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)
    try:
        root = lxml.html.document_fromstring(text)
    except Exception:  # lxml raises ParserError / ValueError on junk
        raise FormatError("网页无法解析，文件可能已损坏") from None
    out: list[Token] = []
    counter = [0]
    buf: list[str] = []

    def flush() -> None:
        s = "".join(buf).strip()
        buf.clear()
        if s:
            out.append(Token(s, "正文", ""))

    def walk(el) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag in _SKIP or not tag:
            if el.tail:
                buf.append(el.tail)
            return
        if tag == "table":
            flush()
            table(el)
        elif tag == "br":
            flush()
        else:
            block = tag in _BLOCK
            if block:
                flush()
            if el.text:
                buf.append(el.text)
            for ch in el:
                walk(ch)
            if block:
                flush()
        if el.tail:
            buf.append(el.tail)

    def table(el) -> None:
        counter[0] += 1
        name = f"表格{counter[0]}"
        taken: set[tuple[int, int]] = set()
        rows = [tr for tr in el.iter("tr") if _owner(tr) is el]
        for r, tr in enumerate(rows):
            c = 0
            for td in tr:
                if not isinstance(td.tag, str) or td.tag.lower() not in ("td", "th"):
                    continue
                while (r, c) in taken:
                    c += 1
                rs, cs = _span(td.get("rowspan")), _span(td.get("colspan"))
                for dr in range(rs):
                    for dc in range(cs):
                        taken.add((r + dr, c + dc))
                if any(True for _ in td.iter("table")):
                    # A layout cell holding tables (pages built inside a table): read it as a page.
                    flush()
                    if td.text:
                        buf.append(td.text)
                    for ch in td:
                        walk(ch)
                    flush()
                else:
                    out.append(Token(_cell_text(td), name, f"第{r + 1}行第{c + 1}列", True))
                c += cs

    walk(root)
    flush()
    return out


def _owner(el):
    p = el.getparent()
    while p is not None and p.tag != "table":
        p = p.getparent()
    return p


def _span(v) -> int:
    try:
        return max(1, min(int(str(v).strip()), 1000))
    except (TypeError, ValueError):
        return 1


def _cell_text(td) -> str:
    return "".join(td.itertext()).replace("\u00a0", " ").strip()


def _mht_html(data: bytes) -> bytes | str:
    msg = email.message_from_bytes(data, policy=policy.default)
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset()
            return _decode(payload, charset) if charset else payload
    if b"<table" in data.lower() or b"<html" in data.lower():
        return data
    raise FormatError("MHT 文件中没有网页内容")


# ---------------------------------------------------------------------------------------------
# DOCX


def docx_tokens(path: Path) -> list[Token]:
    import docx
    from docx.oxml.ns import qn

    try:
        document = docx.Document(str(path))
    except Exception:  # python-docx raises PackageNotFoundError, KeyError, BadZipFile …
        raise FormatError("Word 文档已损坏，无法打开") from None
    out: list[Token] = []
    counter = [0]
    W_P, W_TBL, W_TR, W_TC, W_T = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc"), qn("w:t")

    def para_text(p) -> str:
        return "".join(t.text or "" for t in p.iter(W_T))

    def cell_text(tc) -> str:
        parts = []
        for ch in tc:
            if ch.tag == W_P:
                parts.append(para_text(ch))
        return "".join(parts).replace("\u00a0", " ").strip()

    def table(tbl) -> None:
        counter[0] += 1
        name = f"表格{counter[0]}"
        for r, tr in enumerate(x for x in tbl if x.tag == W_TR):
            c = 0
            for tc in (x for x in tr.iter(W_TC) if _parent_tr(x, W_TR) is tr):
                # CT_Tc's own properties give w:gridSpan/@val (default 1) and w:vMerge/@val; the
                # tcPr children are elements (truth-testing one is lxml's FutureWarning).
                span, vmerge = tc.grid_span, tc.vMerge
                nested = [x for x in tc if x.tag == W_TBL]
                if vmerge == "continue":
                    pass
                elif nested:  # a layout cell holding tables: read it as a document body
                    body(tc)
                else:
                    out.append(Token(cell_text(tc), name, f"第{r + 1}行第{c + 1}列", True))
                c += span

    def body(el) -> None:
        for ch in el:
            if ch.tag == W_P:
                s = para_text(ch).strip()
                if s:
                    out.append(Token(s, "正文", ""))
            elif ch.tag == W_TBL:
                table(ch)
            elif len(ch):  # content controls and other wrappers
                body(ch)

    body(document.element.body)
    return out


def _parent_tr(tc, w_tr):
    p = tc.getparent()
    while p is not None and p.tag != w_tr:
        p = p.getparent()
    return p


# ---------------------------------------------------------------------------------------------
# PDF


# What one compressed stream of a PDF may inflate to, and all of them together: pdfminer
# inflates a stream whole, unbounded, and keeps it. A report's page is text and ruling lines
# (the published reports inflate to under 2 MB in all); a scanned page's bitmap is under 30 MB.
PDF_STREAM_MAX = 128 * 2**20
PDF_INFLATED_MAX = 1024 * 2**20
_PDF_STREAM = re.compile(rb"stream\r?\n")


def _pdf_bomb(data: bytes) -> str | None:
    """Why the PDF's zlib streams are a "PDF bomb" (1 MB of file, gigabytes in pdfminer's memory),
    None when they are not. Each stream is inflated in bounded steps and let go; what is not
    zlib data (JPEG images, other filters, false matches) is skipped."""
    total = 0
    for m in _PDF_STREAM.finditer(data):
        end = data.find(b"endstream", m.end())
        chunk: bytes | memoryview = memoryview(data)[m.end():end if end >= 0 else len(data)]
        d = zlib.decompressobj()
        size = 0
        try:
            while chunk and not d.eof:
                size += len(d.decompress(chunk, 16 * 2**20))
                if size > PDF_STREAM_MAX:
                    return f"其中一段压缩数据解压后超过 {PDF_STREAM_MAX // 2**20} MB"
                if total + size > PDF_INFLATED_MAX:
                    return f"压缩数据解压后共超过 {PDF_INFLATED_MAX // 2**20} MB"
                chunk = d.unconsumed_tail
        except zlib.error:
            continue
        total += size
    return None


def pdf_tokens(data: bytes) -> list[Token]:
    """The token stream of a PDF's content ``data`` (the file as ``tokens_of`` read it once)."""
    import io

    import pdfplumber

    bomb = _pdf_bomb(data)
    if bomb:
        raise FormatError(f"PDF 文件{bomb}（疑似“压缩炸弹”），已拒绝读取")
    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception:  # pdfminer raises PDFSyntaxError, PSEOF, …
        raise FormatError("PDF 文件已损坏或已加密，无法打开") from None
    out: list[Token] = []
    chars = 0
    with pdf:
        for pno, page in enumerate(pdf.pages, 1):
            sheet = f"第{pno}页"
            chars += len(page.chars)
            tables = page.find_tables()
            items: list[tuple[float, int, list[Token]]] = []
            boxes = [t.bbox for t in tables]
            for n, t in enumerate(tables):
                toks = []
                texts = t.extract()
                for r, row in enumerate(t.rows):
                    for c, cell in enumerate(row.cells):
                        if cell is None:
                            continue
                        text = texts[r][c] if r < len(texts) and c < len(texts[r]) else None
                        if text is None:
                            continue
                        x0, top = cell[0], cell[1]
                        toks.append(Token(" ".join(text.split("\n")).strip() if _wrapped_number(text) else text.replace("\n", "").strip(), sheet, f"x={x0:.0f},y={top:.0f}", True))
                items.append((t.bbox[1], n, toks))

            def outside(obj) -> bool:
                cx, cy = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
                return not any(b[0] - 1 <= cx <= b[2] + 1 and b[1] - 1 <= cy <= b[3] + 1 for b in boxes)  # noqa: B023 - called at once, in this iteration

            rest = page.filter(outside) if boxes else page
            for top, line in _lines(rest.extract_words(keep_blank_chars=False, use_text_flow=False, x_tolerance=1.5)):
                items.append((top, -1, [Token(text, sheet, f"x={x0:.0f},y={top:.0f}") for x0, text in line]))
            items.sort(key=lambda x: (x[0], x[1]))
            for _, _, toks in items:
                out.extend(toks)
    if chars == 0:
        raise FormatError("PDF 没有文字层（可能是扫描件），无法读取表格；请提供 Word、网页或带文字的 PDF")
    return out


def _wrapped_number(text: str) -> bool:
    return bool(re.fullmatch(r"[\d\s.,\-]+", text or ""))


def _lines(words: list[dict]) -> list[tuple[float, list[tuple[float, str]]]]:
    """Words grouped into lines (by their top) and cut into cells at gaps wider than two
    characters: a table without ruling lines still yields one token per cell."""
    lines: list[tuple[float, list[dict]]] = []
    for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1][0] - w["top"]) <= 2.5:
            lines[-1][1].append(w)
        else:
            lines.append((w["top"], [w]))
    out = []
    for top, ws in lines:
        ws.sort(key=lambda w: w["x0"])
        cells: list[tuple[float, str]] = []
        prev = None
        for w in ws:
            size = (w["bottom"] - w["top"]) or 10
            if prev is not None and w["x0"] - prev["x1"] <= 2 * size:
                x0, text = cells[-1]
                sep = " " if w["x0"] - prev["x1"] > size * 0.5 and (text[-1:].isdigit() and w["text"][:1].isdigit()) else ""
                cells[-1] = (x0, text + sep + w["text"])
            else:
                cells.append((w["x0"], w["text"]))
            prev = w
        out.append((top, cells))
    return out


# ---------------------------------------------------------------------------------------------
# Through LibreOffice


def _via_office(path: Path) -> list[Token]:
    from .. import office

    if office.soffice_path() is None:
        raise FormatError(f"读取 {path.suffix} 文件需要 LibreOffice，但本机未安装（soffice 不在 PATH 中）；请安装 LibreOffice，或将文件另存为 .docx 后再读取")
    with tempfile.TemporaryDirectory(prefix="xlsxgov-extract-") as tmp:
        try:
            out = office.convert(path, "docx", Path(tmp), timeout=120)
        except office.OfficeError as exc:
            raise FormatError(f"LibreOffice 无法转换此文件（{str(exc).splitlines()[0][:150]}）") from None
        return docx_tokens(out)
