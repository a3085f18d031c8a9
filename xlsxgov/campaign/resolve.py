"""What a clerk resolves by hand: give a file to an agency (assign), set one aside (withdraw), and
the history of one agency (every file received, what became of it, and who did what when).

Nothing is deleted: an assigned file is validated again as the agency's submission (the portal's
``assign_file``); a withdrawn one keeps its row, its findings and its archived file, with status
``withdrawn`` and ``superseded_by`` pointing at itself (set aside: never current), and the agency's
previous submission becomes current again (ledger.recompute_current); a withdrawn file that came
from another agency can then be assigned to it (the row moves, its reviews with it).  Each action is a line of the
ledger's append-only audit log with the operating-system user and the time.  The SQL is the
store's (``CampaignStore.withdraw``, ``agency_history`` …); this module decides and words.
"""

from __future__ import annotations

import getpass
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CampaignError
from ..vocab import status_label
from .ledger import ATTRIBUTED, submission_label
from ..locate import agency_key
from .roster import Agency
from .store import CampaignStore

__all__ = ["AssignResult", "HistoryEntry", "WithdrawResult", "assign", "find_agency", "history", "withdraw"]

_HEX = re.compile(r"[0-9a-fA-F]{8,64}")


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without passwd entry)
        return "（未知用户）"


def find_agency(agencies: list[Agency], text: str) -> Agency:
    """The roster agency named by ``text``: its code, its full name, or a part of its name that only
    one agency has.  CampaignError (Chinese) otherwise."""
    k = agency_key(text)
    for a in agencies:
        if agency_key(a.code) == k or agency_key(a.name) == k:
            return a
    partial = [a for a in agencies if k and k in agency_key(a.name)]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = "、".join(a.name for a in partial[:5])
        raise CampaignError(f"“{text}”对应名册中的多个单位（{names}），请写出完整的单位名称或统一社会信用代码")
    raise CampaignError(f"名册中没有“{text}”这个单位（可写单位名称或统一社会信用代码）")


def _find_submission(store: CampaignStore, file_or_sha: str):
    """The ledger row of a received file given as a path (any copy: quarantine/, archive/, the
    original), as the name the import listed a file of no agency by, or as its SHA-256 (at
    least 8 hex digits, as in quarantine/ file names)."""
    path = Path(file_or_sha)
    if path.is_file():
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        found = store.submissions_by_sha(sha)
        if not found:
            raise CampaignError(f"文件“{path}”还没有导入本报送任务，请先运行 xlsxgov campaign import {store.directory} {path}")
        return found[0]
    named = store.received_by_name(file_or_sha)  # the name the import listed it by
    free = [r for r in named if store.unassigned_file(r["id"]) is not None]  # the ones assign may give
    if len(free) > 1:
        shas = "、".join(r["sha256"][:8] for r in free)
        raise CampaignError(f"单位不明或已撤回的文件中有 {len(free)} 个名为“{file_or_sha}”，请改用 SHA-256 的前 8 位指定（{shas}）")
    if free or named:
        return (free or named)[0]  # a file an agency holds: the caller says so
    prefix = path.name.split("_", 1)[0]  # a quarantine name: <sha[:12]>_<original name>
    if not _HEX.fullmatch(prefix):
        raise CampaignError(f"找不到文件“{file_or_sha}”（可写文件路径、导入时列出的文件名，或文件 SHA-256 的前 8 位以上）")
    rows = store.submissions_by_sha(prefix, prefix=True)
    if not rows:
        raise CampaignError(f"台账中没有 SHA-256 以“{prefix}”开头的文件")
    if len(rows) > 1:
        raise CampaignError(f"SHA-256 以“{prefix}”开头的文件有 {len(rows)} 个，请多写几位")
    return rows[0]


CLI_ADDRESS = "命令行"  # the audit log's "from which address" for actions taken on this machine


@dataclass
class AssignResult:
    submission_id: int
    label: str  # the file as the agency named it (and its mail)
    agency: Agency
    status: str  # the verdict as the agency's submission: valid | invalid | unreadable
    errors: int
    warnings: int
    feedback: Path | None  # where its feedback workbook goes (built when first asked for: campaign.feedback)
    note: str = ""  # e.g. the cover names another agency (the office decided; it is told)


