"""Driving a compiled flow without HTTP, and replaying a task's journal.

:class:`FlowReplay` holds a real :class:`~flowmachine.engine.task.Task` and moves it
with the engine's own ``check_preconditions`` and ``advance``, the calls the
view layer makes for each request, so a replay takes exactly the transitions a
user would. Actions' ``form_valid`` does not run: a step says what the action
would have written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase
from django.test import RequestFactory
from django.urls import NoReverseMatch

from flowmachine import registry
from flowmachine.components import COMPLETE, Jump, Scaffold, Target
from flowmachine.engine.journal import apply_entry
from flowmachine.engine.task import Refusal, Task
from flowmachine.engine.urls import TaskUrls
from flowmachine.exceptions import FlowmachineError
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.paths import FlowPath, PathGraph, compile_flow
from flowmachine.machine.places import FINAL, Place

__all__ = ["FlowReplay", "PreconditionRefused", "ReplayError", "ReplayMismatch", "replay"]


class ReplayError(FlowmachineError, AssertionError):
    """A replay could not do what it was asked (pytest shows it as a failed assertion)."""


class PreconditionRefused(ReplayError):
    """A precondition refused the current step, as it would have refused the request."""

    def __init__(self, flow: str, place: str, refusal: Refusal) -> None:
        self.flow, self.place, self.refusal = flow, place, refusal
        self.precondition = refusal.precondition
        self.response: HttpResponseBase = refusal.response
        owner = type(refusal.component).__name__
        super().__init__(
            f"In flow {flow!r}, {place} was refused by {refusal.precondition!r} of {owner} "
            f"(it answered {refusal.response.status_code}). Set the state it needs (or pass "
            f"user= to FlowReplay) before this step."
        )


class ReplayMismatch(ReplayError):
    """A replayed step or path did not end where it was recorded to end."""


class _ReplayUrls(TaskUrls):
    """The URLs of a task kept in memory: the place's route when the flow is not served."""

    def _reverse(self, place: Place) -> str:
        try:
            return super()._reverse(place)
        except NoReverseMatch:
            return "/" + place.route


def _served(flow: type[Scaffold] | CompiledFlow) -> tuple[CompiledFlow, str | None]:
    compiled = compile_flow(flow)
    handler = registry.handler_serving(compiled.component)
    return compiled, handler.app_namespace if handler is not None else None


