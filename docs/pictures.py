"""Regenerate the printed pictures of the generated workbooks (docs/print/*.png, shown in README.md).

Runs the demo in a temporary folder (the same library calls as the ``campaign`` commands), then
opens four of its workbooks in LibreOffice with default settings (as a clerk opens them: no
recalculation), prints them to PDF and renders chosen pages as PNG:

- the template an agency receives (cover with its 填报说明, 表三, 校验);
- a feedback workbook (问题清单, 表三 with the marked cells);
- the status workbook 报送进度.xlsx;
- the consolidated workbook (表三, the first page of 明细, 未报送).

Pages are found by the sheet name every footer prints. Usage::

    .venv/bin/python docs/pictures.py [output folder, default docs/print]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import openpyxl

from xlsxgov import office
from xlsxgov.campaign.stamp import template_name
from xlsxgov.demo import run_demo

T3 = "三、收到和处理政府信息公开申请情况"
# picture name -> (workbook, sheet, which page of that sheet)
PICTURES = {
    "template-cover": ("template", "封面", 0),
    "template-t3": ("template", T3, 0),
    "template-checks": ("template", "校验", 0),
    "feedback-issues": ("feedback", "问题清单", 0),
    "feedback-t3": ("feedback", T3, 0),
    "status": ("status", "报送进度", 0),
    "consolidated-t3": ("consolidated", T3, 0),
    "consolidated-detail": ("consolidated", "明细", 2),
    "consolidated-missing": ("consolidated", "未报送", 0),
}


def demo_workbooks(directory: Path) -> dict[str, Path]:
    """The four kinds of generated workbook, taken from a demo run in ``directory``."""
    result = run_demo(directory / "demo", n=20)
    campaign = directory / "demo" / "campaign"
    first = result.agencies[0]
    feedback = sorted((campaign / "feedback").glob("*.xlsx"))
    return {
        "template": campaign / "outbox" / template_name(first, 2025),
        "feedback": feedback[0],
        "status": result.status_xlsx,
        "consolidated": result.consolidated,
    }


def printed(workbooks: dict[str, Path], outdir: Path) -> dict[str, tuple[Path, dict[str, list[int]]]]:
    """Each workbook printed to PDF by LibreOffice, with the pages of each of its sheets."""
    staged = []
    for name, path in workbooks.items():
        copy = outdir / f"{name}{path.suffix}"
        shutil.copyfile(path, copy)
        staged.append(copy)
    pdfs = office.convert_many(staged, "pdf", outdir, recalc=False)
    out = {}
    for (name, path), pdf in zip(workbooks.items(), pdfs):
        wb = openpyxl.load_workbook(path, read_only=True)
        sheets = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
        wb.close()
        out[name] = (pdf, office.pdf_sheet_pages(pdf, sheets))
    return out


def main(argv: list[str]) -> int:
    dest = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent / "print"
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pdfs = printed(demo_workbooks(tmp), tmp)
        for picture, (workbook, sheet, index) in PICTURES.items():
            pdf, pages = pdfs[workbook]
            page = pages[sheet][min(index, len(pages[sheet]) - 1)]
            (png,) = office.pdf_to_png_page(pdf, page, tmp / picture, dpi=60)
            shutil.copyfile(png, dest / f"{picture}.png")
            print(f"{dest / picture}.png  ← {workbook} / {sheet} / 第 {page} 页")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
