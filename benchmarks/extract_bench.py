"""Reports per second read by ``xlsxgov.extract`` for each format, against the time the
underlying tool alone takes to open the same files (measured in the same run):

- .txt: the eight published reports of ../shared; baseline: reading and splitting the lines;
- .html: those reports' tables written as pages (render.py); baseline: lxml parsing the page;
- .docx / .pdf: LibreOffice's conversions of those pages; baselines: python-docx opening the
  document, pdfplumber opening the PDF and extracting every page's text, and LibreOffice itself
  converting the .docx to text (what reading a .doc/.wps/.rtf/.odt costs on top).

Usage: python benchmarks/extract_bench.py [ROUNDS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docx  # noqa: E402
import lxml.html  # noqa: E402
import pdfplumber  # noqa: E402

from tests.extractdata import NAMES_AND_PATHS, base_values, expected, report_html  # noqa: E402
from xlsxgov import office  # noqa: E402
from xlsxgov.extract import extract_report  # noqa: E402


def rate(paths, fn, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for p in paths:
            fn(p)
    return rounds * len(paths) / (time.perf_counter() - started)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        texts = [p for _, p in NAMES_AND_PATHS]
        pages = []
        for name, _ in NAMES_AND_PATHS:
            exp = expected(name)
            p = tmp / f"{name}.html"
            p.write_text(report_html(exp["edition"], base_values(exp["edition"], exp["cells"]), agency="某某局", year=exp["year"]), encoding="utf-8")
            pages.append(p)
        rows = [
            ("txt", texts, lambda p: p.read_text(encoding="utf-8").splitlines(), "read + split lines"),
            ("html", pages, lambda p: lxml.html.document_fromstring(p.read_bytes()), "lxml parse"),
        ]
        if office.soffice_path():
            docxs = office.convert_many(pages, "docx", tmp / "docx", infilter="HTML (StarWriter)")
            pdfs = office.convert_many(pages, "pdf", tmp / "pdf", infilter="HTML (StarWriter)", filter="pdf:writer_pdf_Export")

            def plumb(p):
                with pdfplumber.open(str(p)) as pdf:
                    for page in pdf.pages:
                        page.extract_text()

            rows.append(("docx", docxs, lambda p: docx.Document(str(p)), "python-docx open"))
            rows.append(("pdf", pdfs, plumb, "pdfplumber open + text"))
            started = time.perf_counter()
            office.convert_many(docxs, "odt", tmp / "odt")
            lo_rate = len(docxs) / (time.perf_counter() - started)
        else:
            lo_rate = None
            print("LibreOffice missing: .docx and .pdf skipped")
        print(f"{'format':6} {'extract/s':>10} {'baseline/s':>11} {'ratio':>7}  baseline")
        for fmt, paths, baseline, what in rows:
            ours = rate(paths, extract_report, rounds)
            base = rate(paths, baseline, rounds)
            print(f"{fmt:6} {ours:10.1f} {base:11.1f} {base / ours:6.1f}×  {what}")
        if lo_rate is not None:
            print(f"LibreOffice converting one .docx (what .doc/.wps/.rtf/.odt add): {lo_rate:.1f} files/s")


if __name__ == "__main__":
    main()
