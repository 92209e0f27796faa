"""Funnel analytics on a real database and a real Redis, shown by ``manage.py flowstats``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from flowmachine.engine import funnel as _funnel
from flowmachine.machine.places import FINAL
from flowmachine.models import TaskRecord
from tests.survey_flows import AGE, COLOUR, NAME
from tests.walker import Walker

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.survey_flows")]


@pytest.fixture(params=["db", "redis"])
def funnel(request: pytest.FixtureRequest) -> Iterator[str]:
    """Funnel counting on, in the database or in Redis under a prefix of this test only."""
    prefix = f"fm-test-funnel-{uuid.uuid4().hex}:"
    with override_settings(
        FLOWS_FUNNEL=request.param, FLOWS_FUNNEL_KEY_PREFIX=prefix, FLOWS_REDIS_URL=settings.REDIS_URL
    ):
        yield request.param
    if request.param == "redis":  # the database funnel never touches Redis
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)


def answer(walker: Walker, *answers: str) -> None:
    for value in answers:
        walker.post({"answer": value})


def expire_all_and_clean() -> None:
    TaskRecord.objects.update(accessed=timezone.now() - timedelta(days=1))
    call_command("cleanupflows", stdout=StringIO())


def test_each_step_is_counted_once_per_task(client, funnel):
    finished = Walker(client, "/survey/").start()
    answer(finished, "Ann", "40", "blue")
    stopped = Walker(client, "/survey/").start()
    answer(stopped, "Bob")
    wavering = Walker(client, "/survey/").start()
    answer(wavering, "Cy", "30")
    # Back to the first question and through it again: no step counts twice.
    wavering.url = f"/survey/name/?_t={wavering.task_id}"
    wavering.get(wavering.url)
    answer(wavering, "Cyd", "31")
    Walker(client, "/survey/").start()  # only looked at the first page: nothing stored, nothing counted

    counts = _funnel.read("Survey")
    assert counts[NAME] == {"entered": 3, "completed": 3, "abandoned": 0}
    assert counts[AGE] == {"entered": 3, "completed": 2, "abandoned": 0}
    assert counts[COLOUR] == {"entered": 2, "completed": 1, "abandoned": 0}
    assert counts[FINAL]["entered"] == 1

    expire_all_and_clean()
    counts = _funnel.read("Survey")
    assert counts[AGE]["abandoned"] == 1
    assert counts[COLOUR]["abandoned"] == 1
    assert counts[NAME]["abandoned"] == 0


def test_flowstats_prints_the_drop_off_table(client, funnel):
    for answers in (["Ann", "40", "blue"], ["Bob", "20"], ["Cy"], ["Di"]):
        answer(Walker(client, "/survey/").start(), *answers)
    expire_all_and_clean()

    out = StringIO()
    call_command("flowstats", "Survey", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Funnel of Survey"
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:6]}
    assert list(rows) == [NAME, AGE, COLOUR]  # definition order
    assert rows[NAME] == ["4", "4", "0", "0.0%"]
    assert rows[AGE] == ["4", "2", "2", "50.0%"]
    assert rows[COLOUR] == ["2", "1", "1", "50.0%"]
    assert lines[-1] == "finished: 1 of 4 started (25.0%)"


def test_flowstats_names_a_flow_without_counts(funnel):
    with pytest.raises(CommandError, match="No funnel counts for flow 'Nope'"):
        call_command("flowstats", "Nope", stdout=StringIO())


@pytest.mark.usefixtures("db")
def test_counting_off_counts_nothing_and_flowstats_says_how_to_turn_it_on(client):
    answer(Walker(client, "/survey/").start(), "Ann")
    assert "fnl" not in bytes(TaskRecord.objects.get().data).decode("latin-1")
    with pytest.raises(CommandError, match="FLOWS_FUNNEL"):
        call_command("flowstats", "Survey", stdout=StringIO())


def test_an_unknown_backend_is_refused_with_the_choices():
    with override_settings(FLOWS_FUNNEL="mongo"), pytest.raises(ImproperlyConfigured, match="'db' or 'redis'"):
        _funnel.enabled()


@override_settings(FLOWS_FUNNEL="db")
def test_db_keeps_one_row_per_step_and_adds_to_it():
    _funnel.add("Race", [("Race.A", "entered")])
    _funnel.add("Race", [("Race.A", "entered"), ("Race.A", "completed")])
    row = _funnel.FunnelCount.objects.get(flow="Race", action="Race.A")
    assert (row.entered, row.completed, row.abandoned) == (2, 1, 0)
