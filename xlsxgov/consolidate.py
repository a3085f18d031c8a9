"""Many agencies → one regional workbook, itself a valid input one level up.

The consolidated workbook is written by the same writer as a template (``write_workbook``): the
statutory sheets carry the exact sums of every agency's input cells (money summed as integer 分),
the same total formulas and the same 校验 sheet, so it validates like any returned workbook and a
city can consolidate its counties' consolidations again. Three sheets are added: 明细 (one row
per agency, every cell a column), 未报送 (who is missing or was left out, and why).

Totals are never summed: only input cells are, and totals are recomputed from the sums, which is
the same number because every total is linear in the inputs.

Mapping values across editions is out of scope: every submission must have the same edition.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from functools import partial
from typing import TYPE_CHECKING, Mapping, NamedTuple, Sequence

from .atomic import replacing
from .compute import CellKey, complete_many, input_keys, key
from .detail import DETAIL_SHEET as DETAIL_SHEET  # the sheet's name, for callers of this module
from .detail import DetailAgency, DetailSheet
from .errors import ConsolidationError
from .findings import Finding
from .locate import agency_key
from .reader import Submission
from .spec import Spec
from .spec import load as load_spec
from .template import COVER_FIELDS, COVER_FIRST_ROW, COVER_SHEET, Meta, Written, footer_text, print_setup, text_rows, write_cover_note, write_workbook
from .values import Kind

if TYPE_CHECKING:
    import numpy as np

MISSING_SHEET = "未报送"


@dataclass
class LeftOut:
    """A file or agency not added up, and why (status invalid | unreadable | missing | year | edition | duplicate, reason in Chinese)."""

    name: str  # file name or agency name
    code: str
    status: str  # invalid | unreadable | missing | year | edition | duplicate | returned (by a reviewer)
    reason: str


@dataclass
class ConsolidationResult:
    """A written regional workbook: its path, the submissions added up, those left out and missing, warnings, and the cross-year findings when last year's data was given."""

    path: Path
    spec: Spec
    year: int | None
    region: str
    included: list[Submission]
    consolidates: int  # leaf agencies counted through consolidated inputs
    inputs: dict[CellKey, int]  # the summed input cells, base units
    left_out: list[LeftOut] = field(default_factory=list)  # files not consolidated, with reasons
    missing: list[LeftOut] = field(default_factory=list)  # roster agencies with no accepted submission
    warnings: list[str] = field(default_factory=list)
    cross_year: list[Finding] = field(default_factory=list)  # with ``previous``: t3.carry_over, t2.valid_stock


# ---------------------------------------------------------------------------------------------
# Sums


def leaf_count(sub: Submission) -> int:
    """How many agencies a submission stands for: its ``consolidates`` when it is itself a consolidation."""
    if sub.meta.get("kind") == "consolidated":
        try:
            return max(int(float(sub.meta.get("consolidates") or 0)), 0)
        except ValueError:
            return 0
    return 1


def sum_inputs(spec: Spec, values: tuple[Mapping[CellKey, int], np.ndarray]) -> dict[CellKey, int]:
    """Exact sums of every numeric input cell (integers in base units) of ``compute.complete_many``'s
    (columns, array) of the submissions."""
    columns, array = values
    keys = [key(c) for c in spec.cells() if c.is_input and c.kind is not Kind.TEXT]
    if len(array) == 0:
        return dict.fromkeys(keys, 0)
    cols = [columns[k] for k in keys]
    part = array[:, cols]
    # int64 column sums stay exact while the largest value times the count fits; else Python ints.
    if part.dtype != object and int(abs(part).max()) * len(part) >= 2**62:
        part = part.astype(object)
    return dict(zip(keys, (int(v) for v in part.sum(axis=0))))


