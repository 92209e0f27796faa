"""A task: one user's journey through a compiled flow, as kept in the store.

The view layer and the test replay both drive flows through :class:`Task`:
``advance`` applies what an action returned (COMPLETE or a jump) by firing the
compiled machine, ``rewind`` handles the back button, and ``record`` is what
the state store saves.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from flowmachine.binding import binding_hash
from flowmachine.components import COMPLETE, _Jump
from flowmachine.conf import flow_settings
from flowmachine.exceptions import CorruptStateError, FlowDefinitionError
from flowmachine._machine import COMPLETE_TRIGGER, FINAL, CompiledFlow, Place

if TYPE_CHECKING:
    pass

#: 32 characters of url-safe base64: 192 random bits.
TASK_ID_LENGTH = 32
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
JUMP_PARAM = "_to"

#: The type each optional field of a stored record must have when present.
_FIELD_TYPES: dict[str, type] = {"hist": list, "jrnl": list, "err": list, "ans": dict, "kw": dict, "accessed": int}


def _malformed_fields(record: dict[str, Any]) -> list[str]:
    """The fields of a decoded record the engine could not work with (a corrupt record)."""
    bad = [key for key, kind in _FIELD_TYPES.items() if key in record and not isinstance(record[key], kind)]
    if isinstance(record.get("ans"), dict) and not all(isinstance(v, dict) for v in record["ans"].values()):
        bad.append("ans")
    if isinstance(record.get("kw"), dict) and not all(isinstance(v, str) for v in record["kw"].values()):
        bad.append("kw")
    return bad


def new_task_id() -> str:
    return secrets.token_urlsafe(24)


def is_valid_task_id(value: str) -> bool:
    """Check an id's format before it goes anywhere near a store."""
    return len(value) == TASK_ID_LENGTH and _ID_CHARS.issuperset(value)


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
    def hidden_field(self) -> SafeString:
        return format_html('<input type="hidden" name="{}" value="{}">', self.param, self.task_id)

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
        step = len(trail) + 1
        remaining = self.place.remaining
        return Progress(step, None if remaining is None else step + remaining, trail)

    @property
    def action_url(self) -> str:
        return self.task.url_for(self._request, self.place)


class Task:
    """A task record bound to its compiled flow."""

    def __init__(self, task_id: str, record: dict[str, Any], flow: CompiledFlow, namespace: str | None) -> None:
        self.id = task_id
        self.record = record
        self.flow = flow
        self.namespace = namespace
        self.modified = False
        self.done_url = ""
        position = record.get("pos")
        place = flow.places.get(position) if isinstance(position, str) else None
        if place is None or not place.is_action or not isinstance(record.get("data"), dict):
            raise CorruptStateError(
                f"Task {task_id[:8]}… of flow {flow.name!r} is at {position!r}, "
                f"which is not an action of the flow."
            )
        malformed = _malformed_fields(record)
        if malformed:
            raise CorruptStateError(
                f"Task {task_id[:8]}… of flow {flow.name!r} has malformed fields: {', '.join(malformed)}."
            )
        self.current_place = place

    # -- creating ---------------------------------------------------------

    @classmethod
    def start(
        cls,
        flow: CompiledFlow,
        namespace: str | None,
        binder_value: str,
        *,
        initial_state: dict[str, Any] | None = None,
        on_complete: str | None = None,
        url_kwargs: dict[str, Any] | None = None,
    ) -> Task:
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
            "bind": binding_hash(binder_value),
            "next": on_complete,
            "kw": {k: str(v) for k, v in (url_kwargs or {}).items()},
        }
        task = cls(new_task_id(), record, flow, namespace)
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
    def history(self) -> list[str]:
        return self.record.setdefault("hist", [])  # type: ignore[no-any-return]

    @property
    def finished(self) -> bool:
        return self.current_place is None

    def trail_places(self) -> list[Place]:
        return [self.flow.places[name] for name in self.history if name in self.flow.places]

    def back_place(self) -> Place | None:
        trail = self.trail_places()
        return trail[-1] if trail else None

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
            return self.advance(_Jump(outcome))  # type: ignore[arg-type]
        else:
            raise FlowDefinitionError(
                f"{place.component.__qualname__}.form_valid() in flow {self.flow.name!r} "
                f"returned {outcome!r}. Return COMPLETE, an Action or Scaffold (class or "
                f"name) to jump to, or an HttpResponse."
            )
        new_position = self.flow.fire(place.name, trigger, self.state)
        if not place.component.skip_on_back:  # type: ignore[attr-defined]
            self.history.append(place.name)
        self._log(event, place.name, new_position)
        self.modified = True
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
        self._log("back", self.current_place.name, place.name)
        self.current_place = place
        self.record["pos"] = place.name
        self.modified = True

    def _log(self, event: str, source: str | None, dest: str | None) -> None:
        journal = self.record.setdefault("jrnl", [])
        journal.append([int(time.time()), event, source, dest])
        limit = int(flow_settings.FLOWS_JOURNAL_LENGTH)
        if len(journal) > limit:
            del journal[: len(journal) - limit]

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
        params.update(query or {})
        return f"{self._reverse(place)}?{urlencode(params, doseq=True)}"

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
            "jrnl": self.record.get("jrnl", []),
        }
