"""Real outages: a private redis-server killed and restarted mid-flow, and the
PostgreSQL connection of an app server cut in the middle of a request.

Every request the outage touches gets the 503 page with Retry-After, no other
task loses anything, and the flow goes on once the service is back.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.test import Client, override_settings

import tests.reliability_flows as flows
from flowmachine.backends import get_store
from tests._servers import (
    AppServer,
    Browser,
    LiveTab,
    RedisServer,
    Tab,
    database_env,
    hidden_fields,
    pg_connect,
    read_record,
    settings_env,
    wait_until,
)
from tests.models import Order

pytestmark = [pytest.mark.slow]

#: Outages survived and records lost, printed with -s (docs/reliability.md).
from tests._figures import report  # noqa: E402

FIGURES = {"outages": 0, "records_lost": 0, "503s": 0}


def assert_unavailable(response: Any) -> None:
    status = getattr(response, "status_code", None) or response.status
    assert status == 503, response
    headers = response.headers
    assert headers.get("Retry-After") or headers.get("retry-after"), "a 503 without Retry-After"
    FIGURES["503s"] += 1


# -- Redis -------------------------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path: Any) -> Any:
    with RedisServer(tmp_path / "redis") as server:
        prefix = f"fm-outage-{uuid.uuid4().hex}:"
        with override_settings(
            FLOWS_STATE_STORE="flowmachine.backends.redis",
            FLOWS_REDIS_URL=server.url,
            FLOWS_REDIS_KEY_PREFIX=prefix,
            ROOT_URLCONF="tests.reliability_flows",
        ):
            yield server


def snapshot(task_id: str) -> dict[str, Any]:
    record = get_store().get_state(task_id)
    assert record is not None
    return {k: record.get(k) for k in ("version", "pos", "ans", "data", "hist")}


@pytest.mark.django_db
def test_redis_killed_and_restarted_mid_flow(redis_server: RedisServer) -> None:
    client = Client()
    walking = Tab(client, "/deep/")
    walking.post({"text": "walking"})
    walking.post({"route": "a"})
    other = Tab(Client(), "/deep/")
    other.post({"text": "bystander"})
    other.post({"route": "b"})
    other.post({"number": "7"})
    kept = snapshot(other.id)

    redis_server.stop()  # SIGKILL: a crash
    FIGURES["outages"] += 1
    assert_unavailable(client.post(walking.url, {**hidden_fields(walking.page.content.decode()), "number": "5"}))
    assert_unavailable(client.get(walking.url))
    assert_unavailable(other.client.get(other.url))
    fresh = Client().get("/deep/")  # starting costs nothing and needs no store
    assert fresh.status_code == 302

    redis_server.start()  # same port, same directory: the append-only file is replayed
    assert snapshot(other.id) == kept
    walking.reload()
    walking.post({"number": "5"})  # the flow goes on
    walking.post({"text": "two"})
    walking.post({"text": "three"})
    walking.post({"number": "4"})
    for data in ({"text": "m1"}, {"number": "2"}, {"text": "m3"}):
        walking.post(data)
    done = walking.post({})
    assert done["Location"] == "/deep-done/"
    assert Order.objects.filter(task_id=walking.id).count() == 1
    assert snapshot(other.id) == kept


@pytest.mark.django_db
def test_redis_killed_inside_a_request(redis_server: RedisServer) -> None:
    client = Client()
    tab = Tab(client, "/hold/")
    tab.post({"text": "note"})
    bystander = Tab(Client(), "/hold/")
    bystander.post({"text": "bystander"})
    before, kept = snapshot(tab.id), snapshot(bystander.id)

    flows.hold_hook = redis_server.stop  # after the record was read, before it is saved
    FIGURES["outages"] += 1
    try:
        assert_unavailable(tab.post({"text": "lost"}, expect=503))
    finally:
        flows.hold_hook = None
    redis_server.start()
    assert snapshot(tab.id) == before  # nothing of the interrupted request was kept
    assert snapshot(bystander.id) == kept
    tab.reload()
    tab.post({"text": "again"})
    assert tab.post({})["Location"] == "/hold-done/"
    assert list(Order.objects.filter(task_id=tab.id).values_list("payment", flat=True)) == ["again"]


# -- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture
def db_server(live_pg: str) -> Any:
    env = {**database_env(live_pg), **settings_env(ROOT_URLCONF="tests.reliability_flows")}
    with AppServer(env, threads=4) as server:
        yield server


def test_postgres_connection_cut_mid_request(db_server: AppServer, live_pg: str) -> None:
    tab = LiveTab(Browser(), db_server.base, "/hold/")
    tab.post({"text": "note"})
    bystander = LiveTab(Browser(), db_server.base, "/hold/")
    bystander.post({"text": "bystander"})
    before, kept = read_record(live_pg, tab.id), read_record(live_pg, bystander.id)

    with pg_connect(live_pg) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [flows.HOLD_LOCK])  # the Hold step waits on it
        result: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: result.update(r=tab.post({"text": "lost"}, expect=503)))
        thread.start()
        try:
            pids: list[int] = []

            def waiting() -> bool:
                pids[:] = [
                    row[0]
                    for row in holder.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                        "AND query LIKE '%%pg_advisory_xact_lock_shared%%'",
                        [live_pg],
                    ).fetchall()
                ]
                return bool(pids)

            wait_until(waiting, "the request waiting inside the Hold step")
            holder.execute("SELECT pg_terminate_backend(%s)", [pids[0]])  # cut its connection
            FIGURES["outages"] += 1
        finally:
            thread.join(timeout=60)
            holder.execute("SELECT pg_advisory_unlock(%s)", [flows.HOLD_LOCK])
    assert not thread.is_alive()
    assert_unavailable(result["r"])
    assert read_record(live_pg, tab.id) == before
    assert read_record(live_pg, bystander.id) == kept
    tab.reload()
    tab.post({"text": "again"})
    assert tab.post({}).location == "/hold-done/"
    with pg_connect(live_pg) as conn:
        rows = conn.execute("SELECT payment FROM tests_order WHERE task_id = %s", [tab.id]).fetchall()
    assert rows == [("again",)]
    assert "Traceback" not in db_server.output()


def test_redis_outage_on_an_app_server(live_pg: str, tmp_path: Any) -> None:
    """The same crash and restart as above, seen over HTTP by a gunicorn server."""
    with RedisServer(tmp_path / "redis") as redis_server:
        env = {
            **database_env(live_pg),
            **settings_env(
                ROOT_URLCONF="tests.reliability_flows",
                FLOWS_STATE_STORE="flowmachine.backends.redis",
                FLOWS_REDIS_URL=redis_server.url,
            ),
        }
        with AppServer(env, threads=4) as server:
            tab = LiveTab(Browser(), server.base, "/deep/")
            tab.post({"text": "over http"})
            redis_server.stop()
            FIGURES["outages"] += 1
            response = tab.browser.post(tab.url, {**hidden_fields(tab.page.text), "route": "b"})
            assert_unavailable(response)
            assert response.headers["retry-after"] == "5"
            redis_server.start()
            tab.post({"route": "b"})
            tab.post({"number": "1"})
            tab.post({"text": "b2"})
            assert "Traceback" not in server.output()


report(
    "Redis and PostgreSQL outages",
    lambda: (
        (
            f"outages survived: {FIGURES['outages']}, 503 answers: {FIGURES['503s']}, "
            f"records lost: {FIGURES['records_lost']}"
        )
        if FIGURES["outages"]
        else None
    ),
)
