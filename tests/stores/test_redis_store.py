"""Facts about the Redis store beyond the shared contract, on a real Redis.

Round trips are counted by wrapping the store client's ``execute_command``
(every command redis-py sends goes through it), not by timing; INFO
commandstats would count other clients of the same server too.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from redis.connection import parse_url

import flowmachine.backends.redis as redis_store
from flowmachine.backends import get_store
from flowmachine.exceptions import ConflictError, CorruptStateError, StoreUnavailable

IDLE = 600
URL = settings.REDIS_URL


def record(version: int = 1, **data: Any) -> dict[str, Any]:
    return {"version": version, "flow": "x", "data": data}


def new_id() -> str:
    return uuid.uuid4().hex


def client_for_db(db: int) -> redis.Redis:
    """A client of REDIS_URL's server on database *db* (a URL's own db beats from_url's db=)."""
    return redis.Redis(connection_pool=redis.ConnectionPool(**{**parse_url(URL), "db": db}))


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test only; its keys are removed afterwards, in every db used."""
    value = f"fm-test-{uuid.uuid4().hex}:"
    yield value
    for db in (0, 1, 2):
        with client_for_db(db) as client:
            keys = list(client.scan_iter(match=f"{value}*"))
            if keys:
                client.delete(*keys)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    """A client of its own, to look at Redis behind the store's back."""
    with redis.Redis.from_url(URL) as conn:
        yield conn


@pytest.fixture
def store(prefix: str) -> Iterator[Any]:
    with override_settings(
        FLOWS_STATE_STORE="flowmachine.backends.redis",
        FLOWS_REDIS_URL=URL,
        FLOWS_REDIS_KEY_PREFIX=prefix,
        FLOWS_TASK_IDLE_TIMEOUT=IDLE,
    ):
        yield get_store()


def count_commands(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of every command the store's client sends from now on."""
    sent: list[str] = []
    original = store.client.execute_command

    def counting(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]).upper())
        return original(*args, **options)

    monkeypatch.setattr(store.client, "execute_command", counting)
    return sent


# -- round trips -----------------------------------------------------------------


def test_get_state_is_one_round_trip(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1))
    sent = count_commands(store, monkeypatch)
    assert store.get_state(task_id) == record(1)
    assert sent == ["GET"]
    assert store.get_state(new_id()) is None
    assert sent == ["GET", "GET"]
    assert store.get_state_for(task_id, "ab12") == record(1)
    assert sent == ["GET", "GET", "EVALSHA"]


def test_put_state_is_one_round_trip(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store.put_state(new_id(), record(1))  # the script is loaded at most once, here
    task_id = new_id()
    sent = count_commands(store, monkeypatch)
    store.put_state(task_id, record(1))
    assert sent == ["EVALSHA"]
    store.put_state(task_id, record(2))
    assert sent == ["EVALSHA"] * 2
    with pytest.raises(ConflictError):
        store.put_state(task_id, record(2))
    assert sent == ["EVALSHA"] * 3


def test_delete_state_is_one_round_trip(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1))
    sent = count_commands(store, monkeypatch)
    store.delete_state(task_id)
    assert sent == ["DEL"]


def test_touch_is_one_expire(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = count_commands(store, monkeypatch)
    store.touch(new_id())
    assert sent == ["EXPIRE"]


# -- expiry ------------------------------------------------------------------------


def test_write_sets_the_idle_timeout_and_only_the_owners_read_refreshes_it(store: Any, client: redis.Redis) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1))
    key = store.key(task_id)
    assert IDLE - 2 <= client.ttl(key) <= IDLE
    client.expire(key, 30)
    assert client.ttl(key) <= 30
    store.get_state(task_id)  # a read for nobody in particular: the expiry stays
    assert client.ttl(key) <= 30
    store.get_state_for(task_id, "f00d")  # not the record's binding: the expiry stays
    assert client.ttl(key) <= 30
    store.put_state(task_id, {**record(2), "bind": "beef01"})
    client.expire(key, 30)
    store.get_state_for(task_id, "beef01")  # its owner's read refreshes it
    assert IDLE - 2 <= client.ttl(key) <= IDLE


