"""A task: one user's journey through a compiled flow, as kept in the store.

The view layer and the test replay both drive flows through :class:`Task`:
``advance`` applies what an action returned (COMPLETE or a jump) by firing the
compiled machine, ``rewind`` handles the back button, and ``record`` is what
the state store saves.
"""

from __future__ import annotations

import copy
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import msgpack
from django import forms
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from flowmachine._ids import is_valid_task_id as is_valid_task_id  # re-exported
from flowmachine._ids import new_task_id
from flowmachine._machine import COMPLETE_TRIGGER, FINAL, CompiledFlow, Place
from flowmachine.binding import binding_hash
from flowmachine.components import COMPLETE, _Jump
from flowmachine.conf import flow_settings
from flowmachine.exceptions import CorruptStateError, FlowDefinitionError

if TYPE_CHECKING:
    pass

JUMP_PARAM = "_to"
#: Hidden form field carrying the change of the task a page was rendered from (stale pages).
VERSION_PARAM = "_v"

#: The type each optional field of a stored record must have when present.
_FIELD_TYPES: dict[str, type] = {
    "hist": list,
    "skp": list,
    "jrnl": list,
    "err": list,
    "ans": dict,
    "kw": dict,
    "accessed": int,
}


def _malformed_fields(record: dict[str, Any]) -> list[str]:
    """The fields of a decoded record the engine could not work with (a corrupt record)."""
    bad = [key for key, kind in _FIELD_TYPES.items() if key in record and not isinstance(record[key], kind)]
    if isinstance(record.get("ans"), dict) and not all(isinstance(v, dict) for v in record["ans"].values()):
        bad.append("ans")
    if isinstance(record.get("kw"), dict) and not all(isinstance(v, str) for v in record["kw"].values()):
        bad.append("kw")
    return bad


@dataclass(frozen=True)
class TrailStep:
    """A visited step, for progress trails."""

    name: str
    title: str
    url: str


@dataclass(frozen=True)
class Progress:
    """Step n of m along the current path (m is None when it depends on answers)."""

    step: int
    total: int | None
    trail: tuple[TrailStep, ...]


class FlowContext:
    """The ``flow`` template variable: the task field, back link and progress."""

    def __init__(self, task: Task, request: HttpRequest, place: Place) -> None:
        self.task = task
        self.task_id = task.id
        self.param = flow_settings.FLOWS_TASK_ID_PARAM
        self.place = place
        self.title = place.component.display_title()
        self._request = request

    @property
    def version(self) -> int:
        """The change of the task this page shows; a POST carrying an older one is refused."""
        return self.task.moved_at

    @property
    def hidden_field(self) -> SafeString:
        return format_html(
            '<input type="hidden" name="{}" value="{}"><input type="hidden" name="{}" value="{}">',
            self.param,
            self.task_id,
            VERSION_PARAM,
            self.version,
        )

    @property
    def back_url(self) -> str | None:
        back = self.task.back_place()
        return self.task.url_for(self._request, back) if back else None

    @property
    def progress(self) -> Progress:
        trail = tuple(
            TrailStep(p.name, p.component.display_title(), self.task.url_for(self._request, p))
            for p in self.task.trail_places()
        )
        step = len(trail) + self.task.skipped_steps() + 1
        remaining = self.place.remaining
        return Progress(step, None if remaining is None else step + remaining, trail)

    @property
    def action_url(self) -> str:
        return self.task.url_for(self._request, self.place)


def _packed(value: Any) -> Any:
    """*value* encoded as the store encodes it, to tell later whether it changed.

    Comparing encodings is much cheaper than keeping a deep copy of the state,
    and it compares what would be stored (``1`` and ``True`` differ, a tuple
    equals the list it becomes). A value that cannot be encoded gets a token
    equal to nothing, so it always counts as changed (saving it then fails
    with the store's message naming the key).
    """
    try:
        return msgpack.packb(value, use_bin_type=True, datetime=True)
    except (TypeError, ValueError, OverflowError):
        return object()


def _copy(packed: Any, value: Any) -> Any:
    """A copy of *value* that later changes to the state cannot reach, from its encoding if it has one."""
    if isinstance(packed, bytes):
        return msgpack.unpackb(packed, raw=False, timestamp=3, strict_map_key=False)
    return copy.deepcopy(value)


