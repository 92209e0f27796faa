"""Runs tests/demo/test_paths.py (every generated path of the demo checkout) in the demo's settings.

The demo's ``shop`` app is not part of the suite's settings, so its example
test file runs in its own pytest process, as docs/testing.md shows.
"""

from __future__ import annotations

import re

import pytest

from tests.demo._run import run_in_demo_settings


@pytest.mark.slow
def test_every_generated_path_of_the_demo_checkout_passes(tmp_path):
    result = run_in_demo_settings("test_paths.py", tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed[1]) >= 2, output[-2000:]
    assert "skipped" not in result.stdout and "failed" not in result.stdout, output[-2000:]
