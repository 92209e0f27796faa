"""The suite on a machine without its services: one line for what is missing, the rest runs.

``make test`` promises to work with only Python and make: a service that does
not answer is named once, with what is skipped and how to provide it; under
``CI=true`` every service is mandatory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_service_is_one_line_and_the_run_fails():
    """Without Redis the suite skips what needs it, says so once, runs the rest, and fails at the end."""
    root = ROOT
    env = {**os.environ, "FLOWMACHINE_TEST_REDIS_URL": "redis://127.0.0.1:1/0", "CI": ""}
    env.pop("FLOWMACHINE_TEST_DB", None)
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/engine/test_funnel.py"]
    result = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Redis does not answer at 127.0.0.1:1" in output
    assert "Traceback" not in output and "ConnectionRefusedError" not in output
    assert " passed" in output and "skipped" in output
    ci = subprocess.run(args, cwd=root, env={**env, "CI": "true"}, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert ci.returncode == 3 and "CI=true needs every service" in ci.stdout + ci.stderr


def test_postgresql_selected_but_not_answering_is_one_line():
    root = ROOT
    env = {**os.environ, "FLOWMACHINE_TEST_DB": "postgres", "FLOWMACHINE_TEST_PG_PORT": "1", "CI": ""}
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/engine/test_record.py"]
    result = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    output = result.stdout + result.stderr
    assert result.returncode == 3 and "PostgreSQL does not answer at 127.0.0.1:1" in output
    assert len(output.strip().splitlines()) <= 3 and "Traceback" not in output


def test_a_postgresql_variable_without_selecting_postgresql_is_named():
    env = {**os.environ, "FLOWMACHINE_TEST_PG_PORT": "5433", "CI": ""}
    env.pop("FLOWMACHINE_TEST_DB", None)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/engine/test_record.py"]  # the header
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert "FLOWMACHINE_TEST_PG_PORT set, but the run uses SQLite" in result.stdout
