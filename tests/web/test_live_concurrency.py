"""Real concurrency: many simultaneous HTTP requests against a gunicorn server
(two processes, eight threads each) on the database store (PostgreSQL) and
the Redis store.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.conf import settings

import tests.reliability_flows as flows
from tests._servers import (
    AppServer,
    Browser,
    LiveTab,
    database_env,
    hidden_fields,
    pg_connect,
    read_record,
    settings_env,
    wait_until,
)

pytestmark = [pytest.mark.slow]

TASKS = 50
FIGURES: dict[str, int] = {}


@pytest.fixture(scope="module", params=["db", "redis"])
def server(request: pytest.FixtureRequest, live_pg: str) -> Any:
    extra: dict[str, Any] = {"ROOT_URLCONF": "tests.reliability_flows"}
    if request.param == "redis":
        extra.update(
            FLOWS_STATE_STORE="flowmachine.backends.redis",
            FLOWS_REDIS_URL=settings.REDIS_URL,
            FLOWS_REDIS_KEY_PREFIX=f"fm-live-{uuid.uuid4().hex}:",
        )
    with AppServer({**database_env(live_pg), **settings_env(**extra)}, workers=2, threads=8) as app:
        app.kind = request.param  # type: ignore[attr-defined]
        yield app
    if request.param == "redis":
        import redis

        with redis.Redis.from_url(settings.REDIS_URL) as client:
            keys = list(client.scan_iter(match=f"{extra['FLOWS_REDIS_KEY_PREFIX']}*"))
            if keys:
                client.delete(*keys)


def orders(dbname: str, task_ids: list[str]) -> dict[str, int]:
    with pg_connect(dbname) as conn:
        rows = conn.execute(
            "SELECT task_id, count(*) FROM tests_order WHERE task_id = ANY(%s) GROUP BY task_id", [task_ids]
        ).fetchall()
    return dict(rows)


def to_confirm(base: str) -> LiveTab:
    """A browser that logged in and walked the checkout to its last step."""
    tab = LiveTab(Browser(), base, "/buy/")
    tab.post({"item": "mug"})
    tab.post({"choice": "login", "username": "alice", "password": "s3cret-pass"})
    tab.post({"method": "saved"})
    assert tab.url.startswith(f"{base}/buy/confirm/"), tab.url
    return tab


def all_at_once(calls: list[Any]) -> list[Any]:
    """Run *calls* from one thread each, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=60)
        try:
            results[index] = calls[index]()
        except Exception as exc:  # reported by the assertions below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_fifty_double_submits_of_the_last_step(server: AppServer, live_pg: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        tabs = list(pool.map(lambda _: to_confirm(server.base), range(TASKS)))
    calls = []
    for tab in tabs:
        body = {**hidden_fields(tab.page.text)}
        calls += [lambda tab=tab, body=body: tab.browser.post(tab.url, body)] * 2
    responses = all_at_once(calls)
    assert not [r for r in responses if isinstance(r, Exception)]
    statuses = sorted(r.status for r in responses)
    completions = [r for r in responses if r.status == 302 and r.location == "/done/"]
    FIGURES[f"double submits ({server.kind})"] = len(responses)  # type: ignore[attr-defined]
    FIGURES[f"completions ({server.kind})"] = len(completions)  # type: ignore[attr-defined]
    assert len(completions) == TASKS, statuses
    assert all(r.status in (302, 409, 410) for r in responses), statuses
    for first, second in zip(responses[::2], responses[1::2], strict=True):
        pair = sorted([first.status, second.status])
        assert pair[0] == 302 and pair[1] in (409, 410), pair  # one completion, one refusal
    counted = orders(live_pg, [tab.id for tab in tabs])
    assert counted == {tab.id: 1 for tab in tabs}
    assert "Traceback" not in server.output()
    print(
        f"\n{server.kind}: {len(responses)} simultaneous submits, {len(completions)} completions, "  # type: ignore[attr-defined]
        f"{sum(counted.values())} orders, statuses {dict((s, statuses.count(s)) for s in set(statuses))}"
    )


def _holding(live_pg: str) -> Any:
    conn = pg_connect(live_pg)
    conn.execute("SELECT pg_advisory_lock(%s)", [flows.HOLD_LOCK])
    return conn


def _waiting(conn: Any, live_pg: str) -> int:
    """Backends of *live_pg* waiting on a lock (the Hold step's advisory lock or a task's row)."""
    return len(
        conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [live_pg]
        ).fetchall()
    )


def _record(server: AppServer, live_pg: str, task_id: str) -> dict[str, Any] | None:
    if server.kind == "db":  # type: ignore[attr-defined]
        return read_record(live_pg, task_id)
    import redis

    from flowmachine.backends.base import decode_record

    prefix = settings_prefix(server)
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        raw = client.get(prefix + task_id)
    return None if raw is None else decode_record(raw.partition(b"\n")[2])


def settings_prefix(server: AppServer) -> str:
    import json

    return json.loads(server.env["FLOWMACHINE_TEST_SETTING_FLOWS_REDIS_KEY_PREFIX"])


def test_two_tabs_racing_on_one_step(server: AppServer, live_pg: str) -> None:
    """Both tabs post the Hold step of one task; the step waits on a lock the test holds.

    On Redis both requests read the same version and the compare-and-set lets
    one commit: the other gets the conflict page. The database store locks the
    row for the request, so the second request runs after the first committed:
    its page's step is then an earlier step, and its POST is a back-edit of it.
    """
    tab = LiveTab(Browser(), server.base, "/hold/")
    tab.post({"text": "note"})
    second = Browser()
    second.cookies, second.csrf = dict(tab.browser.cookies), tab.browser.csrf
    body = hidden_fields(tab.page.text)
    before = _record(server, live_pg, tab.id)
    holder = _holding(live_pg)
    try:
        results: dict[str, Any] = {}
        threads = [
            threading.Thread(target=lambda b=b, t=t: results.update({t: b.post(tab.url, {**body, "text": t})}))
            for b, t in ((tab.browser, "first"), (second, "second"))
        ]
        for thread in threads:
            thread.start()
        wait_until(lambda: _waiting(holder, live_pg) == 2, "both requests in flight")
        holder.execute("SELECT pg_advisory_unlock(%s)", [flows.HOLD_LOCK])
        for thread in threads:
            thread.join(timeout=60)
    finally:
        holder.close()
    record = _record(server, live_pg, tab.id)
    statuses = {text: response.status for text, response in results.items()}
    stored = record["ans"]["Hold.HoldStep"]["text"]
    assert record["pos"] == "Hold.HoldDone"
    if server.kind == "redis":  # type: ignore[attr-defined]
        assert sorted(statuses.values()) == [302, 409], statuses
        loser = next(text for text, status in statuses.items() if status == 409)
        assert b"changed in another window" in results[loser].body
        winner = "first" if loser == "second" else "second"
        assert stored == winner and loser not in repr(record)
        assert record["version"] == before["version"] + 1
    else:
        assert sorted(statuses.values()) == [302, 302], statuses
        assert stored in ("first", "second") and record["version"] == before["version"] + 2
    assert "Traceback" not in server.output()
