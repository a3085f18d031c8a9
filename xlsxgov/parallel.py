"""The one chunked worker-process map of xlsxgov: both cores for reading and validating files.

:func:`chunk_map` cuts a list of items into chunks, applies a function to each chunk in worker
processes and yields one result per item, in the order given. Validation (``validate_paths``),
``campaign import`` and consolidation from files go through it, so the choices made here (how
many workers, how big a chunk, what happens when a worker dies) are made once.

Why chunks: a chunk is validated as one vectorised batch, and results go back to the parent
once per chunk rather than once per file. Why processes: reading a workbook is CPU-bound
Python (the GIL); python-calamine releases little of it.

A worker that dies (a parser aborting the process, the kernel killing it for memory) never
loses the batch: the items of the chunks it took down are run again one by one, each in a
fresh pool, and an item that kills its worker again gets ``on_broken(item)`` as its result.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

__all__ = ["chunk_map", "worker_count", "WORKERS_ENV"]

T = TypeVar("T")
R = TypeVar("R")

WORKERS_ENV = "XLSXGOV_WORKERS"  # "1" runs everything in the calling process
MAX_CHUNK = 64  # files per chunk: large enough to vectorise, small enough to keep both cores busy
MIN_PARALLEL = 16  # fewer items than this: starting processes costs more than it saves


def worker_count() -> int:
    """How many worker processes to use: ``XLSXGOV_WORKERS`` when set (an integer >= 1), else the
    CPUs this process may run on."""
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def die_with_parent(parent: int) -> None:
    """Worker initializer (this module's pools and the portal's): end with the parent. A parent killed outright (SIGKILL, OOM) leaves
    its workers blocked on the task queue forever otherwise (Linux: PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: nothing to set
        return
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def _context():
    """fork when it is safe (one thread: the child inherits loaded modules, specs and compiled
    rules for free); forkserver otherwise (forking a threaded process can deadlock)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def chunk_map(
    fn: Callable[[list[T]], Sequence[R]],
    items: Sequence[T],
    *,
    workers: int | None = None,
    chunk_size: int | None = None,
    on_broken: Callable[[T], R] | None = None,
) -> Iterator[R]:
    """Yield ``fn(chunk)[i]`` for every item, in the order of ``items``.

    ``fn`` takes a list of items and returns a sequence of as many results (it must be a
    module-level function, and items and results picklable: they cross process boundaries).
    ``workers``: processes to use (default :func:`worker_count`); with 1, or fewer than
    MIN_PARALLEL items, everything runs in the calling process. ``chunk_size``: items per chunk
    (default: about four chunks per worker, at most MAX_CHUNK). At most two chunks per worker
    are in flight, so results are streamed and memory stays bounded for any number of items.

    Errors: an exception raised by ``fn`` is raised here. A worker process that dies is handled
    as the module docstring says; without ``on_broken`` its BrokenProcessPool is raised.
    """
    items = list(items)
    n_workers = worker_count() if workers is None else max(1, workers)
    n_workers = min(n_workers, max(1, len(items)))
    if chunk_size is None:
        chunk_size = max(1, min(MAX_CHUNK, -(-len(items) // (n_workers * 4))))
    chunks = _chunks(items, chunk_size)
    if n_workers == 1 or len(items) < MIN_PARALLEL:
        for chunk in chunks:
            yield from _checked(fn(chunk), chunk)
        return
    ctx = _context()
    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        pending: deque[tuple[list[T], Future]] = deque()
        todo = iter(chunks)

        def submit(chunk: list[T]) -> Future:
            try:
                return pool.submit(fn, chunk)
            except BrokenProcessPool as exc:  # a worker died since the last result: redone below
                failed: Future = Future()
                failed.set_exception(exc)
                return failed

        def refill() -> None:
            while len(pending) < 2 * n_workers:
                chunk = next(todo, None)
                if chunk is None:
                    return
                pending.append((chunk, submit(chunk)))

        refill()
        while pending:
            chunk, future = pending.popleft()
            try:
                results = future.result()
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                # Every chunk in flight died with the pool: redo them one item at a time.
                lost = [chunk] + [c for c, _ in pending]
                pending.clear()
                for c in lost:
                    for item in c:
                        yield _alone(fn, item, ctx, on_broken)
                pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),))
                refill()
                continue
            yield from _checked(results, chunk)
            refill()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _checked(results: Sequence[R], chunk: list) -> Sequence[R]:
    if len(results) != len(chunk):
        raise ValueError(f"chunk_map: {len(results)} results for {len(chunk)} items")
    return results


def _alone(fn: Callable[[list[T]], Sequence[R]], item: T, ctx, on_broken: Callable[[T], R] | None) -> R:
    """``fn([item])[0]`` in a pool of its own, so that a crash is pinned on this item."""
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        try:
            return _checked(pool.submit(fn, [item]).result(), [item])[0]
        except BrokenProcessPool:
            if on_broken is None:
                raise
            return on_broken(item)
