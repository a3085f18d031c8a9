"""``campaign import``: archive, validate, identify and record every returned file.

Crash safety: each file is first copied into archive/ (temp file + os.replace, same content →
same name), then every other side effect (the quarantine copy) is idempotent, and
the ledger row with its findings and facts is written in one BEGIN IMMEDIATE transaction keyed
by the UNIQUE sha256. Files are recorded in batches (``IMPORT_BATCH``): every file a batch
wrote is flushed to disk (``atomic.sync_all``) before the batch's one commit, each file's rows
in a savepoint of it.  A re-run after a kill skips what was committed and
redoes the rest, and removes the temporary files the killed run left (``atomic.remove_orphans``).

One file never costs the batch (issue #14): reading contains every failure as that file's
reason; and before each file is read its archive name is noted in ``.tmp/reading-<pid>``, so
that if the process itself dies while reading it, the next import knows. One death may be the
user's Ctrl-C, a SIGKILL or a power cut, so the file is read again (and marked ``.tmp/suspect-``);
if the process dies on it a second time (a parser abort), the next import records the file as
unreadable and quarantines it instead of dying at the same place again.
Files a folder import does not take (lock files, other kinds of file) are listed as ``skipped``
with the reason.

An invalid submission's feedback workbook is not written here: the ledger names where it goes
(``feedback_path``) and ``campaign.feedback.feedback_workbook`` builds it from the archived file
when it is first asked for (issue #13, point 4: it was a quarter of the import's time).
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timezone
from pathlib import Path
from typing import Generator, Iterable, cast

from ..atomic import pid_alive, remove_orphans, sync_all, write_once
from ..errors import CampaignError
from ..filecheck import WORKBOOK_SUFFIXES
from ..safetext import for_terminal
from .ledger import mail_sender
from .mail import extract_attachments, safe_filename
from ..locate import agency_key
from .roster import Agency
from .store import CampaignStore, LedgerRows, ledger_rows, now
from ..extract.formats import SUFFIXES as EXTRACT_SUFFIXES

# Report documents (Word, web page, PDF, text …): read by xlsxgov.extract, recorded as report-derived.
REPORT_SUFFIXES = set(EXTRACT_SUFFIXES)
MAIL_SUFFIXES = {".eml", ".mbox"}


@dataclass
class Item:
    """One received file to import: where its bytes are, the name its sender gave, when it was received (ISO UTC) and where it came from (path, mail)."""

    path: Path  # the file to read (original or extracted attachment)
    original_name: str
    received_at: str
    source: str  # where it came from, for the ledger


@dataclass
class FileOutcome:
    """What the import did with one file: outcome (vocab.Outcome), the agency it was attributed to, its error and warning counts, why it is unreadable or unattributed, and where its feedback workbook goes."""

    name: str
    sha256: str
    outcome: str  # valid | invalid | unreadable | unknown | duplicate | skipped (not imported, reason says why)
    agency: str = ""
    code: str | None = None
    errors: int = 0
    warnings: int = 0
    reason: str = ""
    # Where an invalid file's feedback workbook goes: built when first asked for (campaign.feedback).
    feedback: Path | None = None
    # A recorded file the clerk should look at anyway: agency.channel_other, a file that did not
    # replace the agency's report (an unfilled template), several reports of one agency at once.
    note: str = ""
    # duplicate: when the recorded copy was received (UTC ISO; agency and code are its holder's),
    # whether it was withdrawn, and whether it was read from the same place (inbox/ read again).
    recorded_at: str = ""
    withdrawn: bool = False
    same_place: bool = False


@dataclass
class ImportResult:
    """One outcome per received file, in the order the files were found."""

    files: list[FileOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)


def _utc_iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.astimezone()  # naive: local time
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _mtime_iso(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="microseconds")


LOCK_FILE_REASON = "这是 Excel/WPS 打开文件时生成的临时锁定文件，不是报表，未导入"


OWN_FILES_REASON = {
    "outbox": "本任务下发给各单位的模板和邮件，不是单位的报送，未导入",
    "reminders": "本任务的催报邮件，不是单位的报送，未导入",
    "feedback": "本任务生成的问题反馈工作簿，不是单位的报送，未导入",
}


def _own_folder(f: Path, campaign: Path | None) -> str | None:
    """The campaign's own folder ``f`` lies in (outbox, archive, feedback …; None for inbox/ and
    anything outside the campaign): what the office wrote or already recorded is never an
    agency's reply (issued templates imported by mistake would count every agency as 有错误)."""
    if campaign is None:
        return None
    try:
        parts = f.resolve().relative_to(campaign).parts
    except ValueError:
        return None
    if not parts or parts[0] == "inbox":
        return None
    return parts[0] if len(parts) > 1 else "."  # "." the campaign folder itself (ledger, status workbooks)


