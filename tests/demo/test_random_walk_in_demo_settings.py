"""Runs tests/demo/test_random_walk.py (the random walk over the demo checkout) in the demo's settings.

The demo's ``shop`` app is not part of the suite's settings, so the walk runs in
its own pytest process, on the db store and on the Redis store. Its figures
(steps, invariant violations, orders) are printed with ``-s``; the hypothesis
profile (``FLOWMACHINE_HYPOTHESIS_PROFILE``) is passed through.
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
def test_the_random_walk_over_the_demo_checkout_passes(store: str, tmp_path: Path) -> None:
    prefix = f"fm-demo-walk-{uuid.uuid4().hex}:"
    demo_env = {"FLOWS_DEMO_REDIS_URL": REDIS_URL, "FLOWS_DEMO_REDIS_PREFIX": prefix}
    try:
        result = run_in_demo_settings("test_random_walk.py", tmp_path, store=store, env=demo_env, timeout=3600)
    finally:
        if store == "redis":  # the walk on the database store never touches Redis
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
    output = result.stdout + result.stderr
    figures = ("random walk", "demo checkout", "accepted pages", "invariant violated")
    print("\n".join(line for line in result.stdout.splitlines() if line.startswith(figures)))
    assert result.returncode == 0, output[-5000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed[1]) >= 2, output[-2000:]
    assert "skipped" not in result.stdout and "failed" not in result.stdout, output[-2000:]
    walked = re.search(r"random walk demo checkout/\w+ \[\w+\]: (\d+) steps, (\d+) invariant violations", output)
    assert walked and int(walked[1]) > 0 and walked[2] == "0", output[-2000:]
    orders = re.search(r"(\d+) orders", output)
    assert orders and int(orders[1]) > 0, output[-2000:]
