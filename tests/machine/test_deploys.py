"""Deploys under live tasks: a task saved under one definition of its flow, resumed under another.

The flows are built here in versions: v1, and v2 variants that remove,
rename, move or reorder components. A task is walked under v1 and read by
v2; the policy of ``flowmachine.machine.deploys`` decides where it resumes.
"""

from __future__ import annotations

import copy
import json
import logging
from io import StringIO
from typing import Any

import pytest
from django import forms
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold, registry
from flowmachine.backends import get_store
from flowmachine.engine.task import Task
from flowmachine.exceptions import CorruptStateError
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.deploys import fingerprint, plan, relocation
from flowmachine.management.commands.flowtasks import find_stranded
from flowmachine.record import Record


class ValueForm(forms.Form):
    value = forms.CharField(required=False)


def action(name: str, **attrs: Any) -> type[Action]:
    """An action storing its form's value under its own name."""

    def form_valid(self: Action, form: forms.Form) -> Any:
        self.state[type(self).__name__] = form.cleaned_data["value"]
        return COMPLETE

    body = {
        "template_name": "shop/step.html",
        "form_class": ValueForm,
        "form_valid": form_valid,
        "__module__": __name__,
    }
    return type(name, (Action,), {**body, **attrs})


def scaffold(name: str, children: list[Any], **attrs: Any) -> type[Scaffold]:
    return type(name, (Scaffold,), {"transition": Linear, "action_set": children, "__module__": __name__, **attrs})


def v1() -> type[Scaffold]:
    """DpSignup: DpStart, DpDetails (DpName, DpEmail, DpPhone), DpExtras (DpNewsletter, DpReferral), DpReview."""
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail"), action("DpPhone")])
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral")])
    return scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")])


def compiled(root: type[Scaffold]) -> CompiledFlow:
    flow = CompiledFlow(root, "")
    assert not flow.problems, flow.problems
    return flow


def walk(flow: CompiledFlow, steps: int) -> Task:
    """A task of *flow* after *steps* steps, each answered on its page."""
    task = Task.start(flow, None, "binder")
    for _ in range(steps):
        place = task.current_place
        task.record.raw.setdefault("ans", {})[place.name] = {"value": place.local_name.lower()}
        task.state[place.local_name] = place.local_name.lower()
        task.advance(COMPLETE)
    task.record.raw["version"] = 5
    return task


def resume(task: Task, flow: CompiledFlow) -> Task:
    return Task.load(task.id, copy.deepcopy(task.record.raw), flow, None)


AT_PHONE = 3  # DpStart, DpName, DpEmail done
AT_REFERRAL = 5


# -- the policy, case by case ----------------------------------------------------------------------


def test_a_task_under_the_same_definition_is_not_touched():
    flow = compiled(v1())
    task = walk(flow, AT_PHONE)
    again = resume(task, compiled(v1()))
    assert again.current_place.name == "DpSignup.DpDetails.DpPhone"
    assert again.relocated is None and not again.modified
    assert again.record.raw == task.record.raw


