"""Cross-year checks: this year's report against last year's (rules ``t3.carry_over``, ``t2.valid_stock``).

Last year's data comes from ``load_previous``: one agency workbook, a consolidated workbook
(its 明细 sheet gives every agency's cells, its statutory sheets the regional totals), a folder
of workbooks, or a campaign folder (the accepted submission of every agency in its ledger).
The current submission is matched to last year's by 统一社会信用代码 first, then by the agency
name (NFKC, no spaces or punctuation differences).

Rules (FORMATS.md, "Balance rules"):

- ``t3.carry_over`` (warning): this year's 二、上年结转 equals last year's 四、结转下年度继续办理,
  column by column. Table 三 has the same row and column ids in gov2019 and gov2021, so a
  gov2019 last year maps one to one.
- ``t2.valid_stock`` (info; real data often breaks it): for a gov2021 report, 现行有效件数 ≈ last
  year's 现行有效件数 + 本年制发件数 − 本年废止件数, per row (规章, 行政规范性文件). A gov2019
  last year has no stock column: 对外公开总数量 counts everything ever published, repealed
  documents included, so it is not last year's 现行有效件数 and the check is skipped (with an
  ``info`` finding saying so).
- A legacy2008 report on either side: no cross-year rule (different tables), one ``info`` note.
- No last-year data for an agency: one ``info`` finding, never silence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .compute import CellKey, complete, key, to_display
from .errors import PreviousError
from .filecheck import WORKBOOK_SUFFIXES, is_lock_file
from .findings import Finding, sort_findings
from .locate import agency_key
from .reader import Submission, Unreadable, read_workbook
from .spec import Spec
from .values import Kind



@dataclass
class PreviousAgency:
    """One agency's (or one region's totals') last-year values."""

    name: str
    code: str
    spec: Spec
    year: int | None
    values: dict[CellKey, int]  # base units, every total recomputed
    where: Mapping[CellKey, tuple[str, str]]  # (sheet, A1) of each cell in ``source``; may be empty
    source: str  # what to call the file (or campaign) in a message

    def location(self, k: CellKey) -> str:
        sheet, a1 = self.where.get(k, ("", ""))
        return f"{self.source}：{sheet}!{a1}" if a1 else self.source


@dataclass
class Previous:
    """Last year's data: one PreviousAgency per agency (matched by code, then by name), the regional totals when known, and problems found while loading it."""

    path: Path
    kind: str  # workbook | consolidated | directory | campaign
    agencies: list[PreviousAgency] = field(default_factory=list)
    total: PreviousAgency | None = None  # the region's totals (consolidated workbook or campaign)
    problems: list[str] = field(default_factory=list)  # Chinese, one per file that could not be used

    def __post_init__(self) -> None:
        self._by_code: dict[str, PreviousAgency] = {}
        self._by_name: dict[str, PreviousAgency] = {}
        for a in self.agencies:
            self._index(a)

    def _index(self, a: PreviousAgency) -> None:
        c, n = agency_key(a.code), agency_key(a.name)
        if c and c in self._by_code:
            self.problems.append(f"上年数据中统一社会信用代码 {a.code} 出现多次（{self._by_code[c].source}、{a.source}），只使用第一份")
            return
        if c:
            self._by_code[c] = a
        if n:
            self._by_name.setdefault(n, a)

    def match(self, sub: Submission) -> PreviousAgency | None:
        """Last year's data of ``sub``'s agency: by 统一社会信用代码, then by name; a consolidated
        report with no row of its own is matched to last year's totals."""
        c = agency_key(sub.code)
        if c and c in self._by_code:
            return self._by_code[c]
        n = agency_key(sub.agency)
        if n and n in self._by_name:
            return self._by_name[n]
        if sub.meta.get("kind") == "consolidated" and self.total is not None:
            return self.total
        return None


# ---------------------------------------------------------------------------------------------
# Loading last year's data


