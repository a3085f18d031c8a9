"""Rebuild the example files of ``examples/`` (run from the repository: ``python examples/build.py``).

Writes the roster 名册.xlsx, the three replies in 回复/ (filled in the template a campaign issues to
each agency: one valid, one whose 表三 does not balance, one typed the messy way that still reads
correctly), then runs the walkthrough's commands (README.md in this folder, the lines starting with
``xlsxgov`` in its ```bash blocks) in a scratch folder and keeps the consolidated workbook they make
as 汇总结果.xlsx.  tests/test_examples.py runs the same commands and compares.
"""

from __future__ import annotations

import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openpyxl

from xlsxgov import spec as spec_mod
from xlsxgov.campaign.roster import Agency, uscc_check_char
from xlsxgov.demo import fill_reply, reply_values, write_roster_xlsx
from xlsxgov.layout import layout
from xlsxgov.template import Meta, write_template

HERE = Path(__file__).resolve().parent
YEAR = 2025
REGION = "示例县"
RESULT = "汇总结果.xlsx"


def _agency(name: str, body: str, contact: str, email: str) -> Agency:
    return Agency(f"{REGION}{name}", body + uscc_check_char(body), REGION, contact, email)


AGENCIES = [
    _agency("教育局", "11350127MB0100010", "林芳", "jyj@example.gov.cn"),
    _agency("公安局", "11350127MB0100029", "陈磊", "gaj@example.gov.cn"),
    _agency("民政局", "11350127MB0100037", "黄静", "mzj@example.gov.cn"),
    _agency("城关镇人民政府", "11350127MB0100045", "吴涛", "cgz@example.gov.cn"),
]
# (agency index, file name, what the agency did); 民政局 (index 2) never answers.
REPLIES = [
    (0, "示例县教育局2025年统计表.xlsx", None),
    (1, "公安局政务公开年报表（2025）.xlsx", "balance"),
    (3, "城关镇2025年度报表.xlsx", "messy"),
]


def commands(readme: Path) -> list[tuple[list[str], int]]:
    """The walkthrough's commands with the exit code each should end with: lines starting with
    ``xlsxgov`` inside ```bash blocks; a comment ``# 退出码 N`` gives the code (default 0)."""
    text = readme.read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command, _, comment = line.partition("  #")
            if command.strip().startswith("xlsxgov "):
                code = re.search(r"退出码 (\d+)", comment)
                out.append((shlex.split(command), int(code.group(1)) if code else 0))
    return out


def run_walkthrough(folder: Path, *, exe: str) -> list[tuple[int, subprocess.CompletedProcess]]:
    """Run every walkthrough command in ``folder`` (a copy of examples/), in order: (expected exit
    code, what happened)."""
    return [
        (expected, subprocess.run([exe, *argv[1:]], cwd=folder, capture_output=True, text=True, timeout=600))
        for argv, expected in commands(folder / "README.md")
    ]


def _messy(path: Path, spec) -> None:
    """Retype some cells the way people do: full-width digits with a unit, 元 in a 万元 cell, 无."""
    wb = openpyxl.load_workbook(path)
    lay = layout(spec)

    def cell(table: str, row: str, col: str):
        c = spec.table(table).cell(row, col)
        p = lay[table].place(c)
        return wb[c.table.sheet].cell(p.r + 1, p.c + 1)

    disclosed = cell("t3", "disclosed", "natural")
    disclosed.value = f"{disclosed.value}件".translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    cell("t2", "admin_fees", "fees").value = "0元"
    # reply_values leaves these at 0: typed as 无 and with spaces, both still read as 0.
    cell("t4", "cases", "after_upheld").value = "无"
    cell("t4", "cases", "after_corrected").value = " 0 "
    wb.save(path)


def build() -> None:
    spec = spec_mod.load(spec_mod.DEFAULT_EDITION)
    write_roster_xlsx(HERE / "名册.xlsx", AGENCIES)
    replies = HERE / "回复"
    shutil.rmtree(replies, ignore_errors=True)
    replies.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        for i, name, mistake in REPLIES:
            a = AGENCIES[i]
            template = write_template(Path(tmp) / f"{i}.xlsx", spec, Meta(year=YEAR, agency=a.name, code=a.code, region=a.region))
            values = reply_values(spec, random.Random(YEAR * 100 + i))
            out = fill_reply(template, replies / name, spec, values, "balance" if mistake == "balance" else None, a)
            if mistake == "messy":
                _messy(out, spec)
        scratch = Path(tmp) / "examples"
        shutil.copytree(HERE, scratch, ignore=shutil.ignore_patterns("__pycache__", RESULT))
        exe = str(Path(sys.executable).with_name("xlsxgov"))
        for expected, r in run_walkthrough(scratch, exe=exe):
            print(" ".join(r.args[1:]), "→", r.returncode, "" if r.returncode == expected else f"(expected {expected})\n{r.stderr}")
        shutil.copy2(scratch / "我的汇总.xlsx", HERE / RESULT)


if __name__ == "__main__":
    build()
