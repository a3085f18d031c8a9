"""The project's vocabulary, defined once: submission statuses, import outcomes, severities.

Values are ``StrEnum`` members, so they equal the plain strings stored in the ledger, in JSON
output and in older code (``Status.VALID == "valid"``); the label tables give the Chinese word a
clerk sees, everywhere (terminal, status workbook, 明细 sheet, reminders).
"""

from __future__ import annotations

from enum import StrEnum

# The edition used when none is named (FORMATS.md: the 2021 form, in force since the 2021 reports).
DEFAULT_EDITION = "gov2021"


class Status(StrEnum):
    """Where an agency stands in a campaign, or what became of one file."""

    VALID = "valid"  # read, no error
    INVALID = "invalid"  # read, at least one error
    UNREADABLE = "unreadable"  # not a usable workbook of the statutory tables
    MISSING = "missing"  # nothing received (campaign) / nothing to consolidate
    RETURNED = "returned"  # read, but a reviewer sent it back (the portal's 审核: 退回修改)


# The portal's review of a submission (审核), as in ODK Central: a new upload is pending again.
REVIEW_PENDING, REVIEW_APPROVED, REVIEW_RETURNED = "待审核", "审核通过", "退回修改"
REVIEW_STATES = (REVIEW_PENDING, REVIEW_APPROVED, REVIEW_RETURNED)

STATUS_LABELS: dict[str, str] = {
    Status.VALID: "合格",
    Status.INVALID: "有错误",
    Status.UNREADABLE: "无法读取",
    Status.MISSING: "未报送",
    Status.RETURNED: "退回修改",
}

# Statuses an agency's current submission can have (an agency with none is MISSING).
RECEIVED_STATUSES: tuple[Status, ...] = (Status.VALID, Status.INVALID, Status.UNREADABLE)


class Outcome(StrEnum):
    """What ``campaign import`` did with one received file: a status, or one of two more."""

    VALID = "valid"
    INVALID = "invalid"
    UNREADABLE = "unreadable"
    UNKNOWN = "unknown"  # readable or not, no roster agency could be identified
    DUPLICATE = "duplicate"  # the same bytes were imported before (skipped)
    SKIPPED = "skipped"  # not a workbook to import (a lock file, another kind of file): reason says why


# In the order the import summary lists them.
OUTCOME_LABELS: dict[str, str] = {
    Outcome.VALID: "合格",
    Outcome.INVALID: "有错误",
    Outcome.UNREADABLE: "无法读取",
    Outcome.UNKNOWN: "单位不明",
    Outcome.DUPLICATE: "重复文件（已跳过）",
    Outcome.SKIPPED: "未导入",
}


class Severity(StrEnum):
    """How serious a finding is (FORMATS.md: errors block acceptance, warnings ask a look)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITY_LABELS: dict[str, str] = {Severity.ERROR: "错误", Severity.WARNING: "警告", Severity.INFO: "提示"}
SEVERITY_ORDER: dict[str, int] = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def status_label(status: str) -> str:
    """The Chinese label of a status; an unknown value (e.g. a consolidation's "year") as is."""
    return STATUS_LABELS.get(status, status)