def load_previous(path: Path | str) -> Previous:
    """Last year's data from an agency workbook, a consolidated workbook, a folder of workbooks or
    a campaign folder. Raises PreviousError (Chinese, naming the file) when nothing usable is found."""
    path = Path(path)
    if not path.exists():
        raise PreviousError(f"找不到上年数据“{path}”（文件或目录不存在）")
    if path.is_dir():
        if (path / "ledger.sqlite").exists():
            return _load_campaign(path)
        return _load_directory(path)
    sub = _read(path)
    if sub.meta.get("kind") == "consolidated":
        return _load_consolidated(path, sub)
    return Previous(path, "workbook", [_from_submission(sub)])


def _read(path: Path) -> Submission:
    try:
        return read_workbook(path)
    except Unreadable as exc:
        raise PreviousError(f"上年数据文件“{path.name}”无法读取：{exc.reason}") from None
    except Exception as exc:  # a reader bug must give a message, not a traceback
        raise PreviousError(f"上年数据文件“{path.name}”无法读取（{type(exc).__name__}: {str(exc)[:120]}）") from None


def _from_submission(sub: Submission, *, source: str | None = None, name: str = "", code: str = "") -> PreviousAgency:
    return PreviousAgency(
        name=sub.agency or name,
        code=sub.code or code,
        spec=sub.spec,
        year=sub.year,
        values=dict(sub.values),
        where=sub.where,  # a campaign's is read from its ledger only if a message needs it
        source=source or sub.path.name,
    )


def workbooks_in(directory: Path) -> list[Path]:
    """The workbooks under ``directory`` (WORKBOOK_SUFFIXES, any depth), sorted; Office lock files
    and hidden files left out (``folder_files``, without the files left out)."""
    return folder_files(directory)[0]


