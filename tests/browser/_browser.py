"""Playwright pieces the browser tests share: the system Chromium, pages, screenshots on failure.

Kept out of conftest.py so a test can load them into a pytest run of its own
(see test_artifacts.py). Nothing here downloads a browser.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("FLOWMACHINE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("FLOWMACHINE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
#: Milliseconds Playwright waits for a page or an element before failing.
TIMEOUT_MS = 15_000


def artifact_path(*parts: str) -> Path:
    """A path under the artefacts folder, its directory created."""
    path = ARTIFACTS.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """The system Chromium, headless, one per test module."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install the 'chromium' Debian package (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser profile (cookies, session) for one test; failing tests leave screenshots."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            for number, page in enumerate(context.pages, 1):
                try:
                    page.screenshot(path=str(artifact_path("failures", f"{name}-tab{number}.png")), full_page=True)
                except Exception as exc:  # a crashed page must not hide the test's own failure
                    print(f"could not save a screenshot of tab {number}: {exc}")
        context.close()


@pytest.fixture
def page(context) -> object:
    """A tab of the test's browser profile."""
    return context.new_page()
