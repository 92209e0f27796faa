"""Stateful random testing: hypothesis walks the checkout and a deep flow through
the Django test client, as several browsers, tabs and attackers, on the real
database and Redis stores, checking the engine's promises after every step.

Profiles (``FLOWMACHINE_HYPOTHESIS_PROFILE``): ``ci`` (default, a few thousand
steps over the whole module) and ``long`` (``tox -e long``). The number of
steps walked and of invariant violations is printed with ``-s``.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections import Counter
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgpack
import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client, override_settings
from django.urls import resolve
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from flowmachine.backends import get_store
from flowmachine.exceptions import CorruptStateError
from flowmachine.models import TaskRecord

_COMMON: dict[str, Any] = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}
settings.register_profile("ci", max_examples=12, stateful_step_count=40, **_COMMON)
settings.register_profile("long", max_examples=300, stateful_step_count=80, **_COMMON)
PROFILE = os.environ.get("FLOWMACHINE_HYPOTHESIS_PROFILE", "ci")

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

#: Steps walked and invariant violations, per test, reported at the end.
STATS: Counter[str] = Counter()

PASSWORD = "s3cret-pass"
_INPUT = re.compile(r"<input\b([^>]*)>")
_SELECT = re.compile(r'<select\b[^>]*name="([^"]+)"[^>]*>(.*?)</select>', re.S)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')
_OPTION = re.compile(r"<option\b([^>]*)>", re.S)
_TOKEN = re.compile(r"tok[0-9a-f]{8}")


def hidden_values(html: str) -> dict[str, str]:
    """The hidden fields of a rendered form (task id, page version), as a browser posts them."""
    values = {}
    for match in _INPUT.finditer(html):
        attrs = dict(_ATTR.findall(match.group(1)))
        if attrs.get("type") == "hidden" and "name" in attrs and attrs["name"] != "csrfmiddlewaretoken":
            values[attrs["name"]] = unescape(attrs.get("value", ""))
    return values


def shown_values(html: str) -> dict[str, str]:
    """The values a rendered form shows, by field name (hidden fields left out)."""
    values: dict[str, str] = {}
    for match in _INPUT.finditer(html):
        attrs = dict(_ATTR.findall(match.group(1)))
        if attrs.get("type") in ("hidden", "submit", "password") or "name" not in attrs:
            continue
        if attrs.get("type") in ("radio", "checkbox") and not re.search(r"\schecked\b", match.group(1)):
            continue  # only the chosen option is shown
        values[attrs["name"]] = unescape(attrs.get("value", ""))
    for name, body in _SELECT.findall(html):
        for option in _OPTION.findall(body):
            attrs = dict(_ATTR.findall(option))
            if " selected" in option:
                values[name] = unescape(attrs.get("value", ""))
    return values


# -- what each step accepts ----------------------------------------------------------


def valid_data(place: str, token: str, draw_int: int) -> dict[str, str] | None:
    """Valid POST data for *place* (an action's state name), or None to skip it."""
    local = place.rsplit(".", 1)[-1]
    fixed = {
        "ChooseItem": {"item": ["book", "lamp", "mug"][draw_int % 3]},
        "LoginOrRegister": {"choice": "login", "username": "alice", "password": PASSWORD},
        "SavedMethod": {"method": ["saved", "new"][draw_int % 2]},
        "CardNumber": {"number": f"{token}{draw_int % 10}"},
        "BankDetails": {"iban": f"DE{token}"},
        "AccountAddress": {"street": f"{token} street"},
        "PayPal": {},
        "Confirm": {},
        "DeepPick": {"route": ["a", "b"][draw_int % 2]},
        "DeepFinish": {},
    }
    return fixed[local] if local in fixed else _deep_data(local, token, draw_int)


def _deep_data(local: str, token: str, draw_int: int) -> dict[str, str] | None:
    if local in ("DeepName", "DeepA2", "DeepA3", "DeepB2", "DeepM1", "DeepM3"):
        return {"text": f"{token} {draw_int}"}
    if local in ("DeepA1", "DeepA4", "DeepB1", "DeepM2"):
        return {"number": str(draw_int % 1000)}
    return None


def invalid_data(place: str, token: str) -> dict[str, str] | None:
    """POST data *place*'s form refuses, or None when every POST is valid there."""
    local = place.rsplit(".", 1)[-1]
    return {
        "ChooseItem": {"item": "car"},
        "LoginOrRegister": {"choice": "login", "username": "alice", "password": f"wrong-{token}"},
        "SavedMethod": {"method": "cash"},
        "CardNumber": {"number": ""},
        "BankDetails": {"iban": ""},
        "AccountAddress": {"street": ""},
        "DeepPick": {"route": "c"},
    }.get(local) or (
        {"text": ""}
        if "text" in (_deep_data(local, token, 0) or {})
        else {"number": f"x{token}"}
        if _deep_data(local, token, 0)
        else None
    )


# -- raw access to the stores ----------------------------------------------------------------


class DbRaw:
    def corrupt(self, task_id: str, raw: bytes) -> None:
        TaskRecord.objects.filter(task_id=task_id).update(data=raw)

    def expire(self, task_id: str, idle: int) -> None:
        TaskRecord.objects.filter(task_id=task_id).update(accessed=timezone.now() - timedelta(seconds=idle + 5))

    def exists(self, task_id: str) -> bool:
        return TaskRecord.objects.filter(task_id=task_id).exists()


class RedisRaw:
    def __init__(self, prefix: str, url: str | None = None) -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(url or django_settings.REDIS_URL)

    def corrupt(self, task_id: str, raw: bytes) -> None:
        ttl = max(1, self.client.ttl(self.prefix + task_id))
        self.client.set(self.prefix + task_id, raw, ex=ttl)

    def expire(self, task_id: str, idle: int) -> None:
        # Redis drops a key when its idle time is up: moving the clock is removing it.
        self.client.delete(self.prefix + task_id)

    def exists(self, task_id: str) -> bool:
        return bool(self.client.exists(self.prefix + task_id))

    def cleanup(self) -> None:
        keys = list(self.client.scan_iter(match=f"{self.prefix}*"))
        if keys:
            self.client.delete(*keys)
        self.client.close()


# -- the machine --------------------------------------------------------------------------------


class TaskModel:
    """What the walker knows about one task."""

    def __init__(self, task_id: str, browser: int, url: str, token: str) -> None:
        self.id, self.browser, self.token = task_id, browser, token
        self.tabs = [url]
        self.hidden: list[dict[str, str]] = [{}]  # the hidden fields of each tab's form
        self.last: list[tuple[str, str, Any, bool]] = [("GET", url, None, False)]
        self.accepted: dict[str, dict[str, Any]] = {}
        self.finished = False
        self.gone = False  # expired or corrupted: every request must be refused


class FlowWalk(RuleBasedStateMachine):
    """Random browsing of one flow. Subclasses set ENTRY, IDLE and the store."""

    ENTRY = "/buy/"
    IDLE = 1200
    raw: Any = None
    login_first = False

    def __init__(self) -> None:
        super().__init__()
        self.store = get_store()
        self.browsers = [self._browser()]
        self.tasks: list[TaskModel] = []
        self.violations: list[str] = []

    def _browser(self) -> Client:
        client = Client()
        if self.login_first:
            client.login(username="alice", password=PASSWORD)
        return client

    # -- helpers ------------------------------------------------------------------

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.violations.append(message)
            STATS["violations"] += 1
        assert condition, message

    def request(self, task: TaskModel | None, browser: Client, method: str, url: str, data: Any = None) -> Any:
        STATS["requests"] += 1
        if method == "GET":
            response = browser.get(url)
        else:
            response = browser.post(url, data)
        self.check(response.status_code < 500, f"{method} {url} gave {response.status_code}")
        if task is not None and response.status_code == 200:
            self.check_no_foreign_data(task, response.content.decode())
        return response

    def check_no_foreign_data(self, task: TaskModel, text: str) -> None:
        foreign = {t.token for t in self.tasks if t is not task} & set(_TOKEN.findall(text))
        self.check(not foreign, f"task {task.id[:8]} shows data of other tasks: {foreign}")

    def record(self, task: TaskModel) -> dict[str, Any] | None:
        """The task's stored record. A read that fails fails the walk (the invariants must see
        broken reads), except for a task this walk corrupted, whose record is refused by design."""
        if task.gone:
            try:
                return self.store.get_state(task.id)
            except CorruptStateError:
                return None
        return self.store.get_state(task.id)

    @staticmethod
    def place_of(url: str) -> str | None:
        view = resolve(urlsplit(url).path).func
        place = getattr(view, "place", None)
        return place.name if place is not None else None

    def follow(self, task: TaskModel, tab: int, response: Any) -> None:
        """After a 302, follow it within the task (or notice the task finished)."""
        location = response["Location"]
        if "_t=" in location and parse_qs(urlsplit(location).query)["_t"][0] == task.id:
            page = self.request(task, self.browsers[task.browser], "GET", location)
            if page.status_code == 200:
                task.tabs[tab] = location
                task.hidden[tab] = hidden_values(page.content.decode())
                self.check_page(task, location, page)
        elif self.record(task) is not None and "done" in (self.record(task) or {}):
            task.finished = True

    def check_page(self, task: TaskModel, url: str, page: Any) -> None:
        """A page shows the answers last accepted on its step."""
        place = self.place_of(url)
        html = page.content.decode()
        if place is None or "<form" not in html:
            return
        self.forget_pruned(task)
        accepted = task.accepted.get(place)
        if accepted is None:
            return
        shown = shown_values(html)
        for name, value in accepted.items():
            if value is None:
                continue
            self.check(
                shown.get(name) == str(value),
                f"{place} of task {task.id[:8]} shows {name}={shown.get(name)!r}, accepted {value!r}",
            )

    def forget_pruned(self, task: TaskModel) -> None:
        """Steps the library took off the task's path (a branch left behind) keep no answers: the
        model forgets them too (tests/engine/test_answer_path.py checks which steps those are)."""
        record = self.record(task)
        if record is None or "done" in record:
            return
        kept = record.get("ans", {})
        for name in list(task.accepted):
            if name not in kept:
                STATS["answers of branches left behind"] += 1
                del task.accepted[name]

    def active(self) -> list[TaskModel]:
        """Tasks the walker still uses: live and finished ones (expired and corrupted ones are dropped)."""
        return [t for t in self.tasks if not t.gone]

    def live(self) -> list[TaskModel]:
        return [t for t in self.tasks if not t.finished and not t.gone]

    def stored(self) -> list[TaskModel]:
        """Live tasks that have a record (a task is stored from its first change on)."""
        return [t for t in self.live() if self.raw.exists(t.id)]

    # -- rules -------------------------------------------------------------------------

    @precondition(lambda self: len(self.active()) < 6)
    @rule(browser=st.integers(0, 3))
    def start_task(self, browser: int) -> None:
        """A new task, maybe in parallel with others in the same browser."""
        index = browser % len(self.browsers)
        response = self.request(None, self.browsers[index], "GET", self.ENTRY)
        self.check(response.status_code == 302, f"entry gave {response.status_code}")
        url = response["Location"]
        task = TaskModel(parse_qs(urlsplit(url).query)["_t"][0], index, url, f"tok{secrets.token_hex(4)}")
        self.tasks.append(task)
        page = self.request(task, self.browsers[index], "GET", url)
        self.check(page.status_code == 200, f"first page gave {page.status_code}")

    @precondition(lambda self: len(self.browsers) < 3)
    @rule()
    def new_browser(self) -> None:
        self.browsers.append(self._browser())

    @precondition(lambda self: self.active())
    @rule(data=st.data())
    def get_tab(self, data: st.DataObject) -> None:
        """Load (or reload) a tab's page."""
        task = data.draw(st.sampled_from(self.active()))
        tab = data.draw(st.integers(0, len(task.tabs) - 1))
        url = task.tabs[tab]
        response = self.request(task, self.browsers[task.browser], "GET", url)
        task.last[tab] = ("GET", url, None, False)
        self.expect_refusal_if_over(task, response)
        if response.status_code == 200:
            task.hidden[tab] = hidden_values(response.content.decode())
            self.check_page(task, url, response)
        elif response.status_code == 302:
            self.follow(task, tab, response)

    @precondition(lambda self: self.active())
    @rule(data=st.data(), valid=st.booleans(), number=st.integers(0, 10_000))
    def post_tab(self, data: st.DataObject, valid: bool, number: int) -> None:
        """Submit a tab's form, valid or not, whatever step the task is at now."""
        task = data.draw(st.sampled_from(self.active()))
        tab = data.draw(st.integers(0, len(task.tabs) - 1))
        url = task.tabs[tab]
        place = self.place_of(url)
        if place is None:
            return
        payload = self.valid_payload(task, place, number) if valid else self.invalid_payload(task, place)
        if payload is None:
            return
        self.submit(task, tab, url, place, payload, valid)

    def submit(
        self,
        task: TaskModel,
        tab: int,
        url: str,
        place: str,
        payload: dict[str, str],
        valid: bool,
        hidden: dict[str, str] | None = None,
    ) -> None:
        before = self.record(task)
        if before is None and not (task.gone or task.finished):
            # Lazy creation: a task has no record until its first change.
            before = {"pos": self.flow().root.first_leaf().name, "hist": [], "ans": {}, "version": 0}
        orders = self.orders(task.id)
        hidden = dict(task.hidden[tab] if hidden is None else hidden)
        body = {**hidden, "_t": task.id, **payload}
        response = self.request(task, self.browsers[task.browser], "POST", url, body)
        task.last[tab] = ("POST", url, (payload, hidden), valid)
        after = self.record(task)
        self.expect_refusal_if_over(task, response)
        if before is None or "done" in before:
            self.check(
                self.orders(task.id) == orders,
                f"a POST on finished or unknown task {task.id[:8]} ran a step",
            )
            return
        runs = place == before["pos"] or place in before.get("hist", [])
        moved = after is not None and after.get("version", 0) > before.get("version", 0)
        accepted = runs and valid and response.status_code == 302 and moved
        if accepted:
            self.accept(task, place, payload)
        elif after is not None and "done" not in after:
            self.check(
                after.get("ans", {}).get(place) == before.get("ans", {}).get(place),
                f"a refused POST on {place} changed its answers in task {task.id[:8]}",
            )
        if response.status_code == 302:
            self.follow(task, tab, response)
        elif response.status_code == 200:
            task.hidden[tab] = hidden_values(response.content.decode())

    def valid_payload(self, task: TaskModel, place: str, number: int) -> dict[str, str] | None:
        """Valid POST data for *place* in *task*, or None to skip it."""
        return valid_data(place, task.token, number)

    def invalid_payload(self, task: TaskModel, place: str) -> dict[str, str] | None:
        """POST data *place*'s form refuses, or None when every POST is valid there."""
        return invalid_data(place, task.token)

    def accept(self, task: TaskModel, place: str, payload: dict[str, str]) -> None:
        """Note what *place* accepted, as its page must show it again (never a password)."""
        task.accepted[place] = {k: v for k, v in payload.items() if k != "password"}

    def orders(self, task_id: str) -> int:
        """Orders the flow's last step created for *task_id*."""
        from tests.models import Order

        return Order.objects.filter(task_id=task_id).count()

    def flow(self) -> Any:
        return resolve(urlsplit(self.ENTRY).path).func.flow

    def expect_refusal_if_over(self, task: TaskModel, response: Any) -> None:
        if task.gone or task.finished:
            self.check(
                response.status_code in (404, 410), f"task {task.id[:8]} is over but answered {response.status_code}"
            )

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def back(self, data: st.DataObject) -> None:
        """The browser's back button to any earlier page of the task."""
        task = data.draw(st.sampled_from(self.live()))
        record = self.record(task)
        if not record or "done" in record or not record.get("hist"):
            return
        place = data.draw(st.sampled_from(record["hist"]))
        url = self._url_of(task, place)
        response = self.request(task, self.browsers[task.browser], "GET", url)
        self.check(response.status_code in (200, 302), f"back to {place} gave {response.status_code}")
        task.tabs[0] = url
        task.last[0] = ("GET", url, None, False)
        if response.status_code == 200:
            task.hidden[0] = hidden_values(response.content.decode())
            self.check_page(task, url, response)
            record = self.record(task)
            self.check(
                record is not None and record.get("pos") == place,
                f"back to {place} left task {task.id[:8]} at {record and record.get('pos')}",
            )

    def _url_of(self, task: TaskModel, place: str) -> str:
        from django.urls import reverse

        namespace = resolve(urlsplit(self.ENTRY).path).namespace
        return f"{reverse(f'{namespace}:{place}')}?_t={task.id}"

    @precondition(lambda self: self.active())
    @rule(data=st.data())
    def refresh(self, data: st.DataObject) -> None:
        """The browser's refresh: send a tab's last request again (a double submit for a POST)."""
        task = data.draw(st.sampled_from(self.active()))
        tab = data.draw(st.integers(0, len(task.tabs) - 1))
        method, url, body, valid = task.last[tab]
        if method == "GET":
            response = self.request(task, self.browsers[task.browser], "GET", url)
            self.expect_refusal_if_over(task, response)
            return
        place = self.place_of(url)
        if place is not None:
            payload, hidden = body
            self.submit(task, tab, url, place, payload, valid, hidden)

    @precondition(lambda self: self.active())
    @rule(data=st.data())
    def second_tab(self, data: st.DataObject) -> None:
        """Open a tab's page in a second tab of the same browser."""
        task = data.draw(st.sampled_from(self.active()))
        if len(task.tabs) < 3:
            task.tabs.append(task.tabs[-1])
            task.last.append(task.last[-1])
            task.hidden.append(dict(task.hidden[-1]))

    @precondition(lambda self: self.active())
    @rule(data=st.data(), post=st.booleans(), malformed=st.booleans())
    def forged_id(self, data: st.DataObject, post: bool, malformed: bool) -> None:
        """A made-up task id on a real step URL: refused, and nothing is created."""
        task = data.draw(st.sampled_from(self.active()))
        forged = "../" + secrets.token_hex(8) if malformed else secrets.token_urlsafe(24)
        url = f"{urlsplit(task.tabs[0]).path}?_t={forged}"
        browser = self.browsers[task.browser]
        response = self.request(None, browser, "POST" if post else "GET", url, {"_t": forged} if post else None)
        self.check(response.status_code in (404, 410), f"forged id answered {response.status_code}")
        self.check(malformed or not self.raw.exists(forged), "a forged id created a record")

    @precondition(lambda self: self.active())
    @rule(data=st.data(), post=st.booleans(), number=st.integers(0, 100))
    def other_session(self, data: st.DataObject, post: bool, number: int) -> None:
        """Another browser uses a task's id: refused, and the task is unchanged.

        A task with no record yet (nothing submitted) holds no data: another
        session's GET may show its blank first page, but never creates a record.
        """
        task = data.draw(st.sampled_from(self.active()))
        intruder = self._browser()
        before = self.record(task)
        url = task.tabs[0]
        place = self.place_of(url)
        payload = {**task.hidden[0], "_t": task.id, **(self.valid_payload(task, place, number) or {})}
        response = self.request(None, intruder, "POST" if post else "GET", url, payload if post else None)
        allowed = (404, 410) if post or before is not None else (200, 404, 410)
        self.check(response.status_code in allowed, f"another session got {response.status_code}")
        if response.status_code == 200:
            self.check(task.token not in response.content.decode(), "another session saw a task's data")
        after = self.record(task)
        self.check(_same(before, after), f"another session changed task {task.id[:8]}")

    @precondition(lambda self: self.stored())
    @rule(data=st.data())
    def idle_past_timeout(self, data: st.DataObject) -> None:
        """The clock moves past the idle timeout for one task."""
        task = data.draw(st.sampled_from(self.stored()))
        self.raw.expire(task.id, self.IDLE)
        task.gone = True
        response = self.request(task, self.browsers[task.browser], "GET", task.tabs[0])
        if response.status_code == 200:
            # Only the record's clock moved, not the id's: an id issued less than the idle
            # timeout ago is taken as a new, empty task. Its page shows none of the old answers.
            first = self.flow().root.first_leaf().name
            self.check(self.place_of(task.tabs[0]) == first, f"an expired task showed {task.tabs[0]}")
            shown = set(shown_values(response.content.decode()).values())
            old = {str(v) for v in task.accepted.get(first, {}).values()}
            # What the URL itself carries (the flow's carry_query) is the URL's, not a kept answer.
            query = parse_qs(urlsplit(task.tabs[0]).query)
            carried = {v for arg in self.flow().component.carry_query for v in query.get(arg, [])}
            old -= carried
            self.check(not (shown & old), f"an expired task showed its old answers {shown & old}")
        else:
            self.check(response.status_code == 410, f"an expired task answered {response.status_code}")

    @precondition(lambda self: self.stored())
    @rule(
        data=st.data(),
        garbage=st.sampled_from(
            [
                b"\xc1\xc1",
                b"",
                b"1\n\x93\x01",
                msgpack.packb({"version": 1, "pos": "Nowhere", "data": {}}),
                msgpack.packb({"version": 3, "pos": None, "data": [], "hist": "x"}),
                b"\x00" * 64,
            ]
        ),
    )
    def corrupt(self, data: st.DataObject, garbage: bytes) -> None:
        """The stored bytes of one task are overwritten with garbage."""
        task = data.draw(st.sampled_from(self.stored()))
        self.raw.corrupt(task.id, garbage)
        task.gone = True
        response = self.request(task, self.browsers[task.browser], "GET", task.tabs[0])
        self.check(response.status_code in (404, 410), f"a corrupt task answered {response.status_code}")

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def positions_are_states_of_the_machine(self) -> None:
        STATS["steps"] += 1
        for task in self.tasks:
            if task.gone:
                continue
            record = self.record(task)
            if record is None or "done" in record:
                continue
            place = self.flow().places.get(record.get("pos"))
            self.check(place is not None and place.is_action, f"task {task.id[:8]} stored at {record.get('pos')!r}")
            text = repr(record)
            foreign = {t.token for t in self.tasks if t is not task} & set(_TOKEN.findall(text))
            self.check(not foreign, f"task {task.id[:8]} stores data of other tasks: {foreign}")
            self.forget_pruned(task)
            for name, answers in task.accepted.items():
                stored = {k: v for k, v in record.get("ans", {}).get(name, {}).items() if k in answers}
                self.check(stored == answers, f"{name} of task {task.id[:8]} stores {stored}, accepted {answers}")

    @invariant()
    def last_steps_run_at_most_once(self) -> None:
        for task in self.tasks:
            orders = self.orders(task.id)
            self.check(orders <= 1, f"task {task.id[:8]} ran its last step {orders} times")
            if task.finished:
                self.check(orders == 1, f"finished task {task.id[:8]} has {orders} orders")


def _same(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    if before is None or after is None:
        return before is None and after is None
    return before.get("version") == after.get("version") and before.get("ans") == after.get("ans")


# -- the tests ----------------------------------------------------------------------------


@pytest.fixture(params=["db", "redis"])
def store_kind(request: pytest.FixtureRequest) -> Any:
    if request.param == "db":
        with override_settings(FLOWS_STATE_STORE="flowmachine.backends.db", ROOT_URLCONF="tests.reliability_flows"):
            yield DbRaw()
    else:
        prefix = f"fm-walk-{uuid.uuid4().hex}:"
        raw = RedisRaw(prefix)
        try:
            with override_settings(
                FLOWS_STATE_STORE="flowmachine.backends.redis",
                FLOWS_REDIS_URL=django_settings.REDIS_URL,
                FLOWS_REDIS_KEY_PREFIX=prefix,
                ROOT_URLCONF="tests.reliability_flows",
            ):
                yield raw
        finally:
            raw.cleanup()


def _run(machine: type[FlowWalk], raw: Any, name: str, profile: settings | None = None) -> None:
    machine.raw = raw
    steps, violations = STATS["steps"], STATS["violations"]
    try:
        run_state_machine_as_test(machine, settings=profile or settings.get_profile(PROFILE))
    finally:
        print(
            f"\nrandom walk {name} [{PROFILE}]: {STATS['steps'] - steps} steps, "
            f"{STATS['violations'] - violations} invariant violations"
        )


class CheckoutWalk(FlowWalk):
    ENTRY = "/buy/"


class DeepWalk(FlowWalk):
    ENTRY = "/deep/"


def test_random_walk_checkout(store_kind: Any, shopper: Any, request: pytest.FixtureRequest) -> None:
    _run(CheckoutWalk, store_kind, f"checkout/{request.node.callspec.id}")


def test_random_walk_deep_flow(store_kind: Any, request: pytest.FixtureRequest) -> None:
    _run(DeepWalk, store_kind, f"deep/{request.node.callspec.id}")
