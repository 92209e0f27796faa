"""Bad input: malformed, unknown, expired, corrupt, finished and foreign tasks.

None of these may end in a 500: each gets the error page of
``flowmachine/error.html`` with the right status and a way on.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

import msgpack
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flowmachine.backends import get_store
from flowmachine.backends.base import decode_record, encode_record
from flowmachine.exceptions import InvalidJump, StateEncodingError
from flowmachine.models import TaskRecord
from tests.models import Order
from tests.walker import Walker

pytestmark = pytest.mark.django_db

VALID_LOOKING = "A" * 32


def page_kind(response) -> str:
    """The ``kind`` of the flowmachine error page in *response* ('' if it is not one)."""
    html = response.content.decode()
    marker = 'class="flowmachine-error flowmachine-error-'
    if marker not in html:
        return ""
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def store_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "flowmachine_taskrecord" in q["sql"].lower()]


def raw_record(task_id: str) -> dict:
    """The stored record straight from the table, expired or not."""
    return decode_record(bytes(TaskRecord.objects.get(task_id=task_id).data))


def walk_to_confirm(walker: Walker) -> None:
    walker.post({"item": "lamp"})
    walker.post({"choice": "login", "username": "alice", "password": "s3cret-pass"})
    walker.post({"method": "saved"})
    assert walker.path == "/buy/confirm/"


# -- malformed and missing ids ---------------------------------------------------------


MALFORMED = {
    "short": "abc",
    "slash": "A" * 16 + "/" + "A" * 15,
    "percent": "A" * 16 + "%" + "A" * 15,
    "percent-escape": "%2F" + "A" * 29,
    "too-long": "A" * 33,
    "space": "A" * 31 + " ",
    "non-ascii": "é" + "A" * 31,
}


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("method", ["get", "post"])
def test_malformed_task_id_is_404_without_touching_the_store(client, method, value):
    Walker(client).start()  # a real task exists in the table, so a lookup would find rows
    with CaptureQueriesContext(connection) as captured:
        if method == "get":
            response = client.get("/buy/item/", {"_t": value})
        else:
            response = client.post("/buy/item/", {"_t": value, "item": "lamp"})
    assert response.status_code == 404
    assert page_kind(response) == "not_found"
    assert "flowmachine/error.html" in [t.name for t in response.templates]
    assert store_queries(captured) == []


def test_malformed_task_id_in_the_raw_query_string_is_404(client):
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/buy/item/?_t=" + "A" * 16 + "%2F" + "A" * 15)
    assert response.status_code == 404
    assert page_kind(response) == "not_found"
    assert store_queries(captured) == []


@pytest.mark.parametrize("url", ["/buy/item/", "/buy/account/login/", "/buy/confirm/"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_action_url_without_task_id_is_404(client, url, method):
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url)
    assert response.status_code == 404
    assert page_kind(response) == "not_found"
    assert store_queries(captured) == []


def test_post_to_the_entry_url_without_task_id_is_404_and_starts_nothing(client):
    response = client.post("/buy/", {"item": "lamp"})
    assert response.status_code == 404
    assert page_kind(response) == "not_found"
    assert TaskRecord.objects.count() == 0


# -- unknown and expired tasks ------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_well_formed_id_is_410_expired_with_a_restart_link(client, method):
    response = getattr(client, method)("/buy/item/", {"_t": VALID_LOOKING})
    assert response.status_code == 410
    assert page_kind(response) == "expired"
    assert '<a href="/buy/">Start again</a>' in response.content.decode()
    assert TaskRecord.objects.count() == 0


def _expire_by_an_hour(task_id: str) -> None:
    TaskRecord.objects.filter(task_id=task_id).update(accessed=timezone.now() - timedelta(hours=1))


def _expire_with_short_timeout(task_id: str) -> None:
    # 2 minutes idle is well inside the default 20 minutes: only the setting expires it.
    TaskRecord.objects.filter(task_id=task_id).update(accessed=timezone.now() - timedelta(minutes=2))


@pytest.mark.parametrize(
    "expire, timeout",
    [(_expire_by_an_hour, None), (_expire_with_short_timeout, 60)],
    ids=["accessed-long-ago", "short-idle-timeout-setting"],
)
def test_expired_task_is_410_and_the_post_is_not_applied(client, settings, expire, timeout):
    walker = Walker(client).start()
    walker.post({"item": "book"})  # the first change writes the record (lazy creation)
    before = raw_record(walker.task_id)
    expire(walker.task_id)
    if timeout is not None:
        settings.FLOWS_TASK_IDLE_TIMEOUT = timeout
    response = client.post(walker.url, {"_t": walker.task_id, "choice": "register"})
    assert response.status_code == 410
    assert page_kind(response) == "expired"
    assert '<a href="/buy/">Start again</a>' in response.content.decode()
    after = raw_record(walker.task_id)
    assert after == before
    assert after["pos"] == "Purchase.GetUserAccount.LoginOrRegister"
    assert client.get(walker.url).status_code == 410


def test_a_task_within_the_idle_timeout_is_served(client, settings):
    """The counterpart of the expiry tests: the same idle time under a longer timeout is fine."""
    walker = Walker(client).start()
    walker.post({"item": "book"})
    _expire_with_short_timeout(walker.task_id)
    settings.FLOWS_TASK_IDLE_TIMEOUT = 600
    assert client.get(walker.url).status_code == 200


def _delete_record(task_id: str) -> None:
    TaskRecord.objects.filter(task_id=task_id).delete()


def _page_version(response) -> str:
    """The ``_v`` hidden field of a rendered step: the change of the task the page shows."""
    html = response.content.decode()
    marker = 'name="_v" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


# A record removed while its id is still young (issued less than the idle timeout ago):
# deleted (a store that lost it, a manual delete) or expired by the admin's action.
GONE = {"deleted": _delete_record, "expired-by-the-admin": _expire_by_an_hour}


@pytest.mark.parametrize("remove", GONE.values(), ids=GONE.keys())
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_later_step_of_a_young_task_whose_record_is_gone_is_410_not_a_restart(client, remove, method):
    walker = Walker(client).start()
    walker.post({"item": "book"})
    remove(walker.task_id)
    rows = list(TaskRecord.objects.values_list("task_id", "version", "accessed"))
    data = {"_t": walker.task_id, "_v": _page_version(walker.response), "choice": "register"}
    response = getattr(client, method)(walker.url, data if method == "post" else {})
    assert response.status_code == 410
    assert page_kind(response) == "expired"
    assert list(TaskRecord.objects.values_list("task_id", "version", "accessed")) == rows


@pytest.mark.parametrize("remove", GONE.values(), ids=GONE.keys())
def test_a_post_from_a_saved_first_step_whose_record_is_gone_is_410_not_a_restart(client, remove):
    """Back on the first step of a saved task, the page's ``_v`` tells it from a never-saved id."""
    walker = Walker(client).start()
    first = walker.url
    walker.post({"item": "book"})
    back = walker.get(first)  # the back button: the task is on its first step again, and saved
    assert _page_version(back) != "1"
    remove(walker.task_id)
    rows = list(TaskRecord.objects.values_list("task_id", "version", "accessed"))
    response = client.post(first, {"_t": walker.task_id, "_v": _page_version(back), "item": "lamp"})
    assert response.status_code == 410
    assert page_kind(response) == "expired"
    assert list(TaskRecord.objects.values_list("task_id", "version", "accessed")) == rows
    # A GET of the first step cannot be told from a never-saved id's: the step starts afresh.
    fresh = walker.get(first)
    assert _page_version(fresh) == "1"
    assert client.post(first, {"_t": walker.task_id, "_v": "1", "item": "lamp"}).status_code == 302


