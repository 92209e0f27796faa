"""The database store costs at most one read and one write per request."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flowmachine.backends import get_store
from tests._sql import is_read
from tests.walker import Walker

pytestmark = pytest.mark.django_db


def store_queries(captured):
    return [q["sql"] for q in captured.captured_queries if "flowmachine_taskrecord" in q["sql"]]


def test_each_step_reads_once_and_writes_once(client, shopper):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})  # the first change creates the record (lazy creation)
    with CaptureQueriesContext(connection) as captured:
        client.post(
            walker.url, {"_t": walker.task_id, "choice": "login", "username": "alice", "password": "s3cret-pass"}
        )
    queries = store_queries(captured)
    assert len(queries) == 2, queries
    assert is_read(queries[0])
    assert queries[1].lstrip().upper().startswith("UPDATE")


def test_showing_a_step_reads_once(client, shopper):
    walker = Walker(client).start()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(walker.url)
    assert response.status_code == 200
    assert len(store_queries(captured)) == 1


def test_a_whole_checkout_stays_within_two_store_queries_per_request(client, shopper):
    walker = Walker(client).start()
    steps = [
        {"item": "lamp"},
        {"choice": "login", "username": "alice", "password": "s3cret-pass"},
        {"method": "saved"},
        {},
    ]
    for data in steps:
        url = walker.url
        with CaptureQueriesContext(connection) as captured:
            response = client.post(url, {"_t": walker.task_id, **data})
        assert response.status_code == 302
        assert len(store_queries(captured)) <= 2
        if "_t=" in response["Location"]:
            walker.url = response["Location"]
            with CaptureQueriesContext(connection) as captured:
                client.get(walker.url)
            assert len(store_queries(captured)) <= 2


def test_the_record_of_a_checkout_stays_small(client, shopper):
    from flowmachine.backends import get_store
    from flowmachine.backends.base import encode_record

    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    walker.post({"choice": "login", "username": "alice", "password": "s3cret-pass"})
    walker.post({"method": "saved"})
    size = len(encode_record(get_store().get_state(walker.task_id)))
    assert size <= 1024, size


@pytest.mark.django_db(transaction=True)
def test_showing_a_step_opens_no_transaction_and_takes_no_lock(client, shopper):
    """A page view only reads: it neither waits for nor blocks the task's writers."""
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    with CaptureQueriesContext(connection) as captured:
        response = client.get(walker.url)
    assert response.status_code == 200
    sql = [q["sql"].lstrip().upper() for q in captured.captured_queries]
    assert sql and all(s.startswith("SELECT") for s in sql), sql
    assert not any("FOR UPDATE" in s for s in sql), sql


@pytest.mark.django_db(transaction=True)
def test_a_get_that_moves_the_task_writes_in_a_transaction_of_its_own(client, shopper):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/buy/item/?_t={walker.task_id}")  # the back button: the task rewinds
    assert response.status_code == 200
    writes = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(writes) == 1 and "flowmachine_taskrecord" in writes[0]
    assert get_store().get_state(walker.task_id)["pos"].endswith("ChooseItem")


@pytest.mark.django_db(transaction=True)
def test_a_get_racing_another_write_runs_again_under_the_lock(client, shopper, monkeypatch):
    """Another tab saves between this GET's read and its write: the GET is retried, nothing is lost."""
    from tests import flows

    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    other_tab = Client()
    other_tab.cookies = client.cookies
    shown = []
    original = flows.ChooseItem.get_context_data

    def context_with_a_racing_tab(self, **kwargs):
        if not shown:  # the first run only: the other tab answers the first step again, meanwhile
            answer = other_tab.post(f"/buy/item/?_t={walker.task_id}", {"_t": walker.task_id, "item": "mug"})
            assert answer.status_code == 302
        shown.append(self.request.method)
        return original(self, **kwargs)

    monkeypatch.setattr(flows.ChooseItem, "get_context_data", context_with_a_racing_tab)
    version = get_store().get_state(walker.task_id)["version"]
    response = client.get(f"/buy/item/?_t={walker.task_id}")  # back to the first step: a write
    assert response.status_code == 200
    assert shown == ["GET", "GET"]  # refused at its write, then served again under the lock
    assert '<option value="mug" selected>' in response.content.decode()  # the other tab's answer, shown
    record = get_store().get_state(walker.task_id)
    assert record["version"] == version + 2  # the other tab's answer, then this page's rewind
    assert record["pos"].endswith("ChooseItem")