def _collect(paths: Iterable[Path], campaign: Path | None = None) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """(workbooks, mail files, skipped files with the reason) under the given paths, in a
    deterministic order. Workbooks are then read by content, whatever their extension says.
    Files in the folders of ``campaign`` itself other than inbox/ are skipped, one line per
    folder (``_own_folder``)."""
    from ..filecheck import is_lock_file

    books, mails, skipped = [], [], []
    own: dict[str, int] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(x for x in p.rglob("*") if x.is_file()):
                s = f.suffix.lower()
                folder = _own_folder(f, campaign)
                if folder is not None:
                    own[folder] = own.get(folder, 0) + 1
                elif is_lock_file(f):
                    skipped.append((f, LOCK_FILE_REASON))
                elif f.name.startswith("."):
                    skipped.append((f, "隐藏文件，未导入"))
                elif s in WORKBOOK_SUFFIXES or s in REPORT_SUFFIXES:
                    books.append(f)
                elif s in MAIL_SUFFIXES:
                    mails.append(f)
                else:
                    skipped.append((f, f"不是工作簿或邮件文件（扩展名“{s or '无'}”），未导入；报表请以 .xlsx 报送"))
        elif p.is_file():
            folder = _own_folder(p, campaign)
            if folder is not None:
                own[folder] = own.get(folder, 0) + 1
            elif is_lock_file(p):
                skipped.append((p, LOCK_FILE_REASON))
            else:
                (mails if p.suffix.lower() in MAIL_SUFFIXES else books).append(p)
        else:
            raise CampaignError(f"找不到文件或目录：{p}")
    for folder, n in sorted(own.items()):
        reason = OWN_FILES_REASON.get(folder, "报送任务自己的文件（已存档或生成的），不是新收到的报送，未导入")
        where = "任务目录中" if folder == "." else f"{folder} 目录中"  # a label, not a path: no "/" in it
        skipped.append((Path(f"{where}的 {n} 个文件"), f"{reason}；各单位的报表请放入 inbox/ 或直接给出其所在位置"))
    return books, mails, skipped


_CRASH_REASON = ("上次导入读取此文件时程序异常终止（文件可能已损坏），已隔离，不再读取；"
                 "请用 Excel 打开后另存为 .xlsx 重新报送")


