"""Stateful random testing of the demo shop's real checkout, with every branch.

Hypothesis walks ``Purchase`` (demo/shop/flows.py) through the Django test
client as several browsers, tabs and attackers: log in, register, forgot
password (email, the emailed code, a new password), a saved method, a card, a
bank account, the PayPal sandbox hand-off, the summary's Change links and the
done page, mixed with back, refresh, second tabs, parallel tasks, forged and
foreign ids, expiry and corrupted records. The machinery and invariants are
those of tests/web/test_random_walk.py, plus: one order per finished task.

It runs in the demo's settings, with demo/ on the path::

    PYTHONPATH=demo:. pytest -s tests/demo/test_random_walk.py --ds=demo_site.settings

and the suite runs it that way from tests/demo/test_random_walk_in_demo_settings.py, on the db
and the Redis store (``FLOWS_DEMO_STORE``).
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps

if not apps.is_installed("shop"):
    pytest.skip(
        "runs in the demo's settings: see tests/demo/test_random_walk_in_demo_settings.py", allow_module_level=True
    )

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule
from shop.management.commands.seed_demo import EMAIL, PASSWORD, SAVED_CARD, USERNAME
from shop.models import Order, Product, SavedPaymentMethod

from flowmachine.binding import SESSION_KEY
from flowmachine.models import TaskRecord
from tests.web.test_random_walk import PROFILE, STATS, DbRaw, FlowWalk, RedisRaw, TaskModel, _run, hidden_values

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("demo_site.urls")]

CARD = "4242 4242 4242 4242"  # Luhn-valid
BAD_CARD = "4242 4242 4242 4241"
EXPIRY = f"{(date.today().month % 12) + 1:02d}/{(date.today().year + 3) % 100:02d}"
IBAN = "GB82 WEST 1234 5698 7654 32"
BAD_IBAN = "GB82 WEST 1234 5698 7654 33"
#: Which payment branch each page belongs to.
BRANCH = {"CardNumber": "card", "BankDetails": "bank", "AccountAddress": "bank", "PayPal": "paypal"}
#: Pages whose answers the walk compares with the page (the others vary with who is logged in).
CHECKED = {"ChooseItem", "Register", "EnterEmail", "EnterCode", "PaymentChoice", *BRANCH}
_LINK = re.compile(r'<a href="([^"]+)"')
_CODE = re.compile(r"\b\d{6}\b")

#: The profiles' sizes for this walk: a demo step is cheap (SQLite, one process), so more fit in the time.
SIZES = {
    "ci": {"max_examples": 100, "stateful_step_count": 60},
    "long": {"max_examples": 500, "stateful_step_count": 100},
}
PROFILE_SETTINGS = settings(settings.get_profile(PROFILE), **SIZES.get(PROFILE, {}))

#: Users the walk can log in as: username -> (email, current password). Reset per example.
USERS: dict[str, tuple[str, str]] = {}


def local(place: str) -> str:
    """An action's own name, from its state name."""
    return place.rsplit(".", 1)[-1]


def strong_password() -> str:
    """A fresh password Django's validators accept."""
    return f"Walk-{secrets.token_hex(6)}-pass"


def reset_the_shop(raw: Any) -> None:
    """Each example starts from the seeded shop, no tasks, no mail: hypothesis replays examples, so one
    must not see what another left (users, saved methods, orders)."""
    Order.objects.all().delete()
    get_user_model().objects.exclude(username=USERNAME).delete()
    SavedPaymentMethod.objects.exclude(label=SAVED_CARD).delete()
    call_command("seed_demo", verbosity=0, stdout=io.StringIO())  # the demo user's password again
    TaskRecord.objects.all().delete()
    if isinstance(raw, RedisRaw):
        keys = list(raw.client.scan_iter(match=f"{raw.prefix}*"))
        if keys:
            raw.client.delete(*keys)
    mail.outbox.clear()
    USERS.clear()
    USERS[USERNAME] = (EMAIL, PASSWORD)


@dataclass
class Extra:
    """What the walker knows of one demo task beyond TaskModel: its reset and payment branch."""

    reset_user: str | None = None
    code: str | None = None
    kind: str | None = None
    new_password: str | None = None


