"""The demo: a whole collection campaign on synthetic agencies, in a fresh folder, through the same
library calls as ``xlsxgov campaign …`` and ``xlsxgov consolidate``.

1. a roster workbook (名册.xlsx: 单位名称, 统一社会信用代码 with valid GB 32100 check characters,
   上级/地区, 联系人, 电子邮箱) → ``init_campaign``;
2. ``issue_templates``: one personalised template and one .eml per agency in outbox/;
3. the agencies fill in their outbox template (replies/, the agencies' side), most correctly, a
   few with real-looking mistakes: a balance that does not hold, a total typed over its formula,
   text in a number cell; others typed in ways that are read correctly (``24850元`` for 2.485 万元,
   full-width digits with a unit); one saves as .xls (LibreOffice, when installed); one sends a
   broken file; a few never answer. Most files are dropped into inbox/, some arrive as .eml replies;
4. ``import_paths`` (round 1); one agency fixes its file after the feedback and sends it again;
   ``import_paths`` (round 2: the earlier files are recognised as duplicates, the correction
   supersedes the wrong version); ``build_feedback``: the feedback workbooks, as
   ``campaign feedback`` builds them;
5. ``campaign_status`` and its workbook, ``consolidate_campaign``, the tables as a web page, and
   every agency's facts as CSV.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl

from .campaign.roster import Agency, uscc_check_char
from .errors import DemoError
from .compute import key
from .layout import layout
from .template import COVER_FIELDS, COVER_FIRST_ROW, COVER_SHEET, COVER_VALUE_COL

if TYPE_CHECKING:
    from .campaign.importer import ImportResult
    from .campaign.issue import IssueResult
    from .consolidate import ConsolidationResult

MARKER = ".xlsxgov-demo"
OFFICE_EMAIL = "zwgk@example.gov.cn"
OFFICE_CONTACT, OFFICE_PHONE = "郑敏", "0591-12345678"

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
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平", "刚"]

# What each agency does, by its position in the roster (positions past n are simply absent).
ROLES = {
    1: "xls",  # saves as .xls
    2: "balance_fixed",  # balance off, fixed and sent again after the feedback
    3: "typed_total",  # types a number over a total's formula
    4: "yuan",  # types 24850元 into the 万元 cell: read as 2.485 万元
    5: "silent",  # never answers
    6: "text",  # 见附件 in a number cell
    7: "typed",  # full-width digits with a unit, padding: read correctly
    8: "eml",
    9: "eml",
    10: "broken",  # sends a truncated file
    11: "silent",
    12: "balance_eml",  # balance off, by mail
    23: "silent",
    41: "silent",
}


def role(i: int) -> str:
    return ROLES.get(i, "eml" if i > 12 and i % 7 == 0 else "ok")


DEMO_PORTAL = "http://127.0.0.1:8000"  # where `xlsxgov serve demo/campaign` listens by default
DEMO_ADMIN = "admin"


@dataclass
class DemoResult:
    """Everything the demo made, for the command to explain: roster, issued templates, import rounds, status, consolidation, web page, facts."""

    directory: Path
    roster: Path
    agencies: list[Agency]
    issued: IssueResult
    rounds: list[ImportResult]  # one per import
    delivered: dict[str, int]  # files, emails, xls
    status: dict  # campaign.status.campaign_status
    status_xlsx: Path
    consolidation: ConsolidationResult
    html: Path
    facts: Path
    seconds: float
    notes: list[str] = field(default_factory=list)
    admin_password: str = ""  # of DEMO_ADMIN, the portal's administrator

    @property
    def consolidated(self) -> Path:
        return self.consolidation.path


def synthetic_roster(region: str, n: int, rng: random.Random) -> list[Agency]:
    """``n`` agencies (at most len(DEPARTMENTS)) with well-formed codes and addresses."""
    agencies = []
    for i, dept in enumerate(DEPARTMENTS[:n]):
        kind = "11" if i < 40 else "12"  # 机关 / 事业单位
        body = f"{kind}350100" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
        contact = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
        agencies.append(Agency(f"{region}{dept}", body + uscc_check_char(body), region, contact, f"agency{i + 1:02d}@example.gov.cn"))
    return agencies


def write_roster_xlsx(path: Path, agencies: list[Agency]) -> Path:
    """The roster as the office keeps it: an Excel sheet with Chinese headers."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("名册")
    bold = wb.add_format({"bold": True})
    for c, (h, w) in enumerate([("单位名称", 30), ("统一社会信用代码", 22), ("上级/地区", 10), ("联系人", 8), ("电子邮箱", 28)]):
        ws.write_string(0, c, h, bold)
        ws.set_column(c, c, w)
    for r, a in enumerate(agencies, start=1):
        for c, v in enumerate((a.name, a.code, a.region, a.contact, a.email)):
            ws.write_string(r, c, v)
    wb.close()
    return path