def _clean_stale(tmp_root: Path, folders: Iterable[Path]) -> dict[str, str]:
    """Remove what imports that were killed left (extraction folders, temp files in ``folders``);
    return {archive file name: reason} for the files such an import was reading when it died."""
    crashed: dict[str, str] = {}
    for d in tmp_root.glob("import-*-*"):
        pid = d.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
    for marker in tmp_root.glob("reading-*"):
        pid = marker.name.split("-", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            name = _noted(marker)
            if name:
                strike = tmp_root / f"suspect-{name}"
                if strike.exists():  # the second death on this file: the file is the cause
                    crashed[name] = _CRASH_REASON
                    strike.unlink(missing_ok=True)
                else:
                    strike.touch()
            marker.unlink(missing_ok=True)
    for folder in folders:
        remove_orphans(folder)
    return crashed


class _ReadingNote:
    """The ``reading-<pid>`` note of a process reading files (see the module docstring): called
    with each file before it is read, it names that file until ``close`` removes the note.

    One open file rewritten in place: truncating and rewriting a small file for every file read
    made ext4 flush it each time (auto_da_alloc), ~2 ms a file. A name is padded with spaces to
    the longest noted so far, so nothing is ever truncated; ``_noted`` strips them."""

    def __init__(self, path: Path):
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._width = 0

    def __call__(self, file: Path) -> None:
        name = file.name.encode("utf-8")
        self._width = max(self._width, len(name))
        os.pwrite(self._fd, name.ljust(self._width), 0)

    def close(self) -> None:
        os.close(self._fd)
        self.path.unlink(missing_ok=True)


def _noted(note: Path) -> str:
    """The file name a ``_ReadingNote`` left ("" for none)."""
    return note.read_text(encoding="utf-8").strip()


def _identify(cover: tuple[str, str] | None, original_name: str, by_code: dict[str, str], by_name: dict[str, str]) -> str | None:
    """The roster code of a file from its cover's (agency, code), else from its file name; None: not found."""
    if cover is not None:
        code = agency_key(cover[1])
        if code in by_code:
            return code
        name = agency_key(cover[0])
        if name and name in by_name:
            return by_name[name]
    fname = agency_key(original_name)
    for code in by_code:
        if code in fname:
            return code
    for name in sorted(by_name, key=len, reverse=True):
        if name and name in fname:
            return by_name[name]
    return None


def _read_any(path: Path, *, edition: str | None = None):
    """A returned file as a Submission: a report document (``extract.is_report``) through
    xlsxgov.extract, anything else as a workbook (validate.Reader)."""
    from ..extract import extract_report, is_report
    from ..reader import read_workbook

    return (extract_report if is_report(path) else read_workbook)(path, edition=edition)


def validate_any(paths: list[Path], *, edition: str | None = None, before_read=None, workers: int | None = None) -> list:
    """``validate.validate_paths`` with ``_read_any``: workbooks read as workbooks, report
    documents by xlsxgov.extract; one FileReport per path in the order given. ``before_read``
    and ``workers`` as for ``validate.iter_reports``."""
    from ..validate import validate_paths

    return validate_paths(paths, edition=edition, before_read=before_read, reader=_read_any, workers=workers)


@dataclass
class _Verdict:
    """What recording one validated file needs (``_record_one``): its status and why it is
    unreadable, its findings, its cover's (agency, code) (None: nothing readable) and the
    ``ledger_rows`` of what was read. Slim, so that a worker sends it back cheaply: no cell
    values, no cell keys in the findings."""

    status: str
    reason: str
    findings: list
    cover: tuple[str, str] | None
    rows: LedgerRows | None

    @classmethod
    def of(cls, report) -> _Verdict:
        """The verdict of a ``validate.FileReport``, its findings kept whole."""
        sub = report.submission
        return cls(report.status, report.reason or "", report.findings, None if sub is None else (sub.agency, sub.code),
                   None if sub is None else ledger_rows(sub))

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error") if self.cover is not None else 0

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning") if self.cover is not None else 0


@dataclass
class _Job:
    """One file for a worker: its archived copy, and whether its bytes are a template this
    campaign issued."""

    path: Path
    issued: bool


_parent = os.getpid()  # the process that imported this module (forked workers differ)
_frozen = False


class _Interrupt:
    """The SIGINT handler of ``import_paths``: Ctrl-C is noted and the import stops at the next
    safe point (``check``: between files, never inside a transaction being written nor while a
    worker process is being forked, where a KeyboardInterrupt is swallowed by the fork hooks
    and printed as "Exception ignored"); a second Ctrl-C stops it at once. Worker processes
    forked by the import inherit the handler and ignore it: the parent decides, and they print
    no traceback. ``asked``: Ctrl-C came."""

    def __init__(self, owner: int):
        self.owner = owner
        self.asked = False

    def __call__(self, signum, frame) -> None:
        if os.getpid() != self.owner:
            return
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True

    def check(self) -> None:
        """Raise KeyboardInterrupt in the importing process when Ctrl-C came."""
        if self.asked and os.getpid() == self.owner:
            raise KeyboardInterrupt


_interrupt: _Interrupt | None = None  # the running import's (read in-process between files)


def _end_idle_workers() -> None:
    """End the worker processes still alive once the interrupted import's pool was shut down
    (``parallel.chunk_map`` waits for the chunks being read): a worker started at the moment
    Ctrl-C came may never have been handed to the pool, so nothing tells it to stop; it waits
    for work with SIGINT ignored (``_Interrupt``), and Python's exit would wait for it
    forever. It holds no file (a worker notes one only while reading a chunk)."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.terminate()
        child.join(5)


def _read_chunk(jobs: list[_Job], *, edition: str, year: int | None, tmp_root: Path) -> list[_Verdict]:
    """Worker side of ``import_paths`` (``parallel.chunk_map``): read and validate a chunk of
    files and add the campaign's own findings (the costly parts, on both cores). Before each
    file is read its name is noted in ``tmp_root/reading-<this process>`` (see the module
    docstring); the note is removed after the chunk. Returns a ``_Verdict`` per job."""
    from ..findings import Finding

    global _frozen
    if not _frozen and os.getpid() != _parent:
        # A forked worker: what it inherited is never garbage, so keep the collector off it
        # (walking the parent's heap cost more than reading the files).
        gc.freeze()
        _frozen = True
        # Ctrl-C reaches the whole process group: the parent stops the import, a worker
        # finishing its chunk must not print a traceback (a fork already inherited
        # ``_Interrupt``; a worker of a fork server did not).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    note = _ReadingNote(tmp_root / f"reading-{os.getpid()}")
    interrupt = _interrupt

    def before_read(path: Path) -> None:
        if interrupt is not None:  # reading in the importing process: stop between files
            interrupt.check()
        note(path)

    try:
        reports = validate_any([j.path for j in jobs], edition=edition, workers=1, before_read=before_read)
    finally:
        note.close()
    out = []
    for job, report in zip(jobs, reports):
        verdict = _Verdict.of(judge(report, year=year, issued=job.issued))
        # The ledger records no cell keys: the parent gets the findings without them.
        verdict.findings = [Finding(f.severity, f.rule, f.sheet, f.cell, f.message) for f in verdict.findings]
        out.append(verdict)
    return out


def judge(report, *, year: int | None, issued: bool):
    """The campaign's verdict on a ``validate.FileReport`` of a reply: ``campaign_findings`` (a
    wrong year, the issued template unchanged) put first in its findings, so that status,
    reminders and feedback lead with them, and the report made invalid when there are any.
    ``year``: the campaign's report year; ``issued``: the file's bytes are a template this
    campaign issued (``CampaignStore.issued_template``). Changes ``report`` in place and
    returns it; an unreadable report is returned as it is. The one place where a reply is
    judged: import, the portal, ``assign`` and the feedback workbook built later all call it."""
    sub = report.submission
    if report.status in ("valid", "invalid") and sub is not None:
        extra = campaign_findings(sub, year=year, issued=issued)
        if extra:
            report.findings[:0] = extra
            report.status = "invalid"
    return report


def _warm(edition: str) -> None:
    """Import the reading and validation modules and load the edition here, before the worker
    processes start: forked workers inherit them instead of each paying for them."""
    from .. import validate  # noqa: F401  (imported for the workers)
    from ..spec import load

    load(edition)


def _died_reading(job: _Job) -> _Verdict:
    """The result of a file whose worker process died reading it twice (``parallel.chunk_map``)."""
    return _Verdict("unreadable", _CRASH_REASON, [], None, None)


class _Bar:
    """The import's progress bar on stderr (Rich), refreshed by the import itself, at most ten
    times a second: Rich's refresh thread would make ``parallel.chunk_map`` start its workers
    from a fork server (forking a threaded process can deadlock), slower to start and without
    the SIGINT handler of ``_Interrupt``, so Ctrl-C printed their tracebacks."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        # On stderr: stdout keeps only the summary, even when redirected.
        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("剩余"), TimeRemainingColumn(), console=Console(stderr=True), transient=True, auto_refresh=False,
        )
        self._task = self._bar.add_task("正在导入", total=total)
        self._bar.start()
        self._bar.refresh()
        self._shown = time.monotonic()

    def advance(self) -> None:
        self._bar.advance(self._task)
        if time.monotonic() - self._shown >= 0.1:
            self._bar.refresh()
            self._shown = time.monotonic()

    def stop(self) -> None:
        self._bar.stop()


