"""What a step sends to the database, against a hand-written step (the floor), on each store.

The floor is a plain ``FormView`` per step that keeps its answer in the session
and redirects to the next step: its page view sends nothing, its POST reads and
writes the session (``SELECT``, ``BEGIN``, ``UPDATE``, ``COMMIT``). A flow step
may send one statement more on the database store (the page view's read of the
task) and no more than the floor on the Redis store. Counted in Django's query
log, and on PostgreSQL as libpq's round trips (psycopg sends ``BEGIN`` only
before a transaction's first statement, and ``COMMIT`` only if one ran).
Sessions live in the database the tasks use, as in production.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django import forms
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.views.generic.edit import FormView

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from flowmachine.engine import quota
from flowmachine.exceptions import ConflictError
from tests._sql import RoundTrips, is_read
from tests.models import Order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]

STEPS = 5
TEMPLATE = "statements/step.html"
DATA = {"name": "Ada Lovelace"}
PG = connection.vendor == "postgresql"


class NameForm(forms.Form):
    name = forms.CharField(max_length=100)


class NameStep(Action):
    _abstract = True
    template_name = TEMPLATE
    form_class = NameForm

    def form_valid(self, form: forms.BaseForm) -> Any:
        self.state[self.place.local_name] = form.cleaned_data
        return COMPLETE


class Names(Scaffold):
    url = "start/"
    transition = Linear
    action_set = [type(f"Name{i}", (NameStep,), {"url": f"s{i}/", "__module__": __name__}) for i in range(STEPS)]


class Ordering(NameStep):
    """A last step that writes a row of its own, for the rollback test."""

    def form_valid(self, form: forms.BaseForm) -> Any:
        Order.objects.create(task_id=self.task.id, item="lamp")
        return COMPLETE


class Orders(Scaffold):
    url = "order/"
    transition = Linear
    action_set = [Ordering]


class FloorStep(FormView):  # type: ignore[type-arg]
    """The hand-written step: an empty form, its answer kept in the session, a redirect."""

    template_name = TEMPLATE
    form_class = NameForm

    def form_valid(self, form: forms.BaseForm) -> HttpResponse:
        step = self.kwargs["step"]
        self.request.session[f"floor:{step}"] = form.cleaned_data
        return HttpResponseRedirect(f"/floor/{step + 1}/" if step < STEPS else "/done/")


def done(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Thank you")


handler = FlowHandler(app_namespace="statements", on_complete_url="/done/")
handler.register_entry_point(Names)
handler.register_entry_point(Orders)
urlpatterns = [
    path("floor/<int:step>/", FloorStep.as_view()),
    path("done/", done),
    path("flows/", include(handler.urls)),
]


@pytest.fixture(params=["db", "redis"])
def store(request: Any, settings: Any) -> Iterator[str]:
    """Each test on the database store and on the Redis store (its own key prefix, removed after)."""
    prefix = f"fm-statements-{uuid.uuid4().hex[:8]}:"
    if request.param == "db":
        settings.FLOWS_STATE_STORE = "flowmachine.backends.db"
    else:
        settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
        settings.FLOWS_REDIS_URL = settings.REDIS_URL
        settings.FLOWS_REDIS_KEY_PREFIX = prefix
    yield request.param
    if request.param == "redis":
        import redis

        with redis.Redis.from_url(settings.REDIS_URL) as client:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)


class Counted:
    """The statements of one request: Django's log, and on PostgreSQL what libpq sent."""

    def __init__(self, method: str, sql: list[str], sent: int) -> None:
        self.method, self.sql, self.sent = method, sql, sent

    def __repr__(self) -> str:
        return f"{self.method} sent {self.sent}: {[s[:60] for s in self.sql]}"


def counted(method: str, send: Any) -> tuple[Any, Counted]:
    with ExitStack() as stack:
        trips = stack.enter_context(RoundTrips(connection)) if PG else None
        log = stack.enter_context(CaptureQueriesContext(connection))
        response = send()
    sql = [q["sql"] for q in log.captured_queries]
    return response, Counted(method, sql, trips.count if trips is not None else len(sql))


def journey(client: Client, floor: bool = False) -> list[list[Counted]]:
    """A whole journey, first page to done page, counted per step: [the start, step 1, ..., step N]."""
    steps: list[list[Counted]] = [[]]
    if floor:
        url = "/floor/1/"
    else:
        response, count = counted("GET", lambda: client.get("/flows/start/"))
        assert response.status_code == 302
        steps[0].append(count)
        url = response["Location"]
    response, count = counted("GET", lambda: client.get(url))
    assert response.status_code == 200
    steps[0].append(count)
    for _ in range(STEPS):
        payload = dict(DATA) if floor else {"_t": url.split("_t=")[1], **DATA}
        response, post = counted("POST", lambda url=url, payload=payload: client.post(url, payload))
        assert response.status_code == 302, response.content[:300]
        url = response["Location"]
        response, page = counted("GET", lambda url=url: client.get(url))
        assert response.status_code == 200
        steps.append([post, page])
    assert url == "/done/"
    return steps


