"""Runs tests/demo/test_rough_edges.py (the demo checkout as a new user meets it) in the demo's settings.

The demo's ``shop`` app is not part of the suite's settings, so the module runs
in its own pytest process, on the db store and on the Redis store.
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


@pytest.mark.parametrize("store", ["db", "redis"])
def test_the_demo_checkout_has_no_rough_edges(store: str, tmp_path: Path) -> None:
    prefix = f"fm-demo-edges-{uuid.uuid4().hex}:"
    demo_env = {"FLOWS_DEMO_REDIS_URL": REDIS_URL, "FLOWS_DEMO_REDIS_PREFIX": prefix, "FLOWS_DEMO_FAST_PASSWORDS": "1"}
    try:
        result = run_in_demo_settings("test_rough_edges.py", tmp_path, store=store, env=demo_env, timeout=600)
    finally:
        if store == "redis":  # the run on the database store never touches Redis
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