def check_editions(subs: Sequence[Submission]) -> None:
    """Raise ConsolidationError listing the files by edition when ``subs`` mix editions."""
    editions = Counter(s.edition for s in subs)
    if len(editions) <= 1:
        return
    lines = []
    for edition in editions:
        group = [s for s in subs if s.edition == edition]
        names = "、".join(_who(s) for s in group[:20]) + (f" 等{len(group)}个文件" if len(group) > 20 else "")
        lines.append(f"{group[0].spec.name}（{edition}）：{names}")
    raise ConsolidationError(
        "待汇总的文件使用了不同的表格版本，无法汇总（不同版本之间的数据换算不在汇总功能范围内，"
        "请让相关单位改用同一版本的模板重新填报，或用 -e 指定汇总的版本、其他版本的文件列入“未报送”表）：\n" + "\n".join(lines)
    )


def _who(sub: Submission) -> str:
    name = sub.sent_as
    return f"{name}（{sub.agency}）" if sub.agency else name or "（未命名）"


# ---------------------------------------------------------------------------------------------
# Core


def consolidate_submissions(
    subs: Sequence[Submission],
    out: Path | str,
    *,
    region: str = "",
    year: int | None = None,
    expected: Sequence[tuple[str, str]] | None = None,
    statuses: Mapping[str, str] | None = None,
    left_out: Sequence[LeftOut] = (),
    missing_reason: str = "未报送或报送的报表未通过校验",
) -> ConsolidationResult:
    """Write the regional workbook of ``subs`` (already accepted) to ``out``.

    ``expected``: the roster as (name, code); those with no submission and not already in
    ``left_out`` (by code) go to 未报送 with ``missing_reason``.
    ``statuses``: path → status (valid | invalid) shown in 明细; default valid.
    ``left_out``: files not consolidated (listed on 未报送 with their reasons).
    Raises ConsolidationError on mixed editions, on two different reports of one agency
    (``_one_report_per_agency``) or when there is nothing to consolidate.
    """
    out = Path(out)
    subs = list(subs)
    left = list(left_out)
    if not subs:
        raise ConsolidationError("没有可汇总的报表（全部文件都无法读取或有错误）")
    check_editions(subs)
    spec = subs[0].spec
    notes: list[str] = []
    if year is None:
        years: Counter[int] = Counter()
        for s in subs:
            if s.year:
                years[s.year] += leaf_count(s)  # agencies, not files: a county's workbook stands for its agencies
        ranked = sorted(years.items(), key=lambda yn: (-yn[1], yn[0]))
        counts = "，".join(f"{y}年 {n} 个单位" for y, n in ranked)
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            raise ConsolidationError(f"报表的报告年度不一（{counts}），无法确定汇总哪一年，请用 --year 指定汇总年度")
        year = ranked[0][0] if ranked else None
        if len(ranked) > 1:  # the year was chosen, not given: say which and how to choose another
            notes.append(f"报表的报告年度不一（{counts}），按单位数最多的{year}年度汇总，其他年度的报表未汇总；"
                         f"要汇总其他年度请用 --year 指定")
    if year is not None:
        kept = []
        for s in subs:
            if s.year and s.year != year:
                left.append(LeftOut(s.sent_as, s.code, "year", f"报告年度为{s.year}年，与汇总年度{year}年不符，未汇总"))
            else:
                kept.append(s)
        subs = kept
        if not subs:
            raise ConsolidationError(f"没有{year}年度的报表可汇总")
    if not region:
        regions = Counter(s.meta.get("region", "") for s in subs if s.meta.get("region"))
        region = regions.most_common(1)[0][0] if regions else ""
    warnings = notes + _one_report_per_agency(subs)
    by_path: dict[str, str] = {str(k): v for k, v in (statuses or {}).items()}
    with_errors = [s for s in subs if by_path.get(str(s.path)) in ("invalid", "returned")]
    if with_errors:
        listed = "、".join(_who(s) for s in with_errors[:10]) + (f" 等{len(with_errors)}份" if len(with_errors) > 10 else "")
        warnings.append(f"其中 {len(with_errors)} 份报表有错误或被审核退回，仍按要求（--include-invalid）计入了汇总：{listed}")

    missing: list[LeftOut] = []
    not_included = 0  # roster agencies missing or left out
    if expected is not None:
        codes = {agency_key(s.code) for s in subs if s.code}
        left_codes = {agency_key(x.code) for x in left if x.code}  # listed once, with their own reason
        names = {agency_key(s.agency) for s in subs if s.agency}
        for name, code in expected:
            c = agency_key(code)
            if (c and c in codes) or (not c and agency_key(name) in names):
                continue
            if c and c in left_codes:
                not_included += 1
                continue
            missing.append(LeftOut(name, code or "", "missing", missing_reason))
        not_included += len(missing)

    values = complete_many(spec, [s.inputs for s in subs])
    inputs = sum_inputs(spec, values)
    count = sum(leaf_count(s) for s in subs)
    expected_n = len(expected) if expected is not None else None
    meta = Meta(
        year=year,
        agency=f"{region}（汇总）" if region else "汇总",
        code="",
        region=region,
        filled_on=dt.date.today().isoformat(),
        kind="consolidated",
        consolidates=count,
        extra={"included_files": str(len(subs)), **({"expected": str(expected_n)} if expected_n is not None else {})},
    )
    summary = f"已汇总 {len(subs)} 份报表（共 {count} 个单位）"
    if with_errors:
        summary += f"，其中有错误或被审核退回的报表 {len(with_errors)} 份（见“明细”表的状态列）"
    if expected_n is not None:
        summary += f"；应报 {expected_n} 个单位，未报送或未通过 {not_included} 个"
    if left:
        summary += f"；未汇总的文件 {len(left)} 个（见“{MISSING_SHEET}”表）"

    def cover_note(w: Written) -> None:
        ws = w.workbook.get_worksheet_by_name(COVER_SHEET)
        r = COVER_FIRST_ROW + len(COVER_FIELDS) + 1  # the free row under 汇总单位数
        write_cover_note(ws, w.styles, r, "汇总情况", summary)

    detail = DetailSheet(spec, [
        DetailAgency(s.agency or "", s.code or "", by_path.get(str(s.path), "valid"), s.meta.get("kind") == "consolidated", leaf_count(s), s.sent_as)
        for s in subs
    ], values)

    def missing_sheet(w: Written) -> None:
        _write_missing(w, missing, left, expected is not None)

    out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(out) as tmp:
        parts = tmp.with_name(tmp.name + ".parts.xlsx")  # xlsxwriter's package, before 明细's rows
        try:
            write_workbook(parts, spec, meta, values=inputs, extra_sheets=[cover_note, detail.hook, missing_sheet])
            detail.finish(parts, tmp)
        finally:
            parts.unlink(missing_ok=True)
    return ConsolidationResult(out, spec, year, region, subs, count, inputs, left, missing, warnings)


