"""What the web portal's routers share with the app: configuration, cookies, page helpers.

Kept apart from app.py so that the routers (agency, office, api), which app.py includes, never
import app.py back: the package's import graph stays without cycles.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import multiprocessing
import os
import sqlite3
import threading
from dataclasses import dataclass
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from ..campaign.importer import FileOutcome, Received, import_files
from ..vocab import OUTCOME_LABELS, SEVERITY_LABELS, STATUS_LABELS

log = logging.getLogger("xlsxgov.web")

SESSION_COOKIE = "xg_session"
LOGIN_COOKIE = "xg_login"


# Password checks (argon2: ~0.1-0.5 s of CPU each) run in threads of their own, at most
# LOGIN_THREADS at once and LOGIN_QUEUE waiting; more get 429. In asyncio's default thread pool,
# which the upload routes also use, 30 bad logins delayed an agency upload from 0.02 to 8.8 s
# (found by a security review).
LOGIN_THREADS = 1
LOGIN_QUEUE = 8

MAX_BATCH = 64  # uploads validated together in one pool call at most (parallel.MAX_CHUNK)


_THREAD = threading.local()


def open_ledger(directory: Path) -> sqlite3.Connection:
    """This thread's connection to the ledger in ``directory``, kept open between requests and
    given back with :func:`release`: opening one (file, WAL index, pragmas, schema) was a third
    of the server's CPU in a burst of uploads (py-spy, issue #13 point 7). Opened with
    ``campaign.portal.open_ledger`` the first time, and again when the ledger file was replaced
    (another inode); CampaignError when ``directory`` is no campaign."""
    from ..campaign import ledger, portal

    kept: dict[Path, tuple[sqlite3.Connection, tuple[int, int]]] = _THREAD.__dict__.setdefault("ledgers", {})
    try:
        st = os.stat(ledger.ledger_path(directory))
        identity = (st.st_dev, st.st_ino)
    except OSError:
        identity = (-1, -1)
    found = kept.get(directory)
    if found is not None and found[1] == identity:
        return found[0]
    if found is not None:
        found[0].close()
    conn = portal.open_ledger(directory)
    kept[directory] = (conn, identity)
    return conn


def release(conn: sqlite3.Connection) -> None:
    """Give back a connection from :func:`open_ledger` (it stays open for the thread's next
    request), rolling back a transaction that a failed request left open."""
    if conn.in_transaction:
        conn.rollback()


@dataclass(frozen=True)
class UploadJob:
    """One received upload waiting for its verdict: the file, and who sent it from where (for
    the audit line)."""

    received: Received
    actor: str
    address: str


@dataclass(frozen=True)
class Recorded:
    """An upload's verdict as the pool process recorded it: the import's FileOutcome and the
    ledger row now holding those bytes (id and agency code; None when none)."""

    outcome: FileOutcome
    submission: int | None
    code: str | None


def record_uploads(directory: Path, jobs: list[UploadJob]) -> list[Recorded]:
    """Import uploaded files (``campaign.importer.import_files``: archive, validate, record;
    a feedback workbook is built when first downloaded) and append their audit lines, in one
    call run in a pool process: hashing, the file screen, validation and ledger writes never
    run on the event loop, and a batch's audit lines cost one commit."""
    from ..campaign import portal

    outcomes = import_files(directory, [j.received for j in jobs])
    conn = open_ledger(directory)
    try:
        out, lines = [], []
        for job, o in zip(jobs, outcomes):
            sub = portal.submission_by_sha(conn, o.sha256)
            out.append(Recorded(o, sub["id"] if sub else None, sub["code"] if sub else None))
            verdict = (f"未登记：{o.reason}" if o.outcome == "skipped"
                       else f"{OUTCOME_LABELS.get(o.outcome, o.outcome)}（错误 {o.errors}，警告 {o.warnings}）")
            lines.append((job.actor, job.address, "上传报表", f"单位 {job.received.code}：{o.name}，SHA-256 {o.sha256}，{verdict}"))
        portal.audit_many(conn, lines)
    finally:
        release(conn)
    return out


