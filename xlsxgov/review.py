"""Reviewing returned files as ``xlsxgov validate`` does: validation, last year's data, feedback.

``validate`` knows only this year's files; the cross-year rules (``crossyear``) are applied here,
by the caller, so that validating a batch never reads last year's data or a campaign ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .validate import FileReport, iter_reports

if TYPE_CHECKING:
    from .crossyear import Previous


def review_files(
    paths: Sequence[Path | str],
    *,
    edition: str | None = None,
    previous: Previous | Path | str | None = None,
    feedback_dir: Path | None = None,
) -> list[FileReport]:
    """The list of :func:`iter_review` (same arguments, same errors)."""
    return list(iter_review(paths, edition=edition, previous=previous, feedback_dir=feedback_dir))


def iter_review(
    paths: Sequence[Path | str],
    *,
    edition: str | None = None,
    previous: Previous | Path | str | None = None,
    feedback_dir: Path | None = None,
) -> Iterator[FileReport]:
    """Validate ``paths`` (an unreadable file never stops the batch), add the cross-year
    findings against ``previous`` (a ``crossyear.Previous``, or a path for
    ``crossyear.load_previous``, which raises PreviousError), and write a feedback workbook into
    ``feedback_dir`` for every file with an error or a warning. One report per path, in order,
    streamed as each chunk of files is done (``validate.iter_reports``): a caller that does not
    keep them holds one chunk at a time, whatever the number of files.

    ``edition``: the edition every file must be in (SpecError when unknown, raised before any
    file is read); a file in another edition gets an error.
    """
    from . import spec as spec_mod

    if edition:
        spec_mod.load(edition)
    if previous is not None:
        from .crossyear import as_previous

        previous = as_previous(previous)  # loaded (or refused) before the first file is read
    if feedback_dir is not None:
        feedback_dir.mkdir(parents=True, exist_ok=True)
    return _reviewed(iter_reports(paths, edition=edition), previous, feedback_dir)


def _reviewed(reports: Iterator[FileReport], previous: Previous | None, feedback_dir: Path | None) -> Iterator[FileReport]:
    # A generator apart from iter_review, so that its argument errors are raised at the call.
    from .crossyear import apply_previous
    from .feedback import write_feedback

    for rep in reports:
        if previous is not None:
            apply_previous([rep], previous)
        if feedback_dir is not None:
            for _, path in feedback_paths([rep], feedback_dir):
                write_feedback(rep.submission, rep.findings, path)
        yield rep


def feedback_paths(reports: Sequence[FileReport], feedback_dir: Path) -> list[tuple[FileReport, Path]]:
    """The files that get a feedback workbook (an error or a warning) and where it goes."""
    from .feedback import feedback_path

    return [
        (rep, feedback_path(feedback_dir, rep.submission))
        for rep in reports
        if rep.submission and any(f.severity != "info" for f in rep.findings)
    ]
