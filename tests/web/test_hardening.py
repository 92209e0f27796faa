"""What an attack on the demo found, each fixed: methods, caching, and pages the browser kept.

Each test fails on the behaviour before its fix. They run on the database store
and, where the store matters, on the Redis store too.
"""

from __future__ import annotations

import uuid

import pytest

from flowmachine import Action
from flowmachine.backends import get_store
from flowmachine.engine.urls import jump_signature
from tests.walker import Walker


@pytest.fixture(params=["db", "redis"])
def store_settings(request, settings):
    """Run the test on the database store and on the Redis store (its own key prefix)."""
    if request.param == "db":
        values = {"FLOWS_STATE_STORE": "flowmachine.backends.db"}
    else:
        values = {
            "FLOWS_STATE_STORE": "flowmachine.backends.redis",
            "FLOWS_REDIS_URL": settings.REDIS_URL,
            "FLOWS_REDIS_KEY_PREFIX": f"fm-hardening-{uuid.uuid4().hex[:8]}:",
        }
    for name, value in values.items():  # through pytest-django's fixture, so tests may change more settings
        setattr(settings, name, value)
    return request.param


def on_login_step(client) -> Walker:
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    assert walker.path == "/buy/account/login/"
    return walker


# -- 1. only GET, HEAD and POST run a step -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_other_methods_get_405_with_allow_and_run_nothing(client, store_settings, method):
    walker = on_login_step(client)
    before = get_store().get_state(walker.task_id)
    send = getattr(client, method)
    for url in (walker.url, f"/buy/item/?_t={walker.task_id}", "/buy/"):
        response = send(url, data="item=mug", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 405, url
        assert response["Allow"] == "GET, HEAD, POST"
        assert "no-store" in response["Cache-Control"]
    assert get_store().get_state(walker.task_id) == before


@pytest.mark.django_db
def test_a_put_with_a_csrf_header_does_not_complete_a_step(client, shopper):
    walker = on_login_step(client)
    response = client.put(walker.url, data=f"_t={walker.task_id}&choice=login&username=alice&password=s3cret-pass")
    assert response.status_code == 405
    assert get_store().get_state(walker.task_id)["pos"] == "Purchase.GetUserAccount.LoginOrRegister"


# -- 2. nothing of a flow is cached, and a kept page is not applied silently ---------------------------


@pytest.mark.django_db
def test_every_answer_of_a_flow_url_forbids_caching(client, store_settings):
    responses = {"entry redirect": client.get("/buy/")}
    walker = Walker(client).start()
    responses["first page"] = walker.response
    responses["POST redirect"] = walker.post({"item": "lamp"})
    responses["next page"] = walker.response
    responses["404 page"] = client.get("/buy/item/")
    responses["410 page"] = client.get(f"/buy/item/?_t={'A' * 32}")
    responses["409 page"] = client.post(
        f"/buy/pay/saved/?_t={walker.task_id}", {"_t": walker.task_id, "method": "saved"}
    )
    for name, response in responses.items():
        cache = response.get("Cache-Control", "")
        assert "no-store" in cache and "private" in cache, (name, cache)


@pytest.mark.django_db
def test_a_post_from_a_page_kept_by_the_browser_says_it_was_out_of_date(client, store_settings, shopper):
    walker = on_login_step(client)
    # The user went back to the item page, then pressed Forward onto a page of a step that no longer applies.
    client.get(f"/buy/item/?_t={walker.task_id}")
    response = client.post("/buy/account/register/", {"_t": walker.task_id, "username": "new"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "This page was out of date" in page
    assert get_store().get_state(walker.task_id)["pos"] == "Purchase.ChooseItem"


# -- 3. only the jump links a page offered are followed -------------------------------------------------


@pytest.mark.django_db
def test_a_hand_made_jump_link_is_ignored_and_logged(client, store_settings, shopper, caplog):
    walker = on_login_step(client)
    walker.post({"choice": "login", "username": "alice", "password": "s3cret-pass"})
    assert walker.path == "/buy/pay/saved/"
    caplog.set_level("INFO", logger="flowmachine")
    response = client.get(f"{walker.url}&_to=Confirm")  # typed by hand: Confirm is reachable, but not offered
    assert response.status_code == 200
    assert get_store().get_state(walker.task_id)["pos"] == "Purchase.ChoosePayment.SavedMethod"
    assert any("without a valid signature" in r.getMessage() for r in caplog.records)
    forged = client.get(f"{walker.url}&_to=Confirm&_s=forged")
    assert forged.status_code == 200
    assert get_store().get_state(walker.task_id)["pos"] == "Purchase.ChoosePayment.SavedMethod"


@pytest.mark.django_db
def test_a_link_signed_for_another_task_or_page_is_not_followed(client, store_settings, shopper):
    walker = on_login_step(client)
    here = "Purchase.GetUserAccount.LoginOrRegister"
    for task_id, page in (("B" * 32, here), (walker.task_id, "Purchase.ChooseItem")):
        signature = jump_signature(task_id, page, "Register")
        response = client.get(f"{walker.url}&_to=Register&_s={signature}")
        assert response.status_code == 200
        assert get_store().get_state(walker.task_id)["pos"] == here
    signature = jump_signature(walker.task_id, here, "Register")
    response = client.get(f"{walker.url}&_to=Register&_s={signature}")
    assert response.status_code == 302 and "/buy/account/register/" in response["Location"]


@pytest.mark.django_db
def test_a_never_saved_id_is_served_only_on_its_first_step_and_its_own_signed_links(client, store_settings):
    walker = Walker(client).start()  # nothing stored yet
    for url in (
        f"/buy/account/login/?_t={walker.task_id}",
        f"/buy/confirm/?_t={walker.task_id}&_to=Confirm",
        f"/buy/account/register/?_t={walker.task_id}&_to=GetUserAccount",
    ):
        assert client.get(url).status_code == 410, url
        assert client.post(url, {"_t": walker.task_id, "item": "lamp"}).status_code == 410, url
    assert get_store().get_state(walker.task_id) is None
    assert client.get(walker.url).status_code == 200


# -- 4. path values belong to the task ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_other_path_values_redirect_to_the_tasks_own_url_and_change_nothing(client, store_settings, method):
    walker = Walker(client, entry="/plain/product/1/").start()
    walker.post({})
    assert walker.path == "/plain/product/1/check/"
    before = get_store().get_state(walker.task_id)
    response = getattr(client, method)(f"/plain/product/999/check/?_t={walker.task_id}", {"_t": walker.task_id})
    assert response.status_code == 302
    assert response["Location"] == f"/plain/product/1/check/?_t={walker.task_id}"
    after = get_store().get_state(walker.task_id)
    assert after["kw"] == before["kw"] == {"product_id": "1"}
    assert after["data"] == before["data"] == {"product": 1}


# -- 5. navigation alone never grows the record; a record too large is a clear page ---------------------


@pytest.mark.django_db
def test_going_back_and_forth_between_two_steps_keeps_the_history_a_path(client, store_settings):
    from flowmachine.backends.base import encode_record
    from flowmachine.testing import FlowClient

    flow = FlowClient(client).start("/buy/")
    flow.step({"item": "lamp"})
    sizes = []
    for _ in range(150):
        flow.jump("Register", expect="Purchase.GetUserAccount.Register")
        flow.jump("LoginOrRegister", expect="Purchase.GetUserAccount.LoginOrRegister")
        sizes.append(len(encode_record(flow.record)))
    assert flow.record["hist"] == ["Purchase.ChooseItem"]
    assert max(sizes[10:]) <= min(sizes[10:]) + 64  # the journal is folded; nothing else grows
    assert client.get(flow.url).status_code == 200


@pytest.mark.django_db
def test_a_step_that_would_make_the_record_too_large_is_a_clear_page_and_the_task_is_intact(
    client, store_settings, settings, caplog
):
    from flowmachine.backends.base import encode_record

    walker = on_login_step(client)
    before = get_store().get_state(walker.task_id)
    settings.FLOWS_MAX_STATE_BYTES = len(encode_record(before)) + 20
    caplog.set_level("ERROR", logger="flowmachine")
    response = client.post(walker.url, {"_t": walker.task_id, "choice": "register"})
    assert response.status_code == 413
    page = response.content.decode()
    assert "too long to keep" in page and 'name="choice"' in page  # the step again, saying why
    assert get_store().get_state(walker.task_id) == before
    assert any("Purchase" in r.getMessage() for r in caplog.records)


# -- 8. the binding covers the task id; the journal is checked; a finished task's link stays on the site --


@pytest.mark.django_db
def test_a_binding_copied_onto_another_task_does_not_bind_it(client, store_settings):
    walker = on_login_step(client)
    other = Walker(client).start()
    other.post({"item": "mug"})
    mine, theirs = get_store().get_state(walker.task_id), get_store().get_state(other.task_id)
    assert mine["bind"] != theirs["bind"]  # the same browser, two tasks: two bindings
    mine["bind"] = theirs["bind"]
    mine["version"] += 1
    get_store().put_state(walker.task_id, mine)
    assert client.get(walker.url).status_code == 404


@pytest.mark.django_db
def test_a_record_of_format_one_is_read_and_written_back_as_format_two(client, store_settings):
    from flowmachine.binding import binding_hash, session_binder

    walker = on_login_step(client)
    record = get_store().get_state(walker.task_id)
    request = type("R", (), {"session": client.session})()
    record.update(fmt=1, bind=binding_hash(session_binder(request)), version=record["version"] + 1)
    get_store().put_state(walker.task_id, record)
    assert client.get(walker.url).status_code == 200
    walker.post({"choice": "register"})
    saved = get_store().get_state(walker.task_id)
    assert saved["fmt"] == 2 and saved["bind"] == binding_hash(session_binder(request), walker.task_id)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "entry", [["x", "start", None], [1, 2, None], [1, "start", None, [], []], [1, "a", "b", {}, [3]]]
)
def test_a_malformed_journal_entry_makes_the_record_corrupt(client, store_settings, entry):
    walker = on_login_step(client)
    record = get_store().get_state(walker.task_id)
    record["jrnl"].append(entry)
    record["version"] += 1
    get_store().put_state(walker.task_id, record)
    assert client.get(walker.url).status_code == 410


@pytest.mark.django_db
def test_a_finished_task_links_only_within_the_site(client, store_settings):
    walker = on_login_step(client)
    record = get_store().get_state(walker.task_id)
    marker = {"version": record["version"] + 1, "fmt": 2, "flow": "Purchase", "bind": record["bind"]}
    get_store().put_state(walker.task_id, {**marker, "done": "https://evil.example/"})
    page = client.get(walker.url)
    assert page.status_code == 410 and "evil.example" not in page.content.decode()


# -- 6. strangers leave no trace ------------------------------------------------------------------------


@pytest.mark.django_db
def test_strangers_requests_for_a_saved_task_create_no_session_and_no_record(client, store_settings, settings):
    from django.contrib.sessions.models import Session
    from django.test import Client

    walker = on_login_step(client)
    sessions, before = Session.objects.count(), get_store().get_state(walker.task_id)
    for _ in range(20):
        stranger = Client()
        assert stranger.get(walker.url).status_code == 404
        assert stranger.post(walker.url, {"_t": walker.task_id, "choice": "register"}).status_code == 404
        assert stranger.get(f"/buy/item/?_t={'Q' * 32}").status_code == 410
        assert stranger.get("/buy/item/?_t=short").status_code == 404
    settings.DEBUG = True
    assert Client().get(f"/buy/.flowgraph?_t={walker.task_id}&format=mermaid").status_code == 200
    assert Session.objects.count() == sessions
    assert get_store().get_state(walker.task_id) == before


@pytest.mark.django_db
def test_on_redis_only_the_owner_keeps_a_task_alive(client, settings):
    import redis
    from django.test import Client

    settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
    settings.FLOWS_REDIS_URL = settings.REDIS_URL
    settings.FLOWS_REDIS_KEY_PREFIX = f"fm-alive-{uuid.uuid4().hex[:8]}:"
    walker = on_login_step(client)
    key = get_store().key(walker.task_id)
    with redis.Redis.from_url(settings.REDIS_URL) as direct:
        direct.expire(key, 30)
        for _ in range(5):
            assert Client().get(walker.url).status_code == 404
        assert direct.ttl(key) <= 30
        assert client.get(walker.url).status_code == 200
        assert direct.ttl(key) > 30
        direct.delete(key)


# -- 11. pages speak the user's language; logs quote little ---------------------------------------------


@pytest.mark.parametrize("noun", [None, "checkout"])
def test_no_refusal_page_speaks_of_tasks_and_each_uses_the_flows_noun(rf, noun):
    import re

    from flowmachine.pages import PAGES, error_page

    for kind in PAGES:
        page = error_page(rf.get("/"), kind, status=410, noun=noun, restart_url="/again/").content.decode()
        assert not re.search(r"\btasks?\b", page, re.IGNORECASE), (kind, page)
        assert '<html lang="en' in page and "Start again" in page
        if "%(noun)s" in str(PAGES[kind][0]) + str(PAGES[kind][1]):
            assert (noun or "form") in page, kind


@pytest.mark.django_db
def test_an_expired_page_names_the_flows_noun(client):
    response = client.get(f"/buy/item/?_t={'Q' * 32}")
    assert response.status_code == 410 and "This form has expired" in response.content.decode()


@pytest.mark.django_db
def test_log_lines_quote_at_most_a_little_of_what_the_user_sent(client, caplog):
    caplog.set_level("INFO", logger="flowmachine")
    walker = on_login_step(client)
    client.get(f"{walker.url}&_to={'R' * 5000}")
    client.get(f"/buy/item/?_t={'x' * 5000}")
    client.generic("PROPFIND" + "X" * 300, walker.url)
    client.get(f"/buy/?_on_complete=https://evil.example/{'y' * 5000}")
    ours = [r.getMessage() for r in caplog.records if r.name == "flowmachine"]
    assert len(ours) >= 3 and max(len(m) for m in ours) < 400, max(ours, key=len)[:500]


# -- 7. a session holds a bounded number of stored tasks ------------------------------------------------


@pytest.mark.django_db
def test_storing_one_more_task_than_the_limit_ends_the_sessions_oldest(client, store_settings, settings):
    settings.FLOWS_MAX_TASKS_PER_SESSION = 3
    walkers = [on_login_step(client) for _ in range(3)]
    assert all(get_store().get_state(w.task_id) is not None for w in walkers)
    newest = on_login_step(client)
    assert get_store().get_state(walkers[0].task_id) is None
    assert client.get(walkers[0].url).status_code == 410
    assert all(get_store().get_state(w.task_id) is not None for w in [*walkers[1:], newest])
    # Later steps of a stored task are not "first stored": nothing else ends.
    newest.post({"choice": "register"})
    assert all(get_store().get_state(w.task_id) is not None for w in [*walkers[1:], newest])


# -- 9. a POST refused by the CSRF check shows the step again -------------------------------------------


@pytest.mark.django_db
def test_the_shipped_csrf_failure_view_shows_the_current_step_again(settings):
    from django.test import Client

    settings.CSRF_FAILURE_VIEW = "flowmachine.csrf_failure"
    browser = Client(enforce_csrf_checks=True)
    entry = browser.get("/buy/")
    browser.get(entry["Location"])
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    task_id = entry["Location"].split("_t=")[1]
    step = browser.post(entry["Location"], {"_t": task_id, "item": "lamp", "csrfmiddlewaretoken": token})
    assert step.status_code == 302
    before = get_store().get_state(task_id)
    # Signing in elsewhere rotated the token: this form's token is stale.
    refused = browser.post(step["Location"], {"_t": task_id, "choice": "register", "csrfmiddlewaretoken": "x" * 32})
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "please check them and submit again" in page and 'name="choice"' in page
    assert "no-store" in refused["Cache-Control"]
    assert get_store().get_state(task_id) == before
    elsewhere = browser.post("/admin/login/", {"username": "x", "csrfmiddlewaretoken": "x" * 32})
    assert elsewhere.status_code == 403 and "CSRF verification failed" in elsewhere.content.decode()


def test_django_flows_render_form_header_still_renders_the_fields_and_warns(rf):
    from django.template import Context, Template

    from flowmachine.engine.context import FlowContext

    walker_task = type("T", (), {"id": "T" * 32, "moved_at": 3})()
    flow = FlowContext(walker_task, type("P", (), {"component": Action})(), rf.get("/"))  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="flow_form_header"):
        html = Template("{{ flow.render_form_header }}").render(Context({"flow": flow}))
    assert (
        'name="csrfmiddlewaretoken"' in html
        and 'name="_t" value="' + "T" * 32 in html
        and 'name="_v" value="3"' in html
    )