def _one_report_per_agency(subs: Sequence[Submission]) -> list[str]:
    """Refuse two different reports of one agency; note what cannot be told apart.

    Two submissions with the same 统一社会信用代码 (``agency_key``) are two versions of one
    agency's report (copies were already left out by ``_without_overlaps``): adding both would
    count the agency twice, and which one is right is for the user to say, so ConsolidationError
    names each agency and its files, one line each. A campaign never gets here with two: the
    ledger keeps one current report per agency. Files without a code (reports read by
    ``extract``, which do not print one) cannot be compared that way: those sharing a name with
    another file are still added up, with a note (returned) asking the user to check.
    """
    by_code: dict[str, list[Submission]] = {}
    for s in subs:
        if agency_key(s.code):
            by_code.setdefault(agency_key(s.code), []).append(s)
    twice = [group for group in by_code.values() if len(group) > 1]
    if twice:
        lines = [f"{group[0].agency or '（封面未写单位名称）'}（统一社会信用代码 {group[0].code}）：{'、'.join(s.sent_as for s in group)}"
                 for group in twice[:20]]
        raise ConsolidationError(
            "同一单位有内容不同的多份报表，不能都计入汇总（否则该单位被重复计算），请只保留其中一份"
            "（通常是最新的一份，其余移出待汇总的文件夹）后重新汇总：\n" + "\n".join(lines)
            + (f"\n……共 {len(twice)} 个单位" if len(twice) > 20 else ""))
    by_name: dict[str, list[Submission]] = {}
    for s in subs:
        if agency_key(s.agency):
            by_name.setdefault(agency_key(s.agency), []).append(s)
    return [
        f"单位 {group[0].agency} 出现在 {len(group)} 个文件中（{'、'.join(_who(s) for s in group)}），"
        f"其中有的没有统一社会信用代码，无法确认是否同一单位，已全部计入汇总，请核实是否重复报送"
        for group in by_name.values()
        if len(group) > 1 and any(not agency_key(s.code) for s in group)
    ]


