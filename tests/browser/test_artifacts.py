"""A failing browser test leaves a screenshot of its tabs under the artefacts folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.browser._browser import CHROMIUM

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_failing_test_saves_its_screenshot(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    (tmp_path / "conftest.py").write_text(
        "from tests.browser._browser import browser, context, page, pytest_runtest_makereport  # noqa: F401\n"
    )
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent("""
        def test_passes(page):
            page.set_content("<h1>fine</h1>")

        def test_fails(page):
            page.set_content("<h1>Something went wrong</h1>")
            assert page.locator("h1").inner_text() == "All good"
    """)
    )
    artifacts = tmp_path / "artifacts"
    env = {**os.environ, "PYTHONPATH": str(REPO), "FLOWMACHINE_TEST_ARTIFACTS": str(artifacts)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    shots = sorted(p.name for p in (artifacts / "failures").glob("*.png"))
    assert shots == ["test_inner.py_test_fails-tab1.png"]
    assert (artifacts / "failures" / shots[0]).read_bytes().startswith(b"\x89PNG")
