"""The state-store contract, run against every built-in store on real services.

Each test runs on the database store (SQLite or PostgreSQL, whichever the run
uses), the Redis store (``settings.REDIS_URL``) and the tmpfile store. Raw
access to what a store keeps (to age or corrupt a record) goes through a small
per-store "backdoor", never through a mock.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone as dj_timezone

from flowmachine.backends import get_store
from flowmachine.backends import redis as redis_store
from flowmachine.backends.base import BaseStateStore
from flowmachine.backends.tmpfile import StateStore as FileStore
from flowmachine.exceptions import ConflictError, CorruptStateError, StateEncodingError
from flowmachine.models import TaskRecord

IDLE = 900


def new_id() -> str:
    return uuid.uuid4().hex


def record(version: int = 1, **data: Any) -> dict[str, Any]:
    return {"version": version, "flow": "x", "data": data}


# -- raw access to each store ---------------------------------------------------


class DbBackdoor:
    def __init__(self, store: Any) -> None:
        self.store = store

    def write_raw(self, task_id: str, raw: bytes) -> None:
        now = dj_timezone.now()
        TaskRecord.objects.create(task_id=task_id, version=1, data=raw, created=now, accessed=now)

    def age(self, task_id: str, seconds: float) -> None:
        TaskRecord.objects.filter(task_id=task_id).update(accessed=dj_timezone.now() - timedelta(seconds=seconds))

    def remaining(self, task_id: str) -> float:
        accessed = TaskRecord.objects.get(task_id=task_id).accessed
        return (accessed + timedelta(seconds=IDLE) - dj_timezone.now()).total_seconds()


class RedisBackdoor:
    def __init__(self, store: Any, client: redis.Redis) -> None:
        self.store, self.client = store, client

    def write_raw(self, task_id: str, raw: bytes) -> None:
        self.client.set(self.store.key(task_id), b"1\n" + raw, ex=IDLE)

    def age(self, task_id: str, seconds: float) -> None:
        # A record last used *seconds* ago has IDLE - seconds left to live;
        # EXPIRE with a non-positive time removes the key, as expiry would.
        self.client.expire(self.store.key(task_id), int(IDLE - seconds))

    def remaining(self, task_id: str) -> float:
        return self.client.ttl(self.store.key(task_id))


class FileBackdoor:
    def __init__(self, store: Any, directory: str) -> None:
        self.store, self.directory = store, directory

    def path(self, task_id: str) -> str:
        return os.path.join(self.directory, f"{task_id}.task")

    def write_raw(self, task_id: str, raw: bytes) -> None:
        os.makedirs(self.directory, exist_ok=True)
        with open(self.path(task_id), "wb") as fh:
            fh.write(raw)

    def age(self, task_id: str, seconds: float) -> None:
        then = time.time() - seconds
        os.utime(self.path(task_id), (then, then))

    def remaining(self, task_id: str) -> float:
        return os.stat(self.path(task_id)).st_mtime + IDLE - time.time()


# -- fixtures ------------------------------------------------------------------------


# The db store's cases carry the django_db mark statically: pytest-django sets
# the test database up only for collected tests that ask for it that way.
# "redis-cluster" is the Redis store on a real three-master Redis Cluster the
# session starts on loopback ports (fixture redis_cluster_url, tests/_servers.py).
CLUSTER = pytest.param("redis-cluster", marks=pytest.mark.slow)


@pytest.fixture(params=[pytest.param("db", marks=pytest.mark.django_db), "redis", CLUSTER, "tmpfile"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=[pytest.param("db", marks=pytest.mark.django_db(transaction=True)), "redis", CLUSTER, "tmpfile"])
def threaded_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@contextmanager
def open_store(kind: str, tmp_path: Any, cluster_url: str | None = None):
    """Configure *kind* as FLOWS_STATE_STORE; yield (store, backdoor); remove Redis keys after."""
    if kind == "redis-cluster":
        from redis.cluster import RedisCluster

        prefix = f"fm-test-{uuid.uuid4().hex}:"
        cluster = RedisCluster.from_url(cluster_url)
        try:
            with override_settings(
                FLOWS_STATE_STORE="flowmachine.backends.redis",
                FLOWS_REDIS_CLUSTER_URL=cluster_url,
                FLOWS_REDIS_KEY_PREFIX=prefix,
                FLOWS_TASK_IDLE_TIMEOUT=IDLE,
            ):
                store = get_store()
                yield store, RedisBackdoor(store, cluster)
        finally:
            for key in list(cluster.scan_iter(match=f"{prefix}*")):
                cluster.delete(key)
            cluster.close()
    elif kind == "db":
        with override_settings(FLOWS_STATE_STORE="flowmachine.backends.db", FLOWS_TASK_IDLE_TIMEOUT=IDLE):
            store = get_store()
            yield store, DbBackdoor(store)
    elif kind == "redis":
        prefix = f"fm-test-{uuid.uuid4().hex}:"
        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            with override_settings(
                FLOWS_STATE_STORE="flowmachine.backends.redis",
                FLOWS_REDIS_URL=settings.REDIS_URL,
                FLOWS_REDIS_KEY_PREFIX=prefix,
                FLOWS_TASK_IDLE_TIMEOUT=IDLE,
            ):
                store = get_store()
                yield store, RedisBackdoor(store, client)
        finally:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
    else:
        directory = str(tmp_path / "tasks")  # not created yet: the store creates it
        with override_settings(
            FLOWS_STATE_STORE="flowmachine.backends.tmpfile",
            FLOWS_TMPFILE_DIR=directory,
            FLOWS_TASK_IDLE_TIMEOUT=IDLE,
        ):
            store = get_store()
            yield store, FileBackdoor(store, directory)


def _cluster_url(kind: str, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_cluster_url") if kind == "redis-cluster" else None


@pytest.fixture
def opened(kind: str, tmp_path: Any, request: pytest.FixtureRequest):
    with open_store(kind, tmp_path, _cluster_url(kind, request)) as pair:
        yield pair


@pytest.fixture
def store(opened: tuple[Any, Any]) -> Any:
    return opened[0]


@pytest.fixture
def backdoor(opened: tuple[Any, Any]) -> Any:
    return opened[1]


@pytest.fixture
def threaded_store(threaded_kind: str, tmp_path: Any, request: pytest.FixtureRequest):
    """A store for tests with real threads: the db store needs a database that allows them."""
    if threaded_kind == "db" and connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "concurrent writers need PostgreSQL or a file SQLite database (run with FLOWMACHINE_TEST_DB=postgres)"
        )
    with open_store(threaded_kind, tmp_path, _cluster_url(threaded_kind, request)) as (store, _):
        yield store


# -- the contract ----------------------------------------------------------------------


def test_the_store_is_the_configured_one(kind: str, store: Any) -> None:
    assert type(store).__module__ == f"flowmachine.backends.{kind.split('-')[0]}"
    assert isinstance(store, BaseStateStore)
    assert store.atomic_versions is True


def test_round_trip(store: Any) -> None:
    task_id = new_id()
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    original = record(
        1,
        nested={"list": [1, 2.5, None, True, False, "s", [b"x", {"deep": ["er"]}]], "empty": {}},
        blob=b"\x00\xff\n\x01",
        text="zażółć gęślą jaźń — 日本語 🚀",
        when=when,
        big=2**63 - 1,
        negative=-(2**63),
        number=0.1,
    )
    store.put_state(task_id, original)
    loaded = store.get_state(task_id)
    assert loaded == original
    assert loaded["data"]["when"] == when and loaded["data"]["when"].tzinfo is not None
    assert isinstance(loaded["data"]["blob"], bytes)


def test_missing_id_reads_as_none(store: Any) -> None:
    assert store.get_state(new_id()) is None


def test_create_when_it_exists_conflicts(store: Any) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1, first=True))
    with pytest.raises(ConflictError):
        store.put_state(task_id, record(1, first=False))
    assert store.get_state(task_id) == record(1, first=True)


def test_sequential_versions_succeed(store: Any) -> None:
    task_id = new_id()
    for version in (1, 2, 3):
        store.put_state(task_id, record(version, step=version))
        assert store.get_state(task_id) == record(version, step=version)


@pytest.mark.parametrize("stale", [2, 1, 4])
def test_stale_version_conflicts_and_keeps_the_record(store: Any, stale: int) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1, step=1))
    store.put_state(task_id, record(2, step=2))
    with pytest.raises(ConflictError):
        store.put_state(task_id, record(stale, step="stale"))
    assert store.get_state(task_id) == record(2, step=2)


def test_update_of_a_missing_record_conflicts(store: Any) -> None:
    task_id = new_id()
    with pytest.raises(ConflictError):
        store.put_state(task_id, record(2))
    assert store.get_state(task_id) is None


def test_delete(store: Any) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1))
    store.delete_state(task_id)
    assert store.get_state(task_id) is None
    store.put_state(task_id, record(1, again=True))  # the id can be created again
    assert store.get_state(task_id) == record(1, again=True)


def test_delete_missing_is_fine(store: Any) -> None:
    task_id = new_id()
    store.delete_state(task_id)  # no error
    assert store.get_state(task_id) is None


def test_expired_record_reads_as_none(store: Any, backdoor: Any) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1))
    backdoor.age(task_id, IDLE + 5)
    assert store.get_state(task_id) is None


def test_record_inside_the_idle_timeout_is_kept(store: Any, backdoor: Any) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1))
    backdoor.age(task_id, IDLE - 60)
    assert store.get_state(task_id) == record(1)


def test_use_refreshes_the_idle_timeout(store: Any, backdoor: Any) -> None:
    # The engine reads a task and touches it when unchanged; either refreshes it.
    task_id = new_id()
    store.put_state(task_id, record(1))
    assert backdoor.remaining(task_id) > IDLE - 5
    backdoor.age(task_id, IDLE - 60)
    assert backdoor.remaining(task_id) < 61
    store.get_state(task_id)
    store.touch(task_id)
    assert backdoor.remaining(task_id) > IDLE - 5


def test_write_refreshes_the_idle_timeout(store: Any, backdoor: Any) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1))
    backdoor.age(task_id, IDLE - 60)
    store.put_state(task_id, record(2))
    assert backdoor.remaining(task_id) > IDLE - 5


def test_touch_of_a_missing_record_is_fine(store: Any) -> None:
    task_id = new_id()
    store.touch(task_id)  # no error, and touching creates nothing
    assert store.get_state(task_id) is None


@pytest.mark.parametrize(
    "raw",
    [b"\xc1\xc1\xc1", b"", msgpack.packb([1, 2, 3]), msgpack.packb({"flow": "x"}), b"\x93\x01"],
    ids=["garbage", "empty", "not-a-dict", "no-version", "truncated"],
)
def test_corrupt_bytes_raise_corrupt_state(store: Any, backdoor: Any, raw: bytes) -> None:
    task_id = new_id()
    backdoor.write_raw(task_id, raw)
    with pytest.raises(CorruptStateError):
        store.get_state(task_id)


@pytest.mark.parametrize(
    "value",
    [object(), complex(1, 2), {1, frozenset({object()})}, (1, lambda: 2), {"inner": [object()]}],
    ids=["object", "complex", "object-in-a-frozenset-in-a-set", "function-in-a-tuple", "nested-object"],
)
def test_unencodable_value_names_the_key(store: Any, value: Any) -> None:
    task_id = new_id()
    with pytest.raises(StateEncodingError) as info:
        store.put_state(task_id, record(1, fine=1, offending_key=value))
    assert "offending_key" in str(info.value)
    assert info.value.key == "offending_key"
    assert store.get_state(task_id) is None  # nothing was written


def test_unencodable_value_leaves_the_stored_record(store: Any) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1, good=True))
    with pytest.raises(StateEncodingError):
        store.put_state(task_id, record(2, bad=object()))
    assert store.get_state(task_id) == record(1, good=True)


def race(store: Any, task_id: str, states: list[dict[str, Any]]) -> tuple[list[int], list[Exception]]:
    """Write *states* from one real thread each, released together; return winners and errors."""
    barrier = threading.Barrier(len(states))
    won: list[int] = []
    errors: list[Exception] = []

    def write(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            store.put_state(task_id, states[index])
            won.append(index)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(states))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return won, errors


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(5))
def test_concurrent_writers_of_the_next_version(threaded_store: Any, round_: int) -> None:
    task_id = new_id()
    threaded_store.put_state(task_id, record(1))
    won, errors = race(threaded_store, task_id, [record(2, writer=0), record(2, writer=1)])
    assert len(won) == 1, errors
    assert len(errors) == 1 and isinstance(errors[0], ConflictError), errors
    assert threaded_store.get_state(task_id) == record(2, writer=won[0])


@pytest.mark.slow
def test_concurrent_creators(threaded_store: Any) -> None:
    task_id = new_id()
    won, errors = race(threaded_store, task_id, [record(1, writer=i) for i in range(4)])
    assert len(won) == 1, errors
    assert len(errors) == 3 and all(isinstance(e, ConflictError) for e in errors), errors
    assert threaded_store.get_state(task_id) == record(1, writer=won[0])


# -- listing records (optional: manage.py flowtasks) ---------------------------------------


def test_iter_lists_live_records_only_without_refreshing_them(store: Any, backdoor: Any) -> None:
    if type(store).iter_task_ids is BaseStateStore.iter_task_ids:
        pytest.skip("listing records is optional; this store does not implement it")
    live, old, broken = new_id(), new_id(), new_id()
    store.put_state(live, record(1, n=1))
    store.put_state(old, record(1, n=2))
    backdoor.age(old, IDLE + 5)
    backdoor.write_raw(broken, b"\xc1 not a record")
    backdoor.age(live, IDLE - 60)
    ids = set(store.iter_task_ids())
    assert live in ids and old not in ids
    states = dict(store.iter_states())
    assert states[live] == record(1, n=1)
    assert old not in states
    assert states.get(broken, "missing") is None  # undecodable records are listed as None
    assert backdoor.remaining(live) < 61  # listing is not using


def test_a_store_without_listing_names_the_method() -> None:
    with pytest.raises(NotImplementedError, match="iter_task_ids"):
        list(DictStateStore().iter_states())


# -- a custom store written to the three-method contract ------------------------------


class DictStateStore(BaseStateStore):
    """The smallest custom store: a dict, the three required methods, nothing else."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    def get_state(self, task_id: str) -> dict[str, Any] | None:
        raw = self.records.get(task_id)
        return None if raw is None else self.decode(raw)

    def put_state(self, task_id: str, state: dict[str, Any]) -> None:
        self.records[task_id] = self.encode(state)

    def delete_state(self, task_id: str) -> None:
        self.records.pop(task_id, None)