def test_the_same_action_still_there_resumes_there_and_keeps_everything():
    task = walk(compiled(v1()), AT_PHONE)
    extras = scaffold("DpExtras", [action("DpNewsletter")])  # DpReferral removed elsewhere in the flow
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail"), action("DpPhone")])
    v2 = compiled(scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")]))
    again = resume(task, v2)
    assert again.current_place.name == "DpSignup.DpDetails.DpPhone"
    assert again.relocated is None
    assert again.modified  # the new fingerprint is saved with the next write
    assert again.record.raw["fp"] == fingerprint(v2) != task.record.raw["fp"]
    assert again.state == task.state
    assert again.history == task.history


def test_a_removed_action_resumes_at_the_first_action_of_its_surviving_scaffold():
    task = walk(compiled(v1()), AT_PHONE)
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail")])
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral")])
    v2 = compiled(scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")]))
    again = resume(task, v2)
    assert again.current_place.name == "DpSignup.DpDetails.DpName"
    assert again.relocated == (
        "DpSignup.DpDetails.DpPhone",
        "DpSignup.DpDetails.DpName",
        "removed; first action of DpSignup.DpDetails",
    )
    assert again.state == task.state  # the data is kept
    # moved back to a visited step: the history is cut there, as Back would
    assert again.history == ["DpSignup.DpStart"]
    assert again.record.raw["at"] == task.version + 1


def test_a_removed_scaffold_resumes_at_the_first_action_of_the_flow():
    task = walk(compiled(v1()), AT_REFERRAL)
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail"), action("DpPhone")])
    v2 = compiled(scaffold("DpSignup", [action("DpStart"), details, action("DpReview")]))
    again = resume(task, v2)
    assert again.current_place.name == "DpSignup.DpStart"
    assert again.relocated[2] == "removed; first action of the flow"
    assert again.history == []
    assert again.state["DpNewsletter"] == "dpnewsletter"


def test_an_action_renamed_with_renamed_from_resumes_under_its_new_name():
    task = walk(compiled(v1()), 2)  # at DpEmail, DpName answered
    details = scaffold(
        "DpDetails",
        [
            action("DpFullName", renamed_from=("DpName",)),
            action("DpEmailAddress", renamed_from="DpEmail"),
            action("DpPhone"),
        ],
    )
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral")])
    v2 = compiled(scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")]))
    again = resume(task, v2)
    assert again.current_place.name == "DpSignup.DpDetails.DpEmailAddress"
    assert again.relocated[2] == "renamed"
    assert again.history == ["DpSignup.DpStart", "DpSignup.DpDetails.DpFullName"]
    assert again.answers_for(v2.places["DpSignup.DpDetails.DpFullName"]) == {"value": "dpname"}


def test_renames_declared_on_the_root_scaffold():
    task = walk(compiled(v1()), 2)
    details = scaffold("DpDetails", [action("DpName"), action("DpMail"), action("DpPhone")])
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral")])
    root = scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")], renames={"DpEmail": "DpMail"})
    again = resume(task, compiled(root))
    assert again.current_place.name == "DpSignup.DpDetails.DpMail"


def test_a_renamed_scaffold_keeps_its_tasks_at_the_same_action():
    task = walk(compiled(v1()), AT_PHONE)
    profile = scaffold(
        "DpProfile", [action("DpName"), action("DpEmail"), action("DpPhone")], renamed_from=("DpDetails",)
    )
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral")])
    again = resume(task, compiled(scaffold("DpSignup", [action("DpStart"), profile, extras, action("DpReview")])))
    assert again.current_place.name == "DpSignup.DpProfile.DpPhone"
    assert again.relocated[2] == "renamed"
    assert again.history == ["DpSignup.DpStart", "DpSignup.DpProfile.DpName", "DpSignup.DpProfile.DpEmail"]


def test_an_action_moved_to_another_scaffold_is_found_by_its_name():
    task = walk(compiled(v1()), AT_PHONE)
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail")])
    extras = scaffold("DpExtras", [action("DpPhone"), action("DpNewsletter"), action("DpReferral")])
    again = resume(task, compiled(scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")])))
    assert again.current_place.name == "DpSignup.DpExtras.DpPhone"
    assert again.relocated[2] == "moved"
    assert again.state == task.state


def test_a_moved_action_with_a_namesake_goes_to_the_one_nearest_its_old_place():
    task = walk(compiled(v1()), AT_PHONE)
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail"), scaffold("DpContact", [action("DpPhone")])])
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral"), action("DpPhone")])
    flow = compiled(scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")]))
    assert plan(flow, "DpSignup.DpDetails.DpPhone").new == "DpSignup.DpDetails.DpContact.DpPhone"
    assert resume(task, flow).current_place.name == "DpSignup.DpDetails.DpContact.DpPhone"


def test_reordered_scaffolds_keep_the_position_and_the_history():
    task = walk(compiled(v1()), AT_REFERRAL)
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail"), action("DpPhone")])
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral")])
    v2 = compiled(scaffold("DpSignup", [action("DpStart"), extras, details, action("DpReview")]))
    assert fingerprint(v2) != task.record.raw["fp"]
    again = resume(task, v2)
    assert again.current_place.name == "DpSignup.DpExtras.DpReferral"
    assert again.relocated is None
    assert again.history == task.history
    # and it goes on under the new order: after DpExtras comes DpDetails now
    assert again.advance(COMPLETE).name == "DpSignup.DpDetails.DpName"


def test_a_scaffold_replaced_by_an_action_of_its_name_takes_its_tasks():
    task = walk(compiled(v1()), AT_REFERRAL)
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail"), action("DpPhone")])
    v2 = compiled(scaffold("DpSignup", [action("DpStart"), details, action("DpExtras"), action("DpReview")]))
    assert resume(task, v2).current_place.name == "DpSignup.DpExtras"


def test_a_position_that_never_existed_under_the_same_definition_is_still_corrupt():
    flow = compiled(v1())
    task = walk(flow, 1)
    record = copy.deepcopy(task.record.raw)
    record["pos"] = "DpSignup.DpNoSuchStep"
    with pytest.raises(CorruptStateError):
        Task.load(task.id, record, flow, None)


def test_a_record_without_a_fingerprint_is_taken_as_it_is():
    flow = compiled(v1())
    task = walk(flow, 1)
    record = copy.deepcopy(task.record.raw)
    del record["fp"]
    assert relocation(flow, Record(record)) is None
    record["pos"] = "DpSignup.DpGone"
    with pytest.raises(CorruptStateError):
        Task.load(task.id, record, flow, None)


def test_the_fingerprint_is_short_stable_and_follows_the_shape():
    one, two = compiled(v1()), compiled(v1())
    assert fingerprint(one) == fingerprint(two)
    assert len(fingerprint(one)) == 12 and int(fingerprint(one), 16) >= 0
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail"), action("DpPhone")], transition=None)
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral")])
    other_transition = compiled(scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")]))
    assert fingerprint(other_transition) != fingerprint(one)
    assert walk(one, 0).record.raw["fp"] == fingerprint(one)


# -- over HTTP, with the URLconf swapped as a deploy would -----------------------------------------


@pytest.fixture
def isolated_handlers():
    """Handlers made by a test are dropped afterwards (they register themselves globally)."""
    with registry.isolated():
        yield


def urlconf(root: type[Scaffold]) -> type:
    handler = FlowHandler(app_namespace="deploy", on_complete_url="/deployed/")
    handler.register_entry_point(root)

    class URLs:
        urlpatterns = [path("signup/", include(handler.urls))]

    return URLs


def moved_phone() -> type[Scaffold]:
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail")])
    extras = scaffold("DpExtras", [action("DpPhone"), action("DpNewsletter"), action("DpReferral")])
    return scaffold("DpSignup", [action("DpStart"), details, extras, action("DpReview")])


def walk_over_http(client, steps: int) -> str:
    response = client.get("/signup/")
    url = response["Location"]
    task_id = url.split("_t=")[1]
    for _ in range(steps):
        response = client.post(url, {"_t": task_id, "value": "x"})
        assert response.status_code == 302, response
        url = response["Location"]
    return task_id


@pytest.mark.django_db
def test_a_live_task_resumes_over_http_after_a_deploy_moved_its_step(client, caplog, isolated_handlers):
    with override_settings(ROOT_URLCONF=urlconf(v1())):
        task_id = walk_over_http(client, AT_PHONE)
        assert get_store().get_state(task_id)["pos"] == "DpSignup.DpDetails.DpPhone"
        old_url = f"/signup/dp-details/dp-phone/?_t={task_id}"
        assert client.get(old_url).status_code == 200
    caplog.set_level(logging.INFO, logger="flowmachine")
    with override_settings(ROOT_URLCONF=urlconf(moved_phone())):
        assert client.get(old_url).status_code == 404  # that URL is gone: Django's own 404
        # the entry URL with the task id always leads to the task's current step
        response = client.get(f"/signup/?_t={task_id}")
        assert response.status_code == 302
        assert response["Location"] == f"/signup/dp-extras/dp-phone/?_t={task_id}"
        assert any(
            "moved from DpSignup.DpDetails.DpPhone to DpSignup.DpExtras.DpPhone" in r.getMessage()
            for r in caplog.records
        )
        assert client.get(response["Location"]).status_code == 200
        record = get_store().get_state(task_id)
        assert record["pos"] == "DpSignup.DpExtras.DpPhone"
        assert record["fp"] == fingerprint(compiled(moved_phone()))
        assert record["data"] == {"DpStart": "x", "DpName": "x", "DpEmail": "x"}
        response = client.post(f"/signup/dp-extras/dp-phone/?_t={task_id}", {"_t": task_id, "value": "555"})
        assert response["Location"] == f"/signup/dp-extras/dp-newsletter/?_t={task_id}"


@pytest.mark.django_db
def test_a_renamed_entry_point_keeps_its_tasks(client, isolated_handlers):
    with override_settings(ROOT_URLCONF=urlconf(v1())):
        task_id = walk_over_http(client, 2)
    details = scaffold("DpDetails", [action("DpName"), action("DpEmail"), action("DpPhone")])
    extras = scaffold("DpExtras", [action("DpNewsletter"), action("DpReferral")])
    root = scaffold(
        "DpRegistration", [action("DpStart"), details, extras, action("DpReview")], renamed_from=("DpSignup",), url=""
    )
    with override_settings(ROOT_URLCONF=urlconf(root)):
        response = client.get(f"/signup/dp-details/dp-email/?_t={task_id}")
        assert response.status_code == 200
        assert response.context["flow"].place.name == "DpRegistration.DpDetails.DpEmail"
        client.post(f"/signup/dp-details/dp-email/?_t={task_id}", {"_t": task_id, "value": "a@b.c"})
        record = get_store().get_state(task_id)
        assert record["flow"] == "DpRegistration"
        assert record["pos"] == "DpRegistration.DpDetails.DpPhone"


# -- manage.py flowtasks ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_flowtasks_stranded_lists_the_tasks_a_deploy_would_move(client, isolated_handlers, monkeypatch):
    with override_settings(ROOT_URLCONF=urlconf(v1())):
        at_phone = walk_over_http(client, AT_PHONE)
        at_name = walk_over_http(client, 1)
        finished = walk_over_http(client, 7)
    new = urlconf(moved_phone())
    newest = registry.handlers()[-1]
    monkeypatch.setattr(registry, "_handlers", [newest])
    out = StringIO()
    with override_settings(ROOT_URLCONF=new):
        call_command("flowtasks", "--stranded", stdout=out)
    text = out.getvalue()
    assert at_phone in text
    assert "DpSignup.DpDetails.DpPhone" in text and "DpSignup.DpExtras.DpPhone" in text and "moved" in text
    assert at_name not in text and finished not in text
    assert "1 of 3 live tasks would move." in text

    out = StringIO()
    with override_settings(ROOT_URLCONF=new):
        call_command("flowtasks", "--stranded", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["live"] == 3
    assert data["stranded"] == [
        {
            "task_id": at_phone,
            "flow": "DpSignup",
            "old": "DpSignup.DpDetails.DpPhone",
            "new": "DpSignup.DpExtras.DpPhone",
            "reason": "moved",
        }
    ]
    with override_settings(ROOT_URLCONF=new), pytest.raises(SystemExit) as exit_info:
        call_command("flowtasks", "--stranded", "--check", stdout=StringIO())
    assert exit_info.value.code == 1


@pytest.mark.django_db
def test_flowtasks_with_nothing_to_move_and_the_counts(client, isolated_handlers, monkeypatch):
    conf = urlconf(v1())
    monkeypatch.setattr(registry, "_handlers", [registry.handlers()[-1]])
    with override_settings(ROOT_URLCONF=conf):
        walk_over_http(client, 1)
        walk_over_http(client, 1)
        out = StringIO()
        call_command("flowtasks", "--stranded", "--check", stdout=out)
        assert out.getvalue().strip() == "No live task would move (2 live)."
        out = StringIO()
        call_command("flowtasks", stdout=out)
    lines = out.getvalue().splitlines()
    assert any(line.split() == ["DpSignup", "DpSignup.DpDetails.DpName", "2"] for line in lines), lines
    assert lines[-1] == "2 live tasks."


def test_find_stranded_reports_unserved_flows_and_lost_positions():
    flow = compiled(v1())
    task = walk(flow, 1)
    legacy = copy.deepcopy(task.record.raw)
    del legacy["fp"]
    legacy["pos"] = "DpSignup.DpGone"
    other = {**copy.deepcopy(task.record.raw), "flow": "NoSuchFlow"}
    rows = find_stranded(
        [("a" * 32, legacy), ("b" * 32, other), ("c" * 32, None), ("d" * 32, task.record.raw)], {"DpSignup": flow}
    )
    assert [(r.task_id[0], r.reason) for r in rows] == [
        ("a", "saved without a fingerprint; gone: 410"),
        ("b", "flow not served: 404"),
    ]


def test_flowtasks_names_a_store_that_cannot_list(settings):
    settings.FLOWS_STATE_STORE = "tests.stores.test_store_contract"  # the three-method DictStateStore
    with pytest.raises(CommandError, match="cannot list its tasks: implement iter_task_ids"):
        call_command("flowtasks", stdout=StringIO())
