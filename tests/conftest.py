"""Shared pytest fixtures and markers."""

from __future__ import annotations

import os

import pytest

from xlsxgov import office


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "office: needs LibreOffice (soffice)")
    config.addinivalue_line("markers", "browser: needs headless Chromium")
    config.addinivalue_line("markers", "slow: takes seconds (a whole demo, hundreds of files, real servers); left out of make check")


# Marked by what they use, so that `make check` (-m "not office and not slow") never starts
# LibreOffice or a browser, whoever writes the test.
OFFICE_FIXTURES = {"soffice"}
BROWSER_FIXTURES = {"browser", "chromium", "page"}
# Whole modules that take tens of seconds each: the demo (a campaign of 50 agencies end to end),
# the portal under load (200 uploads, a SIGKILL) and in a browser.
SLOW_MODULES = {"test_demo", "test_portal_reliability", "test_portal_browser"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & OFFICE_FIXTURES:
            item.add_marker(pytest.mark.office)
        if names & BROWSER_FIXTURES or item.module.__name__.rpartition(".")[2] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


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