class DemoWalk(FlowWalk):
    """Random browsing of the demo checkout."""

    ENTRY = "/buy/"

    def __init__(self) -> None:
        reset_the_shop(self.raw)
        super().__init__()
        self.IDLE = int(django_settings.FLOWS_TASK_IDLE_TIMEOUT)
        self.extra: dict[str, Extra] = {}
        self.hand_offs = 0
        self.attempts = 0

    def _browser(self) -> Client:
        return Client()

    def check(self, condition: bool, message: str) -> None:
        """As FlowWalk's, printing each violation (the figures go to docs/reliability.md)."""
        if not condition:
            print(f"invariant violated: {message}")
        super().check(condition, message)

    def orders(self, task_id: str) -> int:
        return Order.objects.filter(task_id=task_id).count()

    def x(self, task: TaskModel) -> Extra:
        """The walker's extra knowledge of *task*."""
        return self.extra.setdefault(task.id, Extra())

    def user_of(self, browser: Client) -> str | None:
        """The username a browser is logged in as, or None."""
        pk = browser.session.get("_auth_user_id")
        user = get_user_model().objects.filter(pk=pk).first() if pk else None
        return user.get_username() if user else None

    # -- what each page accepts ----------------------------------------------------

    def valid_payload(self, task: TaskModel, place: str, number: int) -> dict[str, str] | None:
        name, browser = local(place), self.browsers[task.browser]
        user = self.user_of(browser)
        if name == "ChooseItem":
            products = list(Product.objects.values_list("pk", flat=True))
            return {"product": str(products[number % len(products)])}
        if name == "LoginOrRegister":
            if user is not None:
                return {}
            username = sorted(USERS)[number % len(USERS)]
            return {"username": username, "password": USERS[username][1]}
        if name == "Register":
            self.attempts += 1  # a fresh name per attempt, the same on a replay of the example
            username = f"buyer{self.attempts}"
            password = strong_password()
            return {
                "username": username,
                "email": f"{username}@example.com",
                "password1": password,
                "password2": password,
            }
        if name == "EnterEmail":
            if number % 5 == 0:
                return {"email": f"nobody{number}@example.com"}  # no account: no code is sent
            username = user or sorted(USERS)[number % len(USERS)]
            return {"email": USERS[username][0]}
        if name == "EnterCode":
            return {"code": self.x(task).code or f"{number % 10**6:06d}"}
        if name == "ResetPassword":
            password = self.x(task).new_password = strong_password()
            return {"new_password1": password, "new_password2": password}
        if name == "PaymentChoice":
            saved = [f"saved:{m.pk}" for m in SavedPaymentMethod.objects.filter(user__username=user)[:5]]
            methods = [*saved[:1], "card", "bank", "paypal"]
            return {"method": methods[number % len(methods)]}
        if name == "CardNumber":
            return {"number": CARD, "expiry": EXPIRY, **({"save": "on"} if number % 3 == 0 else {})}
        if name == "BankDetails":
            # Answers carrying the task's token are never saved: a saved method is the user's, not the task's.
            return {"holder": f"{task.token} holder", "iban": IBAN}
        if name == "AccountAddress":
            return {"street": f"{number} {task.token} street", "postcode": "SW1Y 4JH", "city": "London"}
        if name in ("PayPal", "Confirm"):
            return {}
        raise AssertionError(f"no data for {place}")

    def invalid_payload(self, task: TaskModel, place: str) -> dict[str, str] | None:
        name = local(place)
        if name == "LoginOrRegister" and self.user_of(self.browsers[task.browser]) is not None:
            return None
        code = self.x(task).code
        wrong_code = f"{(int(code) + 1) % 10**6:06d}" if code else "12345x"
        return {
            "ChooseItem": {"product": "999999"},
            "LoginOrRegister": {"username": USERNAME, "password": f"wrong-{task.token}"},
            "Register": {"username": USERNAME, "email": "x", "password1": "a", "password2": "b"},
            "EnterEmail": {"email": "not-an-address"},
            "EnterCode": {"code": wrong_code},
            "ResetPassword": {"new_password1": "short", "new_password2": "other"},
            "PaymentChoice": {"method": "cash"},
            "CardNumber": {"number": BAD_CARD, "expiry": EXPIRY},
            "BankDetails": {"holder": f"{task.token} holder", "iban": BAD_IBAN},
            "AccountAddress": {"street": "", "postcode": "", "city": ""},
        }.get(name)

    def accept(self, task: TaskModel, place: str, payload: dict[str, str]) -> None:
        """Note what a page accepted, and what it did to the task's branch, reset and users."""
        name, extra = local(place), self.x(task)
        STATS[f"accepted {name}"] += 1
        if name in CHECKED:
            task.accepted[place] = {
                k: v for k, v in payload.items() if k not in ("number", "iban", "save") and "password" not in k
            }
        if name == "Register":
            USERS[payload["username"]] = (payload["email"], payload["password1"])
        elif name == "EnterEmail":
            owner = get_user_model().objects.filter(email__iexact=payload["email"]).first()
            extra.reset_user = owner.get_username() if owner else None
            sent = [m for m in mail.outbox if payload["email"] in m.to]
            extra.code = _CODE.search(sent[-1].body)[0] if owner and sent else None  # type: ignore[index]
        elif name == "ResetPassword" and extra.reset_user:
            USERS[extra.reset_user] = (USERS[extra.reset_user][0], str(extra.new_password))
            for index, browser in enumerate(self.browsers):
                # A new password logs the user's other sessions out: their tasks end.
                if index != task.browser and self.user_of(browser) == extra.reset_user:
                    for other in self.tasks:
                        if other.browser == index and not other.finished:
                            other.gone = True
        elif name == "PaymentChoice":
            method = payload["method"]
            self.choose_kind(task, "saved" if method.startswith("saved:") else method, keep_choice=True)
        elif name in ("CardNumber", "BankDetails"):
            self.choose_kind(task, BRANCH[name])

    def choose_kind(self, task: TaskModel, kind: str, keep_choice: bool = False) -> None:
        """The demo drops the answers of the other payment branches when the branch changes."""
        extra = self.x(task)
        if extra.kind == kind:
            return
        extra.kind = kind
        for place in list(task.accepted):
            name = local(place)
            if BRANCH.get(name, kind) != kind or (name == "PaymentChoice" and not keep_choice):
                del task.accepted[place]

    # -- requests --------------------------------------------------------------------

    def submit(self, task: TaskModel, tab: int, url: str, place: str, *args: Any, **kwargs: Any) -> None:
        """A POST. Logging in rotates the browser's CSRF secret, which binds the ids without a record;
        a login() that flushes the session (another user, a new password) ends the browser's other tasks."""
        browser = self.browsers[task.browser]
        user, binder = self.user_of(browser), browser.session.get(SESSION_KEY)
        super().submit(task, tab, url, place, *args, **kwargs)
        if self.user_of(browser) == user and browser.session.get(SESSION_KEY) == binder:
            return
        STATS["logins"] += 1
        flushed = browser.session.get(SESSION_KEY) != binder
        for other in self.tasks:
            if other is task or other.browser != task.browser or other.finished or other.gone:
                continue
            if flushed or not self.raw.exists(other.id):
                other.gone = True

    def follow(self, task: TaskModel, tab: int, response: Any) -> None:
        """Follow redirects within the task, through the PayPal sandbox, to the done page."""
        browser = self.browsers[task.browser]
        for _ in range(4):
            location = response["Location"]
            path = urlsplit(location).path
            if path == reverse("paypal_sandbox"):
                response = self.paypal(task, location)
                if response is None:
                    return
                continue
            query = parse_qs(urlsplit(location).query)
            if query.get("_t", [None])[0] == task.id:
                page = self.request(task, browser, "GET", location)
                if page.status_code == 302:
                    if "paypal_token" in query:
                        self.choose_kind(task, "paypal")
                    response = page
                    continue
                if page.status_code == 200:
                    task.tabs[tab] = location
                    task.last[tab] = ("GET", location, None, False)
                    task.hidden[tab] = _hidden(page)
                    self.check_page(task, location, page)
                return
            record = self.record(task)
            if record is not None and "done" in record:
                task.finished = True
                done = self.request(None, browser, "GET", location)
                self.check(done.status_code == 200, f"the done page gave {done.status_code}")
                STATS["orders"] += 1
            return

    def paypal(self, task: TaskModel, location: str) -> Any:
        """The sandbox: approve (or, one time in four, cancel) and go back to the return address."""
        STATS["PayPal hand-offs"] += 1
        self.hand_offs += 1
        browser = self.browsers[task.browser]
        page = self.request(None, browser, "GET", location)
        self.check(page.status_code == 200, f"the PayPal sandbox gave {page.status_code}")
        query = parse_qs(urlsplit(location).query)
        body = {"return": query["return"][0], "nonce": query["nonce"][0], "email": f"{task.token}@paypal.example"}
        if self.hand_offs % 4 == 0:
            body["cancel"] = "1"
        back = self.request(None, browser, "POST", location.split("?")[0], body)
        self.check(back.status_code == 302, f"the PayPal sandbox answered {back.status_code}")
        return back if back.status_code == 302 else None

    # -- more rules: a buyer who keeps going, the links of the pages ------------------------

    @precondition(lambda self: self.live())
    @rule(data=st.data(), pages=st.integers(1, 10), number=st.integers(0, 10_000))
    def keep_going(self, data: st.DataObject, pages: int, number: int) -> None:
        """Answer a few pages in a row in one tab, as a buyer does, now and then taking one of their links."""
        task = data.draw(st.sampled_from(self.live()))
        for _ in range(pages):
            if task.finished or task.gone:
                return
            url = task.tabs[0]
            page = self.request(task, self.browsers[task.browser], "GET", url)
            place = self.place_of(url)
            if page.status_code != 200 or place is None:
                return
            task.hidden[0] = _hidden(page)
            links = self.links(task.id, page.content.decode())
            way = data.draw(st.integers(0, 2))
            wanted = [u for u in links if way and f"_to={('Register', 'ForgotPassword')[way - 1]}" in u]
            if wanted:  # at the log-in page: register or forgot the password, two times in three
                self.open_link(task, 0, wanted[0])
                continue
            if links and data.draw(st.integers(0, 3)) == 0:  # another link now and then
                self.open_link(task, 0, links[data.draw(st.integers(0, 7)) % len(links)])
                continue
            payload = self.valid_payload(task, place, number + len(task.accepted))
            if payload is not None:
                self.submit(task, 0, url, place, payload, True)

    @rule(browser=st.integers(0, 3), now=st.integers(0, 7))
    def log_out(self, browser: int, now: int) -> None:
        """Log a browser out (one time in eight): that ends every task it had (the binding lives in the session)."""
        index = browser % len(self.browsers)
        if now or self.user_of(self.browsers[index]) is None:
            return
        response = self.request(None, self.browsers[index], "POST", "/logout/")
        self.check(response.status_code == 302, f"logging out gave {response.status_code}")
        STATS["logouts"] += 1
        for task in self.tasks:
            if task.browser == index and not task.finished:
                task.gone = True

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def follow_a_link(self, data: st.DataObject) -> None:
        """Click a link of a tab's page: a Change link, a step of the trail, another way in or to pay."""
        task = data.draw(st.sampled_from(self.live()))
        tab = data.draw(st.integers(0, len(task.tabs) - 1))
        page = self.request(task, self.browsers[task.browser], "GET", task.tabs[tab])
        if page.status_code == 200:
            self.click(task, tab, page, data)

    def click(self, task: TaskModel, tab: int, page: Any, data: st.DataObject) -> None:
        """Follow one of the task's links on *page* in *tab*, if it has any."""
        links = self.links(task.id, page.content.decode())
        if links:
            # A fixed range: which links a page has depends on the database, which outlives one example.
            self.open_link(task, tab, links[data.draw(st.integers(0, 7)) % len(links)])

    @staticmethod
    def links(task_id: str, html: str) -> list[str]:
        """The links of a page that stay in the task *task_id*."""
        return [unescape(u) for u in _LINK.findall(html) if f"_t={task_id}" in unescape(u)]

    def open_link(self, task: TaskModel, tab: int, url: str) -> None:
        """GET a link of the task's page in *tab*, and follow where it leads."""
        STATS["links"] += 1
        STATS["change links"] += "_r=" in url
        response = self.request(task, self.browsers[task.browser], "GET", url)
        self.check(response.status_code in (200, 302), f"link {url} gave {response.status_code}")
        if response.status_code == 200:
            task.tabs[tab] = url
            task.last[tab] = ("GET", url, None, False)
            task.hidden[tab] = _hidden(response)
            self.check_page(task, url, response)
        elif response.status_code == 302:
            self.follow(task, tab, response)


