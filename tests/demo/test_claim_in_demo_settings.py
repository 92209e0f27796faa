"""Runs tests/demo/test_claim.py (the demo's insurance claim over HTTP) in the demo's settings.

The demo's ``claims`` app is not part of the suite's settings, so its test
file runs in its own pytest process, on the db store and on the Redis store.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
import redis

from tests.demo._run import run_in_demo_settings

REDIS_URL = os.environ.get("FLOWMACHINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.mark.slow
@pytest.mark.parametrize("store", ["db", "redis"])
def test_the_demo_claim_passes(store: str, tmp_path: Path) -> None:
    prefix = f"fm-demo-claim-{uuid.uuid4().hex}:"
    demo_env = {"FLOWS_DEMO_REDIS_URL": REDIS_URL, "FLOWS_DEMO_REDIS_PREFIX": prefix}
    try:
        result = run_in_demo_settings("test_claim.py", tmp_path, store=store, env=demo_env)
    finally:
        if store == "redis":
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed[1]) >= 10, output[-2000:]
    assert "skipped" not in result.stdout and "failed" not in result.stdout, output[-2000:]
    assert not (tmp_path / "files" / "media").exists()  # each test kept its files in a folder of its own