def import_paths(directory: Path | str, paths: list[Path] | None = None, *, progress: bool = False) -> ImportResult:
    """Import returned workbooks (files, folders, .eml, .mbox) into the campaign. Report
    documents (.docx .pdf .html …, ``extract.SUFFIXES``) are read by ``xlsxgov.extract`` and
    recorded with ``source`` = ``report`` in ``submission_meta``.

    ``progress``: show a Rich progress bar on stderr while files are archived and validated.

    KeyboardInterrupt (Ctrl-C) stops it: the batches committed stay recorded, the one being
    recorded is rolled back, the workers end without a word; a new import goes on from there.
    """
    global _interrupt
    main = threading.current_thread() is threading.main_thread()  # signal handlers are set there only
    interrupt = _Interrupt(os.getpid())
    previous = signal.signal(signal.SIGINT, interrupt) if main else None
    _interrupt = interrupt if main else None
    try:
        return _import_paths(directory, paths, progress=progress, interrupt=interrupt)
    except KeyboardInterrupt:
        _end_idle_workers()
        raise
    finally:
        _interrupt = None
        if main:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def _import_paths(directory: Path | str, paths: list[Path] | None, *, progress: bool, interrupt: _Interrupt) -> ImportResult:
    from ..parallel import chunk_map

    store = CampaignStore.open(directory)
    archive = store.folder("archive")
    tmp_root = store.folder(".tmp")
    crashed = _clean_stale(tmp_root, (archive, store.folder("quarantine"), store.folder("feedback"), store.directory))
    work = Path(tempfile.mkdtemp(prefix=f"import-{os.getpid()}-", dir=tmp_root))
    marker = tmp_root / f"reading-{os.getpid()}"
    result = ImportResult()
    try:
        agencies = store.names()
        by_name = {agency_key(n): c for c, n in agencies.items()}
        by_email = _agencies_by_email(store.roster())
        # A reply in another edition (last year's old template) is an error the agency must fix,
        # not a file that would later stop the whole campaign from being consolidated.
        edition = store.settings().edition
        books, mails, skipped = _collect(paths if paths else [store.directory / "inbox"], store.directory.resolve())
        result.files += [FileOutcome(for_terminal(p.name), "", "skipped", reason=reason) for p, reason in skipped]
        items = [Item(b, b.name, _mtime_iso(b), str(b)) for b in books]
        for i, m in enumerate(mails):
            interrupt.check()
            data = m.read_bytes()  # the mail file itself is archived too
            write_once(archive / f"{hashlib.sha256(data).hexdigest()}{m.suffix.lower()}", data)
            attached = extract_attachments(m, work / str(i))
            if not attached:  # said, not dropped: the clerk may have expected a report in it
                result.files.append(FileOutcome(for_terminal(m.name), "", "skipped", reason=(
                    "邮件中没有工作簿（.xlsx .xls .ods 等）或年度报告（Word、PDF、网页、文本）附件，未导入")))
            for x in attached:
                received = _utc_iso(x.date) if x.date else _mtime_iso(m)
                src = f"{m}" + (f" <{x.message_id}>" if x.message_id else "") + (f" {x.sender}" if x.sender else "")
                items.append(Item(x.path, x.original_name, received, src))

        bar = None
        if progress:
            bar = _Bar(len(items))
        try:
            # Archive every file first (a copy under its SHA-256, flushed with the batch's commit).
            outcomes: list[FileOutcome | None] = []
            todo: list[tuple[int, _Archived]] = []
            seen: set[str] = set()
            sources: dict[int, str] = {}
            for item in items:
                interrupt.check()
                prepared = _archive_one(store, item, archive, sync=False)
                if prepared.sha256 in seen or prepared.known:
                    sources[len(result.files) + len(outcomes)] = item.source
                    outcomes.append(FileOutcome(item.original_name, prepared.sha256, "duplicate"))
                    if bar:
                        bar.advance()
                else:
                    outcomes.append(None)
                    todo.append((len(outcomes) - 1, prepared))
                seen.add(prepared.sha256)
            # A file a killed import was reading is not read again (see the module docstring).
            known_bad = {p.archived.name: _Verdict("unreadable", crashed[p.archived.name], [], None, None)
                         for _, p in todo if p.archived.name in crashed}
            jobs = [_Job(p.archived, store.issued_template(p.sha256))
                    for _, p in todo if p.archived.name not in known_bad]
            if jobs:
                _warm(edition)
            read = cast(Generator, chunk_map(partial(_read_chunk, edition=edition, year=store.settings().year, tmp_root=tmp_root),
                                             jobs, on_broken=_died_reading))
            try:
                for start in range(0, len(todo), IMPORT_BATCH):
                    batch = todo[start:start + IMPORT_BATCH]
                    # Read before the ledger is locked: other importers wait only for the commit.
                    results = []
                    for _, p in batch:
                        interrupt.check()  # between files read by the workers
                        results.append(known_bad[p.archived.name] if p.archived.name in known_bad else next(read))
                    interrupt.check()
                    # One commit per batch (each file's rows in a savepoint), the batch's files flushed first.
                    with store.transaction():
                        for (slot, prepared), verdict in zip(batch, results):
                            outcomes[slot] = _record_one(store, prepared, verdict, agencies, by_name, sync=False, by_email=by_email)
                            if bar:
                                bar.advance()
                        sync_all()
            finally:
                read.close()  # ends the worker processes when a batch fails
            result.files += outcomes  # type: ignore[arg-type]  # every slot is filled above
            _name_holders(store, result.files, sources, agencies)
            _explain_current(store, result.files, agencies)
        finally:
            if bar:
                bar.stop()
        # Every file of this run was read without the process dying: suspicion is lifted.
        for strike in tmp_root.glob("suspect-*"):
            strike.unlink(missing_ok=True)
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)
        marker.unlink(missing_ok=True)
    return result


