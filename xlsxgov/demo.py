"""The demo: a whole collection round on synthetic agencies, in a fresh folder.

Roster → one personalised template per agency → replies filled in as agencies do (a few with
real-looking mistakes, one saved as .xls by LibreOffice when it is installed) → validation with
feedback workbooks → the regional consolidated workbook → the tables as a web page.
"""

from __future__ import annotations

import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from . import spec as spec_mod
from .campaign.roster import Agency, uscc_check_char
from .compute import key
from .layout import layout
from .template import Meta, write_template

DEPARTMENTS = [
    "发展和改革局", "教育局", "科学技术局", "工业和信息化局", "公安局", "民政局", "司法局", "财政局",
    "人力资源和社会保障局", "自然资源局", "生态环境局", "住房和城乡建设局", "交通运输局", "水利局",
    "农业农村局", "商务局", "文化和旅游局", "卫生健康委员会", "退役军人事务局", "应急管理局",
    "审计局", "市场监督管理局", "统计局", "医疗保障局", "信访局", "林业局", "城市管理局", "体育局",
    "国有资产监督管理委员会", "行政审批局", "数据局", "粮食和物资储备局", "人民防空办公室", "档案局",
    "地方金融管理局", "气象局", "税务局", "消防救援大队", "供销合作社", "公共资源交易中心",
    "政务服务中心", "城关街道办事处", "东城街道办事处", "西城街道办事处", "南湖镇人民政府",
    "北山镇人民政府", "青石镇人民政府", "白沙乡人民政府", "红旗乡人民政府", "新港镇人民政府",
]


@dataclass
class DemoResult:
    directory: Path
    roster: Path
    templates: list[Path]
    replies: list[Path]
    reports: list
    consolidated: Path | None
    html: Path | None


def synthetic_roster(region: str, n: int, rng: random.Random) -> list[Agency]:
    agencies = []
    for i, dept in enumerate(DEPARTMENTS[:n]):
        body = f"11{rng.randint(100000, 999999)}{rng.randint(10**8, 10**9 - 1)}"[:17]
        body = body[:8] + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        code = body + uscc_check_char(body)
        agencies.append(Agency(f"{region}{dept}", code, region, f"联系人{i + 1}", f"agency{i + 1:02d}@example.gov.cn"))
    return agencies


def _file_stem(agency: Agency) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", f"{agency.code}_{agency.name}")


def fill_reply(template: Path, out: Path, spec, rng: random.Random, mistake: str | None) -> None:
    """Type values into a template as an agency would (openpyxl edits the cells it was given)."""
    wb = openpyxl.load_workbook(template)
    lay = layout(spec)
    values = {}
    for cell in spec.cells():
        if cell.is_input:
            values[key(cell)] = rng.choice([0, 0, 0, 1, 2, 3, 5, 8, 12])
    t3 = spec.table("t3")
    for col in t3.blocks[0].columns:
        if col.total is not None:
            continue
        rows = [r for r in t3.blocks[0].data_rows if r.total is None and r.id not in ("new", "carried_in", "carried_over")]
        results = sum(values[("t3", r.id, col.id)] for r in rows)
        carried_in = values[("t3", "carried_in", col.id)]
        values[("t3", "carried_over", col.id)] = rng.randint(0, 3)
        values[("t3", "new", col.id)] = max(0, results + values[("t3", "carried_over", col.id)] - carried_in)
        if values[("t3", "new", col.id)] + carried_in != results + values[("t3", "carried_over", col.id)]:
            values[("t3", "carried_in", col.id)] = results + values[("t3", "carried_over", col.id)]
    for cell in spec.cells():
        if cell.is_input:
            p = lay[cell.table.id].place(cell)
            wb[cell.table.sheet].cell(p.r + 1, p.c + 1).value = values[key(cell)]
    if mistake == "balance":
        p = lay["t3"].place(t3.cell("new", "natural"))
        wb[t3.sheet].cell(p.r + 1, p.c + 1).value = values[("t3", "new", "natural")] + 2
    elif mistake == "typed":
        # Same numbers, typed the way people type them: full-width digits with a unit, padding.
        fullwidth = str.maketrans("0123456789", "０１２３４５６７８９")
        p = lay["t3"].place(t3.cell("disclosed", "business"))
        wb[t3.sheet].cell(p.r + 1, p.c + 1).value = f"{values[('t3', 'disclosed', 'business')]}件".translate(fullwidth)
        p = lay["t3"].place(t3.cell("carried_over", "legal"))
        wb[t3.sheet].cell(p.r + 1, p.c + 1).value = f" {values[('t3', 'carried_over', 'legal')]} "
    elif mistake == "text":
        p = lay["t3"].place(t3.cell("partial", "natural"))
        wb[t3.sheet].cell(p.r + 1, p.c + 1).value = "见附件"
    cover = wb["封面"]
    cover["B7"] = "张三"
    cover["B8"] = "0000-12345678"
    wb.save(out)


