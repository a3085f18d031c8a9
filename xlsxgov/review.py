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
    from .feedback import FeedbackFolder


def review_files(
    paths: Sequence[Path | str],
    *,
    edition: str | None = None,
    previous: Previous | Path | str | None = None,
    feedback_dir: Path | FeedbackFolder | None = None,
) -> list[FileReport]:
    """The list of :func:`iter_review` (same arguments, same errors)."""
    return list(iter_review(paths, edition=edition, previous=previous, feedback_dir=feedback_dir))


def iter_review(
    paths: Sequence[Path | str],
    *,
    edition: str | None = None,
    previous: Previous | Path | str | None = None,
    feedback_dir: Path | FeedbackFolder | None = None,
) -> Iterator[FileReport]:
    """Validate ``paths`` (an unreadable file never stops the batch), add the cross-year
    findings against ``previous`` (a ``crossyear.Previous``, or a path for
    ``crossyear.load_previous``, which raises PreviousError), and write a feedback workbook into
    ``feedback_dir`` for every file with an error or a warning (``feedback.FeedbackFolder``: one
    per file, two files of one agency never at one path; give a FeedbackFolder to learn where
    each went, its ``written``). One report per path, in order,
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
    folder = None
    if feedback_dir is not None:
        from .feedback import FeedbackFolder

        folder = feedback_dir if isinstance(feedback_dir, FeedbackFolder) else FeedbackFolder(feedback_dir)
        folder.directory.mkdir(parents=True, exist_ok=True)
    return _reviewed(iter_reports(paths, edition=edition), previous, folder)


def _reviewed(reports: Iterator[FileReport], previous: Previous | None, folder: FeedbackFolder | None) -> Iterator[FileReport]:
    # A generator apart from iter_review, so that its argument errors are raised at the call.
    from .crossyear import apply_previous

    for rep in reports:
        if previous is not None:
            apply_previous([rep], previous)
        if folder is not None and rep.submission is not None:
            folder.write(rep.submission, rep.findings)
        yield rep