class FlowReplay:
    """A task of *flow* driven step by step in memory: ``complete()``, ``jump()``, ``back()``.

    Each step first runs the preconditions of the current action and its
    scaffolds, as the step's request would; a refusal raises
    :class:`PreconditionRefused` and leaves the task unchanged. Then the state
    changes given to the step are applied (what the action's ``form_valid``
    would have written) and the outcome fires the compiled machine.
    """

    def __init__(
        self,
        flow: type[Scaffold] | CompiledFlow,
        state: Mapping[str, Any] | None = None,
        *,
        user: Any = None,
        request: HttpRequest | None = None,
        check_preconditions: bool = True,
    ) -> None:
        self.compiled, namespace = _served(flow)
        self.graph = PathGraph(self.compiled)
        self.check_preconditions = check_preconditions
        self.task = Task.start(self.compiled, namespace, "", initial_state=dict(state or {}))
        self.task.urls = _ReplayUrls(self.task)
        if request is None:
            request = RequestFactory().post("/")
            request.user = user if user is not None else AnonymousUser()
        elif user is not None:
            request.user = user
        self.request = request

    # -- where the task is ----------------------------------------------------------

    @property
    def position(self) -> str | None:
        """The current action's full state name (``Purchase.GetUserAccount.Register``); None when finished."""
        return None if self.task.finished else self.task.current_place.name

    @property
    def action(self) -> str | None:
        """The current action's class name (``Register``); None when finished."""
        return None if self.task.finished else self.task.current_place.local_name

    @property
    def state(self) -> dict[str, Any]:
        """The task's state, as an action would see it."""
        return self.task.state

    @property
    def finished(self) -> bool:
        return self.task.finished

    @property
    def history(self) -> list[str]:
        """The back trail: actions visited before the current one."""
        return list(self.task.history)

    @property
    def journal(self) -> list[list[Any]]:
        return self.task.record.journal

    def at(self, name: str) -> bool:
        """Whether the task is at the action *name* (full name, label or class name)."""
        return not self.finished and self.position == self.graph.find(name)

    # -- moving -------------------------------------------------------------------

    def refusal(self) -> Refusal | None:
        """The refusal the current step's request would get, or None."""
        self._require_running("check preconditions")
        place = self.task.current_place
        kwargs = {k: v for k, v in self.task.url_kwargs.items() if k in place.url_kwargs}
        scaffolds, action = self.task.bind(self.request, kwargs)
        return self.task.check_preconditions(self.request, [*scaffolds, action])

    def complete(self, changes: Mapping[str, Any] | None = None, /, **more: Any) -> FlowReplay:
        """The current action returns COMPLETE after writing *changes* to the state."""
        return self._step(COMPLETE, {**(changes or {}), **more})

    def jump(self, target: Target, changes: Mapping[str, Any] | None = None, /, **more: Any) -> FlowReplay:
        """The current action jumps to *target* (as ``form_valid`` returning it or a ``link_to`` link)."""
        return self._step(Jump(target), {**(changes or {}), **more})

    def back(self, name: str | None = None) -> FlowReplay:
        """The back button: rewind to *name* in the history (default: the previous step)."""
        self._require_running("go back")
        if not self.task.history:
            raise ReplayError(f"In flow {self.compiled.name!r}, {self.position} has no step to go back to.")
        target = self.graph.find(name) if name else self.task.history[-1]
        if target not in self.task.history:
            raise ReplayError(f"{target} is not in the history of this task: {self.task.history}.")
        self.task.rewind(self.compiled.places[target])
        return self

    def follow(self, path: FlowPath, changes: Mapping[str, Mapping[str, Any]] | None = None) -> FlowReplay:
        """Take each move of a generated *path*, checking it lands where the path says.

        *changes* maps an action (label or class name) to the state it writes when left.
        """
        changes = changes or {}
        for number, edge in enumerate(path.edges, 1):
            label = self.graph.label(edge.source)
            if self.position != edge.source:
                raise ReplayMismatch(f"Step {number} of {path}: expected to be at {label}, but at {self.position}.")
            written = changes.get(label, changes.get(self.compiled.places[edge.source].local_name, {}))
            jump = edge.jump_target
            if jump is None:
                self.complete(written)
            else:
                self.jump(jump, written)
            landed = FINAL if self.finished else self.position
            if landed != edge.target:
                raise ReplayMismatch(
                    f"Step {number} of {path}: {label} led to {self.graph.label(landed)}, not "
                    f"{self.graph.label(edge.target)}. A custom transition chose another sibling: "
                    f"give {label} the state that makes it choose {self.graph.label(edge.target)}."
                )
        return self

    def _step(self, outcome: Any, changes: dict[str, Any]) -> FlowReplay:
        self._require_running("take a step")
        if self.check_preconditions:
            refusal = self.refusal()
            if refusal is not None:
                raise PreconditionRefused(self.compiled.name, self.task.current_place.name, refusal)
        self.task.state.update(changes)
        self.task.advance(outcome)
        return self

    def _require_running(self, what: str) -> None:
        if self.task.finished:
            raise ReplayError(f"The replayed task of flow {self.compiled.name!r} has finished: it cannot {what}.")

    def __repr__(self) -> str:
        return f"<FlowReplay {self.compiled.name} at {self.position or 'the end'}>"