def _hidden(page: Any) -> dict[str, str]:
    return hidden_values(page.content.decode())


@pytest.fixture
def demo_store() -> Iterator[Any]:
    """The demo's products and user, fast password hashing, and raw access to the configured store."""
    quiet = logging.getLogger("flowmachine")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the walk's refusals are expected: keep -s output to the figures
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        reset_the_shop(None)
        if django_settings.FLOWS_STATE_STORE == "flowmachine.backends.redis":
            raw = RedisRaw(django_settings.FLOWS_REDIS_KEY_PREFIX, django_settings.FLOWS_REDIS_URL)
            try:
                yield raw
            finally:
                raw.cleanup()
        else:
            yield DbRaw()
    quiet.setLevel(level)


@pytest.mark.slow
def test_random_walk_demo_checkout(demo_store: Any) -> None:
    """The walk, then its figures: what it did and which pages it got accepted (-s shows them)."""
    before = dict(STATS)
    _run(DemoWalk, demo_store, f"demo checkout/{django_settings.FLOWS_DEMO_STORE}", PROFILE_SETTINGS)
    walked = {k: v - before.get(k, 0) for k, v in STATS.items()}
    did = ["requests", "logins", "logouts", "PayPal hand-offs", "links", "change links", "orders"]
    print("demo checkout: " + ", ".join(f"{walked.get(k, 0)} {k}" for k in did))
    print(
        "accepted pages: " + ", ".join(f"{k[9:]} {v}" for k, v in sorted(walked.items()) if k.startswith("accepted "))
    )


