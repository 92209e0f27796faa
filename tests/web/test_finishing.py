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
