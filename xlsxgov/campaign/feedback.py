"""A campaign's feedback workbooks, built when first asked for and kept in feedback/ after that.

``campaign import`` and the portal record an invalid submission with the place of its feedback
workbook (``submissions.feedback_path``) but do not write it (issue #13, point 4: it was a
quarter of the import's time, for files that are mostly fixed and sent again before anybody
opens their feedback). Whoever needs one — the portal's download for the agency and the office,
``campaign remind``, ``campaign feedback``, the demo — calls ``feedback_workbook`` (one) or
``build_feedback`` (all pending, on every core): the archived original is checked against its
SHA-256, read and validated again and judged by the campaign exactly as the import did
(``importer.validate_any`` and ``importer.judge``), and ``xlsxgov.feedback.write_feedback``
writes the workbook through a temporary file renamed into place (``atomic.replacing``), so two
requests at once each write their own temporary file and a reader never sees half a workbook.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..atomic import remove_orphans, replacing
from ..errors import CampaignError, os_reason
from .ledger import submission_label
from .store import CampaignStore

__all__ = ["FeedbackBuild", "build_feedback", "feedback_workbook"]


@dataclass(frozen=True)
class _Pending:
    """One feedback workbook to build: the ledger row's id, its archived original (path and
    recorded SHA-256), where the workbook goes, whether the bytes are a template the campaign
    issued, and the submission as the agency named it (for messages)."""

    submission_id: int
    archived: Path
    sha256: str
    dest: Path
    issued: bool
    label: str


def _pending(store: CampaignStore, row) -> _Pending:
    return _Pending(row["id"], store.path(row["archive_path"]), row["sha256"], store.path(row["feedback_path"]),
                    store.issued_template(row["sha256"]), submission_label(row["file_name"], row["source"]))



def _intact(p: _Pending) -> str:
    """"" when the archived original is there with the bytes the ledger recorded, else why not (Chinese)."""
    try:
        data = p.archived.read_bytes()
    except FileNotFoundError:
        return f"报送{p.label}的存档原件 {p.archived.name} 已不在 archive/ 中，无法生成问题反馈工作簿；请单位重新报送"
    except OSError as e:
        return f"报送{p.label}的存档原件 {p.archived.name} 无法读取（{os_reason(e)}），无法生成问题反馈工作簿"
    if hashlib.sha256(data).hexdigest() != p.sha256:
        return f"报送{p.label}的存档原件 {p.archived.name} 已损坏（内容与台账记录的 SHA-256 不符），无法生成问题反馈工作簿；请单位重新报送"
    return ""


def _build(items: list[_Pending], *, edition: str, year: int | None) -> list[str]:
    """Write the feedback workbook of each item (the worker side of ``build_feedback``, and
    ``feedback_workbook`` itself): "" for each one written, else why not (Chinese)."""
    from ..feedback import write_feedback
    from .importer import judge, validate_any

    out = [_intact(p) for p in items]
    readable = [p for p, why in zip(items, out) if not why]
    reports = iter(validate_any([p.archived for p in readable], edition=edition, workers=1) if readable else [])
    for i, p in enumerate(items):
        if out[i]:
            continue
        report = judge(next(reports), year=year, issued=p.issued)
        if report.submission is None:  # read at import, unreadable now: this xlsxgov reads it otherwise
            out[i] = f"报送{p.label}的存档原件现在无法读取（{report.reason or '无法读取'}），无法生成问题反馈工作簿"
            continue
        try:
            p.dest.parent.mkdir(parents=True, exist_ok=True)  # feedback/ removed by hand
            # Flushed before it is renamed into place: a kept file is whole even after a power cut.
            with replacing(p.dest) as tmp:
                write_feedback(report.submission, report.findings, tmp)
        except OSError as e:
            out[i] = f"无法写入问题反馈工作簿 {p.dest}：{os_reason(e)}"
    return out


def feedback_workbook(directory: Path | str, submission_id: int) -> Path:
    """The feedback workbook of ledger submission ``submission_id``: the file already in
    feedback/ when there is one, else built now from the archived original (see the module
    docstring) and kept there. Returns its path (``submissions.feedback_path`` under
    ``directory``); the workbook is ``xlsxgov.feedback.write_feedback``'s, with the findings
    of validating the original again, the campaign's own first (``importer.judge``): those the
    import recorded, as long as xlsxgov's rules have not changed since
    (tests/test_feedback_lazy.py compares them).

    Raises CampaignError (Chinese, naming the submission) when ``directory`` is not a campaign,
    there is no such submission, it has no feedback workbook (only a file with errors has one),
    or its archived original is missing, damaged (its SHA-256 differs from the ledger's) or no
    longer readable, or the workbook cannot be written."""
    with CampaignStore.open(directory) as store:
        row = store.submission(submission_id)
        if row is None:
            raise CampaignError(f"台账中没有编号为 {submission_id} 的报送")
        if not row["feedback_path"]:
            raise CampaignError(f"报送{submission_label(row['file_name'], row['source'])}没有问题反馈工作簿（只有有错误的报表才有）")
        pending = _pending(store, row)
        if pending.dest.is_file():
            return pending.dest
        settings = store.settings()
    (why,) = _build([pending], edition=settings.edition, year=settings.year)
    if why:
        raise CampaignError(why)
    return pending.dest


@dataclass
class FeedbackBuild:
    """What ``build_feedback`` did: the workbooks it wrote, how many were there already, and
    (submission id, why, in Chinese) for each it could not build."""

    built: list[Path] = field(default_factory=list)
    existing: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def _died(p: _Pending) -> str:
    return f"生成报送{p.label}的问题反馈工作簿时程序异常终止（存档原件可能已损坏）"


def build_feedback(directory: Path | str, *, current_only: bool = False) -> FeedbackBuild:
    """Build every feedback workbook the ledger names that is not in feedback/ yet, on every
    core (``parallel.chunk_map``); ``current_only``: only those
    of each agency's current submission (the ones ``campaign remind`` attaches). One file that
    cannot be built costs only itself (listed in ``failed``). Raises CampaignError when
    ``directory`` is not a campaign."""
    from ..parallel import chunk_map

    result = FeedbackBuild()
    with CampaignStore.open(directory) as store:
        todo = []
        for row in store.with_feedback(current_only=current_only):
            if not row["feedback_path"]:  # an invalid file recorded before feedback paths were kept
                continue
            p = _pending(store, row)
            if p.dest.is_file():
                result.existing += 1
            else:
                todo.append(p)
        settings = store.settings()
        remove_orphans(store.folder("feedback"))  # temporary files of a build that was killed
    if not todo:
        return result
    work = partial(_build, edition=settings.edition, year=settings.year)
    for p, why in zip(todo, chunk_map(work, todo, on_broken=_died)):
        if why:
            result.failed.append((p.submission_id, why))
        else:
            result.built.append(p.dest)
    return result