# -- failures the walk found, kept as focused tests ---------------------------------------


def _go(client: Client, response: Any) -> tuple[str, str]:
    """Follow redirects; the final URL and page."""
    url = ""
    while response.status_code == 302:
        url = response["Location"]
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return url, response.content.decode()


def _post(client: Client, url: str, html: str, data: dict[str, str]) -> tuple[str, str]:
    return _go(client, client.post(url, {**hidden_values(html), **data}))


def test_the_back_button_never_returns_to_a_used_reset_code_or_password_page(demo_store: Any) -> None:
    """Back to the code page after the code was used (or to the new-password page after it was set) was a
    dead end: the step was in the trail, its RequiredState refused it with a 409 and the task stayed there."""
    client = Client()
    url, html = _go(client, client.get("/buy/"))
    url, html = _post(client, url, html, {"product": str(Product.objects.first().pk)})
    task_id = parse_qs(urlsplit(url).query)["_t"][0]
    forgot = next(u for u in DemoWalk.links(task_id, html) if "_to=ForgotPassword" in u)
    url, html = _go(client, client.get(forgot))
    url, html = _post(client, url, html, {"email": EMAIL})
    code_url = url
    url, html = _post(client, url, html, {"code": _CODE.search(mail.outbox[-1].body)[0]})  # type: ignore[index]
    assert "/password/" in url
    assert client.get(code_url).status_code == 302  # not in the trail: back to the current step
    password_url = url
    url, html = _post(client, url, html, {"new_password1": "Walk-new-pass-1", "new_password2": "Walk-new-pass-1"})
    assert "/pay/how/" in url
    for used in (code_url, password_url):
        response = client.get(used)
        assert response.status_code == 302 and "/pay/how/" in response["Location"], used
    email_url = code_url.replace("/code/", "/email/")
    assert client.get(email_url).status_code == 200  # the back button's step before: ask for a new code
