"""A task is bound to whoever started it (``FLOWS_TASK_BINDER``)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flowmachine.backends import get_store
from flowmachine.backends.base import decode_record
from flowmachine.binding import COOKIE_NAME, SESSION_KEY
from flowmachine.models import TaskRecord
from flowmachine.record import SIGNED_OUT
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
    # The logout ended it: the page says so, not that it is another browser's.
    assert page_kind(response) == "signed_out"
    html = response.content.decode()
    assert "You are signed out, so this form has ended." in html
    assert "not started in this browser" not in html
    assert 'href="/buy/"' in html  # Start again
    response = client.post(walker.url, {"_t": walker.task_id, **LOGIN, "method": "saved"})
    assert response.status_code == 404
    # logging in again as the same user does not bring the task back either
    client.login(username="alice", password="s3cret-pass")
    assert client.get(walker.url).status_code == 404
    # The logout saved the task bound to no one; the answers stay until the record expires.
    after = get_store().get_state(walker.task_id)
    assert after["bind"] == SIGNED_OUT and after["version"] == before["version"] + 1
    assert after["data"] == before["data"] and after["pos"] == before["pos"]


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


# -- the binder cookie: the session's secret without reading the session ----------------------------


def session_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "django_session" in q["sql"]]


def walked_twice(client) -> Walker:
    """A task past its first save, with the page after it shown: the browser has its binder cookie."""
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    assert COOKIE_NAME in client.cookies
    return walker


def test_with_the_binder_cookie_a_step_reads_no_session(client, shopper):
    walker = walked_twice(client)
    with CaptureQueriesContext(connection) as shown:
        walker.get(walker.url)
    with CaptureQueriesContext(connection) as posted:
        walker.post({"choice": "register"})
    assert session_queries(shown) == [] and session_queries(posted) == []


def test_the_cookie_vouches_only_with_the_session_key_it_was_signed_with(client, shopper):
    walker = walked_twice(client)
    stranger = Client()
    stranger.get("/buy/")  # a session of its own would come with its first write: give it one now
    stranger.cookies[COOKIE_NAME] = client.cookies[COOKIE_NAME].value
    assert stranger.get(walker.url).status_code == 404
    stranger.cookies[settings.SESSION_COOKIE_NAME] = "not-a-real-session-key"
    assert stranger.get(walker.url).status_code == 404


@pytest.mark.parametrize(
    "forge",
    [
        lambda value: value[:-1] + ("0" if value[-1] != "0" else "1"),  # another signature
        lambda value: "someone-else:" + value.split(":", 1)[1],  # another secret, the same signature
        lambda value: value.split(":")[0],  # no time, no signature
    ],
    ids=["signature", "secret", "bare"],
)
def test_a_forged_cookie_is_ignored_and_the_session_decides(client, shopper, forge):
    walker = walked_twice(client)
    client.cookies[COOKIE_NAME] = forge(client.cookies[COOKIE_NAME].value)
    with CaptureQueriesContext(connection) as shown:
        response = walker.get(walker.url)  # still the owner: the session says so
    assert session_queries(shown)
    assert response.cookies[COOKIE_NAME].value  # and a good cookie comes back


def test_logging_out_voids_the_cookie_a_browser_keeps(client, shopper):
    walker = walked_twice(client)
    walker.post(LOGIN)
    kept = client.cookies[COOKIE_NAME].value
    client.logout()  # the test client forgets every cookie; a browser keeps the flow's own
    client.cookies[COOKIE_NAME] = kept
    assert client.get(walker.url).status_code == 404
    client.login(username="alice", password="s3cret-pass")
    client.cookies[COOKIE_NAME] = kept
    assert client.get(walker.url).status_code == 404


def test_logging_in_mid_flow_signs_the_cookie_again_for_the_new_session_key(client, shopper):
    walker = walked_twice(client)
    before = client.cookies[COOKIE_NAME].value
    walker.post(LOGIN)  # login() rotates the session key: the cookie no longer vouches, the session does
    assert walker.response.status_code == 200
    assert client.cookies[COOKIE_NAME].value not in ("", before)


@pytest.mark.parametrize("limit", [20, None], ids=["limited", "unlimited"])
def test_a_copy_of_the_cookies_taken_before_logout_no_longer_reaches_the_task(client, shopper, settings, limit):
    """The binder cookie cannot tell that its session is gone: logout saves the session's tasks bound to no one."""
    settings.FLOWS_MAX_TASKS_PER_SESSION = limit
    walker = walked_twice(client)
    walker.post(LOGIN)
    other = Walker(client).start()
    other.post({"item": "book"})
    thief = Client()
    thief.cookies = SimpleCookie({k: v.value for k, v in client.cookies.items()})
    assert thief.get(walker.url).status_code == 200  # before the logout the copy is as good as the original
    client.logout()
    for task in (walker, other):
        response = thief.get(task.url)
        assert response.status_code == 404
        assert page_kind(response) == "signed_out"
        record = decode_record(TaskRecord.objects.get(task_id=task.task_id).data)
        assert record["bind"] == SIGNED_OUT
    assert thief.post(walker.url, {"_t": walker.task_id, "method": "saved"}).status_code == 404


def test_a_store_that_is_down_does_not_stop_the_logout(client, shopper, settings, caplog):
    walker = walked_twice(client)
    walker.post(LOGIN)
    settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
    settings.FLOWS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    client.logout()
    assert "_auth_user_id" not in client.session
    assert "not ended" in caplog.text and walker.task_id not in caplog.text  # ids are cut short in the log


def test_with_the_cookie_turned_off_every_step_reads_the_session(client, shopper, settings):
    settings.FLOWS_BINDER_COOKIE_AGE = 0
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    assert COOKIE_NAME not in client.cookies
    with CaptureQueriesContext(connection) as shown:
        walker.get(walker.url)
    assert session_queries(shown)


def test_a_stranger_s_refused_request_drops_a_stale_cookie_and_sets_none(client, shopper):
    walker = walked_twice(client)
    stranger = Client()
    stranger.cookies[COOKIE_NAME] = client.cookies[COOKIE_NAME].value
    response = stranger.get(walker.url)
    assert response.status_code == 404
    assert SESSION_KEY not in stranger.session
    assert response.cookies[COOKIE_NAME].value == ""  # deleted


def test_the_user_is_noted_when_the_step_knew_it_and_kept_otherwise(client, shopper):
    walker = walked_twice(client)
    walker.post(LOGIN)  # login() sets request.user: noted
    assert TaskRecord.objects.get(task_id=walker.task_id).user_id == str(shopper.pk)
    walker.post({"method": "saved"})  # this step looked at neither the user nor the session: kept
    assert TaskRecord.objects.get(task_id=walker.task_id).user_id == str(shopper.pk)


def test_a_handler_whose_store_cannot_be_loaded_does_not_stop_the_logout_ending_the_others(client, shopper, caplog):
    from flowmachine import FlowHandler, registry

    walker = walked_twice(client)
    walker.post(LOGIN)
    with registry.isolated():
        FlowHandler(state_store="tests.no_such_store")
        client.logout()
    assert "could not be loaded" in caplog.text
    assert get_store().get_state(walker.task_id)["bind"] == SIGNED_OUT