# Who applies (表三 columns) and what became of an application (表三 result rows), weighted as in
# county reports: mostly natural persons; most requests answered by disclosure, then 信息不存在.
APPLICANTS = {"natural": 85, "business": 7, "legal": 4, "research": 1, "ngo": 1, "other_org": 2}
RESULTS = {
    "disclosed": 50, "partial": 10, "not_held": 14, "query_matters": 5, "process_info": 3, "third_party": 2,
    "internal_affairs": 2, "needs_making": 2, "still_unclear": 3, "petition": 2, "repeated": 3,
    "law_forbidden": 1, "three_safety": 1, "enforcement_files": 1, "confirm_existing": 1,
}


def applications_count(rng: random.Random) -> int:
    """How many 政府信息公开 applications one county agency handles in a year: most a handful (or
    none), about one in five a dozen or two, a few (公安、自然资源、住建 in real reports) dozens."""
    draw = rng.random()
    if draw < 0.72:
        return rng.choice([0, 0, 1, 1, 2, 2, 3, 4, 5, 6])
    if draw < 0.92:
        return rng.randint(8, 20)
    return rng.randint(25, 70)


def reply_values(spec, rng: random.Random) -> dict:
    """Input values of one plausible county agency that satisfy every rule.

    表三 is built application by application (applicant column; carried in from last year or
    new; answered this year with one result row, or carried over), so 第一项+第二项 = 第三项+第四项
    holds in every column by construction; 表二 and 表四 get the small numbers a county agency
    reports (规章 none: counties make none; reviews and lawsuits rare)."""
    values = {key(cell): 0 for cell in spec.cells() if cell.is_input}
    n = applications_count(rng)
    for _ in range(n):
        col = rng.choices(list(APPLICANTS), weights=list(APPLICANTS.values()))[0]
        origin = "carried_in" if rng.random() < 0.05 else "new"
        outcome = "carried_over" if rng.random() < 0.06 else rng.choices(list(RESULTS), weights=list(RESULTS.values()))[0]
        for row in (origin, outcome):
            values[("t3", row, col)] += 1
    normative = rng.choice([0, 0, 0, 1, 1, 2, 3])
    values[("t2", "normative_docs", "issued")] = normative
    values[("t2", "normative_docs", "repealed")] = rng.choice([0, 0, 0, 1])
    values[("t2", "normative_docs", "valid")] = normative + rng.randint(0, 12)
    values[("t2", "licensing", "decisions")] = rng.choice([0, 0, 0, rng.randint(3, 40), rng.randint(50, 600)])
    values[("t2", "penalty", "decisions")] = rng.choice([0, 0, rng.randint(1, 12), rng.randint(10, 80)])
    values[("t2", "coercion", "decisions")] = rng.choice([0, 0, 0, 0, rng.randint(1, 6)])
    if n >= 15 and rng.random() < 0.5:  # a busy agency sometimes meets a review or a lawsuit
        values[("t4", "cases", rng.choice(["review_upheld", "review_corrected", "direct_upheld"]))] = rng.randint(1, 2)
    return values


