"""Flows and URLconf of the reliability tests (random walks, outages, live servers).

``Deep`` is a synthetic flow five scaffolds deep with a branch; ``Hold`` has a
step that waits on a PostgreSQL advisory lock the test holds, so the test can
cut the database connection while a request is inside the step. The URLconf
serves them beside the checkout of tests/flows.py.
"""

from __future__ import annotations

from django import forms
from django.db import connection
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from tests.models import Order
from tests.urls import urlpatterns as checkout_patterns

HOLD_LOCK = 4242_4242

#: Called by the Hold step between reading and saving its task (tests set it to
#: stop a real service mid-request); None does nothing.
hold_hook = None


class _Step(Action):
    template_name = "shop/step.html"
    _abstract = True

    def form_valid(self, form):
        for name, value in form.cleaned_data.items():
            self.state[f"{self.place.local_name}.{name}"] = value
        return COMPLETE


class TextForm(forms.Form):
    text = forms.CharField(max_length=40)


class NumberForm(forms.Form):
    number = forms.IntegerField(min_value=0, max_value=999)


class RouteForm(forms.Form):
    route = forms.ChoiceField(choices=[("a", "A"), ("b", "B")])


class DeepName(_Step):
    form_class = TextForm


class DeepPick(_Step):
    form_class = RouteForm

    def form_valid(self, form):
        super().form_valid(form)
        return DeepRouteA if form.cleaned_data["route"] == "a" else "DeepRouteB"


class DeepA1(_Step):
    form_class = NumberForm


class DeepA2(_Step):
    form_class = TextForm


class DeepA3(_Step):
    form_class = TextForm


class DeepA4(_Step):
    form_class = NumberForm


class DeepInnerA(Scaffold):
    transition = Linear
    action_set = [DeepA3, DeepA4]


class DeepRouteA(Scaffold):
    transition = Linear
    action_set = [DeepA1, DeepA2, DeepInnerA]


class DeepB1(_Step):
    form_class = NumberForm


class DeepB2(_Step):
    form_class = TextForm


class DeepRouteB(Scaffold):
    transition = Linear
    action_set = [DeepB1, DeepB2]


class DeepBranch(Scaffold):
    action_set = [DeepPick, DeepRouteA, DeepRouteB]


class DeepM1(_Step):
    form_class = TextForm


class DeepM2(_Step):
    form_class = NumberForm


class DeepM3(_Step):
    form_class = TextForm


class DeepLevel3(Scaffold):
    transition = Linear
    action_set = [DeepM2, DeepM3]


class DeepLevel2(Scaffold):
    transition = Linear
    action_set = [DeepLevel3]


class DeepMiddle(Scaffold):
    transition = Linear
    action_set = [DeepM1, DeepLevel2]


class DeepFinish(_Step):
    def form_valid(self, form):
        Order.objects.create(item="deep", payment=str(self.state.get("DeepName.text", ""))[:50], task_id=self.task.id)
        return COMPLETE


class Deep(Scaffold):
    transition = Linear
    action_set = [DeepName, DeepBranch, DeepMiddle, DeepFinish]


class HoldNote(_Step):
    form_class = TextForm


class HoldStep(_Step):
    """Waits on an advisory lock the test holds (PostgreSQL), then keeps the answer."""

    form_class = TextForm

    def form_valid(self, form):
        if hold_hook is not None:
            hold_hook()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [HOLD_LOCK])
        return super().form_valid(form)


class HoldDone(_Step):
    def form_valid(self, form):
        Order.objects.create(item="hold", payment=str(self.state.get("HoldStep.text", ""))[:50], task_id=self.task.id)
        return COMPLETE


class Hold(Scaffold):
    transition = Linear
    action_set = [HoldNote, HoldStep, HoldDone]


deep_handler = FlowHandler(app_namespace="deep", on_complete_url="/deep-done/")
deep_handler.register_entry_point(Deep)
hold_handler = FlowHandler(app_namespace="hold", on_complete_url="/hold-done/")
hold_handler.register_entry_point(Hold)

urlpatterns = [
    *checkout_patterns,
    path("deep/", include(deep_handler.urls)),
    path("hold/", include(hold_handler.urls)),
]
