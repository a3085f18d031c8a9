"""The portal's log on the terminal, in Chinese and in Beijing time.

``xlsxgov serve`` runs the portal under Uvicorn, whose own lines ("Started server process",
"Uvicorn running on …", "Shutting down") are English. :class:`InChinese` translates the ones a
clerk sees starting, stopping and serving; a line it does not know is kept as it is (a server
message is never dropped), marked as Uvicorn's. :func:`log_config` is the ``logging.config``
dictionary ``serve`` passes to Uvicorn: one handler on stderr for Uvicorn's lines and for the
portal's own request log (``xlsxgov.web``, whose links are redacted); Uvicorn's access log,
which would print each agency's link, is off.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from ..safetext import for_terminal

__all__ = ["InChinese", "BeijingFormatter", "log_config"]

# (Uvicorn's message as it reads once formatted, the Chinese line; groups carried over by name).
_TRANSLATIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), zh)
    for p, zh in (
        (r"Started server process \[(?P<pid>\d+)\]", "服务进程已启动（进程号 {pid}）"),
        (r"Finished server process \[(?P<pid>\d+)\]", "服务进程已结束（进程号 {pid}）"),
        (r"Started parent process \[(?P<pid>\d+)\]", "主进程已启动（进程号 {pid}）"),
        (r"Stopping parent process \[(?P<pid>\d+)\]", "主进程正在停止（进程号 {pid}）"),
        (r"Waiting for child process \[(?P<pid>\d+)\]", "等待服务进程结束（进程号 {pid}）"),
        (r"Terminated child process \[(?P<pid>\d+)\]", "已通知服务进程停止（进程号 {pid}）"),
        (r"Child process \[(?P<pid>\d+)\] died", "服务进程意外退出（进程号 {pid}），正在重新启动"),
        (r"Waiting for application startup\.", "网站正在启动……"),
        (r"Application startup complete\.", "网站已启动"),
        (r"Waiting for application shutdown\.", "网站正在关闭……"),
        (r"Application shutdown complete\.", "网站已关闭"),
        (r"Uvicorn running on (?P<url>\S+) \(Press CTRL\+C to quit\)", "正在监听 {url}（按 Ctrl+C 停止）"),
        (r"Shutting down", "正在停止……"),
        (r"Received SIG(?:INT|TERM|BREAK), exiting\.", "收到停止信号，正在退出"),
        (r"Waiting for connections to close\. \(CTRL\+C to force quit\)", "等待正在进行的请求完成（再按 Ctrl+C 强制停止）"),
        (r"Waiting for background tasks to complete\. \(CTRL\+C to force quit\)", "等待后台任务完成（再按 Ctrl+C 强制停止）"),
        (r"Cancel (?P<n>\d+) running task\(s\), timeout graceful shutdown exceeded", "等待超时，已取消 {n} 个未完成的请求"),
        (r"Invalid HTTP request received\.", "收到一个无效的 HTTP 请求（已拒绝）"),
        (r"Unsupported upgrade request\.", "收到不支持的协议升级请求（已拒绝）"),
    )
]


def in_chinese(message: str) -> str | None:
    """The Chinese line for one of Uvicorn's messages; None for a message not in the table."""
    for pattern, zh in _TRANSLATIONS:
        m = pattern.fullmatch(message)
        if m is not None:
            return zh.format(**m.groupdict())
    return None


class InChinese(logging.Filter):
    """Logging filter (on the handler): Uvicorn's records in Chinese; one it does not know
    keeps its text, marked ``（Uvicorn）``. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("uvicorn"):
            message = record.getMessage()
            zh = in_chinese(message)
            record.msg, record.args = (zh if zh is not None else f"（Uvicorn）{message}"), ()
            record.__dict__.pop("color_message", None)  # Uvicorn's coloured copy of the English
        return True


_LEVELS = {"WARNING": "警告：", "ERROR": "错误：", "CRITICAL": "严重错误："}


class BeijingFormatter(logging.Formatter):
    """``2026-01-20 09:30:05 message``: the time in Beijing time, as every page of the portal
    shows it whatever the server's time zone (UTC+8, no daylight saving); warnings and errors
    say so in front of the message; control characters shown as escapes (``safetext``)."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: Any = "%") -> None:
        super().__init__(fmt or "%(asctime)s %(levelzh)s%(message)s", datefmt or "%Y-%m-%d %H:%M:%S", style)

    @staticmethod
    def converter(seconds: float | None) -> time.struct_time:  # type: ignore[override]
        return time.gmtime((time.time() if seconds is None else seconds) + 8 * 3600)

    def format(self, record: logging.LogRecord) -> str:
        record.levelzh = _LEVELS.get(record.levelname, "")
        return super().format(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # A request path is the client's text: an escape sequence in it must not reach the
        # operator's terminal (a traceback, appended after this, keeps its lines).
        return for_terminal(super().formatMessage(record))


def log_config() -> dict:
    """The ``logging.config.dictConfig`` dictionary of ``xlsxgov serve`` (see the module doc)."""
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "zh", "filters": ["zh"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"zh": {"()": InChinese}},
        "formatters": {"zh": {"()": BeijingFormatter}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "xlsxgov.web": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
