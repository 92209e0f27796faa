"""Runs tests/test_demo_paths.py (every generated path of the demo checkout) in the demo's settings.

The demo's ``shop`` app is not part of the suite's settings, so its example
test file runs in its own pytest process, as docs/testing.md shows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_every_generated_path_of_the_demo_checkout_passes(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "demo"), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "demo_site.settings",
        "FLOWS_DEMO_STORE": "db",
        "FLOWS_DEMO_DB": str(tmp_path / "demo.sqlite3"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ds=demo_site.settings",
            str(ROOT / "tests" / "test_demo_paths.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed[1]) >= 2, output[-2000:]
    assert "skipped" not in result.stdout and "failed" not in result.stdout, output[-2000:]
