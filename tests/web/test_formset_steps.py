"""Formset steps: an Action whose ``form_class`` is a formset works like any form.

Zero rows are an answer, ``send_to(step, with_errors=...)`` shows its
messages above the rows, Back shows the rows accepted last time (the extra
rows after them), and a model formset's rows come back as their instances,
on the database store and the Redis store.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
import redis
from django import forms
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from flowmachine.backends import get_store
from flowmachine.engine.answers import as_post_data
from tests.models import Order, Witness
from tests.walker import Walker

pytestmark = pytest.mark.django_db

TEMPLATE = "shop/formset_step.html"


class WitnessForm(forms.Form):
    name = forms.CharField(label="Full name")
    seen = forms.DateField(required=False)


class Witnesses(Action):
    template_name = TEMPLATE
    form_class = forms.formset_factory(WitnessForm, extra=1, can_delete=True)

    def form_valid(self, form: Any) -> Any:
        self.state["witnesses"] = [row for row in form.cleaned_data if row and not row.get("DELETE")]
        return COMPLETE


class Review(Action):
    """Sends the user back to the witnesses with the messages the test sets (none: goes on)."""

    template_name = "shop/step.html"
    errors: Any = None

    def form_valid(self, form: Any) -> Any:
        if Review.errors is not None:
            return self.send_to(Witnesses, with_errors=Review.errors)
        return COMPLETE


class Finish(Action):
    template_name = "shop/step.html"


class WitnessFlow(Scaffold):
    url = "witnesses/"
    transition = Linear
    action_set = [Witnesses, Review, Finish]


class PlainTemplate(Action):
    """A formset rendered by ``{{ form.as_p }}`` in the shared step template."""

    template_name = "shop/step.html"
    form_class = forms.formset_factory(WitnessForm, extra=2, max_num=10, absolute_max=10)

    def form_valid(self, form: Any) -> Any:
        self.state["names"] = [row["name"] for row in form.cleaned_data if row]
        return COMPLETE


class PlainFlow(Scaffold):
    url = "plain/"
    transition = Linear
    action_set = [PlainTemplate, Finish]


class SavedWitnesses(Action):
    """A model formset for new rows (an empty queryset), saved at this step."""

    template_name = TEMPLATE
    form_class = forms.modelformset_factory(Witness, fields=["name", "phone"], extra=1, can_delete=True)

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_form_kwargs()
        kwargs["queryset"] = Witness.objects.none()
        return kwargs

    def form_valid(self, form: Any) -> Any:
        form.save()
        self.state["witnesses"] = [f.instance for f in form.forms if f.instance.pk and f not in form.deleted_forms]
        self.state["rows"] = [row for row in form.cleaned_data if row and not row.get("DELETE")]
        return COMPLETE


class SavedFlow(Scaffold):
    url = "saved/"
    transition = Linear
    action_set = [SavedWitnesses, Finish]


class UnsavedWitnesses(Action):
    """A model formset whose rows are kept in the state, not saved."""

    template_name = TEMPLATE
    form_class = forms.modelformset_factory(Witness, fields=["name", "phone"], extra=1)

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_form_kwargs()
        kwargs["queryset"] = Witness.objects.none()
        return kwargs

    def form_valid(self, form: Any) -> Any:
        self.state["witnesses"] = [{"name": row["name"], "phone": row["phone"]} for row in form.cleaned_data if row]
        return COMPLETE


class UnsavedFlow(Scaffold):
    url = "unsaved/"
    transition = Linear
    action_set = [UnsavedWitnesses, Finish]


class OrderWitnesses(Action):
    """An inline formset: the witnesses of the order named "claim"."""

    template_name = TEMPLATE
    form_class = forms.inlineformset_factory(Order, Witness, fields=["name"], extra=1, can_delete=True)

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_form_kwargs()
        kwargs["instance"] = Order.objects.get(item="claim")
        return kwargs

    def form_valid(self, form: Any) -> Any:
        form.save()
        self.state["order"] = form.instance
        return COMPLETE


class InlineFlow(Scaffold):
    url = "inline/"
    transition = Linear
    action_set = [OrderWitnesses, Finish]


handler = FlowHandler(app_namespace="formsets", on_complete_url="/formsets-done/")
for flow in (WitnessFlow, PlainFlow, SavedFlow, UnsavedFlow, InlineFlow):
    handler.register_entry_point(flow)

urlpatterns = [path("", include(handler.urls))]


@pytest.fixture(params=["db", "redis"])
def store(request: pytest.FixtureRequest, settings: Any) -> Any:
    """This module's flows, on the database store or on the Redis store (its keys removed after)."""
    settings.ROOT_URLCONF = __name__
    Review.errors = None
    if request.param == "db":
        settings.FLOWS_STATE_STORE = "flowmachine.backends.db"
        yield get_store()
        return
    prefix = f"fm-formsets-{uuid.uuid4().hex}:"
    settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
    settings.FLOWS_REDIS_URL = settings.REDIS_URL
    settings.FLOWS_REDIS_KEY_PREFIX = prefix
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        yield get_store()
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def rows(*rows: dict[str, str], prefix: str = "form", initial: int = 0, extra: int = 0) -> dict[str, str]:
    """POST data of a formset: the management form, then each row's fields."""
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows) + extra), f"{prefix}-INITIAL_FORMS": str(initial)}
    for index, row in enumerate(rows):
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def go_back(walker: Walker) -> Any:
    """Follow the page's Back link: the previous step is shown (and the task rewound to it)."""
    back = walker.response.context["flows_back_url"]
    walker.url = back
    walker.response = walker.get(back)
    return walker.response


