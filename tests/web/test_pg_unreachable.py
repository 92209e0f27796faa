"""PostgreSQL wholly unreachable under the database store, through a loopback proxy.

Django's connection is pointed at a :class:`tests._servers.TcpProxy` in front of
the test database. The proxy then refuses and drops every connection (the
server is gone) or black-holes them (connections are accepted, nothing is ever
answered), and later forwards again. Every request that needs the database gets
the 503 page with ``Retry-After`` and an error in the log, nothing stored before
is lost, and each task goes on from where it was once the database is back.
Requests run as under a WSGI server: stale connections are closed at the start
and the end of each one (``CONN_MAX_AGE``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.test import Client

from tests._servers import Tab, TcpProxy, hidden_fields, pg_connect, read_record, task_id_of

pytestmark = [
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL (FLOWMACHINE_TEST_DB=postgres): the proxy stands in front of its TCP port",
    ),
]

#: The ``connect_timeout`` (seconds) docs/deployment.md recommends setting, at libpq's minimum.
CONNECT_TIMEOUT = 2

#: Printed with -s for docs/reliability.md.
from tests._figures import report  # noqa: E402

FIGURES: dict[str, Any] = {"outages": 0, "503s": 0, "records_lost": 0, "blackhole_waits": []}


class ServerClient(Client):
    """The test client, closing stale connections around each request as Django's WSGI handler does."""

    def request(self, **request: Any) -> Any:
        close_old_connections()
        try:
            return super().request(**request)
        finally:
            close_old_connections()


@pytest.fixture
def proxy(transactional_db: None, settings: Any) -> Iterator[TcpProxy]:
    """The default database reached through a proxy; the real address is restored before the flush."""
    settings.ROOT_URLCONF = "tests.reliability_flows"
    conn = connections[DEFAULT_DB_ALIAS]
    real = {key: conn.settings_dict[key] for key in ("HOST", "PORT", "OPTIONS", "CONN_MAX_AGE")}
    with TcpProxy(int(real["PORT"] or 5432), real["HOST"] or "127.0.0.1") as tcp:
        conn.close()
        conn.settings_dict.update(
            HOST="127.0.0.1", PORT=str(tcp.port), OPTIONS={**real["OPTIONS"], "connect_timeout": CONNECT_TIMEOUT}
        )
        try:
            yield tcp
        finally:
            conn.close()
            conn.settings_dict.update(real)


def database() -> str:
    return str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])


def stored() -> dict[str, Any]:
    """Every task record and order, read straight from PostgreSQL behind the proxy's back."""
    with pg_connect(database()) as conn:
        ids = [row[0] for row in conn.execute("SELECT task_id FROM flowmachine_taskrecord").fetchall()]
        orders = conn.execute("SELECT task_id, payment FROM tests_order ORDER BY id").fetchall()
    return {"tasks": {task_id: read_record(database(), task_id) for task_id in ids}, "orders": orders}


def unavailable(response: Any, caplog: Any) -> None:
    """A 503 page with Retry-After, logged as an error."""
    assert response.status_code == 503, (response.status_code, response.content[:300])
    assert response["Retry-After"] == "5"
    assert b"Temporarily unavailable" in response.content
    logged = [r for r in caplog.records if r.name == "flowmachine" and r.levelno >= logging.ERROR]
    assert logged and "unavailable" in logged[-1].getMessage(), [r.getMessage() for r in caplog.records]
    caplog.clear()
    FIGURES["503s"] += 1


