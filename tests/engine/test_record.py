"""The record schema: every key a task saves is declared once, with its type, and carries its format."""

from __future__ import annotations

import pytest

from flowmachine.backends import get_store
from flowmachine.engine.task import Task
from flowmachine.exceptions import CorruptStateError
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.record import FIELDS, FORMAT, Record
from tests.flows import Purchase
from tests.walker import Walker

DECLARED = {field.key for field in FIELDS.values()}


@pytest.mark.django_db
def test_every_key_of_a_saved_running_and_finished_record_is_declared(client, django_user_model):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    running = get_store().get_state(walker.task_id)
    assert running["fmt"] == FORMAT
    assert set(running) <= DECLARED, set(running) - DECLARED


def test_each_field_has_a_meaning_and_a_default_of_its_type():
    for name, field in FIELDS.items():
        assert field.meaning, name
        default = field.default()
        kinds = field.kind if isinstance(field.kind, tuple) else (field.kind,)
        assert isinstance(default, kinds), name


def test_a_record_written_before_formats_were_numbered_reads_as_format_one():
    legacy = Record({"version": 3, "flow": "F", "pos": "F.A", "data": {}, "hist": []})
    assert legacy.problems() == []
    assert legacy.next_version()["fmt"] == FORMAT


def test_a_record_of_a_newer_format_is_refused_naming_it():
    problems = Record({"version": 3, "fmt": FORMAT + 1, "pos": "F.A", "data": {}}).problems()
    assert len(problems) == 1 and f"format {FORMAT + 1}" in problems[0]


@pytest.mark.parametrize(
    "key, value",
    [
        ("hist", "F.A"),
        ("hist", [1]),
        ("ans", {"F.A": 1}),
        ("ans", {"F.A": [{"x": 1}, "row"]}),
        ("kw", {"id": 1}),
        ("jrnl", [5]),
        ("version", True),
    ],
)
def test_values_of_the_wrong_type_are_problems(key, value):
    assert key in Record({"version": 1, key: value}).problems()


def test_a_formset_steps_answers_are_a_list_of_rows():
    record = Record({"version": 1, "pos": "F.A", "data": {}, "ans": {"F.A": [{"name": "Ann"}, {}], "F.B": []}})
    assert "ans" not in record.problems()


def test_containers_read_from_a_record_are_kept_in_it():
    record = Record({"version": 1})
    record.history.append("F.A")
    record.answers["F.A"] = {"x": 1}
    assert record.raw["hist"] == ["F.A"] and record.raw["ans"] == {"F.A": {"x": 1}}
    assert record.user is None and "uid" not in record.raw


def test_a_finished_marker_keeps_no_data():
    record = Record({"version": 4, "fmt": 1, "flow": "F", "pos": "F.A", "data": {"card": "4242"}, "bind": "b"})
    marker = Record(record.finished_marker("/done/", [[1, "complete", None]]))
    assert marker.finished and not marker.running
    assert marker.version == 5 and marker.done == "/done/" and marker.binding == "b"
    assert "data" not in marker.raw and set(marker.raw) <= DECLARED


def test_the_engine_refuses_a_record_with_problems():
    compiled = CompiledFlow(Purchase, "")
    raw = {"version": 2, "flow": "Purchase", "pos": "Purchase.ChooseItem", "data": {}, "hist": 5}
    with pytest.raises(CorruptStateError, match="malformed fields: hist"):
        Task.load("a" * 32, raw, compiled, None)
