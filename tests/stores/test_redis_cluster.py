"""The Redis store on a real local Redis Cluster and behind a real Sentinel.

The store contract suite runs on the cluster too (tests/stores/test_store_contract.py,
the "redis-cluster" cases); here: configuration, a flow walked on each, and
keys spread over the cluster's masters.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from redis.cluster import RedisCluster

from flowmachine.backends import get_store
from flowmachine.exceptions import ConflictError
from tests._servers import REDIS_CLI, Tab, redis_sentinel
from tests.models import Order

pytestmark = [pytest.mark.slow]


def record(version: int, **data: Any) -> dict[str, Any]:
    return {"version": version, "flow": "x", "data": data}


def walk_deep(client: Client) -> Tab:
    tab = Tab(client, "/deep/")
    for data in (
        {"text": "name"},
        {"route": "b"},
        {"number": "3"},
        {"text": "b2"},
        {"text": "m1"},
        {"number": "2"},
        {"text": "m3"},
    ):
        tab.post(data)
    assert tab.post({})["Location"] == "/deep-done/"
    return tab


@pytest.fixture
def cluster_store(redis_cluster_url: str) -> Iterator[Any]:
    prefix = f"fm-cluster-{uuid.uuid4().hex}:"
    with override_settings(
        FLOWS_STATE_STORE="flowmachine.backends.redis",
        FLOWS_REDIS_CLUSTER_URL=redis_cluster_url,
        FLOWS_REDIS_KEY_PREFIX=prefix,
        ROOT_URLCONF="tests.reliability_flows",
    ):
        yield get_store()
    with RedisCluster.from_url(redis_cluster_url) as cluster:
        for key in list(cluster.scan_iter(match=f"{prefix}*")):
            cluster.delete(key)


def test_cluster_client_is_a_redis_cluster(cluster_store: Any) -> None:
    assert isinstance(cluster_store.client, RedisCluster)
    assert len(cluster_store.client.get_primaries()) == 3


def test_cluster_tasks_spread_over_the_masters(cluster_store: Any) -> None:
    ids = [uuid.uuid4().hex for _ in range(30)]
    for task_id in ids:
        cluster_store.put_state(task_id, record(1, id=task_id))
    holders = {cluster_store.client.get_node_from_key(cluster_store.key(t)).port for t in ids}
    assert len(holders) == 3  # every master holds some tasks: the compare-and-set runs on each
    for task_id in ids:
        cluster_store.put_state(task_id, record(2, id=task_id))
        with pytest.raises(ConflictError):
            cluster_store.put_state(task_id, record(2, id="late"))
        assert cluster_store.get_state(task_id) == record(2, id=task_id)


@pytest.mark.django_db
def test_a_flow_on_the_cluster(cluster_store: Any) -> None:
    tab = walk_deep(Client())
    assert Order.objects.filter(task_id=tab.id).count() == 1
    assert cluster_store.get_state(tab.id)["done"] == "/deep-done/"


@pytest.fixture(scope="module")
def sentinel() -> Iterator[tuple[Any, int]]:
    with redis_sentinel("fm-primary") as pair:
        yield pair


@pytest.fixture
def sentinel_store(sentinel: tuple[Any, int]) -> Iterator[Any]:
    master, port = sentinel
    with override_settings(
        FLOWS_STATE_STORE="flowmachine.backends.redis",
        FLOWS_REDIS_SENTINELS=[f"127.0.0.1:{port}"],
        FLOWS_REDIS_SENTINEL_SERVICE="fm-primary",
        FLOWS_REDIS_KEY_PREFIX="fm-sentinel:",
        ROOT_URLCONF="tests.reliability_flows",
    ):
        yield get_store()


def test_sentinel_store_writes_to_the_master_it_names(sentinel_store: Any, sentinel: tuple[Any, int]) -> None:
    master, _ = sentinel
    task_id = uuid.uuid4().hex
    sentinel_store.put_state(task_id, record(1, a=1))
    sentinel_store.put_state(task_id, record(2, a=2))
    with pytest.raises(ConflictError):
        sentinel_store.put_state(task_id, record(2, a=3))
    assert sentinel_store.get_state(task_id) == record(2, a=2)
    with redis.Redis(port=master.port) as direct:
        assert direct.get(sentinel_store.key(task_id)).startswith(b"2\n")
    out = subprocess.run([REDIS_CLI, "-p", str(master.port), "client", "list"], capture_output=True, text=True)
    assert out.returncode == 0


@pytest.mark.django_db
def test_a_flow_behind_a_sentinel(sentinel_store: Any) -> None:
    tab = walk_deep(Client())
    assert Order.objects.filter(task_id=tab.id).count() == 1


@pytest.mark.parametrize("entry", ["127.0.0.1:26379", ("127.0.0.1", 26379), "[::1]:26379"])
def test_sentinel_addresses_as_strings_or_pairs(entry: Any) -> None:
    with override_settings(
        FLOWS_STATE_STORE="flowmachine.backends.redis",
        FLOWS_REDIS_SENTINELS=[entry],
        FLOWS_REDIS_SENTINEL_SERVICE="svc",
    ):
        sentinels = get_store().client.connection_pool.sentinel_manager.sentinels
        host = "::1" if "::1" in str(entry) else "127.0.0.1"
        assert [
            (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
            for s in sentinels
        ] == [(host, 26379)]


def test_sentinels_without_a_service_name_is_a_clear_error() -> None:
    with override_settings(
        FLOWS_STATE_STORE="flowmachine.backends.redis",
        FLOWS_REDIS_SENTINELS=["127.0.0.1:26379"],
        FLOWS_REDIS_SENTINEL_SERVICE=None,
    ):
        with pytest.raises(ImproperlyConfigured, match="FLOWS_REDIS_SENTINEL_SERVICE"):
            get_store()


# -- the funnel counts where the tasks are ----------------------------------------------------------
# FLOWS_REDIS_URL points at a closed port: a funnel that connected to the single-node URL
# instead of the store's client would drop every count (it logs and goes on).

CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


def _funnel_counts(client: Any, prefix: str) -> dict[bytes, bytes]:
    return dict(client.hgetall(f"{prefix}Deep"))


@pytest.mark.django_db
def test_the_funnel_counts_on_the_cluster_that_holds_the_tasks(redis_cluster_url: str) -> None:
    from flowmachine.engine import funnel

    prefix = f"fm-funnel-{uuid.uuid4().hex}:"
    with override_settings(
        FLOWS_STATE_STORE="flowmachine.backends.redis",
        FLOWS_REDIS_CLUSTER_URL=redis_cluster_url,
        FLOWS_REDIS_URL=CLOSED_PORT_URL,
        FLOWS_REDIS_KEY_PREFIX=prefix,
        FLOWS_FUNNEL="redis",
        FLOWS_FUNNEL_KEY_PREFIX=prefix,
        ROOT_URLCONF="tests.reliability_flows",
    ):
        walk_deep(Client())
        counts = funnel.read("Deep")
    assert counts["__complete__"]["entered"] == 1
    assert counts["Deep.DeepName"] == {"entered": 1, "completed": 1, "abandoned": 0}
    with RedisCluster.from_url(redis_cluster_url) as cluster:
        assert _funnel_counts(cluster, prefix)[b"Deep.DeepName|completed"] == b"1"
        for key in list(cluster.scan_iter(match=f"{prefix}*")):
            cluster.delete(key)


@pytest.mark.django_db
def test_the_funnel_counts_on_the_sentinels_master(sentinel: tuple[Any, int]) -> None:
    from flowmachine.engine import funnel

    master, port = sentinel
    prefix = f"fm-funnel-{uuid.uuid4().hex}:"
    with override_settings(
        FLOWS_STATE_STORE="flowmachine.backends.redis",
        FLOWS_REDIS_SENTINELS=[f"127.0.0.1:{port}"],
        FLOWS_REDIS_SENTINEL_SERVICE="fm-primary",
        FLOWS_REDIS_URL=CLOSED_PORT_URL,
        FLOWS_REDIS_KEY_PREFIX=prefix,
        FLOWS_FUNNEL="redis",
        FLOWS_FUNNEL_KEY_PREFIX=prefix,
        ROOT_URLCONF="tests.reliability_flows",
    ):
        walk_deep(Client())
        assert funnel.read("Deep")["Deep.DeepName"]["completed"] == 1
    with redis.Redis(port=master.port) as direct:
        assert _funnel_counts(direct, prefix)[b"Deep.DeepName|completed"] == b"1"
        direct.delete(f"{prefix}Deep")