def shown_rows(response: Any) -> list[dict[str, Any]]:
    """The rows the page's formset shows (each row's initial values, the empty extra rows too)."""
    formset = response.context["form"]
    return [{name: row[name].value() for name in row.fields if name != "DELETE"} for row in formset]


def test_zero_rows_is_an_answer_and_back_shows_none(client: Any, store: Any) -> None:
    walker = Walker(client, entry="/witnesses/").start()
    assert walker.response.status_code == 200
    page = walker.response.content.decode()
    assert 'name="form-TOTAL_FORMS"' in page and 'name="_t"' in page  # the management form and the task field
    walker.post(rows(extra=1))  # one extra row, left empty
    assert walker.path == "/witnesses/review/"
    assert walker.flow.state["witnesses"] == []
    assert walker.flow.record["ans"]["WitnessFlow.Witnesses"] == []
    go_back(walker)
    assert shown_rows(walker.response) == [{"name": None, "seen": None}]  # the extra row only
    walker.post(rows())  # no row at all (TOTAL_FORMS 0)
    assert walker.path == "/witnesses/review/"


def test_back_shows_the_rows_accepted_and_the_extra_rows_follow(client: Any, store: Any) -> None:
    walker = Walker(client, entry="/witnesses/").start()
    walker.post(
        rows(
            {"name": "Ann", "seen": "2024-02-29"},
            {"name": "Bob", "DELETE": "on"},
            {"name": "Cy"},
            extra=1,
        )
    )
    assert walker.path == "/witnesses/review/"
    assert walker.flow.state["witnesses"] == [
        {"name": "Ann", "seen": dt.date(2024, 2, 29), "DELETE": False},
        {"name": "Cy", "seen": None, "DELETE": False},
    ]
    go_back(walker)
    assert walker.path == "/witnesses/witnesses/"
    assert shown_rows(walker.response) == [
        {"name": "Ann", "seen": "2024-02-29"},
        {"name": "Cy", "seen": None},  # as sent: no date at all
        {"name": None, "seen": None},
    ]
    page = walker.response.content.decode()
    assert 'name="form-INITIAL_FORMS" value="2"' in page and 'value="Ann"' in page
    # Sent back unchanged, the rows shown are still the answer.
    walker.post(rows({"name": "Ann", "seen": "2024-02-29"}, {"name": "Cy", "seen": ""}, initial=2, extra=1))
    assert walker.path == "/witnesses/review/"
    assert [w["name"] for w in walker.flow.state["witnesses"]] == ["Ann", "Cy"]


