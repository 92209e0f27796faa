"""``manage.py cleanupflows`` on the database, tmpfile and Redis stores."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flowmachine.backends import get_store
from flowmachine.backends.base import encode_record
from flowmachine.models import TaskRecord

pytestmark = pytest.mark.django_db

IDLE = 1200


def make_rows(expired: int, live: int, *, position: str = "Survey.AskAge") -> None:
    """Insert task rows directly: *expired* idle for a day, *live* used just now."""
    now = timezone.now()
    old = now - timedelta(days=1)
    data = encode_record({"version": 1, "flow": "Survey", "pos": position, "data": {}})
    rows = [
        TaskRecord(
            task_id=f"x{i:031d}", version=1, data=data, created=old, accessed=old, flow="Survey", position=position
        )
        for i in range(expired)
    ] + [
        TaskRecord(
            task_id=f"l{i:031d}", version=1, data=data, created=now, accessed=now, flow="Survey", position=position
        )
        for i in range(live)
    ]
    TaskRecord.objects.bulk_create(rows, batch_size=5000)


def run(*args: str) -> str:
    out = StringIO()
    call_command("cleanupflows", *args, stdout=out)
    return out.getvalue()


def test_dry_run_counts_the_expired_tasks_and_deletes_nothing():
    make_rows(expired=7, live=3)
    assert "7 expired task(s)" in run("--dry-run")
    assert TaskRecord.objects.count() == 10


def test_deletes_only_expired_tasks_in_batches_and_says_how_many():
    make_rows(expired=10, live=4)
    with CaptureQueriesContext(connection) as queries:
        output = run("--batch-size", "3")
    assert "Deleted 10 expired task(s)" in output
    assert "in 4 batch(es)" in output
    assert "10 had not finished" in output
    assert TaskRecord.objects.count() == 4
    assert not TaskRecord.objects.filter(task_id__startswith="x").exists()
    # Each batch deletes by primary key what it selected: never one statement over the whole table.
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert deletes and all('"task_id" IN' in sql for sql in deletes)


def test_finished_tasks_are_deleted_but_not_counted_as_abandoned():
    make_rows(expired=2, live=0, position="")
    assert "0 had not finished" in run()
    assert TaskRecord.objects.count() == 0


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(CommandError, match="--batch-size"):
        run("--batch-size", "0")


def test_the_idle_timeout_decides_what_is_expired():
    make_rows(expired=0, live=2)
    TaskRecord.objects.update(accessed=timezone.now() - timedelta(seconds=120))
    with override_settings(FLOWS_TASK_IDLE_TIMEOUT=300):
        assert "Deleted 0" in run()
    with override_settings(FLOWS_TASK_IDLE_TIMEOUT=60):
        assert "Deleted 2" in run()


def test_redis_store_explains_that_redis_expires_keys_itself():
    with override_settings(FLOWS_REDIS_URL=settings.REDIS_URL):
        output = run("--store", "flowmachine.backends.redis")
    assert "expires tasks by itself" in output
    assert "TTL" in output


def test_tmpfile_store_removes_its_expired_files(tmp_path):
    with override_settings(FLOWS_TMPFILE_DIR=str(tmp_path), FLOWS_TASK_IDLE_TIMEOUT=IDLE):
        store = get_store("flowmachine.backends.tmpfile")
        for task_id in ("old-unfinished", "old-finished", "fresh"):
            record = {"version": 1, "flow": "Survey", "pos": "Survey.AskAge", "data": {}}
            if task_id == "old-finished":
                record = {"version": 1, "flow": "Survey", "done": "/x/"}
            store.put_state(task_id, record)
        past = time.time() - IDLE - 60
        for task_id in ("old-unfinished", "old-finished"):
            os.utime(store.path(task_id), (past, past))

        assert "2 expired task(s)" in run("--store", "flowmachine.backends.tmpfile", "--dry-run")
        assert store.path("old-unfinished").exists()
        output = run("--store", "flowmachine.backends.tmpfile")
        assert "Deleted 2 expired task(s)" in output
        assert "1 had not finished" in output
        assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.lock", "fresh.task"]
        assert store.get_state("fresh") is not None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_hundred_thousand_rows(capsys):
    """The figure in docs/integrations.md: 100,000 expired rows, batches of 1000, each committed."""
    make_rows(expired=100_000, live=100)
    started = time.monotonic()
    output = run()
    elapsed = time.monotonic() - started
    assert "Deleted 100000 expired task(s)" in output
    assert "in 100 batch(es)" in output
    assert TaskRecord.objects.count() == 100
    with capsys.disabled():
        print(f"\ncleanupflows: 100,000 rows on {connection.vendor} in {elapsed:.2f}s")