#: Lets FLOWS_STATE_STORE name this module, as a project would name its own.
StateStore = DictStateStore


def test_custom_store_with_only_the_three_methods() -> None:
    with override_settings(FLOWS_STATE_STORE=__name__):
        store = get_store()
        assert isinstance(store, DictStateStore)
        assert store.atomic_versions is False
        task_id = new_id()
        assert store.get_state(task_id) is None
        store.put_state(task_id, record(1, items=[1, {"a": b"b"}]))
        store.touch(task_id)  # the base class's no-op
        assert store.get_state(task_id) == record(1, items=[1, {"a": b"b"}])
        store.put_state(task_id, record(2, items=[]))
        assert store.get_state(task_id) == record(2, items=[])
        store.delete_state(task_id)
        store.delete_state(task_id)
        assert store.get_state(task_id) is None


# -- the tmpfile store's own safety -------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "", "a.b", "tåsk", "x" * 129, "nul\x00"])
def test_tmpfile_rejects_unsafe_task_ids(tmp_path: Any, bad_id: str) -> None:
    directory = tmp_path / "tasks"
    with override_settings(FLOWS_TMPFILE_DIR=str(directory)):
        store = FileStore()
        for operation in (
            lambda: store.get_state(bad_id),
            lambda: store.put_state(bad_id, record(1)),
            lambda: store.delete_state(bad_id),
            lambda: store.touch(bad_id),
        ):
            with pytest.raises(ValueError):
                operation()
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