def test_send_to_a_formset_step_shows_the_messages_above_the_rows(client: Any, store: Any) -> None:
    walker = Walker(client, entry="/witnesses/").start()
    walker.post(rows({"name": "Ann", "seen": ""}))
    Review.errors = {"name": ["Ann is not a witness."], "__all__": ["Check the list."], "nosuch": ["Elsewhere."]}
    walker.post({})
    assert walker.path == "/witnesses/witnesses/"
    assert walker.response.status_code == 200
    formset = walker.response.context["form"]
    assert list(formset.non_form_errors()) == ["Full name: Ann is not a witness.", "Check the list.", "Elsewhere."]
    page = walker.response.content.decode()
    assert 'class="errorlist nonform"' in page and "Full name: Ann is not a witness." in page
    assert shown_rows(walker.response)[0] == {"name": "Ann", "seen": ""}  # the rows are still there
    walker.response = walker.get(walker.url)
    assert not walker.response.context["form"].non_form_errors()  # shown once

    Review.errors = None
    walker.post(rows({"name": "Ann"}, initial=1))
    Review.errors = ["The list is too short."]
    walker.post({})
    assert list(walker.response.context["form"].non_form_errors()) == ["The list is too short."]


def test_a_formset_in_the_shared_template_and_data_a_browser_never_sends(client: Any, store: Any) -> None:
    walker = Walker(client, entry="/plain/").start()
    page = walker.response.content.decode()
    assert 'name="form-TOTAL_FORMS"' in page and 'name="form-1-name"' in page
    walker.post({}, expect=200)  # no management form: an error on the page, never a 500
    assert walker.response.context["form"].non_form_errors()
    walker.post(rows({"name": "Ann"}, {"name": "", "seen": "2024-01-01"}), expect=200)  # a row without its name
    assert walker.response.context["form"].errors[1] == {"name": ["This field is required."]}
    walker.post({**rows({"name": "Ann"}), "form-TOTAL_FORMS": "many"}, expect=200)
    walker.post({**rows({"name": "Ann"}), "form-TOTAL_FORMS": "11"}, expect=200)  # beyond absolute_max
    assert walker.response.context["form"].non_form_errors()
    walker.post(rows({"name": "Ann"}, extra=1))
    assert walker.flow.state["names"] == ["Ann"]


def test_a_saved_model_formset_comes_back_with_its_instances(client: Any, store: Any) -> None:
    walker = Walker(client, entry="/saved/").start()
    walker.post(rows({"name": "Ann", "phone": "1"}, {"name": "Bob", "phone": ""}, extra=1))
    ann, bob = Witness.objects.order_by("pk")
    assert walker.flow.state["witnesses"] == [ann, bob]
    assert walker.flow.record["ans"]["SavedFlow.SavedWitnesses"] == [
        {"name": "Ann", "phone": "1", "id": str(ann.pk)},
        {"name": "Bob", "phone": "", "id": str(bob.pk)},
    ]
    go_back(walker)
    formset = walker.response.context["form"]
    assert [f.instance for f in formset.initial_forms] == [ann, bob]  # the queryset is the rows accepted
    assert len(formset.extra_forms) == 1
    # Changed and one deleted: the rows are updated, never created again.
    walker.post(
        rows(
            {"id": str(ann.pk), "name": "Ann B", "phone": "1"},
            {"id": str(bob.pk), "name": "Bob", "phone": "", "DELETE": "on"},
            initial=2,
            extra=1,
        )
    )
    assert list(Witness.objects.values_list("name", flat=True)) == ["Ann B"]
    assert walker.flow.state["witnesses"] == [ann]
    assert walker.flow.state["rows"] == [{"id": ann, "name": "Ann B", "phone": "1", "DELETE": False}]
    go_back(walker)
    assert [f.instance.name for f in walker.response.context["form"].initial_forms] == ["Ann B"]


