"""Security: redirects stay on the site, ids are checked before the store, CSRF on every POST,
bounded msgpack decoding, no pickle, ruff's bandit rules, and crawlers cannot fill the store.
"""

from __future__ import annotations

import ast
import base64
import hmac
import shutil
import subprocess
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import msgpack
import pytest
from django import forms
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, resolve

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold, registry
from flowmachine.backends import get_store
from flowmachine.backends.base import (
    COMPRESSED_MARK,
    MAX_DEPTH,
    StateTooDeepError,
    StateTooLargeError,
    decode_record,
    encode_record,
)
from flowmachine.conf import DEFAULTS
from flowmachine.engine.ids import TASK_ID_LENGTH, is_fresh_provisional, new_task_id
from flowmachine.engine.urls import jump_signature
from flowmachine.exceptions import CorruptStateError
from flowmachine.models import TaskRecord
from tests._sql import is_read
from tests.models import Order
from tests.walker import Walker

ROOT = Path(__file__).resolve().parents[2]
LOGIN = {"choice": "login", "username": "alice", "password": "s3cret-pass"}
HOSTILE = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "http:evil.example",
    " //evil.example",
    "\\\\evil.example",
]


def is_local(url: str) -> bool:
    """A URL a browser resolves on this site: a path, never scheme- or protocol-relative."""
    return url.startswith("/") and not url.startswith("//") and not url.startswith("/\\") and "evil" not in url


def store_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "flowmachine_taskrecord" in q["sql"].lower()]


def walk_to_confirm(walker: Walker) -> None:
    walker.post({"item": "lamp"})
    walker.post(LOGIN)
    walker.post({"method": "saved"})
    assert walker.path == "/buy/confirm/"


# -- no open redirect ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_on_complete_added_to_the_first_steps_url_is_ignored(client, shopper, target):
    """A task without a record carries ?_on_complete= on its first step: tampering with it changes nothing."""
    walker = Walker(client).start()
    walker.url += "&" + "&".join([f"_on_complete={target}"])
    walker.response = client.get(walker.url)
    walk_to_confirm(walker)
    assert get_store().get_state(walker.task_id)["next"] is None
    assert walker.post({})["Location"] == "/done/"


@pytest.mark.django_db
def test_a_same_site_on_complete_is_carried_to_the_first_write_and_followed(client, shopper):
    walker = Walker(client).start("?_on_complete=/thanks/")
    assert parse_qs(urlsplit(walker.url).query)["_on_complete"] == ["/thanks/"]
    walker.post({"item": "lamp"})
    assert "_on_complete" not in walker.url  # once the record exists the URLs need not carry it
    assert get_store().get_state(walker.task_id)["next"] == "/thanks/"
    walker.post(LOGIN)
    walker.post({"method": "saved"})
    assert walker.post({})["Location"] == "/thanks/"


@pytest.mark.django_db
@pytest.mark.parametrize("target", [*HOSTILE, "NoSuchStep"])
def test_a_hostile_link_target_redirects_within_the_flow(client, shopper, target):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    walker.post(LOGIN)
    walker.post({"method": "new"})
    assert walker.path == "/buy/pay/new/card/"
    here = "Purchase.ChoosePayment.NewPaymentMethod.CardNumber"
    # Signed as a page's link_to(target) would sign it: refused by the machine, redirected within the flow.
    signed = {"_to": target, "_s": jump_signature(walker.task_id, here, target)}
    response = client.get(walker.url + "&" + urlencode(signed))
    assert response.status_code == 302
    assert is_local(response["Location"]), response["Location"]
    assert get_store().get_state(walker.task_id)["pos"] == here
    # Hand-made (unsigned): not followed at all; the page is shown as it is.
    response = client.get(walker.url + "&" + urlencode({"_to": target}))
    assert response.status_code == 200
    assert get_store().get_state(walker.task_id)["pos"] == here


@pytest.mark.django_db
def test_login_required_sends_a_local_next_back_into_the_task(client, shopper):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    walker.post({"choice": "register"})
    walker.post({"username": "bob", "password": "pw"})
    client.logout()  # logging out ends the task (the binder's secret goes with the session)
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    client.post(walker.url, {"_t": walker.task_id, **LOGIN})
    client.logout()
    client.force_login(shopper)
    response = client.get(f"/buy/pay/saved/?_t={walker.task_id}")
    assert response.status_code in (200, 302, 404)
    anonymous = Client()
    start = Walker(anonymous).start()
    start.post({"item": "lamp"})
    record = get_store().get_state(start.task_id)
    record["pos"] = "Purchase.ChoosePayment.SavedMethod"
    TaskRecord.objects.filter(task_id=start.task_id).update(data=encode_record(record))
    response = anonymous.get(f"/buy/pay/saved/?_t={start.task_id}")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/login/"
    next_url = parse_qs(location.query)["next"][0]
    assert is_local(next_url) and next_url == f"/buy/pay/saved/?_t={start.task_id}"