def import_file(
    directory: Path | str, path: Path | str, original_name: str, *, code: str | None = None, source: str = "",
    received_at: str | None = None,
) -> FileOutcome:
    """Import one received file exactly as ``import_paths`` imports a workbook (archive by
    SHA-256, validate, one ledger transaction; the feedback workbook is built when first asked
    for), for the web portal.

    ``path``: where the bytes are (a temp file; its name is never the agency's); ``original_name``:
    the name the sender gave, recorded as text; ``code``: the roster agency the file is attributed
    to whatever its cover says (the agency's own link, or the office uploading on its behalf);
    None identifies the agency from the file as ``import_paths`` does. outcome ``duplicate``:
    the same bytes were already recorded (``sha256`` says which submission). Raises CampaignError
    for an unknown ``code``.
    """
    return import_files(directory, [Received(Path(path), original_name, code, source, received_at)])[0]


@dataclass
class Received:
    """One file received by the portal: see ``import_file`` for the fields."""

    path: Path
    original_name: str
    code: str | None = None
    source: str = ""
    received_at: str | None = None
    own_only: bool = False  # an agency's own link: a file whose cover names another agency is refused


def other_agency(cover: tuple[str, str] | None, code: str, agencies: dict[str, str], by_name: dict[str, str]) -> str | None:
    """The roster code the cover ``(agency, code)`` names when it is another agency than
    ``code`` (by its 统一社会信用代码, else its exact name); None when it names ``code``, no
    roster agency, or nothing."""
    named = _identify(cover, "", agencies, by_name) if cover is not None else None
    return named if named is not None and named != code else None


