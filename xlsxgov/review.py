"""Reviewing returned files as ``xlsxgov validate`` does: validation, last year's data, feedback.

``validate`` knows only this year's files; the cross-year rules (``crossyear``) are applied here,
by the caller, so that validating a batch never reads last year's data or a campaign ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .validate import FileReport, validate_paths

if TYPE_CHECKING:
    from .crossyear import Previous


def review_files(
    paths: Sequence[Path | str],
    *,
    edition: str | None = None,
    previous: Previous | Path | str | None = None,
    feedback_dir: Path | None = None,
) -> list[FileReport]:
    """Validate ``paths`` as one batch (an unreadable file never stops it), add the cross-year
    findings against ``previous`` (a ``crossyear.Previous``, or a path for ``crossyear.load_previous``,
    which raises PreviousError), and write a feedback workbook
    into ``feedback_dir`` for every file with an error or a warning.

    ``edition``: the edition every file must be in (SpecError when unknown); a file in another
    edition gets an error. Returns one report per path, in order.
    """
    from . import spec as spec_mod

    if edition:
        spec_mod.load(edition)
    reports = validate_paths(paths, edition=edition)
    if previous is not None:
        from .crossyear import apply_previous  # it loads a path itself

        apply_previous(reports, previous)
    if feedback_dir is not None:
        from .feedback import feedback_path, write_feedback

        feedback_dir.mkdir(parents=True, exist_ok=True)
        for rep in reports:
            if rep.submission and any(f.severity != "info" for f in rep.findings):
                write_feedback(rep.submission, rep.findings, feedback_path(feedback_dir, rep.submission))
    return reports