def fill_reply(template: Path, out: Path, spec, values: dict, mistake: str | None, agency: Agency) -> Path:
    """Type values into the issued template as an agency would (openpyxl edits the cells it is given)."""
    wb = openpyxl.load_workbook(template)
    lay = layout(spec)
    t3 = spec.table("t3")

    def put(table_id: str, row: str, col: str, value) -> None:
        cell = spec.table(table_id).cell(row, col)
        p = lay[table_id].place(cell)
        wb[cell.table.sheet].cell(p.r + 1, p.c + 1).value = value

    for cell in spec.cells():
        if cell.is_input:
            put(cell.table.id, cell.row.id, cell.col.id, values[key(cell)])
    if mistake == "balance":
        put("t3", "new", "natural", values[("t3", "new", "natural")] + 2)
    elif mistake == "typed_total":
        # The total of 已办结 for natural persons typed over its formula, one too high.
        total = sum(values[("t3", r.id, "natural")] for r in t3.blocks[0].data_rows if r.total is None and r.id not in ("new", "carried_in", "carried_over"))
        put("t3", "results_total", "natural", total + 1)
    elif mistake == "text":
        put("t3", "partial", "natural", "见附件")
    elif mistake == "yuan":
        values[("t2", "admin_fees", "fees")] = 2.485
        put("t2", "admin_fees", "fees", "24850元")
    elif mistake == "typed":
        fullwidth = str.maketrans("0123456789", "０１２３４５６７８９")
        put("t3", "disclosed", "business", f"{values[('t3', 'disclosed', 'business')]}件".translate(fullwidth))
        put("t3", "carried_over", "legal", f" {values[('t3', 'carried_over', 'legal')]} ")
    cover = wb[COVER_SHEET]
    rows = {f: COVER_FIRST_ROW + 1 + i for i, (f, _) in enumerate(COVER_FIELDS)}
    cover.cell(rows["contact"], COVER_VALUE_COL + 1).value = agency.contact
    cover.cell(rows["phone"], COVER_VALUE_COL + 1).value = "0591-8" + "".join(str((ord(c) * 7) % 10) for c in agency.code[-7:])
    wb.save(out)
    return out


def _mail_reply(attachment: Path, agency: Agency, year: int, region: str, out: Path) -> Path:
    from .campaign.mail import build_message, write_eml

    msg = build_message(
        sender=f"{agency.contact} <{agency.email}>", agency_email=OFFICE_EMAIL, agency_name=f"{region}政务公开办",
        subject=f"回复：请报送{year}年度政府信息公开工作年度报告统计表（{agency.name}）",
        body=f"您好！\n\n附件是{agency.name}{year}年度政府信息公开工作年度报告统计表，请查收。\n\n{agency.contact}\n",
        attachment=attachment,
    )
    return write_eml(msg, out)


def _as_xls(path: Path, outdir: Path, notes: list[str]) -> Path:
    """One agency saves as .xls, as some still do; needs LibreOffice, else the .xlsx stays."""
    from .office import OfficeError, convert, soffice_path

    if soffice_path() is None:
        notes.append("未安装 LibreOffice（soffice），跳过另存为 .xls 的演示，该单位报送 .xlsx")
        return path
    try:
        xls = convert(path, "xls", outdir, recalc=False)
    except OfficeError as exc:
        notes.append(f"LibreOffice 另存为 .xls 失败，该单位报送 .xlsx：{str(exc).splitlines()[0]}")
        return path
    path.unlink()
    return xls


def fresh_directory(directory: Path) -> None:
    """Create ``directory``; an earlier demo there is removed, anything else is refused."""
    if directory.exists():
        earlier = (directory / MARKER).exists() or all((directory / x).exists() for x in ("roster.csv", "replies", "output"))  # or the first demo's
        if not directory.is_dir() or (any(directory.iterdir()) and not earlier):
            raise DemoError(f"“{directory}”已存在且不是演示目录，不会清空；请换一个目录名")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text("xlsxgov demo: this folder is removed and rebuilt by `xlsxgov demo`\n", encoding="utf-8")