def test_idle_timeout_comes_from_the_setting(store: Any, client: redis.Redis) -> None:
    with override_settings(FLOWS_TASK_IDLE_TIMEOUT=1234):
        task_id = new_id()
        store.put_state(task_id, record(1))
        assert 1232 <= client.ttl(store.key(task_id)) <= 1234


# -- keys and values -------------------------------------------------------------------


def test_the_key_prefix_is_used(prefix: str, client: redis.Redis) -> None:
    custom = f"{prefix}custom:"
    with override_settings(FLOWS_REDIS_URL=URL, FLOWS_REDIS_KEY_PREFIX=custom):
        store = redis_store.StateStore()
        task_id = new_id()
        store.put_state(task_id, record(1))
        assert store.key(task_id) == f"{custom}{task_id}"
        assert client.exists(f"{custom}{task_id}") == 1
        assert client.exists(f"flowmachine:task:{task_id}") == 0


def test_value_is_the_version_line_then_msgpack(store: Any, client: redis.Redis) -> None:
    task_id = new_id()
    store.put_state(task_id, record(1))
    store.put_state(task_id, record(2, a=1))
    raw = client.get(store.key(task_id))
    assert raw == b"2\n" + store.encode(record(2, a=1))


@pytest.mark.parametrize("raw", [b"no prefix at all", b"x1\n\x80", b"\n\x80", b"3\n" + b"\x81\xa1a\x01"])
def test_value_without_a_valid_prefix_is_corrupt(store: Any, client: redis.Redis, raw: bytes) -> None:
    task_id = new_id()
    client.set(store.key(task_id), raw)
    with pytest.raises(CorruptStateError):
        store.get_state(task_id)


def test_prefix_that_disagrees_with_the_record_is_corrupt(store: Any, client: redis.Redis) -> None:
    task_id = new_id()
    client.set(store.key(task_id), b"5\n" + store.encode(record(4)))
    with pytest.raises(CorruptStateError):
        store.get_state(task_id)


def test_update_over_a_value_without_prefix_is_corrupt(store: Any, client: redis.Redis) -> None:
    task_id = new_id()
    client.set(store.key(task_id), b"garbage")
    with pytest.raises(CorruptStateError):
        store.put_state(task_id, record(2))
    assert client.get(store.key(task_id)) == b"garbage"


def test_key_of_another_type_is_corrupt(store: Any, client: redis.Redis) -> None:
    task_id = new_id()
    client.rpush(store.key(task_id), b"x")
    with pytest.raises(CorruptStateError):
        store.get_state(task_id)
    with pytest.raises(CorruptStateError):
        store.put_state(task_id, record(2))


# -- connection settings --------------------------------------------------------------


def test_redis_url_wins_over_host_settings(prefix: str) -> None:
    with override_settings(
        FLOWS_REDIS_URL=URL,
        FLOWS_REDIS_KEY_PREFIX=prefix,
        FLOWS_REDIS_STATE_STORE_HOST="redis.invalid",
        FLOWS_REDIS_STATE_STORE_PORT=1,
        FLOWS_REDIS_STATE_STORE_DB=7,
    ):
        store = redis_store.StateStore()
        assert store.client.connection_pool is redis_store.get_pool(URL)
        task_id = new_id()
        store.put_state(task_id, record(1))
        assert store.get_state(task_id) == record(1)