def assign(directory: Path | str, file_or_sha: str, agency_text: str) -> AssignResult:
    """Give a file to a roster agency: one recorded with no agency (quarantine/), one an agency
    withdrew because it was not theirs (identified wrongly: the same bytes sent again would be
    skipped as a duplicate, so the file itself moves), or one recorded by its cover while its
    mail's sender or file name names another agency (``agency.channel_other``: held back from
    replacing a report until the office decides; assigned, even to the agency of its cover, it
    is that agency's report like any other). It is validated again and recorded as that
    agency's submission (``assign_file``), the agency's current submission chosen again, and an
    audit line says who, when and, for a withdrawn file, whose it was. CampaignError for an
    unknown file or agency, or a file that an agency holds (not withdrawn)."""
    from .importer import assign_file

    directory = Path(directory)
    moved_from = ""
    with CampaignStore.open(directory) as store:
        agency = find_agency(store.roster(), agency_text)
        row = _find_submission(store, file_or_sha)
        label = submission_label(row["file_name"], row["source"])
        if row["code"] is not None:
            owner = store.names().get(row["code"], row["code"])
            if store.unassigned_file(row["id"]) is None:
                raise CampaignError(f"文件{label}已是{owner}的报送，不能再分配（可先用 campaign withdraw 撤回）")
            moved_from = (f"（原为单位 {row['code']} {owner} 撤回的报送）" if row["status"] == "withdrawn"
                          else f"（原按封面记在单位 {row['code']} {owner} 名下，发件人或文件名指向另一单位）")
    outcome = assign_file(directory, row["id"], agency.code)
    if outcome.outcome == "duplicate":  # the ledger changed under us (another import, a second assign)
        raise CampaignError(f"文件{label}未能分配：台账中该文件的记录刚被其他操作更改，请用 campaign status --history 查看后重试")
    with CampaignStore.open(directory) as store:
        (new,) = store.submissions_by_sha(row["sha256"])
        store.record_audit(_who(), CLI_ADDRESS, "分配文件", f"文件 {label}（SHA-256 {row['sha256']}）分配给单位 {agency.code} {agency.name}：{status_label(outcome.outcome)}{moved_from}")
        note = "；".join(store.messages_of(new["id"], "agency.cover_other"))
    return AssignResult(
        new["id"], label, agency, outcome.outcome, outcome.errors, outcome.warnings,
        directory / new["feedback_path"] if new["feedback_path"] else None, note,
    )


@dataclass
class WithdrawResult:
    submission_id: int
    label: str
    agency: Agency
    was: str  # the submission's status before
    now_current: str | None  # label of the submission current after, None: the agency has none


def withdraw(directory: Path | str, agency_text: str, submission_id: int | None = None, note: str = "") -> WithdrawResult:
    """Set an agency's submission aside (default: its current one): status ``withdrawn``, nothing
    deleted; its previous submission becomes current again, or the agency is 未报送.  An audit
    line records who and when.  CampaignError when the agency has no such submission."""
    with CampaignStore.open(directory) as store, store.transaction():
        agency = find_agency(store.roster(), agency_text)
        if submission_id is None:
            row = store.current_row(agency.code)
            if row is None:
                raise CampaignError(f"{agency.name}没有可撤回的报表（未报送或已全部撤回）")
        else:
            row = store.submission(submission_id)
            if row is None or row["code"] != agency.code:
                raise CampaignError(f"{agency.name}没有编号为 {submission_id} 的报送（编号见 xlsxgov campaign status {directory} --history {agency.name}）")
            if row["status"] == "withdrawn":
                raise CampaignError(f"编号 {submission_id} 的报送已经撤回")
        label = submission_label(row["file_name"], row["source"])
        detail = f"单位 {agency.code} {agency.name} 报送 {row['id']} {label}（撤回前为{status_label(row['status'])}）" + (f"：{note}" if note else "")
        cur = store.withdraw(row["id"], agency.code, (_who(), CLI_ADDRESS, "撤回报送", detail))
    return WithdrawResult(
        row["id"], label, agency, row["status"], submission_label(cur["file_name"], cur["source"]) if cur else None,
    )


@dataclass
class HistoryEntry:
    at: str  # UTC ISO time
    what: str  # 收到 (a file received) or the audit action (分配文件, 撤回报送, 审核：…, 上传报表)
    detail: str
    submission_id: int | None = None
    status: str = ""  # a received file's status now (valid | invalid | unreadable | withdrawn)
    current: bool = False
    who: str = ""


def history(directory: Path | str, agency_text: str) -> tuple[Agency, list[HistoryEntry]]:
    """Everything that happened to one agency, oldest first: each file received (named as the
    agency named it, with its verdict now and whether it is the current one) and each audit line
    about the agency (assign, withdraw, reviews and uploads in the portal)."""
    with CampaignStore.open(directory) as store:
        agency = find_agency(store.roster(), agency_text)
        files, lines = store.agency_history(agency.code)
    entries = [
        HistoryEntry(
            r["received_at"], "收到", submission_label(r["file_name"], r["source"]), r["id"], r["status"],
            r["superseded_by"] is None and r["status"] in ATTRIBUTED,
        )
        for r in files
    ]
    entries += [HistoryEntry(a["at"], a["action"], a["detail"], who=a["actor"]) for a in lines]
    entries.sort(key=lambda e: e.at)
    return agency, entries
