"""Two simultaneous requests on one task, with real threads and a real store."""

import threading
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings

from tests.models import Order
from tests.walker import Walker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent writers need a database with row locks (run with FLOWMACHINE_TEST_DB=postgres)",
)

STORES = {
    "db": {},
    "redis": {
        "FLOWS_STATE_STORE": "flowmachine.backends.redis",
        "FLOWS_REDIS_URL": settings.REDIS_URL,
    },
}


def walk_to_confirm(client):
    client.login(username="alice", password="s3cret-pass")
    walker = Walker(client).start()
    walker.post({"item": "mug"})
    walker.post({"choice": "login", "username": "alice", "password": "s3cret-pass"})
    walker.post({"method": "saved"})
    assert walker.path == "/buy/confirm/"
    return walker


def race(count, post):
    barrier = threading.Barrier(count)
    results = []

    def run():
        barrier.wait()
        try:
            results.append(post())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@needs_postgres
@pytest.mark.parametrize("store", STORES)
def test_double_submit_of_the_last_step_runs_it_once(store, shopper):
    overrides = dict(STORES[store])
    if store == "redis":
        overrides["FLOWS_REDIS_KEY_PREFIX"] = f"fm-test-{uuid.uuid4().hex}:"
    with override_settings(**overrides):
        client = Client()
        walker = walk_to_confirm(client)
        cookies = client.cookies

        def submit():
            other = Client()
            other.cookies = cookies
            return other.post(walker.url, {"_t": walker.task_id}).status_code

        statuses = race(2, submit)
    assert Order.objects.count() == 1
    assert sorted(statuses)[0] == 302
    assert sorted(statuses)[1] in (409, 410)


@needs_postgres
@pytest.mark.parametrize("store", STORES)
def test_two_tabs_racing_on_one_step_store_only_the_winner(store, shopper):
    overrides = dict(STORES[store])
    if store == "redis":
        overrides["FLOWS_REDIS_KEY_PREFIX"] = f"fm-test-{uuid.uuid4().hex}:"
    with override_settings(**overrides):
        from flowmachine.backends import get_store

        client = Client()
        walker = Walker(client).start()
        cookies = client.cookies

        def submit(item):
            def post():
                other = Client()
                other.cookies = cookies
                return item, other.post(walker.url, {"_t": walker.task_id, "item": item}).status_code

            return post

        posts = iter([submit("book"), submit("lamp")])
        lock = threading.Lock()

        def next_post():
            with lock:
                post = next(posts)
            return post()

        results = race(2, next_post)
        record = get_store().get_state(walker.task_id)
    winners = [item for item, status in results if status == 302]
    assert len(winners) >= 1
    # whichever requests committed, the stored answer is one of theirs, whole
    assert record["data"]["item"] in winners
    assert record["pos"] == "Purchase.GetUserAccount.LoginOrRegister"
    # nothing is stored before the first accepted step: each winner wrote one version
    assert record["version"] == len(winners)
