"""parallel.chunk_map: order, both modes alike, a dying worker pinned on its item; and
validate_paths in worker processes equal to the same work in one process."""

from __future__ import annotations

import os
import signal

import pytest

from xlsxgov import spec as spec_mod
from xlsxgov.parallel import chunk_map
from xlsxgov.template import Meta, write_workbook
from xlsxgov.validate import validate_paths


def squares(chunk: list[int]) -> list[tuple[int, int]]:
    return [(x * x, os.getpid()) for x in chunk]


def dies_on_13(chunk: list[int]) -> list[int]:
    if 13 in chunk:
        os.kill(os.getpid(), signal.SIGKILL)  # as a parser aborting the process would
    return [x + 1 for x in chunk]


def raises_on_5(chunk: list[int]) -> list[int]:
    if 5 in chunk:
        raise ValueError("five")
    return chunk


def test_results_in_order_from_worker_processes():
    out = list(chunk_map(squares, list(range(200)), workers=2, chunk_size=7))
    assert [v for v, _ in out] == [x * x for x in range(200)]
    assert {pid for _, pid in out} - {os.getpid()}, "the work ran in worker processes"
    inline = list(chunk_map(squares, list(range(200)), workers=1))
    assert [v for v, _ in inline] == [x * x for x in range(200)]
    assert {pid for _, pid in inline} == {os.getpid()}


def test_a_killed_worker_costs_its_item_only():
    out = list(chunk_map(dies_on_13, list(range(40)), workers=2, chunk_size=5, on_broken=lambda x: -x))
    assert out == [-13 if x == 13 else x + 1 for x in range(40)]


def test_a_killed_worker_without_on_broken_raises():
    from concurrent.futures.process import BrokenProcessPool

    with pytest.raises(BrokenProcessPool):
        list(chunk_map(dies_on_13, list(range(40)), workers=2, chunk_size=5))


def test_an_exception_in_fn_is_raised_here():
    with pytest.raises(ValueError, match="five"):
        list(chunk_map(raises_on_5, list(range(40)), workers=2, chunk_size=4))


def test_validate_paths_in_workers_equals_one_process(tmp_path):
    spec = spec_mod.load("gov2021")
    paths = []
    for i in range(20):
        p = tmp_path / f"r{i:02d}.xlsx"
        values = {("t2", "regulations", "issued"): i, ("t2", "regulations", "valid"): 2 * i}
        write_workbook(p, spec, Meta(year=2024, agency=f"单位{i}", code=f"11350100M{i:09d}"), values=values)
        paths.append(p)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really")
    paths.insert(7, bad)
    one = validate_paths(paths, workers=1)
    two = validate_paths(paths, workers=2)
    assert [r.path for r in two] == paths
    assert [(r.status, r.reason, r.findings) for r in one] == [(r.status, r.reason, r.findings) for r in two]
    assert two[7].status == "unreadable" and "bad.xlsx" in two[7].reason
    facts = lambda reps: [[f.as_json() for f in r.submission.facts()] for r in reps if r.submission]  # noqa: E731
    assert facts(one) == facts(two)
