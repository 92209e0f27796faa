"""The custom store shown in docs/stores.md keeps the whole store contract.

The module is taken from the page as written (the code block starting with
``# mysite/cache_store.py``), loaded as a module that ``FLOWS_STATE_STORE``
names, and run through every test of tests/stores/test_store_contract.py that takes a
store: on Django's Redis cache backend against the real Redis of the test
settings, and on the local-memory cache backend. A flow is also walked on it
through the view layer.
"""

from __future__ import annotations

import inspect
import re
import sys
import time
import types
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

import tests.stores.test_store_contract as contract
from flowmachine.backends import get_store

# The store contract's fixtures reach the Redis store too.
pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "stores.md"
MODULE = "docs_cache_store"
IDLE = contract.IDLE


def _load_module() -> types.ModuleType:
    text = DOC.read_text()
    match = re.search(r"^```python\n(# mysite/cache_store\.py\n.*?)^```", text, re.M | re.S)
    assert match, "docs/stores.md has no '# mysite/cache_store.py' code block"
    module = types.ModuleType(MODULE)
    module.__file__ = str(DOC)
    exec(compile(match.group(1), f"{DOC}:cache_store", "exec"), module.__dict__)
    sys.modules[MODULE] = module
    return module


cache_store = _load_module()


# -- raw access to what the cache keeps, for ageing and corrupting records -------


class LocMemBackdoor:
    def __init__(self, store: Any) -> None:
        self.store = store

    @property
    def cache(self) -> Any:
        return caches[cache_store.CACHE_ALIAS]

    def _made(self, task_id: str) -> str:
        return self.cache.make_key(self.store.key(task_id))

    def write_raw(self, task_id: str, raw: bytes) -> None:
        self.cache.set(self.store.key(task_id), raw, IDLE)

    def age(self, task_id: str, seconds: float) -> None:
        self.cache._expire_info[self._made(task_id)] = time.time() + IDLE - seconds

    def remaining(self, task_id: str) -> float:
        return self.cache._expire_info[self._made(task_id)] - time.time()


class RedisCacheBackdoor(LocMemBackdoor):
    def __init__(self, store: Any, client: redis.Redis) -> None:
        super().__init__(store)
        self.client = client

    def age(self, task_id: str, seconds: float) -> None:
        self.client.expire(self._made(task_id), int(IDLE - seconds))

    def remaining(self, task_id: str) -> float:
        return self.client.ttl(self._made(task_id))


@contextmanager
def open_cache_store(kind: str):
    prefix = f"fm-docs-{uuid.uuid4().hex}"
    if kind == "redis-cache":
        cache = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    else:
        cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        with override_settings(
            CACHES={cache_store.CACHE_ALIAS: cache},
            FLOWS_STATE_STORE=MODULE,
            FLOWS_TASK_IDLE_TIMEOUT=IDLE,
        ):
            store = get_store()
            assert isinstance(store, cache_store.StateStore)
            backdoor = RedisCacheBackdoor(store, client) if kind == "redis-cache" else LocMemBackdoor(store)
            yield store, backdoor
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


# -- the contract suite, with this store's fixtures ---------------------------------


@pytest.fixture(params=["redis-cache", "locmem-cache"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def opened(kind: str):
    with open_cache_store(kind) as pair:
        yield pair


@pytest.fixture
def store(opened: tuple[Any, Any]) -> Any:
    return opened[0]


@pytest.fixture
def backdoor(opened: tuple[Any, Any]) -> Any:
    return opened[1]


@pytest.fixture(params=["redis-cache", "locmem-cache"])
def threaded_store(request: pytest.FixtureRequest):
    with open_cache_store(request.param) as (store, _):
        yield store


_STORE_FIXTURES = {"store", "backdoor", "threaded_store"}
_NOT_CONTRACT = {"test_the_store_is_the_configured_one"}  # names the built-in module

for _name, _test in inspect.getmembers(contract, inspect.isfunction):
    if (
        _name.startswith("test_")
        and _name not in _NOT_CONTRACT
        and _STORE_FIXTURES & set(inspect.signature(_test).parameters)
    ):
        globals()[_name] = _test


def test_the_contract_tests_were_collected() -> None:
    collected = [
        name for name in globals() if name.startswith("test_") and name != "test_the_contract_tests_were_collected"
    ]
    assert len(collected) >= 15, collected
    assert "test_concurrent_writers_of_the_next_version" in collected


def test_the_store_declares_atomic_versions(store: Any) -> None:
    assert store.atomic_versions is True


def test_a_held_lock_refuses_the_update(store: Any) -> None:
    task_id = contract.new_id()
    store.put_state(task_id, contract.record(1))
    caches[cache_store.CACHE_ALIAS].add(store.key(task_id) + ":lock", 1, 5)
    with pytest.raises(contract.ConflictError):
        store.put_state(task_id, contract.record(2))
    caches[cache_store.CACHE_ALIAS].delete(store.key(task_id) + ":lock")
    store.put_state(task_id, contract.record(2))
    assert store.get_state(task_id) == contract.record(2)


@pytest.mark.django_db
def test_a_flow_runs_on_the_store(client: Any) -> None:
    with open_cache_store("redis-cache") as (store, _):
        item_url = client.get("/buy/")["Location"]
        task_id = item_url.split("_t=")[1]
        login_url = client.post(item_url, {"item": "book"})["Location"]
        record = store.get_state(task_id)
        assert record["data"] == {"item": "book"}
        assert record["pos"] == "Purchase.GetUserAccount.LoginOrRegister"
        response = client.get(login_url)
        assert response.status_code == 200
        assert 'name="_t"' in response.content.decode()
