"""A journey that completes with nowhere to go: a clear page, its answers kept (never a bare 500)."""

from __future__ import annotations

import types

import pytest
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold, registry
from flowmachine.backends import get_store
from flowmachine.exceptions import FinishError
from tests.walker import Walker


class NowhereStep(Action):
    template_name = "shop/step.html"

    def form_valid(self, form):
        self.state["sent"] = True
        return COMPLETE


class NowhereFirst(Action):
    template_name = "shop/step.html"


class NowhereFlow(Scaffold):
    transition = Linear
    action_set = [NowhereFirst, NowhereStep]


@pytest.fixture
def nowhere_urls(settings):
    with registry.isolated():
        handler = FlowHandler(app_namespace="nowhere")  # no on_complete_url
        handler.register_entry_point(NowhereFlow)
        urlconf = types.ModuleType("nowhere_urls")
        urlconf.urlpatterns = [path("nowhere/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield


@pytest.mark.django_db
def test_the_last_step_without_an_on_complete_url_shows_a_clear_page_and_keeps_the_answers(
    client, nowhere_urls, caplog
):
    walker = Walker(client, entry="/nowhere/").start()
    walker.post({})
    before = get_store().get_state(walker.task_id)
    response = walker.post({"x": "1"}, expect=500)
    page = response.content.decode()
    assert "cannot be finished right now" in page and "Your answers are kept" in page
    assert get_store().get_state(walker.task_id) == before  # the last step was rolled back whole
    assert any("nowhere to go" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_in_debug_the_developer_sees_the_error_and_its_hint(client, nowhere_urls, settings):
    settings.DEBUG = True
    walker = Walker(client, entry="/nowhere/").start()
    walker.post({})
    with pytest.raises(FinishError, match="on_complete_url"):
        client.post(walker.url, {"_t": walker.task_id})


# -- an on-complete URL worked out as the task finishes ----------------------------------------

ASKED: list[tuple[str, dict]] = []


def _receipt_url(request, task_id, state):
    """Names what the journey made: here, the state its last step wrote."""
    ASKED.append((task_id, dict(state)))
    return f"/receipt/{task_id[:6]}/" if state.get("sent") else ""


@pytest.fixture
def receipt_urls(settings):
    ASKED.clear()
    with registry.isolated():
        handler = FlowHandler(app_namespace="receipt", on_complete_url=_receipt_url)
        handler.register_entry_point(NowhereFlow)
        urlconf = types.ModuleType("receipt_urls")
        urlconf.urlpatterns = [path("receipt-flow/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield


@pytest.mark.django_db
def test_a_callable_on_complete_url_is_asked_after_the_last_step_and_kept_for_the_finished_page(client, receipt_urls):
    walker = Walker(client, entry="/receipt-flow/").start()
    walker.post({})
    assert ASKED == []  # only when the task finishes
    response = client.post(walker.url, {"_t": walker.task_id})
    assert response.status_code == 302
    assert response["Location"] == f"/receipt/{walker.task_id[:6]}/"
    assert ASKED == [(walker.task_id, {"sent": True})]
    # The finished task's page links to the same place.
    again = client.post(walker.url, {"_t": walker.task_id})
    assert again.status_code == 410
    assert f'href="/receipt/{walker.task_id[:6]}/"' in again.content.decode()


@pytest.mark.django_db
def test_a_callable_that_returns_no_url_is_a_finish_error_naming_it(client, receipt_urls, settings, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr(NowhereStep, "form_valid", lambda self, form: COMPLETE)  # writes no "sent"
    walker = Walker(client, entry="/receipt-flow/").start()
    walker.post({})
    with pytest.raises(FinishError, match="_receipt_url"):
        client.post(walker.url, {"_t": walker.task_id})