# -- corrupt records -------------------------------------------------------------------------


GARBAGE = {
    "not-msgpack": b"\xc1\xc1 definitely not a task record",
    "truncated": None,  # a valid record cut in half, filled in by the test
    "msgpack-list": msgpack.packb([1, 2, 3]),
    "no-version": msgpack.packb({"flow": "Purchase", "pos": "Purchase.ChooseItem", "data": {}}),
    "empty": b"",
}


def _assert_corrupt_page(response, caplog) -> None:
    assert response.status_code == 410
    assert page_kind(response) == "corrupt"
    assert '<a href="/buy/">Start again</a>' in response.content.decode()
    logged = [r for r in caplog.records if r.name.startswith("flowmachine") and r.levelno >= logging.ERROR]
    assert logged, [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("kind", GARBAGE)
@pytest.mark.parametrize("method", ["get", "post"])
def test_corrupt_stored_bytes_give_the_corrupt_page_and_are_logged(client, caplog, kind, method):
    walker = Walker(client).start()
    walker.post({"item": "book"})  # the first change writes the record (lazy creation)
    raw = GARBAGE[kind]
    if raw is None:
        full = bytes(TaskRecord.objects.get(task_id=walker.task_id).data)
        raw = full[: len(full) // 2]
    TaskRecord.objects.filter(task_id=walker.task_id).update(data=raw)
    caplog.set_level(logging.INFO, logger="flowmachine")
    response = getattr(client, method)(walker.url, {"_t": walker.task_id, "item": "lamp"} if method == "post" else {})
    _assert_corrupt_page(response, caplog)
    assert bytes(TaskRecord.objects.get(task_id=walker.task_id).data) == raw


@pytest.mark.parametrize(
    "position",
    ["Purchase.NoSuchStep", "Purchase.ChoosePayment", "", 42, None],
    ids=["unknown-state", "a-scaffold-not-an-action", "empty", "not-a-string", "missing"],
)
def test_a_position_that_is_not_an_action_of_the_flow_is_corrupt(client, caplog, position):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    record = get_store().get_state(walker.task_id)
    if position is None:
        del record["pos"]
    else:
        record["pos"] = position
    TaskRecord.objects.filter(task_id=walker.task_id).update(data=encode_record(record))
    caplog.set_level(logging.INFO, logger="flowmachine")
    response = client.get(walker.url)
    _assert_corrupt_page(response, caplog)
    response = client.post(walker.url, {"_t": walker.task_id, "choice": "register"})
    assert response.status_code == 410
    assert page_kind(response) == "corrupt"


MALFORMED_FIELDS = {
    "hist-not-a-list": ("hist", 5),
    "hist-a-string": ("hist", "Purchase.ChooseItem"),
    "ans-not-a-dict": ("ans", []),
    "ans-entry-not-a-dict": ("ans", {"Purchase.ChooseItem": 3}),
    "kw-not-a-dict": ("kw", []),
    "jrnl-not-a-list": ("jrnl", 7),
    "err-not-a-list": ("err", 5),
    "accessed-not-a-number": ("accessed", "yesterday"),
    "data-not-a-dict": ("data", []),
    "off-not-a-list": ("off", {}),
    "off-entry-without-a-name": ("off", [[1]]),
    "lnk-not-indexes": ("lnk", ["TrailFirst"]),
    "at-not-a-number": ("at", "soon"),
    "fnl-not-a-dict": ("fnl", [1]),
    "next-not-a-string": ("next", 5),
    "fmt-of-a-newer-release": ("fmt", 99),
}


@pytest.mark.parametrize("field, value", MALFORMED_FIELDS.values(), ids=MALFORMED_FIELDS.keys())
@pytest.mark.parametrize("request_kind", ["get", "post", "back"])
def test_a_record_with_malformed_fields_is_corrupt_not_500(client, caplog, field, value, request_kind):
    """A record that decodes but does not have the engine's shape is corrupt too."""
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    record = get_store().get_state(walker.task_id)
    record[field] = value
    TaskRecord.objects.filter(task_id=walker.task_id).update(data=encode_record(record))
    caplog.set_level(logging.INFO, logger="flowmachine")
    if request_kind == "get":
        response = client.get(walker.url)
    elif request_kind == "back":
        response = client.get("/buy/item/", {"_t": walker.task_id})
    else:
        response = client.post(walker.url, {"_t": walker.task_id, "choice": "register"})
    _assert_corrupt_page(response, caplog)


# -- where a finished task goes ----------------------------------------------------------------


HOSTILE = ["https://evil.example/", "//evil.example", "javascript:alert(1)", "/\\evil.example", "http:evil.example"]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_on_complete_is_ignored(client, shopper, target):
    walker = Walker(client).start("?" + urlencode({"_on_complete": target}))
    assert walker.path == "/buy/item/"
    assert "evil" not in walker.url and "javascript" not in walker.url
    walk_to_confirm(walker)
    response = walker.post({})
    assert response["Location"] == "/done/"
    assert Order.objects.count() == 1


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_on_complete_given_to_flow_entry_link_is_refused_at_the_end(rf, client, shopper, target):
    """Even a URL that reached the record (set in code, not from the query) is checked at completion."""
    from tests.flows import Purchase, handler

    client.get("/buy/")  # gives the client a session
    request = rf.get("/")
    request.session = client.session
    url = handler.flow_entry_link(request, Purchase, on_complete_url=target)
    request.session.save()
    walker = Walker(client)
    walker.url = url
    walker.response = client.get(url)
    walk_to_confirm(walker)
    assert walker.post({})["Location"] == "/done/"


# -- a finished task ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url",
    [
        ("post", "/buy/confirm/"),
        ("get", "/buy/confirm/"),
        ("get", "/buy/item/"),
        ("post", "/buy/item/"),
        ("get", "/buy/pay/saved/"),
        ("get", "/buy/"),
    ],
)
def test_a_finished_task_shows_the_finished_page_and_runs_nothing(client, shopper, method, url):
    walker = Walker(client).start()
    walk_to_confirm(walker)
    assert walker.post({})["Location"] == "/done/"
    assert Order.objects.count() == 1
    response = getattr(client, method)(
        url, {"_t": walker.task_id, "item": "book"} if method == "post" else {"_t": walker.task_id}
    )
    assert response.status_code == 410
    assert page_kind(response) == "finished"
    assert '<a href="/done/">Continue</a>' in response.content.decode()
    assert Order.objects.count() == 1
    record = raw_record(walker.task_id)
    assert record["done"] == "/done/"
    assert "data" not in record


# -- a POST from a stale page --------------------------------------------------------------------------


def test_post_for_a_step_not_in_the_history_shows_the_current_step_says_so_and_stores_nothing(client, shopper):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    assert walker.path == "/buy/account/login/"
    before = get_store().get_state(walker.task_id)
    response = client.post("/buy/pay/saved/", {"_t": walker.task_id, "method": "saved"})
    assert response.status_code == 409  # a page the browser kept: shown what is current, not silently moved on
    page = response.content.decode()
    assert "This page was out of date" in page
    assert f'action="/buy/account/login/?_t={walker.task_id}' in page
    after = get_store().get_state(walker.task_id)
    assert after["data"] == before["data"] == {"item": "lamp"}
    assert "payment" not in after["data"]
    assert after["pos"] == before["pos"] == "Purchase.GetUserAccount.LoginOrRegister"
    assert after["version"] == before["version"]
    assert "Purchase.ChoosePayment.SavedMethod" not in after.get("ans", {})


def test_post_to_the_entry_url_with_a_task_id_redirects_to_the_current_step(client):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    before = get_store().get_state(walker.task_id)
    response = client.post("/buy/", {"_t": walker.task_id, "item": "mug"})
    assert response.status_code == 302
    assert response["Location"] == f"/buy/account/login/?_t={walker.task_id}"
    assert get_store().get_state(walker.task_id) == before


# -- developer errors ------------------------------------------------------------------------------------


@pytest.mark.urls("tests.web.urls_extra")
def test_an_unencodable_state_value_names_its_key_and_nothing_is_saved(client):
    walker = Walker(client, entry="/extra/price/").start()
    assert walker.path == "/extra/price/set/"
    before = get_store().get_state(walker.task_id)
    assert before is None  # lazy creation: the first change would write the first record
    with pytest.raises(StateEncodingError) as excinfo:
        client.post(walker.url, {"_t": walker.task_id})
    assert excinfo.value.key == "price"
    assert "'price'" in str(excinfo.value)
    assert "Fraction" in str(excinfo.value)
    after = get_store().get_state(walker.task_id)
    assert after is None
    # the action's own database write went down with the failed save
    assert Order.objects.count() == 0


@pytest.mark.urls("tests.web.urls_extra")
def test_a_jump_to_an_unreachable_target_names_source_and_target(client, caplog):
    walker = Walker(client, entry="/extra/jump/").start()
    assert walker.path == "/extra/jump/hop/"
    before = get_store().get_state(walker.task_id)
    with pytest.raises(InvalidJump) as excinfo:
        client.post(walker.url, {"_t": walker.task_id})
    message = str(excinfo.value)
    assert "JumpFlow.HopAway" in message
    assert "FarTarget" in message
    assert (excinfo.value.source, excinfo.value.target) == ("JumpFlow.HopAway", "FarTarget")
    assert get_store().get_state(walker.task_id) == before


def test_invalid_jump_in_the_compiled_checkout_names_source_and_target():
    from tests.flows import Purchase, handler

    flow = handler.compiled(Purchase)
    # CardNumber sits inside ChoosePayment.NewPaymentMethod: not a sibling of ChooseItem
    # nor of any of its ancestors.
    with pytest.raises(InvalidJump) as excinfo:
        flow.fire("Purchase.ChooseItem", "goto:CardNumber", {})
    assert "Purchase.ChooseItem" in str(excinfo.value)
    assert "CardNumber" in str(excinfo.value)
    # A sibling of an ancestor is fine: from deep in the reset flow to Register.
    assert flow.fire("Purchase.GetUserAccount.ForgotPassword.EnterCode", "goto:Register", {}) == (
        "Purchase.GetUserAccount.Register"
    )


# -- the store is down ----------------------------------------------------------------------------------


DOWN = {"FLOWS_STATE_STORE": "flowmachine.backends.redis", "FLOWS_REDIS_URL": "redis://127.0.0.1:1/0"}


# The entry URL itself needs no store (lazy creation): see tests/web/test_security.py.
@pytest.mark.parametrize("url", [f"/buy/item/?_t={VALID_LOOKING}", "post"])
def test_an_unreachable_store_gives_503_with_retry_after(client, caplog, url):
    caplog.set_level(logging.INFO, logger="flowmachine")
    with override_settings(**DOWN):
        if url == "post":
            response = client.post("/buy/item/", {"_t": VALID_LOOKING, "item": "lamp"})
        else:
            response = client.get(url)
    assert response.status_code == 503
    assert page_kind(response) == "unavailable"
    assert response["Retry-After"].isdigit()
    logged = [r for r in caplog.records if r.name.startswith("flowmachine") and r.levelno >= logging.ERROR]
    assert logged, [r.getMessage() for r in caplog.records]