def replay(
    journal: Mapping[str, Any] | Sequence[Sequence[Any]],
    flow: type[Scaffold] | CompiledFlow | None = None,
    *,
    user: Any = None,
    check_preconditions: bool = False,
) -> FlowReplay:
    """Rebuild a task from its journal (or ``manage.py flowtask export`` output).

    Each recorded move is fired again on the compiled machine, after the state
    changes recorded with it; a move that now lands elsewhere raises
    :class:`ReplayMismatch`. The journal records steps that already passed
    their preconditions, so they are not checked again unless
    *check_preconditions* is True (give *user* for ``LoginRequired``).
    """
    export: Mapping[str, Any] = journal if isinstance(journal, Mapping) else {"journal": list(journal)}
    entries = [_as_entry(e) for e in export.get("journal", [])]
    if flow is None:
        flow = _flow_named(export.get("flow"))
    if not entries or entries[0][1] not in ("start", "base"):
        raise ReplayError("A journal starts with a 'start' or 'base' entry; this one does not.")
    first_state: dict[str, Any] = {}
    apply_entry(first_state, entries[0])
    run = FlowReplay(flow, first_state, user=user, check_preconditions=check_preconditions)
    task = run.task
    _move_to(run, _place_named(run, entries[0][2]))
    for number, entry in enumerate(entries[1:], 2):
        event, dest = entry[1], _place_named(run, entry[2])
        if task.finished:
            raise ReplayMismatch(f"Journal entry {number} ({event}) comes after the task finished.")
        source = task.current_place.name
        if event == "complete" or event.startswith("jump:"):
            if check_preconditions:
                refusal = run.refusal()
                if refusal is not None:
                    raise PreconditionRefused(run.compiled.name, source, refusal)
            apply_entry(task.state, entry)
            task.advance(COMPLETE if event == "complete" else Jump(event[5:]))
            landed = FINAL if task.finished else task.current_place.name
            if landed != dest:
                raise ReplayMismatch(
                    f"Journal entry {number} ({event} from {source}) now leads to {landed}, but the "
                    f"task went to {dest}. The flow changed since the journal was recorded, or a "
                    f"custom transition depends on a value the export redacted."
                )
        elif event == "back" and dest in task.history:
            apply_entry(task.state, entry)
            task.rewind(run.compiled.places[dest])
        else:  # "data", a back past the journal's start, or an event this version does not know
            apply_entry(task.state, entry)
            _move_to(run, dest)
    _verify(run, export)
    return run


def _as_entry(entry: Any) -> list[Any]:
    """A journal entry as stored (a list), from a stored entry or an exported dict."""
    if isinstance(entry, Mapping):
        return [entry.get("at"), entry["event"], entry.get("to"), entry.get("set", {}), entry.get("unset", [])]
    return list(entry)


def _place_named(run: FlowReplay, name: Any) -> Any:
    if not isinstance(name, str) or name == FINAL or name in run.compiled.places:
        return name
    try:
        return run.graph.find(name)
    except KeyError as exc:
        raise ReplayMismatch(f"The journal names {name!r}: {exc.args[0]}") from None


def _move_to(run: FlowReplay, dest: Any) -> None:
    if not isinstance(dest, str) or dest == run.position:
        return
    place = run.compiled.places.get(dest)
    if place is None or not place.is_action:
        raise ReplayMismatch(f"The journal names {dest!r}, which is not an action of flow {run.compiled.name!r}.")
    run.task.current_place = place
    run.task.record.position = dest


def _verify(run: FlowReplay, export: Mapping[str, Any]) -> None:
    if "finished" in export and bool(export["finished"]) != run.finished:
        raise ReplayMismatch(
            f"The exported task {'has' if export['finished'] else 'has not'} finished, but the replay "
            f"{'has' if run.finished else 'has not'}."
        )
    if export.get("finished"):
        return
    if "position" in export and export["position"] != run.position:
        raise ReplayMismatch(f"The exported task is at {export['position']}, but the replay is at {run.position}.")
    if "state" in export and dict(export["state"]) != run.state:
        raise ReplayMismatch(
            f"The replayed state {run.state!r} differs from the exported state {dict(export['state'])!r}: "
            f"the journal lost steps (FLOWS_JOURNAL_LENGTH) or the record was changed outside the flow."
        )


def _flow_named(name: Any) -> type[Scaffold]:
    entry = registry.find_entry_point(str(name))
    if entry is not None:
        return entry
    raise ReplayError(f"No handler serves a flow named {name!r}: pass the flow to replay(journal, flow).")
