"""Stale pages: each form carries the change of the task it was rendered from (``_v``).

A POST for the current step from a page older than the task's last move (an
old tab, a refresh after another tab moved on) is refused with 409 and the
current step shown afresh; a POST for an earlier step is a back-edit; normal
use in one tab, including invalid forms, never trips the check.
"""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.test import Client

from flowmachine.backends import get_store
from tests.models import Order

pytestmark = pytest.mark.django_db

LOGIN = {"choice": "login", "username": "alice", "password": "s3cret-pass"}
_HIDDEN = re.compile(r'<input type="hidden" name="(_t|_v)" value="([^"]*)">')


class Tab:
    """One browser tab: remembers the last page it showed and posts that page's hidden fields."""

    def __init__(self, client: Client, url: str = "") -> None:
        self.client, self.url, self.html = client, url, ""

    def open(self, url: str) -> Tab:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        self.url, self.html = url, response.content.decode()
        return self

    @property
    def hidden(self) -> dict[str, str]:
        return dict(_HIDDEN.findall(self.html))

    def submit(self, data: dict[str, str], *, with_version: bool = True) -> object:
        payload = {**self.hidden, **data}
        if not with_version:
            payload.pop("_v", None)
        response = self.client.post(self.url, payload)
        if response.status_code == 302 and "_t=" in response["Location"]:
            self.open(response["Location"])
        elif response.status_code in (200, 409):
            self.html = response.content.decode()
        return response


def start(client: Client) -> Tab:
    response = client.get("/buy/")
    assert response.status_code == 302
    return Tab(client).open(response["Location"])


def record(tab: Tab) -> dict:
    return get_store().get_state(tab.hidden["_t"])


def to_confirm(tab: Tab, item: str = "lamp") -> None:
    assert tab.submit({"item": item}).status_code == 302
    assert tab.submit(LOGIN).status_code == 302
    assert tab.submit({"method": "saved"}).status_code == 302
    assert tab.url.startswith("/buy/confirm/")


def test_every_form_carries_the_task_and_its_version(client):
    tab = start(client)
    assert set(tab.hidden) == {"_t", "_v"}
    assert tab.hidden["_v"].isdigit()


def test_one_tab_with_invalid_forms_and_reposts_is_never_refused(client, shopper):
    tab = start(client)
    assert tab.submit({"item": "no-such-item"}).status_code == 200  # form errors, same page
    assert tab.submit({"item": "no-such-item"}).status_code == 200  # and again from the re-rendered page
    assert tab.submit({"item": "lamp"}).status_code == 302
    assert tab.submit({"choice": "login", "username": "alice", "password": "wrong"}).status_code == 200
    assert tab.submit(LOGIN).status_code == 302
    tab.open(tab.url)  # a refresh
    assert tab.submit({"method": "saved"}).status_code == 302
    assert tab.submit({})["Location"] == "/done/"
    assert Order.objects.get().item == "lamp"


def test_a_valid_post_that_re_renders_with_errors_is_not_refused_next_time(client, shopper):
    """EnterCode accepts the form, then refuses the code: its re-rendered page must still post."""
    tab = start(client)
    tab.submit({"item": "lamp"})
    tab.submit({"choice": "forgot"})
    tab.submit({"email": "alice@example.com"})
    assert "/forgot/enter-code/" in tab.url
    assert tab.submit({"code": "000000"}).status_code == 200
    assert tab.submit({"code": "123456"}).status_code == 302
    assert "/forgot/reset-password/" in tab.url


def test_an_old_tab_confirming_a_changed_summary_is_refused_and_shown_the_current_step(client, shopper):
    old = start(client)
    to_confirm(old, "lamp")
    task_id = old.hidden["_t"]
    # another tab goes back to the first step, changes the item and comes back to confirm
    new = Tab(client).open(f"/buy/item/?_t={task_id}")
    new.submit({"item": "mug"})
    new.submit(LOGIN)
    new.submit({"method": "saved"})
    assert new.url.startswith("/buy/confirm/")
    before = record(old)

    response = old.submit({})
    assert response.status_code == 409
    html = response.content.decode()
    assert "This page was out of date" in html
    assert "Buying: mug" in html  # the current step, afresh
    assert Order.objects.count() == 0
    assert record(old) == before  # nothing of the refused POST was kept
    assert old.hidden["_v"] == new.hidden["_v"] != ""
    # submitting the fresh page goes through
    assert old.submit({})["Location"] == "/done/"
    assert Order.objects.get().item == "mug"


def test_a_refresh_of_the_same_step_after_another_tab_moved_through_it_is_refused(client, shopper):
    """Both tabs show the login step; one moves on and comes back via Back: the other's page is stale."""
    first = start(client)
    first.submit({"item": "lamp"})
    second = Tab(client).open(first.url)
    second.submit(LOGIN)
    second.open(f"/buy/account/login/?_t={first.hidden['_t']}")  # Back to the login step
    response = first.submit({"choice": "register"})
    assert response.status_code == 409
    assert record(first)["pos"] == "Purchase.GetUserAccount.LoginOrRegister"


def test_a_post_for_an_earlier_step_is_a_back_edit_of_that_step_only(client, shopper):
    old = start(client)
    item_page = Tab(client, old.url)
    item_page.html = old.html  # the first page, kept open in another tab
    old.submit({"item": "lamp"})
    old.submit(LOGIN)
    old.submit({"method": "saved"})
    assert old.url.startswith("/buy/confirm/")
    # the earlier page was rendered before three moves: it is a back-edit, not refused
    response = item_page.submit({"item": "book"})
    assert response.status_code == 302
    assert item_page.url.startswith("/buy/account/login/")
    state = record(old)
    assert state["data"]["item"] == "book"
    assert state["data"]["user"] == "alice"  # what other steps stored is kept
    assert state["pos"] == "Purchase.GetUserAccount.LoginOrRegister"


def test_a_post_without_the_version_field_is_accepted(client, shopper):
    """Templates that do not use {% flow_form_header %} post no _v: they keep working, unchecked."""
    old = start(client)
    to_confirm(old, "lamp")
    new = Tab(client).open(f"/buy/item/?_t={old.hidden['_t']}")
    new.submit({"item": "mug"})
    new.submit(LOGIN)
    new.submit({"method": "saved"})
    response = old.submit({}, with_version=False)
    assert response["Location"] == "/done/"


@pytest.mark.parametrize("value", ["", "abc", "-1", "99999"])
def test_a_version_that_is_not_the_tasks_is_refused(client, shopper, value):
    tab = start(client)
    tab.submit({"item": "lamp"})
    before = record(tab)
    response = client.post(tab.url, {"_t": tab.hidden["_t"], "_v": value, **LOGIN})
    assert response.status_code == 409
    assert record(tab) == before


def test_the_template_tags_emit_the_version_field(client):
    tab = start(client)
    response = client.get(tab.url)
    flow = response.context["flow"]
    rendered = Template("{% load flowmachine %}{% flow_task_field %}").render(Context({"flow": flow}))
    assert f'name="_v" value="{flow.version}"' in rendered
    assert f'name="_t" value="{flow.task_id}"' in rendered