@pytest.mark.django_db
def test_the_conflict_page_never_links_off_site(rf):
    from flowmachine.web.serving import same_site as _same_site

    request = rf.get("/buy/item/")
    assert _same_site(request, "/buy/item/?_t=x") == "/buy/item/?_t=x"
    for url in HOSTILE:
        assert _same_site(request, url) is None, url


@pytest.mark.django_db
def test_every_redirect_of_a_whole_checkout_is_local(client, shopper):
    walker = Walker(client).start("?_on_complete=https://evil.example/")
    locations = [walker.url]
    for data in ({"item": "lamp"}, LOGIN, {"method": "saved"}, {}):
        response = walker.post(data)
        locations.append(response["Location"])
    assert all(is_local(u) for u in locations), locations


# -- task ids --------------------------------------------------------------------------------------


def test_ids_have_128_random_bits_and_one_format():
    ids = {new_task_id("Purchase", "b") for _ in range(1000)}
    assert len(ids) == 1000
    raw = [base64.urlsafe_b64decode(i) for i in ids]
    assert all(len(i) == TASK_ID_LENGTH == 32 for i in ids)
    assert len({r[:16] for r in raw}) == 1000  # the 16 random bytes differ
    assert DEFAULTS["FLOWS_TASK_IDLE_TIMEOUT"] > 0


def test_a_provisional_id_is_bound_to_flow_requester_and_time():
    now = time.time()
    task_id = new_task_id("Purchase", "secret-a", now=now)
    assert is_fresh_provisional(task_id, "Purchase", "secret-a", 1200, now=now)
    assert not is_fresh_provisional(task_id, "Purchase", "secret-b", 1200, now=now)
    assert not is_fresh_provisional(task_id, "Greeting", "secret-a", 1200, now=now)
    assert not is_fresh_provisional(task_id, "Purchase", "secret-a", 1200, now=now + 1201)
    assert not is_fresh_provisional("A" * 32, "Purchase", "secret-a", 1200, now=now)


def test_the_provisional_tag_is_compared_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    task_id = new_task_id("Purchase", "s")
    assert is_fresh_provisional(task_id, "Purchase", "s", 1200)
    assert len(calls) == 1


def test_the_binder_is_compared_in_constant_time(monkeypatch):
    import flowmachine.binding as binding

    calls = []
    real = binding.constant_time_compare

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(binding, "constant_time_compare", spy)
    stored = binding.binding_hash("value", "T" * 32)
    assert binding.matches(stored, "value", "T" * 32)
    assert not binding.matches(stored, "other", "T" * 32)
    assert not binding.matches(stored, "value", "U" * 32)  # the hash covers the task id
    assert len(calls) == 3
    assert not binding.matches("", "value")  # nothing stored: never bound


