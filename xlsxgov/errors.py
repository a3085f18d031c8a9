"""One error hierarchy: every user error raised by xlsxgov is an ``XlsxgovError``.

Each carries a one-line (or, for a roster, one-report) Chinese message in ``message_zh`` (also
``str(exc)``) that names the file and the problem.  The CLI catches the base once and prints the
message through ``xlsxgov.cli.fail``; library callers (the web portal, scripts) catch the base or
one subclass.  Subclasses that were ``ValueError``s before keep that base so that callers written
against the old classes still work.
"""

from __future__ import annotations

import errno
from pathlib import Path


class XlsxgovError(Exception):
    """A user error with a Chinese message (``message_zh``, also ``str(exc)``)."""

    def __init__(self, message_zh: str):
        super().__init__(message_zh)
        self.message_zh = message_zh


class SpecError(XlsxgovError, ValueError):
    """An edition spec that cannot be used; the message names the file and the problem."""


class ExprError(XlsxgovError, ValueError):
    """A rule or total expression of a spec that cannot be parsed or evaluated."""


class CampaignError(XlsxgovError):
    """A campaign folder cannot be used as asked: missing, already existing, a missing input path."""


class ConsolidationError(XlsxgovError, ValueError):
    """Consolidation cannot proceed (mixed editions, nothing to consolidate)."""


class PreviousError(XlsxgovError, ValueError):
    """Last year's data (``--previous``) cannot be used; the message names the file."""


class ExportError(XlsxgovError, ValueError):
    """Facts cannot be exported as asked (output suffix, a folder that is no campaign, a 明细
    sheet whose columns do not match its edition)."""


class OfficeError(XlsxgovError):
    """LibreOffice could not be run or did not produce the expected output."""


class OfficeInputError(OfficeError, ValueError):
    """A LibreOffice conversion asked for something it cannot do (format, clashing file names)."""


class RenderError(XlsxgovError, ValueError):
    """Tables cannot be rendered as asked (an unknown output format)."""


class MailError(XlsxgovError, ValueError):
    """A mail cannot be built or sent as asked (bad address, header, CA file, security mode)."""


class MailConnectionError(XlsxgovError):
    """The SMTP server could not be reached, secured or logged into.

    ``results``: the send results of the messages handled before the failure, so that the
    caller can still record and report them.
    """

    def __init__(self, host: str, port: int, message: str, results: list | None = None):
        super().__init__(message)
        self.host = host
        self.port = port
        self.results = list(results or [])


Problem = tuple[int | None, str, str]  # (row number or None for the whole file, column, message)


class RosterError(XlsxgovError):
    """Every problem found in a roster file; nothing is returned when raised.

    ``message_zh`` is the whole report: a header line naming the file, then one line per problem
    (at most ``MAX_SHOWN``).
    """

    MAX_SHOWN = 200  # keep the report readable for a badly broken file

    def __init__(self, path: str | Path, problems: list[Problem]):
        self.path = Path(path)
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        """The Chinese report: the file, the number of problems, then one line per problem."""
        lines = [f"名册文件“{self.path}”有 {len(self.problems)} 处问题，请修改后重新导入："]
        for row, label, message in self.problems[: self.MAX_SHOWN]:
            where = f"第{row}行 " if row else ""
            lines.append(f"  {where}{label}{message}")
        if len(self.problems) > self.MAX_SHOWN:
            lines.append(f"  ……另有 {len(self.problems) - self.MAX_SHOWN} 处问题未列出")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


class DemoError(XlsxgovError):
    """The demo cannot run where asked (a folder that is not an earlier demo)."""


# What the disk said, in the clerk's words, for the errors a clerk can act on.
_OS_REASONS = {errno.ENOSPC: "磁盘空间不足", errno.EACCES: "没有权限", errno.EPERM: "没有权限", errno.EROFS: "磁盘为只读"}


def os_reason(exc: OSError) -> str:
    """Why a read or write failed, for a message: Chinese for what a clerk can act on (disk
    full, no permission, read-only disk), else the system's own text with control characters
    made inert (``safetext.for_terminal``)."""
    from .safetext import for_terminal

    return _OS_REASONS.get(exc.errno or 0) or for_terminal(exc.strerror or str(exc))