class Outage:
    """The requests of a flow caught by an outage: one task mid-flow, one beside it, one just started."""

    def __init__(self) -> None:
        self.walking = Tab(ServerClient(), "/deep/")
        self.walking.post({"text": "walking"})
        self.walking.post({"route": "a"})
        self.bystander = Tab(ServerClient(), "/deep/")
        for data in ({"text": "bystander"}, {"route": "b"}, {"number": "7"}):
            self.bystander.post(data)
        self.newcomer = ServerClient()
        self.new_url = ""
        self.before = stored()

    def hit(self, caplog: Any, waits: list[float] | None = None) -> None:
        """Every kind of request while the database is unreachable: each is a logged 503."""
        walking, page = self.walking, self.walking.page.content.decode()
        requests = [
            lambda: walking.client.post(walking.url, {**hidden_fields(page), "number": "5"}),
            lambda: walking.client.get(walking.url),
            lambda: self.bystander.client.get(self.bystander.url),
            lambda: self.newcomer.get(self.new_url),
            lambda: self.newcomer.post(self.new_url, {"_t": task_id_of(self.new_url), "text": "new"}),
        ]
        start = self.newcomer.get("/deep/")  # starting stores nothing, so it needs no database
        assert start.status_code == 302
        self.new_url = start["Location"]
        for request in requests:
            began = time.monotonic()
            response = request()
            if waits is not None:
                waits.append(time.monotonic() - began)
            unavailable(response, caplog)

    def recover(self) -> None:
        """Back online: nothing was lost or half-written, and every task goes on where it was."""
        after = stored()
        lost = [task_id for task_id, record in self.before["tasks"].items() if after["tasks"].get(task_id) != record]
        FIGURES["records_lost"] += len(lost)
        assert after == self.before, lost
        walking = self.walking
        walking.reload()
        assert b"<title>Deep a1</title>" in walking.page.content  # where it was, not restarted
        for data in ({"number": "5"}, {"text": "two"}, {"text": "three"}, {"number": "4"}):
            walking.post(data)
        for data in ({"text": "m1"}, {"number": "2"}, {"text": "m3"}):
            walking.post(data)
        assert walking.post({})["Location"] == "/deep-done/"
        self.bystander.reload()
        self.bystander.post({"text": "b2"})
        page = self.newcomer.get(self.new_url)
        assert page.status_code == 200
        moved = self.newcomer.post(self.new_url, {**hidden_fields(page.content.decode()), "text": "new"})
        assert moved.status_code == 302
        assert "_t=" + task_id_of(self.new_url) in moved["Location"]
        final = stored()
        assert final["orders"] == [*self.before["orders"], (walking.id, "walking")]
        assert set(final["tasks"]) == {*self.before["tasks"], task_id_of(self.new_url)}


@pytest.mark.parametrize("conn_max_age", [0, 60], ids=["per-request-connections", "persistent-connections"])
def test_database_gone_then_back(proxy: TcpProxy, caplog: Any, conn_max_age: int) -> None:
    """The server goes away: new connections are refused and open ones dropped."""
    connections[DEFAULT_DB_ALIAS].settings_dict["CONN_MAX_AGE"] = conn_max_age
    outage = Outage()
    caplog.set_level(logging.INFO, logger="flowmachine")
    proxy.refuse()
    FIGURES["outages"] += 1
    outage.hit(caplog)
    outage.hit(caplog)  # still down: the next attempts are refused the same way
    proxy.forward()
    outage.recover()


@pytest.mark.slow
def test_database_black_holed_then_back(proxy: TcpProxy, caplog: Any) -> None:
    """Connections are accepted and never answered: each request gives up after connect_timeout."""
    outage = Outage()
    caplog.set_level(logging.INFO, logger="flowmachine")
    proxy.blackhole()
    FIGURES["outages"] += 1
    waits: list[float] = []
    outage.hit(caplog, waits)
    FIGURES["blackhole_waits"] += waits
    proxy.forward()
    outage.recover()


def _figures() -> str | None:
    if not FIGURES["outages"]:
        return None
    waits = FIGURES["blackhole_waits"]
    spread = f"{min(waits):.1f}-{max(waits):.1f} s" if waits else "not run"
    return (
        f"outages survived: {FIGURES['outages']}, 503 answers: {FIGURES['503s']}, "
        f"records lost: {FIGURES['records_lost']}, black-holed request waits: {spread} "
        f"(connect_timeout={CONNECT_TIMEOUT})"
    )


report("PostgreSQL unreachable", _figures)