def import_files(directory: Path | str, files: list[Received]) -> list[FileOutcome]:
    """``import_file`` for several files at once, validated in one ``validate_any`` call (its
    fixed cost is paid once: the portal batches uploads that arrive together). One outcome per
    file, in order. As ``import_paths`` records a batch: the files written are flushed to disk
    once (``atomic.sync_all``) before one commit, each file's rows in a savepoint of it; not
    an fsync per archived file and a commit per file, whose waits made a burst of uploads slow."""
    with CampaignStore.open(directory) as store:
        agencies = store.names()
        for f in files:
            if f.code is not None and f.code not in agencies:
                raise CampaignError(f"名册中没有统一社会信用代码为“{f.code}”的单位")
        by_name = {agency_key(n): c for c, n in agencies.items()}
        edition = store.settings().edition
        archive = store.folder("archive")
        out: list[FileOutcome | None] = []
        batch: list[tuple[int, _Archived, Received]] = []
        seen: set[str] = set()
        for f in files:
            prepared = _archive_one(store, Item(f.path, f.original_name, f.received_at or now(), f.source), archive, sync=False)
            if prepared.known or prepared.sha256 in seen:
                out.append(FileOutcome(f.original_name, prepared.sha256, "duplicate"))
            else:
                out.append(None)
                batch.append((len(out) - 1, prepared, f))
            seen.add(prepared.sha256)
        reports = validate_any([b[1].archived for b in batch], edition=edition) if batch else []
        year = store.settings().year
        with store.transaction():
            for (i, prepared, f), report in zip(batch, reports):
                verdict = _Verdict.of(judge(report, year=year, issued=store.issued_template(prepared.sha256)))
                named = other_agency(verdict.cover, f.code, agencies, by_name) if f.own_only and f.code else None
                if named is not None:
                    # Not recorded: recorded, it would be this agency's report, and the agency
                    # it belongs to could never send the same file (a duplicate).
                    out[i] = FileOutcome(f.original_name, prepared.sha256, "skipped", reason=(
                        f"这份报表封面上的单位是“{agencies[named]}”，不是本单位（{agencies[f.code]}），未登记；"
                        f"请上传本单位的报表（封面的单位名称和统一社会信用代码应为本单位的）"))
                    continue
                out[i] = _record_one(store, prepared, verdict, agencies, by_name, code=f.code, sync=False)
            sync_all()  # duplicates included: their archive copy may be this call's own
        return out  # type: ignore[return-value]  # every slot is filled above


def assign_file(directory: Path | str, submission_id: int, code: str) -> FileOutcome:
    """Attribute a quarantined file (recorded with no agency: status unknown), a withdrawn one, or
    one of ``agency.channel_other`` (``CampaignStore.unassigned_file``) to roster agency ``code``: validated again and recorded for it, replacing that row in one
    transaction (received time and source kept; ``store.record_submission``'s ``replace``). A
    cover naming another roster agency is a warning (``agency.cover_other``) of the submission.
    Raises CampaignError when the row is neither or the agency is not in the roster."""
    with CampaignStore.open(directory) as store:
        agencies = store.names()
        if code not in agencies:
            raise CampaignError(f"名册中没有统一社会信用代码为“{code}”的单位")
        row = store.unassigned_file(submission_id)
        if row is None:
            raise CampaignError(f"没有待分配或已撤回的文件（编号 {submission_id}）")
        archived = store.path(row["archive_path"])
        item = Item(archived, row["file_name"], row["received_at"], row["source"] or "")
        prepared = _Archived(item, row["sha256"], archived, row["archive_path"], False)
        settings = store.settings()
        report = validate_any([archived], edition=settings.edition)[0]
        verdict = _Verdict.of(judge(report, year=settings.year, issued=store.issued_template(row["sha256"])))
        by_name = {agency_key(n): c for c, n in agencies.items()}
        return _record_one(store, prepared, verdict, agencies, by_name, code=code, replace=submission_id)


# Files recorded per ledger commit (each commit flushes the disk). The last batch is recorded
# after the workers are done: a smaller one shortens that tail, a larger one flushes less often.
IMPORT_BATCH = 64


@dataclass
class _Archived:
    item: Item
    sha256: str
    archived: Path
    rel_archive: str
    known: bool  # already in the ledger


def _archive_one(store: CampaignStore, item: Item, archive: Path, *, sync: bool = True) -> _Archived:
    """Copy one received file into archive/ under its SHA-256 (idempotent); ``sync=False``: the
    caller flushes (``atomic.sync_all``) before the ledger records the file."""
    data = item.path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    suffix = item.path.suffix.lower() or ".bin"
    archived = write_once(archive / f"{sha}{suffix}", data, sync=sync)
    return _Archived(item, sha, archived, store.relative(archived), store.knows(sha))


def _name_holders(store: CampaignStore, outcomes: list[FileOutcome], sources: dict[int, str], agencies: dict[str, str]) -> None:
    """Fill in, for each duplicate of ``outcomes``, the recorded copy's agency, when it was
    received and whether it came from the same place (``sources``: index → this copy's source),
    so that the clerk is told whose file it already is (a new user's trial). Call after the
    run's files are recorded: a duplicate within one run is held by a file of the same run."""
    for i, f in enumerate(outcomes):
        row = store.recorded(f.sha256) if f.outcome == "duplicate" else None
        if row is None:
            continue
        f.code, f.agency = row["code"], agencies.get(row["code"] or "", "")
        f.recorded_at, f.withdrawn = row["received_at"], row["status"] == "withdrawn"
        # Relative and absolute spellings of one path are the same place.
        f.same_place = i in sources and os.path.abspath(row["source"] or "") == os.path.abspath(sources[i])


