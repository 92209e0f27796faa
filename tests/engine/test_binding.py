"""A task is bound to whoever started it (``FLOWS_TASK_BINDER``)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from flowmachine.backends import get_store
from flowmachine.backends.base import decode_record
from flowmachine.binding import SESSION_KEY
from flowmachine.models import TaskRecord
from tests.models import Order
from tests.walker import Walker

pytestmark = pytest.mark.django_db

LOGIN = {"choice": "login", "username": "alice", "password": "s3cret-pass"}


def page_kind(response) -> str:
    html = response.content.decode()
    marker = 'class="flowmachine-error flowmachine-error-'
    if marker not in html:
        return ""
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def header_binder(request) -> str:
    """A custom binder: whoever sends the same X-Flow-User header."""
    return request.headers.get("X-Flow-User", "")


def test_another_sessions_task_id_is_404_and_the_owner_goes_on(client, shopper):
    walker = Walker(client).start()
    walker.post({"item": "book"})  # the first change writes the record (lazy creation)
    stranger = Client()
    before = get_store().get_state(walker.task_id)

    response = stranger.get(walker.url)
    assert response.status_code == 404
    assert page_kind(response) == "not_yours"
    assert "It was started in another browser" in response.content.decode()
    response = stranger.post(walker.url, {"_t": walker.task_id, "item": "mug"})
    assert response.status_code == 404
    assert page_kind(response) == "not_yours"
    # a logged-in stranger is still a stranger
    stranger.force_login(shopper)
    assert stranger.get(walker.url).status_code == 404

    assert get_store().get_state(walker.task_id) == before
    walker.post({"choice": "register"})
    assert walker.path == "/buy/account/register/"
    assert walker.response.status_code == 200
    assert get_store().get_state(walker.task_id)["data"] == {"item": "book"}


def test_logging_in_mid_flow_keeps_the_task(client, shopper):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    key_before = client.session.session_key
    assert key_before
    walker.post(LOGIN)  # the step calls django.contrib.auth.login(), which rotates the key
    assert client.session.session_key != key_before
    assert walker.path == "/buy/pay/saved/"
    assert walker.response.status_code == 200
    assert b"Saved method" in walker.response.content
    walker.post({"method": "saved"})
    assert walker.post({})["Location"] == "/done/"
    assert Order.objects.get().task_id == walker.task_id


def test_logging_in_as_another_user_mid_flow_keeps_that_task_and_ends_the_others(client, shopper):
    """login() flushes a session another user was logged in to, and the binder's secret with it: the
    task whose step logged in goes on, bound again (the demo's random walk found it lost)."""
    client.login(username="alice", password="s3cret-pass")
    other = Walker(client).start()
    other.post({"item": "book"})
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    walker.post({"choice": "register", "username": "", "password": ""})
    walker.post({"username": "bob", "password": "pw-of-bob"})  # Register logs bob in: Django flushes
    assert walker.path == "/buy/pay/saved/"
    assert walker.response.status_code == 200
    assert client.session["_auth_user_id"] == str(get_user_model().objects.get(username="bob").pk)
    walker.post({"method": "saved"})
    assert walker.post({})["Location"] == "/done/"
    assert Order.objects.get().task_id == walker.task_id
    assert client.get(other.url).status_code == 404  # alice's other task ended with her session


@pytest.mark.parametrize("logged_in", [True, False], ids=["after-login", "anonymous"])
def test_logging_out_ends_access_to_the_task(client, shopper, logged_in):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    if logged_in:
        walker.post(LOGIN)
        assert walker.path == "/buy/pay/saved/"
    before = get_store().get_state(walker.task_id)
    client.logout()
    response = client.get(walker.url)
    assert response.status_code == 404
    # Used while signed in, asked for signed out: the page says so, not that it is another browser's.
    assert page_kind(response) == ("signed_out" if logged_in else "not_yours")
    html = response.content.decode()
    assert ("You are signed out, so this form has ended." in html) == logged_in
    assert "not started in this browser" not in html
    assert 'href="/buy/"' in html  # Start again
    response = client.post(walker.url, {"_t": walker.task_id, **LOGIN, "method": "saved"})
    assert response.status_code == 404
    # logging in again as the same user does not bring the task back either
    client.login(username="alice", password="s3cret-pass")
    assert client.get(walker.url).status_code == 404
    assert get_store().get_state(walker.task_id) == before


def test_the_record_keeps_no_raw_binder_secret(client, shopper):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    walker.post(LOGIN)
    secret = client.session[SESSION_KEY]
    assert secret
    raw = bytes(TaskRecord.objects.get(task_id=walker.task_id).data)
    assert secret.encode() not in raw
    record = decode_record(raw)
    assert secret not in repr(record)
    assert record["bind"] and record["bind"] != secret


def test_a_custom_binder_is_honoured(client, settings):
    settings.FLOWS_TASK_BINDER = "tests.engine.test_binding.header_binder"
    response = client.get("/buy/", HTTP_X_FLOW_USER="ann")
    assert response.status_code == 302
    url = response["Location"]
    task_id = url.split("_t=")[1]

    assert client.get(url, HTTP_X_FLOW_USER="ann").status_code == 200
    # the first change writes the record, bound to ann (lazy creation)
    assert client.post(url, {"_t": task_id, "item": "mug"}, HTTP_X_FLOW_USER="ann").status_code == 302
    url = f"/buy/account/login/?_t={task_id}"
    assert client.get(url, HTTP_X_FLOW_USER="ann").status_code == 200
    # the same session with another header value is someone else...
    response = client.get(url, HTTP_X_FLOW_USER="bob")
    assert response.status_code == 404
    assert page_kind(response) == "not_yours"
    assert client.get(url).status_code == 404
    # ...and another session with the same header is the owner
    other = Client()
    assert other.get(url, HTTP_X_FLOW_USER="ann").status_code == 200
    response = other.post("/buy/item/", {"_t": task_id, "item": "mug"}, HTTP_X_FLOW_USER="ann")
    assert response.status_code == 302
    assert response["Location"] == f"/buy/account/login/?_t={task_id}"
    assert get_store().get_state(task_id)["data"] == {"item": "mug"}
    # the session binder was never asked for its secret
    assert SESSION_KEY not in client.session
    assert SESSION_KEY not in other.session
