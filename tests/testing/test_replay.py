"""FlowReplay drives a compiled flow in memory with the view layer's own engine calls."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.urls import include, path

from flowmachine import (
    COMPLETE,
    Action,
    FlowHandler,
    InvalidJump,
    Linear,
    Scaffold,
    Transition,
)
from flowmachine.preconditions import RequiredState
from flowmachine.testing import (
    FlowReplay,
    PreconditionRefused,
    ReplayError,
    simple_paths,
)
from tests.flows import Purchase
from tests.walker import Walker


class Anyone:
    """A logged-in user as far as LoginRequired can tell."""

    is_authenticated = True


# -- a flow of this file, served by this file as its URLconf -----------------------


class Seen:
    """A precondition that records which components it was asked about."""

    calls: list[str] = []

    def process(self, request, component):
        Seen.calls.append(type(component).__name__)


class RpStep(Action):
    template_name = "shop/step.html"
    _abstract = True


class RpNoteForm(forms.Form):
    note = forms.CharField(required=False)


class RpFirst(RpStep):
    url = "first/"
    form_class = RpNoteForm
    preconditions = [Seen()]

    def form_valid(self, form):
        self.state["note"] = form.cleaned_data["note"]
        return COMPLETE


class RpCountForm(forms.Form):
    go = forms.BooleanField(required=False)


class RpCount(RpStep):
    """Counts every POST in the state, but only moves on when asked to."""

    url = "count/"
    form_class = RpCountForm
    preconditions = [Seen()]

    def post(self, request, *args, **kwargs):
        self.state["tries"] = self.state.get("tries", 0) + 1
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        if not form.cleaned_data["go"]:
            form.add_error(None, "Not yet.")
            return self.form_invalid(form)
        del self.state["note"]
        return COMPLETE


class RpLast(RpStep):
    url = "last/"
    preconditions = [RequiredState("tries")]


class RpInner(Scaffold):
    url = "inner/"
    transition = Linear
    preconditions = [Seen()]
    action_set = [RpCount, RpLast]


class RpFlow(Scaffold):
    transition = Linear
    preconditions = [Seen()]
    action_set = [RpFirst, RpInner]


handler = FlowHandler(app_namespace="replay", on_complete_url="/finished/")
handler.register_entry_point(RpFlow)
urlpatterns = [path("rp/", include(handler.urls))]


# -- a custom transition -------------------------------------------------------------


class RpAsk(Action):
    pass


class RpAdult(Action):
    pass


class RpChild(Action):
    pass


class RpByAge(Transition):
    def choose_next(self, current, siblings, state):
        if current == "RpAsk":
            return "RpAdult" if state["age"] >= 18 else "RpChild"
        return None


class RpAges(Scaffold):
    transition = RpByAge
    action_set = [RpAsk, RpAdult, RpChild]


# -- moving ---------------------------------------------------------------------------


def test_complete_and_jump_move_like_the_view_layer():
    run = FlowReplay(Purchase)
    assert run.position == "Purchase.ChooseItem"
    assert run.action == "ChooseItem"
    run.complete(item="book")
    assert run.position == "Purchase.GetUserAccount.LoginOrRegister"
    assert run.state == {"item": "book"}
    run.jump("Register")
    assert run.at("Register") and run.position == "Purchase.GetUserAccount.Register"
    assert run.history == ["Purchase.ChooseItem", "Purchase.GetUserAccount.LoginOrRegister"]
    run.back()
    assert run.action == "LoginOrRegister"
    assert not run.finished


def test_a_whole_checkout_finishes():
    run = FlowReplay(Purchase, user=Anyone())
    run.complete(item="mug").complete().complete(payment="saved").complete()
    assert run.finished and run.position is None
    assert run.state == {"item": "mug", "payment": "saved"}
    with pytest.raises(ReplayError, match="has finished"):
        run.complete()


def test_a_jump_the_flow_does_not_allow_raises_invalid_jump():
    run = FlowReplay(Purchase)
    with pytest.raises(InvalidJump):
        run.jump("CardNumber")
    assert run.position == "Purchase.ChooseItem"


def test_custom_transitions_choose_with_the_replayed_state():
    assert FlowReplay(RpAges).complete(age=30).action == "RpAdult"
    young = FlowReplay(RpAges, {"age": 9}).complete()
    assert young.action == "RpChild"
    assert young.complete().finished


# -- preconditions ------------------------------------------------------------------------


def test_a_refusing_precondition_raises_and_changes_nothing():
    run = FlowReplay(Purchase).complete(item="book").complete()
    with pytest.raises(PreconditionRefused) as refused:
        run.complete(payment="saved")
    assert "LoginRequired" in str(refused.value) and "SavedMethod" in str(refused.value)
    assert refused.value.response.status_code == 302
    assert run.action == "SavedMethod"
    assert run.state == {"item": "book"}


def test_required_state_refuses_with_the_view_layers_response():
    run = FlowReplay(Purchase, user=Anyone()).complete().complete()
    refusal = run.refusal()
    assert refusal is None
    run.complete()  # SavedMethod wrote nothing: Confirm lacks item and payment
    refusal = run.refusal()
    assert isinstance(refusal.precondition, RequiredState)
    assert refusal.response.status_code == 409
    with pytest.raises(PreconditionRefused, match=r"RequiredState\('item', 'payment'\)"):
        run.complete()


def test_preconditions_can_be_switched_off():
    run = FlowReplay(Purchase, check_preconditions=False)
    run.complete().complete().complete().complete()
    assert run.finished


def test_an_explicit_request_supplies_the_user(rf):
    request = rf.post("/")
    request.user = AnonymousUser()
    run = FlowReplay(Purchase, request=request, user=Anyone()).complete().complete()
    assert run.refusal() is None


@pytest.mark.django_db
@pytest.mark.urls("tests.testing.test_replay")
def test_replay_and_http_run_the_same_preconditions_in_the_same_order(client):
    Seen.calls = []
    walker = Walker(client, entry="/rp/").start()
    walker.post({"note": "hi"})
    walker.post({"go": "on"})
    over_http = list(Seen.calls)

    Seen.calls = []
    FlowReplay(RpFlow).complete(note="hi").complete()
    first, count = ["RpFlow", "RpFirst"], ["RpFlow", "RpInner", "RpCount"]
    # over HTTP each step is shown (GET) and posted, then the last step is shown
    assert over_http == [*first, *first, *count, *count, "RpFlow", "RpInner"]
    # a replayed step is the POST: the same components, in the same order
    assert Seen.calls == [*first, *count]


def test_following_a_generated_path_checks_each_landing():
    followed, refused = [], []
    for flow_path in simple_paths(RpAges):
        try:
            FlowReplay(RpAges, {"age": 30}).follow(flow_path)
        except ReplayError as exc:
            refused.append(str(exc))
        else:
            followed.append(flow_path.id)
    assert followed == ["RpAsk-RpAdult-END"]
    assert refused and all("custom transition chose another sibling" in text for text in refused)