def folder_files(directory: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(the workbooks under ``directory``: WORKBOOK_SUFFIXES, any depth, sorted; every other file
    under it with why it is not one), for the commands that take a folder as its workbooks
    (validate, consolidate, export), which say what they left out, as ``campaign import`` lists
    its 未导入. Reasons carry no verb: the caller adds its own (未校验, 未导出)."""
    workbooks: list[Path] = []
    others: list[tuple[Path, str]] = []
    for p in sorted(x for x in directory.rglob("*") if x.is_file()):
        s = p.suffix.lower()
        if is_lock_file(p):
            others.append((p, "Excel/WPS 打开文件时生成的临时锁定文件，不是报表"))
        elif p.name.startswith("."):
            others.append((p, "隐藏文件，不是报表"))
        elif s in WORKBOOK_SUFFIXES:
            workbooks.append(p)
        elif s == ".csv":
            others.append((p, "CSV 文本文件，不是工作簿；请用下发的模板填写，以 .xlsx 报送"))
        else:
            from .extract.formats import SUFFIXES as REPORT_SUFFIXES  # only when such a file is there

            if s in REPORT_SUFFIXES:
                others.append((p, f"不是工作簿（{s} 文档）；若是年度报告，可用 xlsxgov extract 读出其中的表格"))
            else:
                others.append((p, f"不是工作簿（扩展名“{s or '无'}”）"))
    return workbooks, others


def _load_directory(directory: Path) -> Previous:
    files = workbooks_in(directory)
    if not files:
        raise PreviousError(f"上年数据目录“{directory}”中没有工作簿（.xlsx .xlsm .xls .ods）")
    agencies, problems = [], []
    for p in files:
        try:
            sub = _read(p)
        except PreviousError as exc:
            problems.append(str(exc))
            continue
        agencies.append(_from_submission(sub, source=str(p.relative_to(directory))))
    if not agencies:
        raise PreviousError(f"上年数据目录“{directory}”中的工作簿都无法读取：\n" + "\n".join(problems))
    prev = Previous(directory, "directory", agencies)
    prev.problems[:0] = problems
    return prev


def _load_campaign(directory: Path) -> Previous:
    """Last year's accepted submissions, rebuilt from that campaign's ledger (files are not read again)."""
    from .campaign.store import current_submissions
    from .errors import CampaignError

    try:
        accepted = current_submissions(directory)
    except CampaignError as exc:
        raise PreviousError(f"上年报送任务目录“{directory}”无法使用：{exc}") from None
    except Exception as exc:  # a damaged ledger or archive
        raise PreviousError(f"上年报送任务目录“{directory}”的台账无法读取（{type(exc).__name__}: {str(exc)[:120]}）") from None
    agencies = []
    for agency, _status, sub in accepted:
        # The file as the agency sent it (and its mail), never the archive's hash name.
        previous = _from_submission(sub, source=f"上年报送任务“{directory.name}”中{agency.name}的“{sub.sent_as}”")
        previous.name, previous.code = agency.name or previous.name, agency.code or previous.code  # the roster is authoritative
        agencies.append(previous)
    if not agencies:
        raise PreviousError(f"上年报送任务目录“{directory}”中没有已通过校验的报表")
    return Previous(directory, "campaign", agencies, total=_sum(agencies, f"上年报送任务“{directory.name}”各单位合计"))


def _sum(agencies: Sequence[PreviousAgency], source: str) -> PreviousAgency | None:
    """The region's totals: every agency's values added up (all in one edition, else None)."""
    if not agencies or len({a.spec.edition for a in agencies}) != 1:
        return None
    spec = agencies[0].spec
    inputs: dict[CellKey, int] = {}
    for cell in spec.cells():
        if cell.is_input and cell.kind is not Kind.TEXT:
            k = key(cell)
            inputs[k] = sum(a.values.get(k, 0) for a in agencies)
    years = {a.year for a in agencies if a.year}
    return PreviousAgency("", "", spec, years.pop() if len(years) == 1 else None, complete(spec, inputs), {}, source)


def _load_consolidated(path: Path, sub: Submission) -> Previous:
    total = _from_submission(sub, source=f"{path.name}（汇总表）")
    prev = Previous(path, "consolidated", [], total=total)
    try:
        agencies = read_detail(path, sub.spec, sub.year)
    except PreviousError as exc:
        prev.problems.append(str(exc))
        return prev
    for a in agencies:
        prev.agencies.append(a)
        prev._index(a)
    return prev


def read_detail(path: Path, spec: Spec, year: int | None) -> list[PreviousAgency]:
    """Every agency row of a consolidated workbook's 明细 sheet (``detail.read_detail``): its
    input cells in base units (anything unusable counts as 0), totals recomputed, and where each
    cell sits in the 明细 sheet. Raises PreviousError when the sheet is missing, unreadable or
    has none of the edition's columns."""
    from .detail import DETAIL_SHEET, base_value
    from .detail import read_detail as read_sheet

    try:
        sheet = read_sheet(path, spec)
    except Unreadable as exc:
        raise PreviousError(f"上年汇总工作簿“{path.name}”的“{DETAIL_SHEET}”工作表无法读取：{exc.reason}") from None
    if sheet is None:
        raise PreviousError(f"上年汇总工作簿“{path.name}”中没有“{DETAIL_SHEET}”工作表，无法逐单位核对上年数据")
    kinds = {key(c): c.kind for c in spec.cells() if c.is_input and c.kind is not Kind.TEXT}
    wanted = [k for k in kinds if k in sheet.columns]
    if not wanted and sheet.rows:
        raise PreviousError(f"上年汇总工作簿“{path.name}”的“{DETAIL_SHEET}”工作表中找不到表格栏目，无法逐单位核对上年数据")
    out = []
    for row in sheet.rows:
        values = complete(spec, {k: base_value(row.cells[k], kinds[k]) for k in wanted})
        where = {k: (DETAIL_SHEET, sheet.ref(row, k)) for k in sheet.columns}  # totals too: their 明细 column
        out.append(PreviousAgency(row.name, row.code, spec, year, values, where, path.name))
    return out


# ---------------------------------------------------------------------------------------------
# Rules


def _who(sub: Submission) -> str:
    return sub.agency or (sub.path.name if sub.path else "（未命名）")


def _prev_year(prev: PreviousAgency) -> str:
    return f"{prev.year}年" if prev.year else "上年"


def carry_over(current: Submission, prev: PreviousAgency) -> list[Finding]:
    """Rule ``t3.carry_over`` (warning): this year's 二、上年结转 equals last year's
    四、结转下年度继续办理, column by column (gov2019 ↔ gov2021: same row and column ids)."""
    try:
        cur_table = current.spec.table("t3")
        prev_table = prev.spec.table("t3")
    except KeyError:
        return []
    cur_values = current.values
    who = _who(current)
    out = []
    for block in cur_table.blocks:
        for col in block.columns:
            cur_cell = cur_table.cell("carried_in", col.id)
            prev_cell = prev_table.cell("carried_over", col.id)
            if cur_cell is None or prev_cell is None:
                continue
            k_cur, k_prev = key(cur_cell), key(prev_cell)
            a, b = cur_values.get(k_cur, 0), prev.values.get(k_prev, 0)
            if a == b:
                continue
            sheet, a1 = current.where.get(k_cur, ("", ""))
            out.append(Finding(
                "warning", "t3.carry_over", sheet or cur_table.sheet, a1,
                f"{who} {cur_table.short} {cur_cell.row.label}/{col.display}：{_this_year(current)}{to_display(cur_cell, a)}，"
                f"{_prev_year(prev)}报表“{prev_cell.row.label}”为{to_display(prev_cell, b)}（{prev.location(k_prev)}），不相等"
                "（本年上年结转数应等于上年结转下年度继续办理数）",
                (k_cur,),
            ))
    return out


def carry_over_findings(current: Submission, previous: Submission) -> list[Finding]:
    """``t3.carry_over`` between two read workbooks (see ``carry_over``)."""
    return carry_over(current, _from_submission(previous))


def valid_stock(current: Submission, prev: PreviousAgency) -> list[Finding]:
    """Rule ``t2.valid_stock`` (info): 现行有效件数 ≈ last year's 现行有效件数 + 本年制发件数 − 本年废止件数,
    per row, for an edition whose spec names a stock column (``cross_year: stock_column``, gov2021).
    Skipped, with one note, when last year's edition has no stock column."""
    now_rules, prev_rules = current.spec.cross_year, prev.spec.cross_year
    if now_rules is None or now_rules.stock_column is None or prev_rules is None:
        return []
    try:
        t2 = current.spec.table("t2")
        prev_t2 = prev.spec.table("t2")
    except KeyError:
        return []
    stock_col = prev_rules.stock_column
    who = _who(current)
    if stock_col is None:
        return [Finding(
            "info", "t2.valid_stock", t2.sheet, "",
            f"{who} {t2.short}：{_prev_year(prev)}报表为{prev.spec.name}，没有“现行有效件数”"
            "（其“对外公开总数量”含已废止的文件，口径不同），未核对现行有效件数的跨年度衔接",
        )]
    out = []
    for prev_row, row in prev_rules.stock_rows.items():
        valid, issued, repealed = t2.cell(row, now_rules.stock_column), t2.cell(row, "issued"), t2.cell(row, "repealed")
        before = prev_t2.cell(prev_row, stock_col)
        if None in (valid, issued, repealed, before):
            continue
        v = current.values.get(key(valid), 0)
        i = current.values.get(key(issued), 0)
        r = current.values.get(key(repealed), 0)
        b = prev.values.get(key(before), 0)
        expected = b + i - r
        if v == expected:
            continue
        sheet, a1 = current.where.get(key(valid), ("", ""))
        out.append(Finding(
            "info", "t2.valid_stock", sheet or t2.sheet, a1,
            f"{who} {t2.short} {valid.row.label}/{valid.col.display}：{_this_year(current)}{v}，"
            f"按{_prev_year(prev)}报表“{before.row.label}/{before.col.display}”{b}（{prev.location(key(before))}）"
            f"+本年制发件数{i}−本年废止件数{r}应为{expected}，不一致（仅供参考：文件清理、修订、失效等情况会使两者不一致）",
            (key(valid),),
        ))
    return out


def compare(current: Submission, prev: PreviousAgency) -> list[Finding]:
    """Every cross-year rule between ``current`` and one agency's last-year data."""
    who = _who(current)
    if current.spec.cross_year is None or prev.spec.cross_year is None:
        old = current.spec if current.spec.cross_year is None else prev.spec
        return [Finding(
            "info", "t3.carry_over", "", "",
            f"{who}：{'本年' if old is current.spec else '上年'}报表为{old.name}，与2019年以后的表格口径不同，不做跨年度校验（{prev.source}）",
        )]
    if current.year and prev.year and prev.year != current.year - 1:
        return [Finding(
            "info", "t3.carry_over", "", "",
            f"{who}：上年数据（{prev.source}）的报告年度为{prev.year}年，不是{current.year}年的上一年度，未做跨年度校验",
        )]
    return carry_over(current, prev) + valid_stock(current, prev)


def cross_year_findings(current: Submission, previous: Previous) -> list[Finding]:
    """Cross-year findings of one submission; one ``info`` finding when last year has no data for it."""
    prev = previous.match(current)
    if prev is None:
        t3 = next((t for t in current.spec.tables if t.id == "t3"), None)
        ident = "、".join(x for x in (current.agency, current.code) if x) or (current.path.name if current.path else "")
        return [Finding(
            "info", "t3.carry_over", t3.sheet if t3 else "", "",
            f"{ident}：上年数据（{previous.path.name}）中没有该单位（按统一社会信用代码和单位名称均未找到），未做跨年度校验",
        )]
    return compare(current, prev)


def apply_previous(reports: Iterable, previous: Previous | Path | str) -> Previous:
    """Add the cross-year findings to validation reports (``validate.FileReport``) in place."""
    previous = as_previous(previous)
    for rep in reports:
        if rep.submission is not None:
            rep.findings = sort_findings(list(rep.findings) + cross_year_findings(rep.submission, previous))
    return previous


def as_previous(previous: "Previous | Path | str") -> Previous:
    """``previous`` itself, or last year's data loaded from a path (PreviousError when unusable)."""
    return previous if isinstance(previous, Previous) else load_previous(previous)


def _this_year(current: Submission) -> str:
    """How this year's number is named: what an agency typed, or what a consolidation added up."""
    return "本年汇总" if current.meta.get("kind") == "consolidated" else "本年填报"


def consolidation_findings(result, previous: Previous) -> list[Finding]:
    """Cross-year findings of a consolidation (``consolidate.ConsolidationResult``): every
    included submission against its own last-year data, then the consolidated totals (read back
    from the written workbook, so cells point at it) against last year's totals when known.

    When every included agency is matched to last year's and some of last year's are not
    included (a consolidation before everyone has reported), the totals are compared with last
    year's sum over the same agencies, not with last year's whole region (a second trial)."""
    out: list[Finding] = []
    for sub in result.included:
        out += cross_year_findings(sub, previous)
    if previous.total is not None:
        try:
            written = read_workbook(result.path)
        except Unreadable:  # cannot happen for a workbook we just wrote; never fail the consolidation
            return out
        out += compare(written, _same_agencies(result.included, previous) or previous.total)
    return out


def _same_agencies(included: Sequence[Submission], previous: Previous) -> PreviousAgency | None:
    """Last year's sum over this year's included agencies, when they are all matched and fewer
    than last year's; None otherwise (compare with last year's total)."""
    matched = [previous.match(s) for s in included]
    if not previous.agencies or any(m is None or m is previous.total for m in matched):
        return None
    same = {id(m) for m in matched}
    if len(same) >= len(previous.agencies):
        return None
    return _sum([a for a in previous.agencies if id(a) in same], f"上年同一批单位（{len(same)} 个）合计")
