"""Running a test module of the demo shop in the demo's own settings, in its own pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def run_in_demo_settings(
    test_file: str, tmp_path: Path, *, store: str = "db", env: dict[str, str] | None = None, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """Run ``tests/demo/<test_file>`` with demo/ on the path, ``demo_site.settings``, a fresh SQLite file
    and a fresh files folder."""
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "demo"), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "demo_site.settings",
        "FLOWS_DEMO_STORE": store,
        "FLOWS_DEMO_DB": str(tmp_path / "demo.sqlite3"),
        "FLOWS_DEMO_FILES": str(tmp_path / "files"),
        **(env or {}),
    }
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--ds=demo_site.settings"]
    return subprocess.run(
        [*command, str(HERE / test_file)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
