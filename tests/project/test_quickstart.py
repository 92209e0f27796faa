"""The README's quickstart is a real project: it passes its checks and its tests, and the README shows its code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "quickstart"


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT), str(ROOT)])
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_the_quickstart_project_passes_its_checks_and_its_tests():
    check = manage("check", "--fail-level", "WARNING")
    assert check.returncode == 0, check.stdout + check.stderr
    tests = manage("test", "shop", "-v", "2")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert re.search(r"Ran 3 tests", tests.stderr), tests.stderr


@pytest.mark.parametrize(
    "path, fence",
    [("shop/flows.py", "python"), ("quickstart/urls.py", "python"), ("shop/templates/shop/step.html", "html")],
)
def test_the_readme_shows_the_quickstarts_code_as_it_is(path, fence):
    readme = (ROOT / "README.md").read_text()
    code = (PROJECT / path).read_text().rstrip()
    assert f"```{fence}\n{code}\n```" in readme, f"README.md does not show {path} as it is"
