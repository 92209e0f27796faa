"""flowmachine.contrib.celery.cleanup_task run by a real Celery worker process on a real broker.

The worker is started per test as a subprocess (``celery -A tests.integrations.celery_app
worker``) on a queue of that test only, on the Redis broker of the test
settings (``FLOWMACHINE_TEST_REDIS_URL``), and stopped afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from flowmachine.backends.base import encode_record
from flowmachine.models import TaskRecord

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BROKER = settings.REDIS_URL


@contextmanager
def worker(extra_env: dict[str, str] | None = None, **flow_settings: object) -> Iterator[object]:
    """A Celery worker subprocess on a fresh queue; yields a client app bound to that queue."""
    from tests.integrations.celery_app import app

    queue = f"fm-test-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "FLOWMACHINE_TEST_CELERY_BROKER": BROKER,
        "FLOWMACHINE_TEST_CELERY_BACKEND": BROKER,
        "FLOWMACHINE_TEST_CELERY_QUEUE": queue,
        **{f"FLOWMACHINE_TEST_SETTING_{k}": json.dumps(v) for k, v in flow_settings.items()},
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.integrations.celery_app",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
            "--queues",
            queue,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    app.conf.update(broker_url=BROKER, result_backend=BROKER, task_default_queue=queue)
    try:
        yield app
    finally:
        process.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        print(output[-3000:])


def insert(expired: int, live: int) -> None:
    now, old = timezone.now(), timezone.now() - timedelta(days=1)
    data = encode_record({"version": 1, "flow": "Survey", "pos": "Survey.AskAge", "data": {}})
    TaskRecord.objects.bulk_create(
        [
            TaskRecord(
                task_id=f"c{i:031d}",
                version=1,
                data=data,
                created=old,
                accessed=old,
                flow="Survey",
                position="Survey.AskAge",
            )
            for i in range(expired)
        ]
        + [
            TaskRecord(
                task_id=f"k{i:031d}",
                version=1,
                data=data,
                created=now,
                accessed=now,
                flow="Survey",
                position="Survey.AskAge",
            )
            for i in range(live)
        ]
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_deletes_expired_rows_of_the_database_store():
    if connection.vendor != "postgresql":
        pytest.skip(
            "the worker process needs a database it can share with the test: run with FLOWMACHINE_TEST_DB=postgres"
        )
    insert(expired=25, live=5)
    # The worker uses the test database itself (test_<name>), where the rows were committed.
    shared = {"FLOWMACHINE_TEST_DB": "postgres", "FLOWMACHINE_TEST_PG_NAME": connection.settings_dict["NAME"]}
    with worker(shared, FLOWS_STATE_STORE="flowmachine.backends.db") as app:
        result = app.send_task("flowmachine.cleanup", kwargs={"batch_size": 10})
        summary = result.get(timeout=120)
    assert summary == {"store": "flowmachine.backends.db", "removed": 25, "abandoned": 25, "files": 0, "note": ""}
    assert TaskRecord.objects.count() == 5
    assert not TaskRecord.objects.filter(task_id__startswith="c").exists()


def test_the_worker_cleans_the_tmpfile_store(tmp_path):
    from django.test import override_settings

    from flowmachine.backends import get_store

    with override_settings(FLOWS_TMPFILE_DIR=str(tmp_path)):
        store = get_store("flowmachine.backends.tmpfile")
        for task_id in ("gone", "kept"):
            store.put_state(task_id, {"version": 1, "flow": "Survey", "pos": "Survey.AskAge", "data": {}})
        past = time.time() - 7200
        os.utime(store.path("gone"), (past, past))
    # The worker has a database of its own, migrated as a deployment's would be: cleanup
    # also reads the index of kept files there.
    own = migrated_sqlite(tmp_path.parent / f"{tmp_path.name}-worker.sqlite3")
    with worker(own, FLOWS_STATE_STORE="flowmachine.backends.tmpfile", FLOWS_TMPFILE_DIR=str(tmp_path)) as app:
        summary = app.send_task("flowmachine.cleanup").get(timeout=120)
    assert (summary["removed"], summary["abandoned"], summary["files"]) == (1, 1, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.lock", "kept.task"]


def migrated_sqlite(path: Path) -> dict[str, str]:
    """The environment of a process on its own SQLite database at *path*, migrated."""
    env = {"FLOWMACHINE_TEST_DB": "sqlite", "FLOWMACHINE_TEST_SQLITE_NAME": str(path)}
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env},
        check=True,
    )
    return env


def test_the_task_is_registered_under_its_documented_name():
    from flowmachine.contrib.celery import TASK_NAME, cleanup_task
    from tests.integrations.celery_app import app

    assert TASK_NAME == "flowmachine.cleanup"
    assert app.tasks[TASK_NAME] is cleanup_task or app.tasks[TASK_NAME].name == cleanup_task.name
    assert app.conf.beat_schedule["flowmachine-cleanup"]["task"] == TASK_NAME