def _explain_current(store: CampaignStore, outcomes: list[FileOutcome], agencies: dict[str, str]) -> None:
    """Add to the ``note`` of this run's readable files what became of them when that is not
    plain (found by a new user's trial, where it happened silently): a file held back by
    ``ledger.HELD_RULES`` that did not replace the agency's report, and, when one run brings two
    or more different readable reports of one agency, which of them is current and why (the
    latest received wins). Call after the run's files are recorded."""
    from .ledger import HELD_RULES, submission_label
    from .status import beijing_time

    by_code: dict[str, list[tuple[FileOutcome, sqlite3.Row, set[str]]]] = {}
    for f in outcomes:
        if f.outcome in ("valid", "invalid") and f.code:
            (row,) = store.submissions_by_sha(f.sha256)
            by_code.setdefault(f.code, []).append((f, row, store.rules_of(row["id"]) & set(HELD_RULES)))
    for code, files in by_code.items():
        cur = store.current_row(code)
        if cur is None:  # withdrawn meanwhile by another process
            continue
        label = f"{submission_label(cur['file_name'], cur['source'])}（{beijing_time(cur['received_at'], '%m-%d %H:%M:%S')} 收到）"
        name = agencies[code]
        sound = [(f, row) for f, row, held in files if not held]
        for f, row, held in files:
            if not held or row["id"] == cur["id"]:
                continue
            if "campaign.template_unchanged" in held:
                why = f"与下发的模板完全相同，未取代“{name}”的当前报表{label}，只记入历史"
            else:
                why = f"未取代“{name}”的当前报表{label}"
            f.note = "；".join(x for x in (f.note, why) if x)
        if len(sound) < 2:
            continue
        many = f"本次导入收到“{name}”的 {len(sound)} 份不同报表"
        for f, row in sound:
            when = beijing_time(row["received_at"], "%m-%d %H:%M:%S")
            tie = any(r["id"] != row["id"] and r["received_at"] == row["received_at"] for _, r in sound)
            if row["id"] == cur["id"]:
                how = f"与另一份收到时间相同（{when}），按导入顺序取后一份" if tie else f"这份收到时间最晚（{when}）"
                why = f"{many}，{how}为当前报表；请核对是否为最终版本"
            else:
                later = "相同而导入在后" if cur["received_at"] == row["received_at"] else "更晚"
                why = f"{many}，这份（{when} 收到）未作为当前报表：当前报表是收到时间{later}的{label}；请核对"
            f.note = "；".join(x for x in (f.note, why) if x)


def _agencies_by_email(roster: list[Agency]) -> dict[str, str]:
    """Roster code by address (lower case), every address of an agency with several; an address
    two agencies share names neither (agencies with none are not in it)."""
    owners: dict[str, set[str]] = {}
    for a in roster:
        for address in a.emails:
            owners.setdefault(address.lower(), set()).add(a.code)
    return {address: codes.pop() for address, codes in owners.items() if len(codes) == 1}


def _channel_other(item: Item, code: str, agencies: dict[str, str], by_name: dict[str, str], by_email: dict[str, str]) -> str:
    """The ``agency.channel_other`` warning when the mail's sender (a roster address) or else the
    file name points to another roster agency than ``code``, the one the cover names; "" when
    they agree or point nowhere. A report filled in on another agency's template would otherwise
    silently become that agency's current report (found by a new user's trial): with it, the
    file replaces no report of that agency (``ledger.HELD_RULES``) until the office assigns it."""
    sender = mail_sender(item.source)
    if sender and sender.strip().lower() in by_email:
        other, how = by_email[sender.strip().lower()], f"发件人 {sender}"
    else:
        named = _identify(None, item.original_name, agencies, by_name)
        if named is None:
            return ""
        other, how = named, f"文件名“{item.original_name}”"
    if other == code:
        return ""
    return (f"{how}指向名册中的“{agencies[other]}”，封面上的单位却是“{agencies[code]}”，"
            f"本报表按封面记在“{agencies[code]}”名下，但不取代该单位的其他报表；请核实是否用错了模板或发错了文件，"
            f"确认后用 campaign assign 分配给应属的单位，或用 campaign withdraw 撤回")


