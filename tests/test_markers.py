"""The lists of slow tests in conftest.py name tests that exist: a renamed test would otherwise
slip back into `make check` unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import SLOW_MODULES, SLOW_TESTS

HERE = Path(__file__).parent


def test_every_slow_module_and_test_exists():
    for module in SLOW_MODULES:
        assert (HERE / f"{module}.py").is_file(), module
    for name in SLOW_TESTS:
        module, _, test = name.partition("::")
        tree = ast.parse((HERE / f"{module}.py").read_text(encoding="utf-8"))
        tests = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert test in tests, name
