"""The benchmark still runs: ``python -m tests.benchmarks --smoke`` end to end, and its counted figures.

Times from so short a run are noise and are not asserted; the counts are
(queries, Redis commands, record bytes) and so is a clean throughput run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.redis  # half of its variants and one of its two throughput runs are on the Redis store
def test_the_benchmark_runs_in_its_quickest_mode(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Targets:" in done.stdout
    results = json.loads(out.read_text())

    compare = results["compare"]
    assert {"floor", "wizard", "fm-db-sqlite", "fm-redis"} <= set(compare)
    for key, item in compare.items():
        assert item["step"]["n"] > 0 and item["step"]["median_ms"] > 0, key
    for key in [k for k in compare if k.startswith("fm-db-")] + list(results["scale"]):
        assert results["compare"].get(key, results["scale"].get(key))["store_sql_per_request_max"] <= 2, key
    assert compare["fm-redis"]["redis_per_request_max"] <= 2
    assert set(results["scale"]) >= {"linear-10", "linear-100", "linear-1000", "nested-1", "nested-5", "nested-20"}

    production = results["production"]
    kinds = {"floor", "wizard", "fm-db", "fm-redis"}
    assert {f"sqlite-{fields}-{kind}" for fields in (1, 5) for kind in kinds} <= set(production)
    for key, item in production.items():
        assert item["step"]["n"] > 0 and item["statements"] >= 0, key

    throughput = results["throughput"]
    assert set(throughput) == {"db", "redis"}, throughput
    for run in throughput.values():
        assert "error" not in run, run
        assert run["checkouts"] > 0 and run["errors"] == 0, run
        assert run["tool"] == "locust (headless)" and run["workers"] == 4, run
        assert run["demo_record_bytes_max"] <= 1024, run["demo_record_bytes"]

    targets = {t["target"]: t for t in results["targets"]}
    counted = [
        t
        for name, t in targets.items()
        if "queries" in name or "round trips" in name or "record" in name or "errors" in name
    ]
    # The production setup's statement counts: each step after the first within the floor plus one,
    # and the Redis store within the floor.
    counted += [
        t
        for name, t in targets.items()
        if name.startswith("statements sent") and ("after the first" in name or "redis" in name)
    ]
    assert counted and all(t["met"] in (True, None) for t in counted), [t for t in counted if not t["met"]]
    assert all(t["met"] for t in counted if "queries" in t["target"] or "errors" in t["target"]), counted