def apply_entry(state: dict[str, Any], entry: list[Any], *, copy_values: bool = True) -> None:
    """Apply a journal entry's delta (or a ``base`` entry's snapshot) to *state* in place.

    An entry is ``[time, event, where it led, sets?, deleted keys?]``; places are
    named by :func:`journal_name`. *copy_values* False shares the entry's values
    with *state* (for entries that are discarded afterwards).
    """
    if entry[1] == "base":
        state.clear()
    if len(entry) > 3:
        state.update(copy.deepcopy(entry[3]) if copy_values else entry[3])
    for key in entry[4] if len(entry) > 4 else ():
        state.pop(key, None)


_short_names: weakref.WeakKeyDictionary[CompiledFlow, dict[str, str]] = weakref.WeakKeyDictionary()


def journal_name(flow: CompiledFlow, name: str) -> str:
    """How the journal names a place: its class name when no other action shares it, else its full name."""
    names = _short_names.get(flow)
    if names is None:
        actions = [p for p in flow.places.values() if p.is_action]
        counts: dict[str, int] = {}
        for place in actions:
            counts[place.local_name] = counts.get(place.local_name, 0) + 1
        names = _short_names[flow] = {p.name: p.local_name if counts[p.local_name] == 1 else p.name for p in actions}
    return names.get(name, name)


def _fold_journal(journal: list[list[Any]], limit: int) -> list[list[Any]]:
    """Keep *limit* entries: the oldest are folded into one leading ``base`` snapshot."""
    if limit < 2:
        return journal[-limit:] if limit > 0 else []
    folded = journal[: len(journal) - limit + 1]
    state: dict[str, Any] = {}
    position = None
    for entry in folded:
        apply_entry(state, entry, copy_values=False)
        position = entry[2] or position
    base = [folded[-1][0], "base", position]
    return [base + ([state] if state else []), *journal[len(folded) :]]


@dataclass(frozen=True)
class Refusal:
    """A precondition that refused a component, and the response it answered with."""

    component: Any
    precondition: Any
    response: HttpResponseBase