def test_tmpfile_delete_leaves_no_files(tmp_path: Any) -> None:
    with override_settings(FLOWS_TMPFILE_DIR=str(tmp_path)):
        store = FileStore()
        task_id = new_id()
        store.put_state(task_id, record(1))
        store.put_state(task_id, record(2))
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"{task_id}.lock", f"{task_id}.task"]
        store.delete_state(task_id)
        assert list(tmp_path.iterdir()) == []


def test_tmpfile_default_directory() -> None:
    with override_settings(FLOWS_TMPFILE_DIR=None):
        assert FileStore().directory == Path(tempfile.gettempdir()) / "flowmachine-tasks"


# -- optional capabilities: declared by every store, used without type checks ------------------------


def test_clear_expired_removes_expired_records_and_reports_each_once(store: Any, backdoor: Any) -> None:
    live, old, finished = new_id(), new_id(), new_id()
    store.put_state(live, {**record(1), "pos": "x.A"})
    store.put_state(old, {**record(1), "pos": "x.B"})
    store.put_state(finished, {"version": 1, "flow": "x", "done": "/done/"})
    backdoor.age(old, IDLE + 5)
    backdoor.age(finished, IDLE + 5)
    if store.expires_by_itself:
        # Redis drops expired keys itself: there is nothing left for a cleanup to remove.
        assert store.get_state(old) is None
        return
    try:
        counted = store.clear_expired(dry_run=True)
    except NotImplementedError:
        pytest.skip("removing expired records is optional; this store does not implement it")
    assert counted.removed == 2
    batches: list[list[Any]] = []
    cleared = store.clear_expired(batch_size=1, removed=batches.append)
    assert cleared.removed == 2
    removed = sorted((t.task_id, t.flow, t.position) for batch in batches for t in batch)
    assert removed == sorted([(old, "x", "x.B"), (finished, "x", None)])
    assert store.get_state(live) is not None
    assert store.clear_expired().removed == 0


