"""The one atomic file writer: a destination holds its old content or the whole new one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from xlsxgov.atomic import pid_alive, replacing, sync_all, write_atomic, write_once


def test_write_atomic_replaces_and_leaves_no_temp_file(tmp_path):
    dest = tmp_path / "a.xlsx"
    write_atomic(dest, b"old")
    write_atomic(dest, b"new content", sync=False)
    sync_all()
    assert dest.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["a.xlsx"]


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    dest = tmp_path / "a.xlsx"
    write_atomic(dest, b"old")
    with pytest.raises(RuntimeError):
        with replacing(dest) as tmp:
            assert tmp.suffix == ".xlsx"  # writers that choose the format by the suffix still can
            tmp.write_bytes(b"half")
            raise RuntimeError("killed while writing")
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.xlsx"]


def test_write_once_keeps_a_content_addressed_file(tmp_path):
    dest = tmp_path / "0123abcd.xlsx"
    write_once(dest, b"same")
    before = dest.stat().st_mtime_ns
    write_once(dest, b"same")
    assert dest.stat().st_mtime_ns == before


def test_a_zombie_counts_as_ended():
    """A child that exited but was not reaped (as the workers of a killed import stay in a
    container whose init never reaps) is not running: its notes are stale."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pid_alive(pid)
        assert Path(f"/proc/{pid}").exists()  # still there as a zombie: the case this is about
    finally:
        os.waitpid(pid, 0)
    assert pid_alive(os.getpid())
