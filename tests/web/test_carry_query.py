"""``carry_query``: every URL of a task carries named state values, so "Start again" starts the same way."""

from __future__ import annotations

import types
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django import forms
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold, registry
from flowmachine.backends import get_store
from flowmachine.machine.compiler import CompiledFlow
from tests.walker import Walker

pytestmark = pytest.mark.django_db


class PickForm(forms.Form):
    pick = forms.CharField()


class CqPick(Action):
    template_name = "shop/step.html"
    form_class = PickForm

    def get_initial(self):
        initial = super().get_initial()
        initial.setdefault("pick", self.request.GET.get("pick", ""))
        return initial

    def form_valid(self, form):
        self.state["picked"] = form.cleaned_data["pick"]
        return COMPLETE


class CqMiddle(Action):
    template_name = "shop/step.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["links"] = {"last": self.link_to("CqLast", pick="from-the-link")}
        return context


class CqLast(Action):
    template_name = "shop/step.html"


class CqFlow(Scaffold):
    url = "cq/"
    transition = Linear
    action_set = [CqPick, CqMiddle, CqLast]
    carry_query = {"pick": "picked"}


@pytest.fixture(params=["db", "redis"])
def walker(request, client, settings):
    """The flow served on the database store and on the Redis store (its own key prefix)."""
    if request.param == "redis":
        settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
        settings.FLOWS_REDIS_URL = settings.REDIS_URL
        settings.FLOWS_REDIS_KEY_PREFIX = f"fm-carry-{uuid.uuid4().hex[:8]}:"
    with registry.isolated():
        handler = FlowHandler(app_namespace="cq", on_complete_url="/done/")
        handler.register_entry_point(CqFlow)
        urlconf = types.ModuleType("cq_urls")
        urlconf.urlpatterns = [path("", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield Walker(client, entry="/cq/")


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_every_url_of_the_task_carries_the_value_from_its_state(walker):
    walker.start("?pick=lamp")
    assert walker.response.context["form"].initial["pick"] == "lamp"  # the entry passed it on
    walker.post({"pick": "mug"})
    assert query(walker.url)["pick"] == ["mug"]  # the state's value, not the entry's
    flow = walker.response.context["flow"]
    assert query(flow.action_url)["pick"] == ["mug"]
    assert query(flow.progress.trail[0].url)["pick"] == ["mug"]
    assert query(walker.response.context["flows_back_url"])["pick"] == ["mug"]
    walker.follow_link("link-last")
    assert query(walker.url)["pick"] == ["mug"]  # the task's own value wins over the link's


def test_start_again_keeps_what_the_refused_url_carried_even_when_the_task_is_gone(walker, client):
    walker.start()
    walker.post({"pick": "desk"})
    get_store().delete_state(walker.task_id)
    response = client.get(walker.url)
    assert response.status_code == 410
    assert response.context["restart_url"] == "/cq/?pick=desk"
    page = client.get(client.get(response.context["restart_url"])["Location"])
    assert page.context["form"].initial["pick"] == "desk"


def test_start_again_takes_nothing_from_another_users_task(walker):
    walker.start()
    walker.post({"pick": "secret"})
    from django.test import Client

    stranger = Client()
    response = stranger.get(walker.url.replace("pick=secret", "pick=mine"))
    assert response.status_code == 404
    assert response.context["restart_url"] == "/cq/?pick=mine"  # what the URL said, never the task's state
    response = stranger.get(walker.url.split("&")[0] + "&pick=" + "x" * 500)
    assert response.context["restart_url"] == "/cq/"  # too long to pass on


@pytest.mark.parametrize("carried", [["pick"], {"_t": "picked"}, {"_secret": "x"}, {"ok": 5}, {"with space": "x"}])
def test_a_malformed_carry_query_is_a_definition_problem(carried):
    broken = type("CqBroken", (Scaffold,), {"__module__": __name__, "action_set": [CqLast], "carry_query": carried})
    assert [p.id for p in CompiledFlow(broken).problems] == ["flowmachine.E027"]