def test_an_unsaved_model_formset_shows_its_rows_again_and_keeps_them(client: Any, store: Any) -> None:
    walker = Walker(client, entry="/unsaved/").start()
    walker.post(rows({"name": "Ann", "phone": "1"}, {"name": "Bob", "phone": ""}, extra=1))
    assert walker.flow.state["witnesses"] == [{"name": "Ann", "phone": "1"}, {"name": "Bob", "phone": ""}]
    assert not Witness.objects.exists()
    go_back(walker)
    assert [row for row in shown_rows(walker.response)] == [
        {"name": "Ann", "phone": "1", "id": None},
        {"name": "Bob", "phone": "", "id": None},
        {"name": None, "phone": None, "id": None},
    ]
    walker.post(rows({"name": "Ann", "phone": "1"}, {"name": "Bob", "phone": ""}, extra=1))  # unchanged
    assert walker.flow.state["witnesses"] == [{"name": "Ann", "phone": "1"}, {"name": "Bob", "phone": ""}]


def test_an_inline_formset_step(client: Any, store: Any) -> None:
    order = Order.objects.create(item="claim", payment="-", task_id="-")
    walker = Walker(client, entry="/inline/").start()
    walker.post(rows({"name": "Ann"}, prefix="witnesses", extra=1))
    (ann,) = order.witnesses.all()
    assert walker.flow.state["order"] == order
    go_back(walker)
    formset = walker.response.context["form"]
    assert [f.instance for f in formset.initial_forms] == [ann]
    walker.post(rows({"id": str(ann.pk), "name": "Ann", "DELETE": "on"}, prefix="witnesses", initial=1))
    assert not order.witnesses.exists()
    go_back(walker)
    assert walker.response.context["form"].initial_forms == []


def test_the_remembered_rows_bind_the_step_again(client: Any, store: Any) -> None:
    """What revalidation does: a new formset bound to the rows remembered cleans to what was accepted."""
    walker = Walker(client, entry="/saved/").start()
    walker.post(rows({"name": "Ann"}, {"name": "Bob", "phone": "2"}))
    remembered = walker.flow.record["ans"]["SavedFlow.SavedWitnesses"]
    ann, bob = Witness.objects.order_by("pk")
    queryset = Witness.objects.filter(pk__in=[ann.pk, bob.pk])
    formset_class = SavedWitnesses.form_class
    again = formset_class(data=as_post_data(formset_class(queryset=queryset), remembered), queryset=queryset)
    assert again.is_valid(), again.errors
    assert [row["id"] for row in again.cleaned_data] == [ann, bob]


def test_a_stale_formset_page_is_shown_afresh_with_its_rows_and_the_message(client: Any, store: Any) -> None:
    walker = Walker(client, entry="/witnesses/").start()
    old_page = walker.response.content.decode()
    old_version = re.search(r'name="_v" value="([^"]*)"', old_page)
    assert old_version is not None
    walker.post(rows({"name": "Ann", "seen": ""}))
    go_back(walker)  # the task moved since the first page was rendered
    response = client.post(
        walker.url, {"_t": walker.task_id, "_v": old_version.group(1), **rows({"name": "Zed", "seen": ""})}
    )
    assert response.status_code == 409
    formset = response.context["form"]
    assert not formset.is_bound and len(formset.non_form_errors()) == 1
    assert [f["name"].value() for f in formset.initial_forms] == ["Ann"]
    assert walker.flow.state["witnesses"][0]["name"] == "Ann"
