"""Progress: "Step n" counts the steps on the trail, "of m" adds the fewest steps left to the end.

The trail is the steps walked: the back trail, less the pages left by one of
their links (not answered: the link's target stands in for them), plus the
``skip_on_back`` steps walked (shown without a URL, as they cannot be gone back to).
"""

from __future__ import annotations

import types

import pytest
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold, registry
from flowmachine.components import Jump
from flowmachine.engine.task import Task
from flowmachine.machine.compiler import CompiledFlow


def _actions(*names: str, **attrs: object) -> list[type[Action]]:
    attrs = {"__module__": __name__, "template_name": "shop/step.html", **attrs}
    return [type(name, (Action,), attrs) for name in names]


(PgStart,) = _actions("PgStart")
(PgChooser, PgOther, PgOtherToo) = _actions("PgChooser", "PgOther", "PgOtherToo")
(PgCode,) = _actions("PgCode", skip_on_back=True)
(PgEnd,) = _actions("PgEnd")
PgLong = type("PgLong", (Scaffold,), {"__module__": __name__, "transition": Linear, "action_set": [PgOtherToo, PgCode]})
#: "log in | register | forgot password": entered through the chooser's links.
PgBranch = type("PgBranch", (Scaffold,), {"__module__": __name__, "action_set": [PgChooser, PgOther, PgLong]})
PgFlow = type(
    "PgFlow", (Scaffold,), {"__module__": __name__, "transition": Linear, "action_set": [PgStart, PgBranch, PgEnd]}
)

START, CHOOSER, OTHER = "PgFlow.PgStart", "PgFlow.PgBranch.PgChooser", "PgFlow.PgBranch.PgOther"
OTHER_TOO, CODE, END = "PgFlow.PgBranch.PgLong.PgOtherToo", "PgFlow.PgBranch.PgLong.PgCode", "PgFlow.PgEnd"


COMPILED: list[CompiledFlow] = []


@pytest.fixture(autouse=True)
def progress_urls(settings):
    """PgFlow served by a handler of its own, so its steps have URLs (the trail's links)."""
    with registry.isolated():
        handler = FlowHandler(on_complete_url="/done/")
        handler.register_entry_point(PgFlow)
        urlconf = types.ModuleType("progress_urls")
        urlconf.urlpatterns = [path("progress/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        COMPILED[:] = [handler.flows[PgFlow]]
        yield


def _task() -> Task:
    return Task.start(COMPILED[0], None, "binder")


def _progress(task: Task) -> tuple[int, int | None, list[tuple[str, bool]]]:
    progress = task.context(task.current_place).progress
    return progress.step, progress.total, [(step.name, step.url is not None) for step in progress.trail]


def test_the_count_and_the_trail_agree_along_a_plain_path():
    task = _task()
    assert _progress(task) == (1, 3, [])
    task.advance(COMPLETE)
    assert _progress(task) == (2, 3, [(START, True)])
    task.advance(COMPLETE)
    assert _progress(task) == (3, 3, [(START, True), (CHOOSER, True)])


def test_a_page_left_by_its_link_is_on_the_back_trail_but_not_a_step_walked():
    task = _task()
    task.advance(COMPLETE)
    task.advance(Jump("PgOther"), link=True)
    assert task.current_place.name == OTHER
    # The chooser was not answered: the branch taken stands in for it, as step 2 of 3.
    assert _progress(task) == (2, 3, [(START, True)])
    assert task.back_place().name == CHOOSER  # the Back link and the back button still go there
    task.advance(COMPLETE)
    assert _progress(task) == (3, 3, [(START, True), (OTHER, True)])
    # Back to the chooser: what was noted after it goes with the history.
    task.rewind(task.flow.places[CHOOSER])
    assert (task.history, task.record.linked) == ([START], [])
    assert _progress(task) == (2, 3, [(START, True)])


def test_a_page_answered_with_a_jump_is_a_step_walked():
    task = _task()
    task.advance(COMPLETE)
    task.advance(Jump("PgOther"))  # form_valid returned it: the chooser was answered
    assert _progress(task) == (3, 4, [(START, True), (CHOOSER, True)])


def test_skip_on_back_steps_are_walked_steps_without_a_url():
    task = _task()
    task.advance(COMPLETE)
    task.advance(Jump("PgLong"), link=True)
    assert _progress(task) == (2, 4, [(START, True)])  # the longer branch: the total grows once
    task.advance(COMPLETE)
    assert _progress(task) == (3, 4, [(START, True), (OTHER_TOO, True)])
    task.advance(COMPLETE)
    assert task.current_place.name == END
    assert _progress(task) == (4, 4, [(START, True), (OTHER_TOO, True), (CODE, False)])
    assert task.history == [START, CHOOSER, OTHER_TOO]


def test_set_trail_puts_skip_on_back_steps_on_the_progress_trail_only():
    task = _task()
    task.advance(COMPLETE)
    task.advance(Jump("PgLong"), link=True)
    task.advance(COMPLETE)
    task.advance(COMPLETE)
    places = task.flow.places
    task.modified = False
    task.set_trail([places[START], places[OTHER_TOO], places[CODE]])
    assert task.modified
    assert task.history == [START, OTHER_TOO]
    assert (task.record.linked, task.record.walked_off) == ([], [[2, CODE]])
    assert _progress(task) == (4, 4, [(START, True), (OTHER_TOO, True), (CODE, False)])
    task.modified = False
    task.set_trail([places[START], places[OTHER_TOO], places[CODE]])
    assert not task.modified  # the same trail again changes nothing


def test_records_of_earlier_releases_lose_only_their_unnamed_skipped_steps():
    task = _task()
    task.advance(COMPLETE)
    raw = task.next_record()
    raw["skp"] = [1]
    raw.pop("off", None)
    raw.pop("lnk", None)
    loaded = Task.load(task.id, raw, task.flow, None)
    assert "skp" not in loaded.record.raw
    assert _progress(loaded) == (2, 3, [(START, True)])


def test_set_trail_of_the_path_walked_keeps_what_the_walk_noted():
    """A summary that sets the trail it was reached by loses neither a link's detour nor a used page."""
    task = _task()
    task.advance(COMPLETE)
    task.advance(Jump("PgLong"), link=True)
    task.advance(COMPLETE)
    task.advance(COMPLETE)
    before = _progress(task)
    places = task.flow.places
    task.modified = False
    task.set_trail([places[START], places[CHOOSER], places[OTHER_TOO]])  # the back trail as it is
    assert not task.modified
    assert _progress(task) == before == (4, 4, [(START, True), (OTHER_TOO, True), (CODE, False)])
    # A path that parts from the walk after its start keeps the notes of the shared part only.
    task.set_trail([places[START], places[OTHER]])
    assert (task.record.linked, task.record.walked_off) == ([], [])
    assert _progress(task) == (3, 3, [(START, True), (OTHER, True)])
