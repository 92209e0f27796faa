"""One flow whose requests alternate between two app server processes sharing
the store (and the session database), with one cookie jar."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings

from tests._servers import AppServer, Browser, database_env, hidden_fields, pg_connect, settings_env, task_id_of

pytestmark = [pytest.mark.slow]

STEPS = [
    {"text": "name"},
    {"route": "a"},
    {"number": "1"},
    {"text": "a2"},
    {"text": "a3"},
    {"number": "4"},
    {"text": "m1"},
    {"number": "2"},
    {"text": "m3"},
    {},
]


@pytest.mark.parametrize("store", ["db", "redis", "redis-cluster"])
def test_a_flow_alternating_between_two_servers(store: str, live_pg: str, request: pytest.FixtureRequest) -> None:
    extra: dict[str, Any] = {"ROOT_URLCONF": "tests.reliability_flows"}
    if store == "redis":
        extra.update(
            FLOWS_STATE_STORE="flowmachine.backends.redis",
            FLOWS_REDIS_URL=settings.REDIS_URL,
            FLOWS_REDIS_KEY_PREFIX=f"fm-two-{uuid.uuid4().hex}:",
        )
    elif store == "redis-cluster":
        extra.update(
            FLOWS_STATE_STORE="flowmachine.backends.redis",
            FLOWS_REDIS_CLUSTER_URL=request.getfixturevalue("redis_cluster_url"),
            FLOWS_REDIS_KEY_PREFIX=f"fm-two-{uuid.uuid4().hex}:",
        )
    env = {**database_env(live_pg), **settings_env(**extra)}
    request.addfinalizer(lambda: _remove_keys(extra))
    with AppServer(env, threads=2) as one, AppServer(env, threads=2) as two:
        servers = [one.base, two.base]
        browser = Browser()
        response = browser.get(servers[0] + "/deep/")
        assert response.status == 302
        path = response.location
        task_id = task_id_of(path)
        page = browser.get(servers[1] + path)
        assert page.status == 200
        served = []
        for index, data in enumerate(STEPS):
            base = servers[index % 2]
            served.append(base)
            response = browser.post(base + path, {**hidden_fields(page.text), **data})
            assert response.status == 302, (index, response)
            if index == len(STEPS) - 1:
                assert response.location == "/deep-done/"
                break
            path = response.location
            page = browser.get(servers[(index + 1) % 2] + path)  # the next page from the other server
            assert page.status == 200, (index, page)
        finished = browser.post(servers[1] + path, hidden_fields(page.text))
        assert finished.status == 410  # finished, on either server
        assert set(served) == set(servers)
        assert "Traceback" not in one.output() + two.output()
    with pg_connect(live_pg) as conn:
        count = conn.execute("SELECT count(*) FROM tests_order WHERE task_id = %s", [task_id]).fetchone()[0]
    assert count == 1


def _remove_keys(extra: dict[str, Any]) -> None:
    prefix = extra.get("FLOWS_REDIS_KEY_PREFIX")
    if prefix is None:
        return
    import redis
    from redis.cluster import RedisCluster

    url = extra.get("FLOWS_REDIS_CLUSTER_URL")
    with RedisCluster.from_url(url) if url else redis.Redis.from_url(settings.REDIS_URL) as client:
        for key in list(client.scan_iter(match=f"{prefix}*")):
            client.delete(key)
