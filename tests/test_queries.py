"""The database store costs at most one read and one write per request."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

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
    assert queries[0].lstrip().upper().startswith("SELECT")
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
    from flowmachine.backends.base import encode_record
    from flowmachine.stores import get_store

    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    walker.post({"choice": "login", "username": "alice", "password": "s3cret-pass"})
    walker.post({"method": "saved"})
    size = len(encode_record(get_store().get_state(walker.task_id)))
    assert size <= 1024, size