def _record_one(
    store: CampaignStore, prepared: _Archived, verdict: _Verdict, agencies: dict[str, str], by_name: dict[str, str], *,
    code: str | None = None, replace: int | None = None, sync: bool = True, by_email: dict[str, str] | None = None,
) -> FileOutcome:
    """Quarantine one judged file (``judge``) if need be, then record it in the ledger, with
    where its feedback workbook goes when it is invalid (built when first asked for:
    ``campaign.feedback.feedback_workbook``).

    ``code``: the agency it comes from when the channel says so (the portal's link, an office
    upload on the agency's behalf), else identified from the file; ``replace``: the id of the
    unattributed row of the same file that this one replaces, in the same transaction (the
    office assigning a quarantined file). ``sync=False``: the caller flushes the files written
    here (``atomic.sync_all``) before the ledger commits."""
    item, sha, archived, rel_archive = prepared.item, prepared.sha256, prepared.archived, prepared.rel_archive
    cover = verdict.cover
    note, rule = "", ""
    if code in agencies:  # the channel says whose it is: the office sees what the cover says
        named = other_agency(cover, code, agencies, by_name)
        if named is not None:
            rule = "agency.cover_other"
            note = f"封面上的单位是“{agencies[named]}”（名册中的另一个单位），本报表记为“{agencies[code]}”的报送，请核实是否报错了文件"
    else:
        code = _identify(cover, item.original_name, agencies, by_name)
        if code is not None and _identify(cover, "", agencies, by_name) == code:  # the cover decided
            rule, note = "agency.channel_other", _channel_other(item, code, agencies, by_name, by_email or {})
    if note and verdict.status != "unreadable":
        from ..findings import Finding
        from ..template import COVER_SHEET

        verdict.findings = [*verdict.findings, Finding("warning", rule, COVER_SHEET, "", note)]
    else:
        note = ""
    if verdict.status == "unreadable":
        status, reason = "unreadable", verdict.reason or "无法读取"
        reason = reason.replace(archived.name, item.original_name)
    elif code is None:
        assert cover is not None
        status = "unknown"
        reason = f"无法确定报送单位：封面单位名称“{cover[0] or '（空）'}”、统一社会信用代码“{cover[1] or '（空）'}”均不在名册中，文件名中也未找到名册中的单位"
    else:
        status, reason = verdict.status, ""
    if status == "unknown":
        code = None

    # Idempotent file side effects before the ledger transaction.
    if status in ("unknown", "unreadable"):
        quarantine = store.folder("quarantine")
        qname = f"{sha[:12]}_{safe_filename(item.original_name)}"
        write_once(quarantine / qname, archived.read_bytes(), sync=sync)
        # Names from files are shown escaped: a control character never reaches a terminal or editor.
        text = (f"文件：{for_terminal(item.original_name)}\n来源：{for_terminal(item.source)}\nSHA-256：{sha}\n"
                f"原因：{for_terminal(reason)}\n")
        write_once(quarantine / f"{qname}.reason.txt", text.encode("utf-8"), sync=sync)
    fb = None
    if status == "invalid" and cover is not None:
        # One feedback workbook per submission: an agency that sends twice keeps both.
        fb = store.folder("feedback") / feedback_name(code, agencies.get(code or "", ""), sha)

    errors, warnings = verdict.errors, verdict.warnings
    recorded = store.record_submission(
        code=code, file_name=item.original_name, sha256=sha, archive_path=rel_archive, received_at=item.received_at,
        status=status, source=item.source, feedback_path=store.relative(fb) if fb else None, rows=verdict.rows,
        findings=verdict.findings if cover is not None else [], errors=errors, warnings=warnings, reason=reason,
        replace=replace,
    )
    if not recorded:
        return FileOutcome(item.original_name, sha, "duplicate")
    return FileOutcome(item.original_name, sha, status, agencies.get(code or "", ""), code, errors, warnings, reason, fb, note)


def campaign_findings(sub, *, year: int | None, issued: bool) -> list:
    """Errors a reply has as an answer to this campaign, whatever its own tables say: a report year
    other than the campaign's ``year`` (last year's file sent again), or the very template the
    campaign issued, unchanged (``issued``: nothing filled in, sent by mistake).  Another edition
    than the campaign's is already an error of validation (``validate_paths(edition=…)``)."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    from ..findings import Finding
    from ..template import COVER_FIELDS, COVER_FIRST_ROW, COVER_SHEET, COVER_VALUE_COL

    out = []
    if year and sub.year and sub.year != year:
        row = COVER_FIRST_ROW + [f for f, _ in COVER_FIELDS].index("year")
        # A report document has no cover cell: the year is what its title or text says.
        report = sub.meta.get("source") == "report"
        what = f"年度报告（{sub.agency}）" if report and sub.agency else ("年度报告" if report else "")
        out.append(Finding(
            "error", "campaign.year", "" if report else COVER_SHEET, "" if report else xl_rowcol_to_cell(row, COVER_VALUE_COL),
            f"{what}报告年度为{sub.year}年，本次收集的是{year}年度的报表（可能发来了往年的文件），"
            + ("请报送本年度的年度报告或填写本年度的模板后重新报送" if report else "请用本年度的模板填报后重新报送"),
        ))
    if issued:
        out.append(Finding(
            "error", "campaign.template_unchanged", "", "",
            "文件与下发的模板完全相同，没有填写任何数据（可能发错了文件），请在模板中填写本单位的数据后重新报送",
        ))
    return out


def feedback_name(code: str | None, name: str, sha256: str) -> str:
    """File name of a submission's feedback workbook: the agency, then the first 8 hex digits of
    the submission's SHA-256, so each submission of the same agency keeps its own feedback."""
    return safe_filename(f"{code or ''}_{name}_问题反馈_{sha256[:8]}.xlsx".lstrip("_"), flatten=True)