def _write_missing(w: Written, missing: Sequence[LeftOut], left: Sequence[LeftOut], roster: bool) -> None:
    ws = w.workbook.add_worksheet(MISSING_SHEET)
    st = w.styles
    headers = [("序号", 6), ("单位名称或文件", 36), ("统一社会信用代码", 22), ("情况", 12), ("说明", 90)]
    for c, (h, width) in enumerate(headers):
        ws.write_string(0, c, h, st.check_header)
        ws.set_column(c, c, width)
    rows = [(m.name, m.code, "未报送", m.reason) for m in missing]
    labels = {"invalid": "有错误，未汇总", "unreadable": "无法读取", "year": "年度不符", "edition": "版本不符", "duplicate": "重复，未汇总",
              "returned": "退回修改，未汇总"}
    rows += [(x.name, x.code, labels.get(x.status, x.status), x.reason) for x in left]
    if not rows:
        ws.write_string(1, 0, "", st.check_cell)
        ws.merge_range(1, 1, 1, 4, "全部应报单位均已报送并汇总" if roster else "所有文件均已汇总", st.check_cell)
    for i, row in enumerate(rows, start=1):
        ws.write_number(i, 0, i, st.check_cell)
        for c, v in enumerate(row, start=1):
            ws.write_string(i, c, v or "", st.check_cell)
        ws.set_row(i, text_rows([(row[0] or "", headers[1][1]), (row[3] or "", headers[4][1])]))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)
    print_setup(ws, landscape=True, repeat=(0, 0), footer=footer_text(w.meta))



# ---------------------------------------------------------------------------------------------
# From files


def consolidate_files(
    paths: Sequence[Path | str],
    out: Path | str,
    *,
    region: str = "",
    include_invalid: bool = False,
    year: int | None = None,
    expected: Sequence[tuple[str, str]] | None = None,
    previous=None,
    edition: str | None = None,
) -> ConsolidationResult:
    """Validate every file, leave out the unreadable (and, unless ``include_invalid``, the
    invalid) ones with their reasons, and consolidate the rest into ``out``.

    ``edition``: consolidate the files of this edition and leave the others out (listed, with
    their edition); without it, files in more than one edition are refused as a whole.

    Nothing is counted twice: the same path given twice is read once, ``out`` among the paths is
    skipped (a note in ``warnings``), and copies, the region's earlier consolidation and agencies
    already inside a given consolidation are left out (``_without_overlaps``, which also raises
    ConsolidationError for two consolidations holding one agency).

    ``previous``: last year's data (``crossyear.Previous`` or a path for ``crossyear.load_previous``,
    which raises ``crossyear.PreviousError``): cross-year findings of every included submission
    and of the consolidated totals go to ``result.cross_year``."""
    from .parallel import chunk_map

    if previous is not None:
        from .crossyear import as_previous

        previous = as_previous(previous)
    wanted = load_spec(edition) if edition else None
    job = partial(_read_chunk, edition=edition, places=previous is not None)
    subs: list[Submission] = []
    statuses: dict[str, str] = {}
    left: list[LeftOut] = []
    notes: list[str] = []
    given = [Path(p) for p in paths]
    target = Path(out).resolve()
    unique = [p for p in dict.fromkeys(given) if p.resolve() != target]  # the same path twice is one file
    if len(unique) < len(dict.fromkeys(given)):  # a folder that holds the output of an earlier run
        notes.append(f"输出文件 {Path(out).name} 也在待汇总的文件中（可能是此前汇总的结果），未计入")
    for got in chunk_map(job, unique, on_broken=_crashed):
        path = Path(got.path)
        if got.status == "unreadable" or got.edition is None:
            left.append(LeftOut(path.name, "", "unreadable", got.reason or "无法读取"))
            continue
        spec = load_spec(got.edition)
        sub = Submission(path, spec, got.meta, dict(zip(input_keys(spec), got.inputs)), {}, {}, got.where or {}, [], set(got.bad))
        if wanted is not None and sub.edition != wanted.edition:  # never added up, even with include_invalid
            left.append(_other_edition(path.name + (f"（{sub.agency}）" if sub.agency else ""), sub.code, sub, wanted))
            continue
        if got.status == "invalid" and not include_invalid:
            left.append(LeftOut(path.name + (f"（{sub.agency}）" if sub.agency else ""), sub.code, "invalid", got.errors))
            continue
        subs.append(sub)
        statuses[str(sub.path)] = got.status
    subs = _without_overlaps(subs, left, region)
    if not subs:
        reasons = "\n".join(f"{x.name}：{x.reason}" for x in left)
        raise ConsolidationError(f"没有可汇总的报表：\n{reasons}")
    result = consolidate_submissions(subs, out, region=region, year=year, expected=expected, statuses=statuses, left_out=left)
    result.warnings[:0] = notes
    if previous is not None:
        from .crossyear import consolidation_findings

        result.cross_year = consolidation_findings(result, previous)
    return result


