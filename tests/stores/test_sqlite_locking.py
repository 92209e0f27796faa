"""On SQLite the database store's locked read takes the write lock, so double clicks queue up.

SQLite locks the whole file, and a transaction that has only read cannot wait
for another's write lock: two POSTs on one task would both read, and one would
then fail ("database is locked", a 503). These tests run a real file database
in a child process (the suite's own test database is in memory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from flowmachine.checks import check_settings

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sqlite3, sys, threading
import django
django.setup()
from django.core.management import call_command
from django.db import connection, transaction
from flowmachine.backends.db import StateStore

call_command("migrate", verbosity=0)
store = StateStore()
store.put_state("t" * 32, {"version": 1, "flow": "F", "data": {}})
read, done = threading.Event(), threading.Event()
results = {}

def post():
    with transaction.atomic():
        results["read"] = store.get_state("t" * 32) is not None
        read.set()
        done.wait(30)
        store.put_state("t" * 32, {"version": 2, "flow": "F", "data": {}})
    connection.close()

thread = threading.Thread(target=post)
thread.start()
read.wait(30)
other = sqlite3.connect(sys.argv[1], timeout=0)
try:
    other.execute("BEGIN IMMEDIATE")
    results["second_writer"] = "got the write lock"
    other.execute("ROLLBACK")
except sqlite3.OperationalError as exc:
    results["second_writer"] = str(exc)
done.set()
thread.join(30)
with sqlite3.connect(sys.argv[1]) as check:
    results["version"] = check.execute("SELECT version FROM flowmachine_taskrecord").fetchone()[0]
print(json.dumps(results))
"""


@pytest.mark.slow
def test_a_locked_read_holds_the_write_lock_until_the_step_commits(tmp_path):
    database = tmp_path / "tasks.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "FLOWMACHINE_TEST_DB": "sqlite"}
    env["FLOWMACHINE_TEST_SQLITE_NAME"] = str(database)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(database)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"read": True, "second_writer": "database is locked", "version": 2}


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
@pytest.mark.parametrize("timeout, warned", [(0, True), (0.2, True), (5, False), (None, False)])
def test_sqlite_without_a_busy_timeout_is_warned_about(settings, timeout, warned):
    database = {**settings.DATABASES["default"], "ENGINE": "django.db.backends.sqlite3", "OPTIONS": {}}
    if timeout is not None:
        database["OPTIONS"]["timeout"] = timeout
    with override_settings(DATABASES={**settings.DATABASES, "default": database}):
        found = [m for m in check_settings() if m.id == "flowmachine.W022"]
    assert bool(found) == warned
    assert all(m.level == checks.WARNING for m in found)