def sent(requests: list[Counted]) -> int:
    return sum(r.sent for r in requests)


def total(steps: list[list[Counted]]) -> int:
    return sum(sent(step) for step in steps)


def returning_browser() -> Client:
    """A browser that walked a journey before: it has its session and the flow's binder cookie."""
    client = Client()
    journey(client)
    return client


# -- the database store ----------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["db"], indirect=True)
def test_a_page_view_reads_only_the_task_and_a_post_is_its_own_transaction(store: str) -> None:
    steps = journey(returning_browser())
    for post, page in steps[2:]:
        assert [is_read(s) for s in page.sql] == [True] * len(page.sql)
        if page.sql:  # the done page is not a flow page
            assert len(page.sql) == 1 and "flowmachine_taskrecord" in page.sql[0], page
        assert len(post.sql) == 4, post
        begin, read, write, commit = post.sql
        assert (begin, commit) == ("BEGIN", "COMMIT")
        assert is_read(read) and "flowmachine_taskrecord" in read
        assert write.startswith("UPDATE") and "flowmachine_taskrecord" in write
        assert not any("django_session" in s for s in post.sql + page.sql)  # the binder cookie stood for it


@pytest.mark.parametrize("store", ["db"], indirect=True)
def test_each_step_after_the_first_sends_at_most_the_floor_s_statements_plus_one(store: str) -> None:
    floor_client = Client()
    journey(floor_client, floor=True)
    floor = journey(floor_client, floor=True)  # its session exists from the start, as the flow's does
    flow = journey(returning_browser())
    for number in range(2, STEPS + 1):
        assert sent(flow[number]) <= sent(floor[number]) + 1, (number, flow[number], floor[number])


@pytest.mark.parametrize("store", ["db"], indirect=True)
def test_a_whole_journey_costs_the_floor_plus_one_per_step_and_the_session_s_note(store: str, settings: Any) -> None:
    """The first save notes the task in the session, a read and a write of it: for FLOWS_MAX_TASKS_PER_SESSION
    and, while the binder cookie stands for the session, so that logging out can end the task."""
    floor_client = Client()
    journey(floor_client, floor=True)
    floor = total(journey(floor_client, floor=True))
    assert floor == 4 * STEPS  # a SELECT, BEGIN, UPDATE and COMMIT of the session per POST
    assert total(journey(returning_browser())) == floor + STEPS + 4
    settings.FLOWS_MAX_TASKS_PER_SESSION = None
    assert total(journey(returning_browser())) == floor + STEPS + 4
    settings.FLOWS_BINDER_COOKIE_AGE = 0  # every step reads the session, and logout ends the task by that
    browser = returning_browser()
    journey(browser)
    assert quota.SESSION_KEY not in browser.session


@pytest.mark.parametrize("store", ["db"], indirect=True)
def test_a_new_browser_reads_its_session_once_more_to_get_the_binder_cookie(store: str) -> None:
    client = Client()
    steps = journey(client)
    assert "flowmachine_binder" in client.cookies
    second_page = steps[1][1]
    assert [("django_session" in s) for s in second_page.sql] == [True, False], second_page
    assert all("django_session" not in s for step in steps[2:] for r in step for s in r.sql)


# -- the Redis store ---------------------------------------------------------------------------------


@pytest.mark.parametrize("store", ["redis"], indirect=True)
def test_on_redis_a_step_sends_no_more_than_the_floor_and_later_steps_nothing(store: str) -> None:
    floor_client = Client()
    journey(floor_client, floor=True)
    floor = journey(floor_client, floor=True)
    flow = journey(returning_browser())
    assert total(flow) <= total(floor)
    for step in flow[2:]:
        for request in step:
            # A step that writes nothing to the database opens no transaction there: on PostgreSQL
            # nothing is sent; SQLite runs Django's BEGIN and COMMIT of the request's transaction.
            assert request.sent == (0 if PG else len(request.sql)), request
            assert all(s in ("BEGIN", "COMMIT") for s in request.sql), request


@pytest.mark.parametrize("store", ["redis"], indirect=True)
def test_on_redis_an_action_s_own_rows_are_rolled_back_when_the_task_cannot_be_saved(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowmachine.backends.redis import StateStore

    client = Client()
    url = client.get("/flows/order/")["Location"]
    assert client.get(url).status_code == 200

    def lost_race(self: Any, task_id: str, state: dict[str, Any]) -> None:
        raise ConflictError("another request saved first")

    monkeypatch.setattr(StateStore, "put_state", lost_race)
    response = client.post(url, {"_t": url.split("_t=")[1], **DATA})
    assert response.status_code == 409
    assert not Order.objects.exists()