def run_demo(directory: Path, *, n: int = 50, region: str = "示例县", year: int = 2025, seed: int = 2025) -> DemoResult:
    from .consolidate import consolidate_files
    from .feedback import feedback_path, write_feedback
    from .render import render_tables
    from .reader import read_workbook
    from .validate import validate_paths

    rng = random.Random(seed)
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    for sub in ("templates", "replies", "feedback", "output"):
        (directory / sub).mkdir(parents=True)
    spec = spec_mod.load(spec_mod.DEFAULT_EDITION)
    agencies = synthetic_roster(region, n, rng)
    roster = directory / "roster.csv"
    roster.write_text(
        "单位名称,统一社会信用代码,上级/地区,联系人,电子邮箱\n"
        + "".join(f"{a.name},{a.code},{a.region},{a.contact},{a.email}\n" for a in agencies),
        encoding="utf-8-sig",
    )
    templates = []
    for a in agencies:
        path = directory / "templates" / f"{_file_stem(a)}_{year}年政府信息公开年报统计表.xlsx"
        write_template(path, spec, Meta(year=year, agency=a.name, code=a.code, region=region))
        templates.append(path)
    # Replies: most agencies answer, a few with mistakes; three never reply.
    mistakes = {3: "balance", 7: "typed", 11: "text", 19: "balance"}
    replies = []
    for i, (a, template) in enumerate(zip(agencies, templates)):
        if i in (5, 23, 41):
            continue
        out = directory / "replies" / f"{_file_stem(a)}_已填.xlsx"
        fill_reply(template, out, spec, rng, mistakes.get(i))
        replies.append(out)
    replies.append(_as_xls(replies.pop(1), directory / "replies"))
    reports = validate_paths(replies)
    for rep in reports:
        if rep.submission and rep.status == "invalid":
            write_feedback(rep.submission, rep.findings, feedback_path(directory / "feedback", rep.submission))
    consolidated = directory / "output" / f"{region}{year}年政府信息公开工作年度报告汇总表.xlsx"
    consolidate_files(replies, consolidated, region=region, year=year, expected=[(a.name, a.code) for a in agencies])
    html = directory / "output" / f"{region}{year}年汇总表.html"
    total = read_workbook(consolidated)
    html.write_text(render_tables(total.spec, total.values, title=f"{region}{year}年政府信息公开工作年度报告（汇总）"), encoding="utf-8")
    return DemoResult(directory, roster, templates, replies, reports, consolidated, html)


def _as_xls(path: Path, outdir: Path) -> Path:
    """One agency saves as .xls, as some still do; needs LibreOffice, else the .xlsx stays."""
    from .office import OfficeError, convert, soffice_path

    if soffice_path() is None:
        return path
    try:
        xls = convert(path, "xls", outdir)
    except OfficeError:
        return path
    path.unlink()
    return xls