MALFORMED = ["abc", "A" * 31, "A" * 33, "A" * 16 + "/" + "A" * 15, "A" * 31 + "=", "é" * 32, "../" * 11 + "AA"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", MALFORMED)
@pytest.mark.parametrize("url", ["/buy/", "/buy/item/", "/buy/confirm/"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_malformed_id_never_reaches_the_store(client, value, url, method):
    Walker(client).start().post({"item": "lamp"})  # a record exists, so a lookup would find rows
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, {"_t": value})
    assert response.status_code == 404
    assert store_queries(captured) == []


# -- lazy creation and the crawler bound -----------------------------------------------------------


@pytest.mark.django_db
def test_the_entry_and_the_first_step_write_nothing_anywhere(client):
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/buy/")
        page = client.get(response["Location"])
        client.head("/buy/")
    assert response.status_code == 302 and page.status_code == 200
    assert store_queries(captured) == [q for q in store_queries(captured) if is_read(q)]
    assert TaskRecord.objects.count() == 0
    assert Session.objects.count() == 0  # no Django session either: the id is bound to the CSRF cookie


@pytest.mark.django_db
def test_the_first_post_creates_the_record_bound_to_its_sender(client):
    walker = Walker(client).start()
    assert client.post(walker.url, {"_t": walker.task_id, "item": "nope"}).status_code == 200  # invalid: nothing
    assert TaskRecord.objects.count() == 0
    walker.post({"item": "lamp"})
    record = get_store().get_state(walker.task_id)
    assert record["version"] == 1 and record["data"] == {"item": "lamp"}
    assert record["bind"] and record["hist"] == ["Purchase.ChooseItem"]
    assert TaskRecord.objects.count() == 1


@pytest.mark.django_db
def test_another_browser_cannot_use_or_claim_an_id_without_a_record(client):
    walker = Walker(client).start()
    stranger = Client()
    assert stranger.get(walker.url).status_code == 410
    assert stranger.post(walker.url, {"_t": walker.task_id, "item": "mug"}).status_code == 410
    assert TaskRecord.objects.count() == 0
    walker.post({"item": "lamp"})  # the owner goes on
    assert get_store().get_state(walker.task_id)["data"] == {"item": "lamp"}


@pytest.mark.django_db
def test_an_id_without_a_record_expires_and_is_refused_on_later_steps(client, settings):
    walker = Walker(client).start()
    assert client.get(f"/buy/confirm/?_t={walker.task_id}").status_code == 410
    binding = client.cookies[settings.CSRF_COOKIE_NAME].value  # what a young id is bound to
    fresh = new_task_id("Purchase", binding)
    issued_before = new_task_id("Purchase", binding, now=time.time() - DEFAULTS["FLOWS_TASK_IDLE_TIMEOUT"] - 1)
    assert client.get(f"/buy/item/?_t={fresh}").status_code == 200
    assert client.get(f"/buy/item/?_t={issued_before}").status_code == 410


@pytest.mark.django_db
def test_the_entry_works_while_the_store_is_down_and_the_first_post_gets_503(client):
    with override_settings(FLOWS_STATE_STORE="flowmachine.backends.redis", FLOWS_REDIS_URL="redis://127.0.0.1:1/0"):
        walker = Walker(client).start()
        response = client.post(walker.url, {"_t": walker.task_id, "item": "lamp"})
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()


class LinkForm(forms.Form):
    value = forms.CharField(required=False)


class SecLinkFirst(Action):
    template_name = "shop/step.html"
    form_class = LinkForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["links"] = {"other": self.link_to("SecLinkOther")}
        return context


class SecLinkOther(Action):
    template_name = "shop/step.html"
    form_class = LinkForm

    def form_valid(self, form):
        self.state["other"] = form.cleaned_data["value"]
        return COMPLETE


class SecLinkLast(Action):
    template_name = "shop/step.html"
    form_class = LinkForm


class SecLinkFlow(Scaffold):
    transition = Linear
    action_set = [SecLinkFirst, SecLinkOther, SecLinkLast]


@pytest.fixture
def link_flow_urls():
    with registry.isolated():
        handler = FlowHandler(app_namespace="seclink", on_complete_url="/done/")
        handler.register_entry_point(SecLinkFlow)

        class URLs:
            urlpatterns = [path("links/", include(handler.urls))]

        with override_settings(ROOT_URLCONF=URLs):
            yield


@pytest.mark.django_db
def test_following_a_link_on_the_first_step_stores_nothing_until_a_post(client, link_flow_urls):
    walker = Walker(client, entry="/links/").start()
    walker.follow_link("link-other")
    assert walker.path == "/links/sec-link-other/"
    assert "_to=SecLinkOther" in walker.url
    assert walker.response.status_code == 200
    assert TaskRecord.objects.count() == 0
    walker.post({"value": "v"})
    assert walker.path == "/links/sec-link-last/"
    record = get_store().get_state(walker.task_id)
    assert record["pos"] == "SecLinkFlow.SecLinkLast"
    assert record["hist"] == ["SecLinkFlow.SecLinkFirst", "SecLinkFlow.SecLinkOther"]
    assert record["data"] == {"other": "v"}


def _entry_hits(count: int, *, same_cookie: bool) -> None:
    factory = RequestFactory()
    view = resolve("/buy/").func
    cookie = None
    for _ in range(count):
        request = factory.get("/buy/")
        if same_cookie and cookie:
            request.META["CSRF_COOKIE"] = cookie  # what CsrfViewMiddleware reads from the cookie
        response = view(request)
        assert response.status_code == 302
        cookie = request.META["CSRF_COOKIE"]


@pytest.mark.django_db
@pytest.mark.parametrize("cookies", [True, False], ids=["with-cookies", "without-cookies"])
def test_a_crawler_through_the_client_leaves_no_record(cookies):
    client = Client()
    for _ in range(300):
        browser = client if cookies else Client()
        response = browser.get("/buy/")
        assert browser.get(response["Location"]).status_code == 200
    assert TaskRecord.objects.count() == 0
    assert Session.objects.count() == 0


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.parametrize("cookies", [True, False], ids=["with-cookies", "without-cookies"])
def test_a_crawler_hitting_the_entry_100000_times_leaves_no_record(cookies):
    """100,000 hits straight on the entry view (the client's middleware would only add time)."""
    _entry_hits(100_000, same_cookie=cookies)
    assert TaskRecord.objects.count() == 0
    assert Session.objects.count() == 0


# -- CSRF ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_csrf_is_enforced_on_every_post(shopper):
    browser = Client(enforce_csrf_checks=True)
    url = browser.get("/buy/")["Location"]
    task_id = parse_qs(urlsplit(url).query)["_t"][0]
    steps = [
        ({"item": "lamp"}, "/buy/account/login/"),
        (LOGIN, "/buy/pay/saved/"),
        ({"method": "saved"}, "/buy/confirm/"),
        ({}, "/done/"),
    ]
    for data, expected in steps:
        page = browser.get(url).content.decode()
        assert browser.post(url, {"_t": task_id, **data}).status_code == 403  # no token
        token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        version = page.split('name="_v" value="')[1].split('"')[0]
        response = browser.post(url, {"_t": task_id, "_v": version, "csrfmiddlewaretoken": token, **data})
        assert response.status_code == 302, response
        url = response["Location"]
        assert urlsplit(url).path == expected
    assert Order.objects.count() == 1


# -- bounded msgpack -------------------------------------------------------------------------------


def test_the_default_limit_is_64_kib():
    assert DEFAULTS["FLOWS_MAX_STATE_BYTES"] == 65536


def test_an_oversize_state_is_refused_with_the_flow_step_and_key():
    record = {"version": 1, "flow": "Purchase", "pos": "Purchase.Confirm", "data": {"small": 1, "blob": "x" * 70_000}}
    with pytest.raises(StateTooLargeError) as info:
        encode_record(record)
    message = str(info.value)
    assert "'Purchase'" in message and "'Purchase.Confirm'" in message and "'blob'" in message
    assert "FLOWS_MAX_STATE_BYTES" in message and "65,536" in message
    assert info.value.key == "blob"


def test_a_too_deep_state_is_refused_when_written():
    deep: list = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(StateTooDeepError, match="'tree'"):
        encode_record({"version": 1, "flow": "F", "data": {"tree": deep}})


@pytest.mark.django_db
def test_an_oversize_state_over_http_saves_nothing_and_says_so(client, settings, caplog):
    settings.FLOWS_MAX_STATE_BYTES = 200
    walker = Walker(client).start()
    response = client.post(walker.url, {"_t": walker.task_id, "item": "lamp"})
    assert response.status_code == 413
    assert "could not be kept" in response.content.decode()
    assert TaskRecord.objects.count() == 0
    assert any("Purchase" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


def _deep_list(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_RECORDS = {
    "huge-array-length": b"\xdd\xff\xff\xff\xff",
    "huge-map-length": b"\xdf\xff\xff\xff\xff",
    "huge-str-length": b"\xdb\xff\xff\xff\xff" + b"a" * 10,
    "huge-bin-length": b"\xc6\xff\xff\xff\xff",
    "deep-nesting-c-limit": b"\x91" * 5000 + b"\xc0",
    "deep-nesting-in-a-record": msgpack.packb({"version": 1, "flow": "F", "data": {"x": _deep_list(100)}}),
    "oversize": msgpack.packb({"version": 1, "flow": "F", "data": {"x": "y" * 70_000}}),
    "zlib-bomb": COMPRESSED_MARK + zlib.compress(b"\x00" * 50_000_000),
    "ext-type": msgpack.packb({"version": 1, "flow": "F", "data": {"x": msgpack.ExtType(42, b"x" * 10)}}),
}


@pytest.mark.parametrize("raw", HOSTILE_RECORDS.values(), ids=HOSTILE_RECORDS.keys())
def test_hostile_bytes_decode_as_corrupt(raw):
    with pytest.raises(CorruptStateError):
        decode_record(raw)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["oversize", "deep-nesting-in-a-record", "zlib-bomb"])
def test_a_hostile_record_is_a_410_page(client, kind):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    TaskRecord.objects.filter(task_id=walker.task_id).update(data=HOSTILE_RECORDS[kind])
    response = client.get(walker.url)
    assert response.status_code == 410
    assert b"flowmachine-error-corrupt" in response.content


# -- no pickle, ruff's bandit rules ----------------------------------------------------------------


def _sources() -> list[Path]:
    return sorted([*(ROOT / "flowmachine").rglob("*.py"), *(ROOT / "backends").rglob("*.py")])


def test_no_pickle_anywhere():
    banned = {"pickle", "cPickle", "dill", "shelve", "marshal", "jsonpickle"}
    found = []
    for source in _sources():
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            found += [f"{source}:{node.lineno} {n}" for n in names if n in banned]
    assert found == []


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (ROOT / ".venv/bin/ruff").exists(), reason="ruff not installed"
)
def test_ruff_security_rules_are_clean():
    ruff = str(ROOT / ".venv/bin/ruff") if (ROOT / ".venv/bin/ruff").exists() else "ruff"
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [ruff, "check", "--select", "S", "--no-cache", "flowmachine", "backends"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