def test_host_settings_are_used_without_a_url(prefix: str) -> None:
    parts = urlsplit(URL)
    with override_settings(
        FLOWS_REDIS_URL=None,
        FLOWS_REDIS_KEY_PREFIX=prefix,
        FLOWS_REDIS_STATE_STORE_HOST=parts.hostname,
        FLOWS_REDIS_STATE_STORE_PORT=parts.port or 6379,
        FLOWS_REDIS_STATE_STORE_DB=2,
        FLOWS_REDIS_STATE_STORE_USER=parts.username or "",
        FLOWS_REDIS_STATE_STORE_PASSWORD=parts.password or "",
    ):
        store = redis_store.StateStore()
        kwargs = store.client.connection_pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == (parts.hostname, parts.port or 6379, 2)
        task_id = new_id()
        store.put_state(task_id, record(1))
    with client_for_db(2) as db2:
        assert db2.exists(f"{prefix}{task_id}") == 1


def test_credentials_with_special_characters_are_quoted() -> None:
    with override_settings(
        FLOWS_REDIS_URL=None,
        FLOWS_REDIS_STATE_STORE_HOST="redis.example",
        FLOWS_REDIS_STATE_STORE_PORT=6380,
        FLOWS_REDIS_STATE_STORE_DB=3,
        FLOWS_REDIS_STATE_STORE_USER="fm user",
        FLOWS_REDIS_STATE_STORE_PASSWORD="p@ss:w/rd%?#",
    ):
        kwargs = redis_store.StateStore().client.connection_pool.connection_kwargs
    assert kwargs["username"] == "fm user"
    assert kwargs["password"] == "p@ss:w/rd%?#"
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("redis.example", 6380, 3)


def test_one_pool_per_url(prefix: str) -> None:
    with override_settings(FLOWS_REDIS_URL=URL, FLOWS_STATE_STORE="flowmachine.backends.redis"):
        first, second = redis_store.StateStore(), redis_store.StateStore()
        from_get_store = get_store()
    assert first.client is not second.client
    assert first.client.connection_pool is second.client.connection_pool
    assert from_get_store.client.connection_pool is first.client.connection_pool
    other_url = URL.rsplit("/", 1)[0] + "/1"
    with override_settings(FLOWS_REDIS_URL=other_url):
        assert redis_store.StateStore().client.connection_pool is not first.client.connection_pool


def test_pool_fails_fast() -> None:
    kwargs = redis_store.get_pool(URL).connection_kwargs
    assert kwargs["socket_connect_timeout"] <= 5
    assert kwargs["socket_timeout"] <= 5


def test_invalid_url_is_improperly_configured() -> None:
    with override_settings(FLOWS_REDIS_URL="http://127.0.0.1:6379/0"):
        with pytest.raises(ImproperlyConfigured):
            redis_store.StateStore()


def test_missing_redis_py_is_improperly_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_store, "redis", None)
    with pytest.raises(ImproperlyConfigured, match=r'pip install "django-flowmachine\[redis\]"'):
        redis_store.StateStore()


# -- outages ---------------------------------------------------------------------------


def assert_unavailable(store: Any) -> None:
    task_id = new_id()
    operations = [
        lambda: store.get_state(task_id),
        lambda: store.put_state(task_id, record(1)),
        lambda: store.put_state(task_id, record(2)),
        lambda: store.delete_state(task_id),
    ]
    for operation in operations:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="Redis task store is unavailable") as info:
            operation()
        assert time.monotonic() - started < 5
        assert not isinstance(info.value, redis.RedisError)
        assert isinstance(info.value.__cause__, redis.RedisError)


def test_unreachable_redis_raises_store_unavailable() -> None:
    with override_settings(FLOWS_REDIS_URL="redis://127.0.0.1:1/0"):
        assert_unavailable(redis_store.StateStore())


@pytest.mark.slow
def test_silent_redis_times_out_as_store_unavailable() -> None:
    # A socket that accepts connections but never answers: each call waits
    # for the socket timeout once, not forever.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        with override_settings(FLOWS_REDIS_URL=f"redis://127.0.0.1:{port}/0"):
            store = redis_store.StateStore()
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as info:
                store.get_state(new_id())
            assert time.monotonic() - started < 2 * redis_store.SOCKET_TIMEOUT + 1
            assert isinstance(info.value.__cause__, (redis.TimeoutError, redis.ConnectionError))
