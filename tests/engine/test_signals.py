"""The five flow signals, sent by the view layer and by cleanup, on a real walk of a flow."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from flowmachine import signals
from flowmachine.engine.ids import new_task_id
from flowmachine.models import TaskRecord
from tests.survey_flows import AGE, COLOUR, NAME, Survey
from tests.walker import Walker

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.survey_flows")]

SIGNALS = ["flow_started", "step_completed", "flow_completed", "flow_expired", "flow_abandoned"]


@pytest.fixture
def received() -> Iterator[list[dict[str, Any]]]:
    """Every signal sent for the Survey flow, in order, as dicts."""
    log: list[dict[str, Any]] = []
    receivers = []
    for name in SIGNALS:

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            log.append({**kwargs, "name": _name, "sender": sender})

        getattr(signals, name).connect(receiver, sender=Survey, weak=False)
        receivers.append((name, receiver))
    yield log
    for name, receiver in receivers:
        getattr(signals, name).disconnect(receiver, sender=Survey)


def moves(log: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(entry["name"], entry["action"]) for entry in log]


def test_a_whole_journey_sends_started_each_step_and_completed(client, received):
    walker = Walker(client, "/survey/").start()
    walker.post({"answer": "Ann"})
    walker.post({"answer": "40"})
    assert walker.post({"answer": "blue"})["Location"] == "/survey-done/"

    assert moves(received) == [
        ("flow_started", NAME),
        ("step_completed", NAME),
        ("step_completed", AGE),
        ("step_completed", COLOUR),
        ("flow_completed", COLOUR),
    ]
    assert {entry["task_id"] for entry in received} == {walker.task_id}
    assert all(entry["flow"] == "Survey" and entry["sender"] is Survey for entry in received)
    assert all(entry["request"] is not None for entry in received)
    assert [e["next_action"] for e in received if e["name"] == "step_completed"] == [AGE, COLOUR, None]


def test_showing_pages_and_going_back_send_nothing_but_a_new_answer_completes_again(client, received):
    walker = Walker(client, "/survey/").start()
    walker.get(walker.url)
    assert received == []  # nothing is stored before the first answer, so nothing started

    walker.post({"answer": "Ann"})
    received.clear()
    walker.get(f"/survey/name/?_t={walker.task_id}")
    assert received == []
    walker.url = f"/survey/name/?_t={walker.task_id}"
    walker.post({"answer": "Bob"})
    assert moves(received) == [("step_completed", NAME)]


def test_a_request_for_a_task_no_longer_stored_sends_flow_expired(client, received):
    # An id issued two hours ago whose record is gone (expired and cleaned up).
    task_id = new_task_id("Survey", now=time.time() - 7200)
    response = client.get(f"/survey/age/?_t={task_id}")
    assert response.status_code == 410
    assert moves(received) == [("flow_expired", AGE)]
    assert received[0]["task_id"] == task_id


def test_cleanup_of_an_unfinished_task_sends_flow_abandoned_at_its_step(client, received):
    left = Walker(client, "/survey/").start()
    left.post({"answer": "Ann"})
    done = Walker(client, "/survey/").start()
    for answer in ("Bob", "30", "red"):
        done.post({"answer": answer})
    past = timezone.now() - timedelta(days=1)
    TaskRecord.objects.filter(task_id__in=[left.task_id, done.task_id]).update(accessed=past)
    received.clear()

    call_command("cleanupflows", stdout=StringIO())
    assert moves(received) == [("flow_abandoned", AGE)]
    assert received[0]["task_id"] == left.task_id
    assert received[0]["request"] is None
    assert not TaskRecord.objects.filter(task_id__in=[left.task_id, done.task_id]).exists()