def run_demo(directory: Path | str, *, n: int = 50, region: str = "示例县", year: int = 2025, seed: int = 2025) -> DemoResult:
    """Run the whole demo campaign in ``directory`` (n agencies, made-up numbers seeded by ``seed``); DemoError when the folder is not an earlier demo."""
    from . import spec as spec_mod
    from .campaign.feedback import build_feedback
    from .campaign.importer import import_paths
    from .campaign.init import init_campaign
    from .campaign.issue import issue_templates
    from .campaign.stamp import template_name
    from .campaign.status import campaign_status, write_status_xlsx
    from .consolidate import consolidate_campaign
    from .export import export_facts
    from .reader import read_workbook
    from .render import render_tables

    started = time.perf_counter()
    directory = Path(directory)
    n = min(max(n, 1), len(DEPARTMENTS))
    fresh_directory(directory)
    notes: list[str] = []
    rng = random.Random(seed)

    # 1-2. Roster, campaign, templates and mails in outbox/.
    agencies = synthetic_roster(region, n, rng)
    roster = write_roster_xlsx(directory / "名册.xlsx", agencies)
    campaign = directory / "campaign"
    init_campaign(
        campaign, year=year, roster_path=roster, region=region, sender=f"{region}政务公开办 <{OFFICE_EMAIL}>",
        contact=OFFICE_CONTACT, phone=OFFICE_PHONE,
    )
    issued = issue_templates(campaign, portal_url=DEMO_PORTAL)
    spec = spec_mod.load(spec_mod.DEFAULT_EDITION)

    # 3. Replies, filled in the issued templates, on the agencies' side.
    replies = directory / "replies"
    replies.mkdir()
    inbox = campaign / "inbox"
    delivered = {"files": 0, "emails": 0, "xls": 0}
    mistakes = {"balance_fixed": "balance", "balance_eml": "balance", "typed_total": "typed_total", "text": "text", "yuan": "yuan", "typed": "typed"}
    day_ago = time.time() - 86400
    for i, a in enumerate(agencies):
        r = role(i)
        if r == "silent":
            continue
        stem = f"{a.name}_{year}年政府信息公开年报统计表"
        if r == "broken":  # an upload cut short
            path = inbox / f"{stem}.xlsx"
            data = (campaign / "outbox" / template_name(a, year)).read_bytes()
            path.write_bytes(data[: len(data) // 3])
            os.utime(path, (day_ago, day_ago))
            delivered["files"] += 1
            continue
        values = reply_values(spec, random.Random(seed * 1000 + i))
        path = fill_reply(campaign / "outbox" / template_name(a, year), replies / f"{stem}.xlsx", spec, values, mistakes.get(r), a)
        if r == "xls":
            path = _as_xls(path, replies, notes)
            delivered["xls"] += path.suffix == ".xls"
        if r in ("eml", "balance_eml"):
            _mail_reply(path, a, year, region, inbox / f"{i + 1:02d}_{a.email.split('@')[0]}.eml")
            delivered["emails"] += 1
        else:
            shutil.copy2(path, inbox / path.name)
            os.utime(inbox / path.name, (day_ago, day_ago))  # arrived yesterday
            delivered["files"] += 1

    # 4. Import, feedback, one correction, import again.
    rounds = [import_paths(campaign)]
    for i, a in enumerate(agencies):
        if role(i) == "balance_fixed":
            values = reply_values(spec, random.Random(seed * 1000 + i))
            fixed = fill_reply(campaign / "outbox" / template_name(a, year), replies / f"{a.name}_{year}年统计表_修改后.xlsx", spec, values, None, a)
            shutil.copy2(fixed, inbox / fixed.name)
    rounds.append(import_paths(campaign))
    # The feedback workbooks to send back, as `campaign feedback` builds them (import does not).
    build_feedback(campaign)

    # 5. Status, consolidation, web page, facts.
    output = directory / "output"
    output.mkdir()
    status = campaign_status(campaign)
    status_xlsx = write_status_xlsx(status, output / "报送进度.xlsx")
    consolidation = consolidate_campaign(campaign, output / f"{region}{year}年政府信息公开工作年度报告统计表（汇总）.xlsx")
    total = read_workbook(consolidation.path)
    html = output / f"{region}{year}年政府信息公开工作年度报告统计表.html"
    html.write_text(render_tables(total.spec, total.values, title=f"{region}{year}年政府信息公开工作年度报告（汇总）"), encoding="utf-8")
    facts = output / "各单位数据.csv"
    export_facts([campaign], facts)
    # 6. An administrator for the web portal (`xlsxgov serve`), with a fresh password.
    from .campaign.portal import add_user

    password = secrets.token_hex(6)
    add_user(campaign, DEMO_ADMIN, "管理员", password)
    return DemoResult(
        directory, roster, agencies, issued, rounds, delivered, status, status_xlsx, consolidation, html, facts,
        time.perf_counter() - started, notes, password,
    )
