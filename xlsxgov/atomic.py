"""One atomic, fsyncing file writer, shared by every module that writes a file a clerk keeps.

A file is written to a unique temporary name in the same folder, flushed and fsynced, then
renamed over its destination with ``os.replace`` and the folder fsynced: after a crash the
destination holds either its old content or the whole new one, never a torn file.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["replacing", "sync_all", "write_atomic", "write_once", "remove_orphans", "pid_alive"]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not every platform lets a folder be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_TEMP_RE = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp[^/]*$")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a process of another user counts as running).

    A zombie (ended, not yet reaped: common in containers whose init never reaps orphans, e.g.
    the worker processes of a killed import) has stopped running, so it counts as ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux) or a race with its end: the signal said it runs
    return state not in ("Z", "X")


def remove_orphans(folder: Path | str) -> list[Path]:
    """Remove the temporary files that writers of this module left in ``folder`` when their
    process was killed (the process named in the temp name is gone); returns them."""
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        m = _TEMP_RE.match(p.name)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _temp_name(dest: str) -> str:
    # Hidden, unique per process and call (concurrent writers never share a temp file), keeping
    # dest's suffix since some writers choose the format by it.
    folder, name = os.path.split(dest)
    return os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp{os.path.splitext(name)[1]}")


def write_atomic(dest: Path | str, data: bytes, *, sync: bool = True) -> Path:
    """Write ``data`` to ``dest`` atomically (temp file, fsync, os.replace, fsync of the folder).

    ``sync=False`` keeps the atomic rename but leaves the flush to one ``sync_all()`` after a
    batch (thousands of outbox files: an fsync each costs ~2 ms, the batch one flush).
    Returns ``dest``; raises OSError when the folder cannot be written.
    """
    # os-level calls on strings: issue writes 20,000 files, and pathlib's parsing cost more than the writes.
    given, dest = dest, os.fspath(dest)
    tmp = _temp_name(dest)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync:
        _fsync_dir(Path(os.path.dirname(dest) or "."))
    return given if isinstance(given, Path) else Path(dest)


def write_once(dest: Path | str, data: bytes, *, sync: bool = True) -> Path:
    """``write_atomic`` for content-addressed files (named by their SHA-256): a destination that
    already exists with the same size is the same content and is left alone (idempotent re-runs).
    ``sync``: as for ``write_atomic``."""
    dest = Path(dest)
    if dest.exists() and dest.stat().st_size == len(data):
        return dest
    return write_atomic(dest, data, sync=sync)


def sync_all() -> None:
    """Flush every file written with ``sync=False`` to disk (one call after a batch)."""
    os.sync()


@contextmanager
def replacing(dest: Path | str, *, sync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``dest`` for a writer that needs a file name (a workbook
    library); on success the file is fsynced and renamed over ``dest``, on error removed.

    The temporary name keeps ``dest``'s suffix, since some writers choose the format by it.
    """
    dest = Path(dest)
    tmp = Path(_temp_name(os.fspath(dest)))
    try:
        yield tmp
        if sync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        _fsync_dir(dest.parent)