def test_a_store_written_to_the_three_methods_has_safe_defaults() -> None:
    class Minimal(BaseStateStore):
        def get_state(self, task_id: str) -> None:
            return None

        def put_state(self, task_id: str, state: dict[str, Any]) -> None:
            pass

        def delete_state(self, task_id: str) -> None:
            pass

    minimal = Minimal()
    assert minimal.db_alias is None and not minimal.atomic_versions and not minimal.expires_by_itself
    minimal.touch(new_id())
    with pytest.raises(NotImplementedError, match="clear_expired"):
        minimal.clear_expired()


def test_caches_built_from_settings_are_rebuilt_when_those_settings_change() -> None:
    first = get_store("flowmachine.backends.tmpfile")
    pool = redis_store.get_pool(settings.REDIS_URL)
    assert get_store("flowmachine.backends.tmpfile") is first and redis_store.get_pool(settings.REDIS_URL) is pool
    with override_settings(FLOWS_TASK_IDLE_TIMEOUT=IDLE + 1):
        assert get_store("flowmachine.backends.tmpfile") is not first
    with override_settings(FLOWS_REDIS_URL=settings.REDIS_URL):
        assert redis_store.get_pool(settings.REDIS_URL) is not pool


def test_the_journal_does_not_count_the_state_twice(store):
    """A value the state still holds is stored once: the journal entry that set it refers to it."""
    from flowmachine.backends.base import encode_record

    big = "x" * 40_000  # twice that would be over FLOWS_MAX_STATE_BYTES (64 KiB)
    record = {
        "version": 1,
        "flow": "F",
        "pos": "F.A",
        "data": {"note": big, "n": 2},
        "jrnl": [[1, "start", "A"], [2, "complete", "B", {"note": big, "n": 1}], [3, "data", "B", {"n": 2}]],
    }
    encode_record(record)  # no StateTooLargeError: the limit counts the note once
    store.put_state("t" * 32, record)
    back = store.get_state("t" * 32)
    assert back["jrnl"][1][3] == {"note": big, "n": 1}  # resolved, and the older n stays as it was
    back["data"]["note"] = "changed"
    assert back["jrnl"][1][3]["note"] == big  # a copy, not the state's value
