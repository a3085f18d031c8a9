"""Shared pytest fixtures and markers."""

from __future__ import annotations

import os

import pytest

from xlsxgov import office


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "office: needs LibreOffice (soffice)")


@pytest.fixture(scope="session")
def soffice() -> str:
    """The LibreOffice executable. Skips the test without it, except in CI, where it must exist."""
    path = office.soffice_path()
    if path is None:
        reason = "LibreOffice (soffice) not on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: LibreOffice is required in CI)")
        pytest.skip(reason)
    return path