def _without_overlaps(subs: list[Submission], left: list[LeftOut], region: str) -> list[Submission]:
    """``subs`` with what would be counted twice left out (appended to ``left`` with the reason):
    a file whose content another file already brings (a copy: same agency, same numbers); the
    region's own earlier consolidation (``region`` given and the file is 「region（汇总）」); an
    agency's file whose agency is already inside a consolidated workbook given too (its 明细).
    Two consolidated workbooks that hold the same agency raise ConsolidationError: which one is
    right is for the user to say."""
    from .detail import read_detail

    kept: list[Submission] = []
    seen: dict[tuple, Submission] = {}
    for s in subs:
        content = (s.edition, s.agency, agency_key(s.code), s.meta.get("kind", ""), s.meta.get("consolidates", ""),
                   tuple(sorted(s.inputs.items())))
        first = seen.setdefault(content, s)
        if first is not s:
            left.append(LeftOut(s.sent_as, s.code, "duplicate", f"与 {_who(first)} 的内容完全相同（同一单位、同样的数据），未重复汇总"))
        elif region and s.meta.get("kind") == "consolidated" and agency_key(s.meta.get("region", "")) == agency_key(region):
            left.append(LeftOut(s.sent_as, s.code, "duplicate", f"这是{region}自己的汇总表（可能是此前汇总的结果），未汇总"))
        else:
            kept.append(s)
    inside: dict[str, Submission] = {}  # agency (code, else name) -> the consolidated workbook holding it
    clashes: list[str] = []
    for s in kept:
        if s.meta.get("kind") != "consolidated":
            continue
        detail = read_detail(s.path, s.spec)  # read already: the file cannot surprise here
        for row in detail.rows if detail is not None else ():
            who = agency_key(row.code) or agency_key(row.name)
            if not who:
                continue
            other = inside.setdefault(who, s)
            if other is not s:
                clashes.append(f"{row.name or row.code} 同时在 {_who(other)} 和 {_who(s)} 中")
    if clashes:
        raise ConsolidationError(
            "两份汇总表中有相同的单位，汇总会把它们重复计算，请去掉其中一份或改用不重叠的汇总表：\n" + "\n".join(clashes[:20])
            + (f"\n……共 {len(clashes)} 处" if len(clashes) > 20 else ""))
    out = []
    for s in kept:
        keys = [k for k in (agency_key(s.code), agency_key(s.agency)) if k]
        holder = None if s.meta.get("kind") == "consolidated" else next((inside[k] for k in keys if k in inside), None)
        if holder is not None and holder is not s:
            left.append(LeftOut(s.sent_as, s.code, "duplicate", f"该单位已包含在 {_who(holder)} 中（见其“明细”表），未重复汇总"))
        else:
            out.append(s)
    return out


