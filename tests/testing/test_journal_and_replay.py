"""Each task's journal records its moves and state changes; replay() rebuilds the task from it."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from flowmachine.backends import get_store
from flowmachine.backends.base import encode_record
from flowmachine.engine.task import Task
from flowmachine.testing import FlowReplay, ReplayError, ReplayMismatch, replay
from tests.flows import Purchase
from tests.testing.test_replay import Anyone, RpFlow
from tests.walker import Walker

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.testing.test_replay")]

LAST = "RpFlow.RpInner.RpLast"
NOTE = "a private note"


def walk(client) -> Walker:
    """note -> a refused try (state changes, no move) -> go: the task ends at RpLast."""
    walker = Walker(client, entry="/rp/").start()
    walker.post({"note": NOTE})
    walker.post({}, expect=200)
    walker.post({"go": "on"})
    return walker


def export(task_id: str, **settings) -> dict:
    out = StringIO()
    with override_settings(**settings):
        call_command("flowtask", "export", "--", task_id, stdout=out)  # an id may start with "-"
    return json.loads(out.getvalue())


def test_the_journal_records_moves_with_their_state_changes(client):
    walker = walk(client)
    record = get_store().get_state(walker.task_id)
    entries = [entry[1:] for entry in record["jrnl"]]
    # places are named by class name when that is unambiguous, to keep records small
    assert entries == [
        ["start", "RpFirst"],
        ["complete", "RpCount", {"note": NOTE}],
        ["data", "RpCount", {"tries": 1}],
        ["complete", "RpLast", {"tries": 2}, ["note"]],
    ]


def test_a_step_that_only_changes_state_is_saved(client):
    walker = Walker(client, entry="/rp/").start()
    walker.post({"note": NOTE})
    walker.post({}, expect=200)
    assert get_store().get_state(walker.task_id)["data"] == {"note": NOTE, "tries": 1}


def test_replay_rebuilds_position_and_state_from_the_record(client):
    walker = walk(client)
    record = get_store().get_state(walker.task_id)
    run = replay(record["jrnl"], RpFlow)
    assert run.position == record["pos"] == LAST
    assert run.state == record["data"] == {"tries": 2}
    assert run.history == record["hist"]


def test_export_prints_json_that_replays_to_the_same_task(client):
    walker = walk(client)
    data = export(walker.task_id, FLOWS_EXPORT_REDACT=False)
    assert (data["task"], data["flow"], data["position"], data["finished"]) == (
        walker.task_id,
        "RpFlow",
        LAST,
        False,
    )
    assert data["state"] == {"tries": 2}
    run = replay(data)  # the flow is found by name among the registered handlers
    assert (run.position, run.state) == (LAST, {"tries": 2})


def test_export_redacts_every_value_by_default(client):
    walker = walk(client)
    data = export(walker.task_id)
    assert data["state"] == {"tries": "<redacted>"}
    assert data["journal"][1] == {
        "at": data["journal"][1]["at"],
        "event": "complete",
        "to": "RpCount",
        "set": {"note": "<redacted>"},
    }
    assert NOTE not in json.dumps(data)
    run = replay(data)  # positions still replay; values are placeholders
    assert run.position == LAST and run.state == {"tries": "<redacted>"}


def test_export_redacts_only_the_listed_keys(client):
    walker = walk(client)
    data = export(walker.task_id, FLOWS_EXPORT_REDACT=["note"])
    assert data["journal"][1]["set"] == {"note": "<redacted>"}
    assert data["journal"][3]["set"] == {"tries": 2} and data["journal"][3]["unset"] == ["note"]
    assert data["state"] == {"tries": 2}


def test_export_refuses_unknown_and_malformed_ids():
    with pytest.raises(CommandError, match="not a task id"):
        call_command("flowtask", "export", "nope")
    with pytest.raises(CommandError, match="No task"):
        call_command("flowtask", "export", "A" * 32)


def test_a_finished_task_keeps_its_moves_but_no_data(client):
    walker = walk(client)
    walker.post({})
    record = get_store().get_state(walker.task_id)
    assert "done" in record and "data" not in record
    assert all(len(entry) == 3 for entry in record["jrnl"])
    assert record["jrnl"][-1][1:] == ["complete", "__complete__"]
    data = export(walker.task_id, FLOWS_EXPORT_REDACT=False)
    assert data["finished"] is True and data["state"] == {}
    assert replay(data).finished


def test_a_bounded_journal_folds_old_entries_into_a_snapshot():
    with override_settings(FLOWS_JOURNAL_LENGTH=3):
        run = FlowReplay(Purchase, user=Anyone())
        run.complete(item="book").jump("Register").complete(user="bob")
        run.jump("NewPaymentMethod", payment="ignored").jump("PayPal").complete(payment="paypal")
        journal = run.journal
    assert len(journal) == 3
    assert journal[0][1:3] == ["base", "CardNumber"]
    assert journal[0][3] == {"item": "book", "user": "bob", "payment": "ignored"}
    again = replay(journal, Purchase)
    assert (again.position, again.state) == (run.position, run.state)
    assert again.position == "Purchase.Confirm"


def test_a_replay_that_now_leads_elsewhere_is_a_mismatch():
    run = FlowReplay(Purchase).complete(item="book")
    journal = [list(entry) for entry in run.journal]
    journal[1][2] = "Confirm"
    with pytest.raises(ReplayMismatch, match="now leads to Purchase.GetUserAccount.LoginOrRegister"):
        replay(journal, Purchase)
    with pytest.raises(ReplayError, match="'start' or 'base'"):
        replay(journal[1:], Purchase)


def test_an_export_whose_state_differs_is_a_mismatch():
    run = FlowReplay(Purchase).complete(item="book")
    exported = {"flow": "Purchase", "journal": run.journal, "position": run.position, "state": {"item": "lamp"}}
    with pytest.raises(ReplayMismatch, match="differs"):
        replay(exported)


def test_initial_state_is_journalled_with_the_start():
    task = Task.start(FlowReplay(Purchase).compiled, None, "", initial_state={"item": "mug"})
    assert task.record.raw["jrnl"][0][1:] == ["start", "ChooseItem", {"item": "mug"}]
    assert replay(task.record.raw["jrnl"], Purchase).state == {"item": "mug"}


def test_the_journal_of_a_long_checkout_stays_small():
    run = FlowReplay(Purchase, user=Anyone())
    run.complete(item="book").jump("ForgotPassword").complete(reset_user="alice", code="123456")
    run.complete().complete(user="alice").jump("NewPaymentMethod").jump("BankAccount")
    run.complete(iban="DE89370400440532013000").complete(payment="bank:DE89370400440532013000:1 Main St")
    # 13 entries: a time, an event and a short place name each, plus the state changes
    size = len(encode_record(run.journal))
    assert size <= 512, size


def test_the_journal_compares_state_as_it_would_be_stored():
    """1 and True differ, so do a tuple and the list it equals, and a logged value is a copy."""
    task = Task.start(FlowReplay(Purchase).compiled, None, "", initial_state={"n": 1, "pair": ["a", "b"]})
    task.state.update(n=True, pair=("a", "b"))
    assert task.journal_changes()
    assert task.record.raw["jrnl"][-1][1:] == ["data", "ChooseItem", {"n": True, "pair": ("a", "b")}]
    assert type(task.record.raw["jrnl"][-1][3]["pair"]) is tuple
    task.state["pair"] = ("a", "b")  # an equal tuple: no change
    assert not task.journal_changes()
    task.state["basket"] = basket = {"items": ["mug"]}
    task.journal_changes()
    basket["items"].append("lamp")  # changed after it was journalled: the entry keeps what was logged
    assert task.record.raw["jrnl"][-1][3] == {"basket": {"items": ["mug"]}}
    assert task.journal_changes()
    del task.state["pair"]
    assert task.journal_changes()
    assert task.record.raw["jrnl"][-1][3:] == [{}, ["pair"]]
    assert not task.journal_changes()
