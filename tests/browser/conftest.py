"""Fixtures of the browser tests: one headless Chromium for the session, and the folder screenshots go to.

Screenshots go to $DLCOURSE_SCREENSHOTS when it is set, else to a folder of pytest's temporary directory; the
folder, and how long each notebook took, are printed at the end of the run (`pytest -p no:xdist`: under xdist the
workers' summary does not reach the terminal, but failure messages still name their screenshots).
With DLCOURSE_UPDATE_SCREENSHOTS=1 the tests also write the pictures README shows, under docs/screenshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from labserver import CHROMIUM, CHROMIUM_ARGS, missing

_REPORT = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium through Playwright, shared by every browser test (each opens a context of its own)."""
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is missing: pip install -r requirements.lock")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def browser_report(request) -> list[str]:
    """Lines printed after the run's summary (screenshot folder, timings)."""
    return request.config.stash.setdefault(_REPORT, [])


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory, browser_report) -> Path:
    """The folder the browser tests write their screenshots to."""
    chosen = os.environ.get("DLCOURSE_SCREENSHOTS")
    folder = Path(chosen).resolve() if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    browser_report.append(f"browser screenshots: {folder}")
    return folder


@pytest.fixture(scope="session")
def update_docs() -> bool:
    """Whether this run also rewrites docs/screenshots/ (DLCOURSE_UPDATE_SCREENSHOTS=1)."""
    return os.environ.get("DLCOURSE_UPDATE_SCREENSHOTS", "").lower() in ("1", "true", "yes")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section("browser tests")
        for line in lines:
            terminalreporter.write_line(line)