class _Read(NamedTuple):
    """What consolidation keeps of one validated file, sent back from a worker process: a slim
    record (the inputs as a tuple in ``compute.input_keys`` order), not the whole report, so that
    10,000 files cost neither the pickling nor the memory of 10,000 full submissions."""

    path: str
    status: str  # valid | invalid | unreadable
    reason: str | None  # why it is unreadable
    edition: str | None  # None: nothing read
    meta: dict[str, str]
    inputs: tuple[int, ...]
    bad: tuple[CellKey, ...]  # cells whose value could not be read
    where: dict[CellKey, tuple[str, str]] | None  # places of the cells, for cross-year messages
    errors: str  # the first errors (``_error_summary``) of an invalid file


def _read_chunk(paths: list[Path], *, edition: str | None, places: bool) -> list[_Read]:
    """Validate a chunk of files (``validate.validate_paths`` in this worker) and keep what
    consolidation needs; ``places``: also where each cell sits (for cross-year findings)."""
    from .validate import validate_paths

    out = []
    for rep in validate_paths(paths, edition=edition, workers=1):
        sub = rep.submission
        if sub is None:
            out.append(_Read(str(rep.path), "unreadable", rep.reason, None, {}, (), (), None, ""))
            continue
        keys = input_keys(sub.spec)
        out.append(_Read(
            str(rep.path), rep.status, rep.reason, sub.edition, sub.meta, tuple(int(sub.inputs.get(k, 0) or 0) for k in keys),
            tuple(k for k in keys if k in sub.bad_cells), dict(sub.where) if places else None,
            _error_summary(rep.findings, sub.spec) if rep.status == "invalid" else "",
        ))
    return out


def _crashed(path: Path) -> _Read:
    """The record of a file whose worker process died reading it (parallel.chunk_map's on_broken)."""
    from .validate import crashed_report  # validate's own message for it

    return _Read(str(path), "unreadable", crashed_report(path).reason, None, {}, (), (), None, "")


def _other_edition(name: str, code: str, sub: Submission, wanted: Spec) -> LeftOut:
    return LeftOut(name, code, "edition", f"表格版本不符（表格版本为{sub.spec.name}，汇总使用的是{wanted.name}），未汇总")


def _error_summary(findings: Sequence[Finding], spec: Spec | None) -> str:
    """The first three errors, each at its place (``表三!D6``), for the 未报送 sheet."""
    errors = [f for f in findings if f.severity == "error"]
    shown = "；".join(f"{f.place(spec) + '：' if f.where else ''}{f.message}" for f in errors[:3])
    return shown + (f" 等{len(errors)}项错误" if len(errors) > 3 else "")


# ---------------------------------------------------------------------------------------------
# From a campaign


def consolidate_campaign(
    directory: Path | str,
    output: Path | str,
    *,
    region: str | None = None,
    include_invalid: bool = False,
) -> ConsolidationResult:
    """Consolidate each roster agency's current submission of the campaign in ``directory``.

    Accepted: the ledger's ``valid`` submissions, plus ``invalid`` ones with ``include_invalid``.
    Submissions are rebuilt from the ledger (facts, cells, cover), not read again from the
    archive; the agency is the one the ledger identified (roster name and code, whatever the
    cover says).
    未报送 lists roster agencies with nothing received, and those whose current submission is
    invalid (unless included) or unreadable, with the errors. Year and region default to the
    campaign's; files of another year are left out.
    """
    from .campaign.ledger import LEDGER_NAME
    from .campaign.store import CampaignStore, is_campaign

    directory = Path(directory)
    if not is_campaign(directory):
        raise ConsolidationError(f"“{directory}”不是报送任务目录（未找到 {LEDGER_NAME}）")
    with CampaignStore.open(directory) as store:
        settings = store.settings()
        agencies = store.roster()
        current = store.current_files()
        readable = {agency.code: (status, sub) for agency, status, sub in store.current_submissions(("valid", "invalid"))}
        returned = store.returned()
    year = settings.year
    if region is None:
        region = settings.region
    wanted = load_spec(settings.edition)
    subs: list[Submission] = []
    statuses: dict[str, str] = {}
    left: list[LeftOut] = []
    for agency, status, _path, reason in current:
        if status == "unreadable":
            left.append(LeftOut(agency.name, agency.code, "unreadable", reason or "无法读取"))
            continue
        _, sub = readable[agency.code]
        if wanted is not None and sub.edition != wanted.edition:  # never added up, even with --include-invalid
            left.append(_other_edition(agency.name, agency.code, sub, wanted))
            continue
        if agency.code in returned and not include_invalid:  # the reviewer did not accept it
            left.append(LeftOut(agency.name, agency.code, "returned", f"审核退回修改：{returned[agency.code]}"))
        elif status == "valid" or include_invalid:
            sub.meta["agency"], sub.meta["code"] = agency.name, agency.code
            subs.append(sub)
            statuses[str(sub.path)] = "returned" if agency.code in returned else status
        else:
            left.append(LeftOut(agency.name, agency.code, status, _error_summary(sub.findings, sub.spec) or "有错误"))
    if not subs:
        counts = Counter("returned" if agency.code in returned else status for agency, status, _, _ in current)
        raise ConsolidationError(
            f"报送任务“{directory}”中还没有可汇总的报表：应报 {len(agencies)} 个单位，"
            f"合格 {counts['valid']} 个，有错误 {counts['invalid']} 个，退回修改 {counts['returned']} 个，无法读取 {counts['unreadable']} 个"
            + ("（有错误或退回修改的报表可用 --include-invalid 计入汇总）" if (counts["invalid"] or counts["returned"]) and not include_invalid else "")
        )
    return consolidate_submissions(
        subs, output, region=region, year=year, expected=[(a.name, a.code) for a in agencies],
        statuses=statuses, left_out=left, missing_reason="未收到报送的报表",
    )