class Batcher:
    """Uploads waiting for validation, taken by ``size`` consumers (one per pool process), each
    sending its share of what is waiting (an even split between the consumers, up to
    MAX_BATCH) to the process pool as one ``record_uploads`` call: the validator's fixed cost per
    call is paid once per batch, so throughput grows with load, both processes finish a burst
    together, and a lone upload is validated at once. A batch that fails is retried file by
    file, so one bad file never fails the others."""

    def __init__(self, cfg: "Config", size: int):
        self.cfg, self.size = cfg, size
        self.queue: asyncio.Queue = asyncio.Queue()
        self.tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._consume()) for _ in range(self.size)]

    def stop(self) -> None:
        for t in self.tasks:
            t.cancel()

    async def submit(self, job: UploadJob) -> Recorded:
        """The verdict of one upload, once recorded."""
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((job, future))
        return await future

    async def _consume(self) -> None:
        while True:
            items = [await self.queue.get()]
            share = min(MAX_BATCH, -(-(1 + self.queue.qsize()) // self.size))
            while len(items) < share and not self.queue.empty():
                items.append(self.queue.get_nowait())
            try:
                results = await self.cfg.in_pool(record_uploads, self.cfg.directory, [j for j, _ in items])
            except Exception:
                results = None
            for k, (job, future) in enumerate(items):
                if future.done():
                    continue
                if results is not None:
                    future.set_result(results[k])
                    continue
                try:
                    (one,) = await self.cfg.in_pool(record_uploads, self.cfg.directory, [job])
                    future.set_result(one)
                except Exception as exc:  # noqa: BLE001 - handed to the request that waits for it
                    future.set_exception(exc)


class Config:
    """What one server process knows: the campaign folder, the upload limit, the worker pool."""

    def __init__(self, directory: Path, max_upload: int, pool_size: int):
        self.directory = directory
        self.max_upload = max_upload
        self.pool_size = pool_size
        self.pool: ProcessPoolExecutor | None = None
        self.batcher = Batcher(self, pool_size)
        self.secret = b""
        self.tmp = directory / ".tmp"
        self.login_pool = ThreadPoolExecutor(max_workers=LOGIN_THREADS, thread_name_prefix="xlsxgov-login")
        self.logins_waiting = 0  # login attempts in login_pool, running or queued (event loop only)

    def start_pool(self) -> ProcessPoolExecutor:
        """A new validation pool of ``pool_size`` processes (spawn: they do not inherit the event
        loop's threads or sockets), made ``self.pool``."""
        self.pool = ProcessPoolExecutor(max_workers=self.pool_size, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=pool_process)
        return self.pool

    async def in_pool(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` in the validation pool, off the event loop. One process of the
        pool dying (killed, out of memory) breaks the whole pool for good (BrokenProcessPool on
        every later call: every upload failed until a restart, found by a security review): the
        broken pool is replaced by a new one and the call made once more there. Raises
        BrokenProcessPool when the new pool breaks too (the call itself kills its process)."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        pool = self.pool
        try:
            return await loop.run_in_executor(pool, call)
        except BrokenProcessPool:
            if self.pool is pool:  # not replaced yet by another call that saw it broken
                log.warning("校验进程意外退出，已重新启动校验进程")
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                self.start_pool()
            return await loop.run_in_executor(self.pool, call)


def pool_process() -> None:
    """In each validation process: validate in this process (``parallel.WORKERS_ENV`` = 1). The
    pool already has one process per core; a batch fanning out into worker processes of its own
    would only oversubscribe the cores and pay for starting them on every batch. The process
    ends with the server however the server ends (``parallel.die_with_parent``)."""
    from ..parallel import WORKERS_ENV, die_with_parent

    os.environ[WORKERS_ENV] = "1"
    die_with_parent(os.getppid())


ERROR_TEXT = {401: "需要登录或有效的令牌", 403: "没有权限", 404: "页面不存在", 405: "不支持的请求", 413: "文件太大",
              503: "校验服务暂时出错，文件未登记，请稍后重新上传"}

LABELS = {
    # The project's labels (vocab.py); a page says 重复文件 without the CLI's "（已跳过）".
    "status": {**OUTCOME_LABELS, **STATUS_LABELS, "duplicate": "重复文件"},
    "severity": SEVERITY_LABELS,
}


def cfg_of(request: Request) -> Config:
    return request.app.state.cfg


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def page(request: Request, name: str, context: dict, *, status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def not_found(request: Request) -> HTMLResponse:
    """The one 404 page: the same bytes for a wrong link, a revoked link and any unknown path."""
    return page(request, "error.html", {"message": "页面不存在。如果这是您收到的报送链接，请与主管部门联系。"}, status=404)


def agency_csrf(request: Request, token: str) -> str:
    """The CSRF token of an agency's forms: an HMAC of the link token under the campaign key."""
    return hmac.new(cfg_of(request).secret, b"agency:" + token.encode(), hashlib.sha256).hexdigest()


def download(path: Path, filename: str, media_type: str | None = None) -> Response:
    from fastapi.responses import FileResponse

    return FileResponse(path, filename=filename, media_type=media_type or "application/octet-stream")


def secure_cookie(request: Request) -> bool:
    """Set the Secure flag when the browser reached us over HTTPS (directly, or through a
    reverse proxy on this machine that says so in X-Forwarded-Proto; see `serve`)."""
    return request.url.scheme == "https"


async def import_upload(request: Request, path: Path, name: str, code: str, source: str, actor: str, *,
                        own_only: bool = False) -> Recorded:
    """Record one uploaded file for agency ``code`` with its audit line (``record_uploads``,
    batched with the uploads arriving at the same time, in the process pool). ``own_only``:
    refuse a file whose cover names another roster agency (an agency's own link; outcome
    ``skipped`` with the reason, nothing recorded)."""
    job = UploadJob(Received(path, name, code, source, own_only=own_only), actor, client_address(request))
    return await cfg_of(request).batcher.submit(job)


async def feedback_download(request: Request, submission_id: int, back: str) -> Response:
    """The feedback workbook of a submission that has one, as a download: built in the process
    pool when it is first asked for (``campaign.feedback.feedback_workbook``), served from
    feedback/ after that; a Chinese error page (500) when it cannot be built, e.g. its archived
    original is gone. The caller has checked who may see it."""
    from ..campaign.feedback import feedback_workbook
    from ..errors import CampaignError

    try:
        path = await run_in_pool(request, feedback_workbook, cfg_of(request).directory, submission_id)
    except CampaignError as e:
        return page(request, "error.html", {"message": e.message_zh, "back": back}, status=500)
    return download(path, path.name)


async def run_in_pool(request: Request, fn, *args, **kwargs):
    """Run ``fn`` in the validation process pool, off the event loop (``Config.in_pool``)."""
    return await cfg_of(request).in_pool(fn, *args, **kwargs)