class Task:
    """A task record bound to its compiled flow."""

    def __init__(self, task_id: str, record: dict[str, Any], flow: CompiledFlow, namespace: str | None) -> None:
        self.id = task_id
        self.record = record
        self.flow = flow
        self.namespace = namespace
        self.modified = False
        self.done_url = ""
        #: True while the task has an id but no record yet (lazy creation).
        self.provisional = False
        #: Query args the current step's URLs carry while the task is provisional.
        self.carry: dict[str, str] = {}
        #: Where the deploy policy moved the task from, if it did: (old, new, reason).
        self.relocated: tuple[str, str, str] | None = None
        if isinstance(record.get("pos"), str) and isinstance(record.get("data"), dict):
            from flowmachine._migrate import relocate

            move = relocate(task_id, record, flow)
            self.modified = move is not None
            if move is not None and move.moved:
                self.relocated = (move.old, move.new, move.reason)
        position = record.get("pos")
        place = flow.places.get(position) if isinstance(position, str) else None
        if place is None or not place.is_action or not isinstance(record.get("data"), dict):
            raise CorruptStateError(
                f"Task {task_id[:8]}… of flow {flow.name!r} is at {position!r}, which is not an action of the flow."
            )
        malformed = _malformed_fields(record)
        if malformed:
            raise CorruptStateError(
                f"Task {task_id[:8]}… of flow {flow.name!r} has malformed fields: {', '.join(malformed)}."
            )
        self.current_place = place
        #: The state as of the last journal entry, encoded by key, to journal what changed since.
        self._baseline: dict[str, Any] = {key: _packed(value) for key, value in record["data"].items()}
        #: (event, source, dest) of the moves made in this request, for signals.
        self.events: list[tuple[str, str | None, str | None]] = []

    # -- creating ---------------------------------------------------------

    @classmethod
    def start(
        cls,
        flow: CompiledFlow,
        namespace: str | None,
        binder_value: str | None,
        *,
        initial_state: dict[str, Any] | None = None,
        on_complete: str | None = None,
        url_kwargs: dict[str, Any] | None = None,
        task_id: str | None = None,
    ) -> Task:
        """A new task at the flow's first action, not saved (*binder_value* None binds it at its first save)."""
        from flowmachine._migrate import fingerprint

        now = int(time.time())
        first = flow.root.first_leaf()
        record: dict[str, Any] = {
            "version": 0,
            "flow": flow.name,
            "pos": first.name,
            "data": dict(initial_state or {}),
            "hist": [],
            "jrnl": [],
            "ans": {},
            "created": now,
            "accessed": now,
            "bind": None if binder_value is None else binding_hash(binder_value),
            "next": on_complete,
            "kw": {k: str(v) for k, v in (url_kwargs or {}).items()},
            "fp": fingerprint(flow),
            "at": 1,
        }
        task = cls(task_id or new_task_id(flow.name), record, flow, namespace)
        task._baseline = {}
        task._log("start", None, first.name)
        return task

    # -- reading ------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        return self.record["data"]  # type: ignore[no-any-return]

    @property
    def version(self) -> int:
        return int(self.record["version"])

    @property
    def moved_at(self) -> int:
        """The record version at which the task arrived at its current step (0 if unknown)."""
        value = self.record.get("at", 0)
        return value if isinstance(value, int) else 0

    @property
    def history(self) -> list[str]:
        return self.record.setdefault("hist", [])  # type: ignore[no-any-return]

    @property
    def finished(self) -> bool:
        return self.current_place is None

    def trail_places(self) -> list[Place]:
        return [self.flow.places[name] for name in self.history if name in self.flow.places]

    def skipped_steps(self) -> int:
        """``skip_on_back`` steps walked on the way to here: each is noted with the length of the
        history when it was left, so going back before it forgets it."""
        walked = len(self.history)
        return sum(1 for at in self.record.get("skp", ()) if isinstance(at, int) and at <= walked)

    def back_place(self) -> Place | None:
        trail = self.trail_places()
        return trail[-1] if trail else None

    # -- running a step ---------------------------------------------------------

    def bind(self, request: HttpRequest, kwargs: dict[str, Any]) -> tuple[list[Any], Any]:
        """The current place's scaffolds (root first) and action, set up for *request*."""
        place = self.current_place
        lineage = place.lineage()
        scaffolds = [p.component(request, self, p) for p in lineage[:-1]]  # type: ignore[call-arg]
        action: Any = place.component()
        action.setup(request, **kwargs)
        action.task, action.place, action.state = self, place, self.state
        return scaffolds, action

    def check_preconditions(self, request: HttpRequest, components: list[Any]) -> Refusal | None:
        """Run each component's preconditions, root first; the first refusal wins."""
        for component in components:
            for precondition in component.preconditions:
                response = precondition.process(request, component)
                if response is not None:
                    return Refusal(component, precondition, response)
        return None

    # -- moving -------------------------------------------------------------

    def advance(self, outcome: Any) -> Place | None:
        """Apply an action's outcome; return the new place, or None when the flow is done."""
        place = self.current_place
        if outcome is COMPLETE:
            trigger, event = COMPLETE_TRIGGER, "complete"
        elif isinstance(outcome, _Jump):
            trigger, event = f"goto:{outcome.target_name}", f"jump:{outcome.target_name}"
            if outcome.errors:
                self.record["err"] = [str(e) for e in outcome.errors]
        elif isinstance(outcome, (str, type)):
            return self.advance(_Jump(outcome))
        else:
            raise FlowDefinitionError(
                f"{place.component.__qualname__}.form_valid() in flow {self.flow.name!r} "
                f"returned {outcome!r}. Return COMPLETE, an Action or Scaffold (class or "
                f"name) to jump to, or an HttpResponse."
            )
        new_position = self.flow.fire(place.name, trigger, self.state)
        if place.component.skip_on_back:  # type: ignore[attr-defined]
            # Off the back trail, but a step walked: progress still counts it.
            self.record.setdefault("skp", []).append(len(self.history))
        else:
            self.history.append(place.name)
        self._log(event, place.name, new_position)
        self.modified = True
        self.record["at"] = self.version + 1
        if new_position == FINAL:
            self.current_place = None  # type: ignore[assignment]
            return None
        self.current_place = self.flow.places[new_position]
        self.record["pos"] = new_position
        return self.current_place

    def rewind(self, place: Place) -> None:
        """Go back to a visited step (the back button): later history is dropped."""
        index = self.history.index(place.name)
        del self.history[index:]
        if self.record.get("skp"):
            self.record["skp"] = [at for at in self.record["skp"] if isinstance(at, int) and at <= index]
        self._log("back", self.current_place.name, place.name)
        self.current_place = place
        self.record["pos"] = place.name
        self.record["at"] = self.version + 1
        self.modified = True

    def _log(
        self, event: str, source: str | None, dest: str | None, change: tuple[list[Any], dict[str, Any]] | None = None
    ) -> None:
        """Journal a move (and the state's change since the last entry: *change* if already computed)."""
        self.events.append((event, source, dest))
        journal = self.record.setdefault("jrnl", [])
        where = journal_name(self.flow, dest) if dest else dest
        delta, self._baseline = change or self._delta()
        journal.append([int(time.time()), event, where, *delta])
        limit = int(flow_settings.FLOWS_JOURNAL_LENGTH)
        if len(journal) > limit:
            journal[:] = _fold_journal(journal, limit)

    def _delta(self) -> tuple[list[Any], dict[str, Any]]:
        """What the state gained or lost since the last journal entry (``[]``, ``[sets]`` or
        ``[sets, deleted keys]``), and the state encoded by key: the next baseline."""
        baseline, state = self._baseline, self.state
        packed = {key: _packed(value) for key, value in state.items()}
        sets = {key: _copy(p, state[key]) for key, p in packed.items() if baseline.get(key) != p}
        deleted = [key for key in baseline if key not in packed]
        return ([sets, deleted] if deleted else [sets] if sets else []), packed

    def journal_changes(self) -> bool:
        """Journal state changed by a step that did not move (a ``data`` entry); True if it did."""
        change = self._delta()
        if not change[0]:
            return False
        place = self.current_place.name
        self._log("data", place, place, change)
        self.modified = True
        return True

    # -- answers and messages -------------------------------------------------

    def answers_for(self, place: Place) -> dict[str, Any]:
        return dict(self.record.get("ans", {}).get(place.name, {}))

    def remember_answers(self, place: Place, form: forms.BaseForm) -> None:
        """Keep what was accepted on a page (never passwords or files) to show it again."""
        answers: dict[str, Any] = {}
        for name, field in form.fields.items():
            widget = field.widget
            if isinstance(widget, (forms.PasswordInput, forms.FileInput)) or widget.is_hidden:
                continue
            value = form[name].data
            if isinstance(value, (list, tuple)):
                answers[name] = [str(v) for v in value]
            elif value is None or isinstance(value, (bool, int, float, str)):
                answers[name] = value
        self.record.setdefault("ans", {})[place.name] = answers
        self.modified = True

    def pop_errors(self) -> list[str]:
        errors = self.record.pop("err", None) or []
        if errors:
            self.modified = True
        return list(errors)

    # -- URLs -----------------------------------------------------------------

    def _reverse(self, place: Place, args: Any = None) -> str:
        name = f"{self.namespace}:{place.url_name}" if self.namespace else place.url_name
        kwargs = {k: v for k, v in self.record.get("kw", {}).items() if k in place.url_kwargs}
        return reverse(name, args=args, kwargs=kwargs or None)

    def url_for(self, request: HttpRequest | None, place: Place, query: dict[str, Any] | None = None) -> str:
        """The URL of *place* in this task, carrying the task id."""
        params = {flow_settings.FLOWS_TASK_ID_PARAM: self.id}
        if self.provisional and place is self.current_place:
            params.update(self.carry)
        params.update(query or {})
        return f"{self._reverse(place)}?{urlencode(params, doseq=True)}"

    def resume_url(self, request: HttpRequest | None = None) -> str:
        """A local URL that brings this user back to the current step (after logging in, say).

        A task without a record is restarted from its entry instead: its id is
        bound to the CSRF cookie, which logging in rotates.
        """
        if self.provisional:
            query = {k: v for k, v in self.carry.items() if k != JUMP_PARAM}
            return f"{self.restart_url(request)}?{urlencode(query)}" if query else self.restart_url(request)
        return self.url_for(request, self.current_place)

    def jump_link(self, request: HttpRequest, place: Place, target: str, query: dict[str, Any]) -> str:
        return self.url_for(request, place, {JUMP_PARAM: target, **query})

    def restart_url(self, request: HttpRequest | None = None) -> str:
        """Where a new task of the same flow starts."""
        return self._reverse(self.flow.root)

    def context(self, request: HttpRequest, place: Place) -> FlowContext:
        return FlowContext(self, request, place)

    # -- saving ---------------------------------------------------------------

    def next_record(self) -> dict[str, Any]:
        """The record to save: the next version, accessed now."""
        record = dict(self.record)
        record["version"] = self.version + 1
        record["accessed"] = int(time.time())
        return record

    def finished_record(self, done_url: str) -> dict[str, Any]:
        """What remains of a finished task: no data, only where it went."""
        return {
            "version": self.version + 1,
            "flow": self.flow.name,
            "done": done_url,
            "bind": self.record.get("bind"),
            "created": self.record.get("created"),
            "accessed": int(time.time()),
            # The marker keeps no data: the journal loses its state deltas.
            "jrnl": [entry[:3] for entry in self.record.get("jrnl", [])],
        }