def consolidate(
    paths: Sequence[Path | str],
    output: Path | str,
    *,
    region: str = "",
    include_invalid: bool = False,
    year: int | None = None,
    previous=None,
    edition: str | None = None,
) -> ConsolidationResult:
    """Consolidate one campaign folder (``consolidate_campaign``) or workbooks (``consolidate_files``).

    A campaign is given alone: its year and edition are its own, so ``year``/``edition`` with a
    campaign, or a campaign next to other files, raise ConsolidationError; any other folder
    stands for the workbooks in it (``crossyear.folder_files``; none: ConsolidationError; its
    other files named in ``warnings``); an
    unknown ``edition`` raises SpecError. ``previous``: last year's data (``crossyear.Previous``
    or a path), whose findings go to ``result.cross_year``.
    """
    from .campaign.ledger import LEDGER_NAME
    from .campaign.store import is_campaign

    campaign = len(paths) == 1 and is_campaign(paths[0])
    folders = [p for p in paths if Path(p).is_dir()]
    notes: list[str] = []
    if folders and not campaign:
        from .crossyear import folder_files

        expanded: list[Path | str] = []
        for p in paths:
            if not Path(p).is_dir():
                expanded.append(p)
                continue
            if is_campaign(p):
                raise ConsolidationError(f"“{p}”是报送任务目录：汇总报送任务时只能给出这一个目录，不能再加其他文件")
            found, others = folder_files(Path(p))  # a plain folder: its workbooks, as validate reads one
            if not found:
                raise ConsolidationError(f"文件夹“{p}”中没有工作簿（.xlsx .xlsm .xls .ods），也不是报送任务目录（其中没有 {LEDGER_NAME}）")
            if others:  # said, never skipped silently (validate lists them as 未校验)
                names = "；".join(f"{o.relative_to(p)}（{why}）" for o, why in others[:10])
                notes.append(f"文件夹“{p}”中有 {len(others)} 个文件不是工作簿，未汇总：{names}" + ("……" if len(others) > 10 else ""))
            expanded += found
        paths = expanded
    if campaign and (year is not None or edition is not None):
        raise ConsolidationError("汇总报送任务时年度和表格版本取自任务本身，不能再指定 --year 或 -e")
    if edition:
        load_spec(edition)
    if not campaign:
        result = consolidate_files(paths, output, region=region, include_invalid=include_invalid, year=year, previous=previous, edition=edition)
        result.warnings[:0] = notes
        return result
    result = consolidate_campaign(paths[0], output, region=region or None, include_invalid=include_invalid)
    if previous is not None:
        from .crossyear import as_previous, consolidation_findings

        result.cross_year = consolidation_findings(result, as_previous(previous))
    return result
