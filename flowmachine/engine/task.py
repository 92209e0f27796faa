"""A task: one user's journey through a compiled flow, as kept in the store.

The view layer and the test replay both drive flows through :class:`Task`:
``bind`` sets up the current step's scaffolds and action for a request,
``check_preconditions`` runs their preconditions, ``advance`` applies what the
action returned (COMPLETE or a jump) by firing the compiled machine, and
``rewind`` handles the back button. What is saved is ``record``
(:class:`flowmachine.record.Record`); the journal, the remembered answers, the
step URLs and the template context are kept in modules of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms.formsets import BaseFormSet
from django.http import HttpRequest, HttpResponseBase

from flowmachine.binding import binding_hash
from flowmachine.components import COMPLETE, Jump
from flowmachine.engine import answers, files, review, sensitive
from flowmachine.engine.context import FlowContext
from flowmachine.engine.ids import new_task_id
from flowmachine.engine.journal import Journal
from flowmachine.engine.path import RETURN_PARAM, AnswerPath
from flowmachine.engine.urls import TaskUrls, jump_signature
from flowmachine.exceptions import CorruptStateError, FlowDefinitionError
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.deploys import fingerprint, relocate
from flowmachine.machine.edges import COMPLETE_TRIGGER
from flowmachine.machine.places import FINAL, Place
from flowmachine.record import Record
from flowmachine.summary import StepSummary

__all__ = ["Refusal", "Task"]


@dataclass(frozen=True)
class Refusal:
    """A precondition that refused a component, and the response it answered with."""

    component: Any
    precondition: Any
    response: HttpResponseBase


class Task:
    """A task record bound to its compiled flow, at an action of it."""

    def __init__(
        self, task_id: str, record: Record, flow: CompiledFlow, namespace: str | None, *, fresh: bool = False
    ) -> None:
        """Wrap a record already checked against *flow* (use :meth:`load` or :meth:`start`)."""
        self.id = task_id
        self.record = record
        self.flow = flow
        self.namespace = namespace
        #: True once this request changed something that must be saved.
        self.modified = False
        #: Where a finished task goes (set when the flow completes).
        self.done_url = ""
        #: True while the task has an id but no record yet (lazy creation).
        self.provisional = False
        #: Where the deploy policy moved the task from, if it did: (old, new, reason).
        self.relocated: tuple[str, str, str] | None = None
        self.current_place: Place = flow.places[record.position]
        record.raw.pop("skp", None)  # earlier releases' unnamed skip_on_back steps (see flowmachine.record)
        self.journal = Journal(flow, record.journal, record.data, fresh=fresh)
        self.urls = TaskUrls(self)
        self.path = AnswerPath(self)
        #: True while this request's action received uploaded files (they are kept at the next move).
        self.receiving_files = False
        #: True once this request kept a file (:mod:`flowmachine.engine.files`).
        self.kept_any = False
        #: (event, source, dest) of the moves made in this request, for signals.
        self.events: list[tuple[str, str | None, str | None]] = []

    # -- creating ---------------------------------------------------------

    @classmethod
    def load(cls, task_id: str, raw: dict[str, Any], flow: CompiledFlow, namespace: str | None) -> Task:
        """The task of a stored record; refuse a record that does not fit (:class:`CorruptStateError`).

        A record saved under an older definition of the flow is moved first
        (:mod:`flowmachine.machine.deploys`).
        """
        record = Record(raw)
        problems = record.problems()
        if problems:
            raise CorruptStateError(
                f"Task {task_id[:8]}… of flow {flow.name!r} has malformed fields: {', '.join(problems)}."
            )
        move = relocate(record, flow) if record.running else None
        place = flow.places.get(record.position) if record.running else None
        if place is None or not place.is_action:
            raise CorruptStateError(
                f"Task {task_id[:8]}… of flow {flow.name!r} is at {raw.get('pos')!r}, "
                "which is not an action of the flow."
            )
        task = cls(task_id, record, flow, namespace)
        task.modified = move is not None
        if move is not None and move.moved:
            task.relocated = (move.old, move.new, move.reason)
        return task

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
        first = flow.root.first_leaf()
        record = Record.new(
            flow=flow.name,
            position=first.name,
            data=dict(initial_state or {}),
            binding=None,
            on_complete=on_complete,
            url_kwargs={k: str(v) for k, v in (url_kwargs or {}).items()},
            fingerprint=fingerprint(flow),
        )
        task_id = task_id or new_task_id(flow.name)
        if binder_value is not None:
            record.binding = binding_hash(binder_value, task_id)
        task = cls(task_id, record, flow, namespace, fresh=True)
        task._log("start", None, first.name)
        return task

    # -- reading ------------------------------------------------------------

    @property
    def state(self) -> dict[str, Any]:
        """The task's data: what actions keep in ``self.state``."""
        return self.record.data

    @property
    def version(self) -> int:
        return self.record.version

    @property
    def moved_at(self) -> int:
        """The record version at which the task arrived at its current step (0 if unknown)."""
        return self.record.moved_at

    @property
    def history(self) -> list[str]:
        """The back trail: the dotted names of the actions left forward, oldest first."""
        return self.record.history

    @property
    def url_kwargs(self) -> dict[str, str]:
        """The path values the task's URLs carry."""
        return self.record.url_kwargs

    @property
    def finished(self) -> bool:
        return self.current_place is None

    def trail_places(self) -> list[Place]:
        """The back trail: the places of the history, oldest first."""
        return [self.flow.places[name] for name in self.history if name in self.flow.places]

    def walked_places(self) -> list[tuple[Place, bool]]:
        """The progress trail: each step walked to reach here, oldest first, and whether it is on the
        back trail. A page left by one of its links was not walked (the link's target stands in for
        it); a ``skip_on_back`` step was, though the back trail leaves it out."""
        places = self.flow.places
        linked = set(self.record.linked)
        off: dict[int, list[str]] = {}
        for at, name in self.record.walked_off:
            off.setdefault(at, []).append(name)
        walked: list[tuple[Place, bool]] = []
        for index in range(len(self.history) + 1):
            walked += [(places[name], False) for name in off.get(index, ()) if name in places]
            if index < len(self.history) and index not in linked and self.history[index] in places:
                walked.append((places[self.history[index]], True))
        return walked

    def set_trail(self, places: list[Place]) -> None:
        """Make *places* the path walked (a summary page showing the path actually taken): the back
        trail, but for its ``skip_on_back`` steps, which only the progress trail shows.

        Where *places* agree with the back trail from its start, what the task noted of that walk
        is kept: pages left by one of their links stay off the progress trail, and ``skip_on_back``
        steps walked between them stay on it.
        """
        names: list[str] = []
        given: list[list[Any]] = []
        for place in places:
            if place.component.skip_on_back:  # type: ignore[attr-defined]
                given.append([len(names), place.name])
            else:
                names.append(place.name)
        common = 0
        while common < min(len(names), len(self.history)) and names[common] == self.history[common]:
            common += 1
        # Steps walked off the back trail after the shared part belong to it only if nothing follows.
        last = common if common == len(names) else common - 1
        off = [entry for entry in self.record.walked_off if entry[0] <= last]
        off += [entry for entry in given if entry not in off]
        off.sort(key=lambda entry: entry[0])  # stable: each position keeps its steps in walking order
        linked = [at for at in self.record.linked if at < common]
        if names != self.history or off != self.record.walked_off or linked != self.record.linked:
            self.history[:] = names
            self.record.walked_off = off
            self.record.linked = linked
            self.modified = True

    def back_place(self) -> Place | None:
        trail = self.trail_places()
        return trail[-1] if trail else None

    def context(self, place: Place, request: HttpRequest | None = None) -> FlowContext:
        """The ``flow`` template variable of *place*'s page."""
        return FlowContext(self, place, request)

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

    def advance(self, outcome: Any, *, link: bool = False) -> Place | None:
        """Apply an action's outcome; return the new place, or None when the flow is done.

        *link*: the page was left by one of its links (``link_to``), not answered: it stays on the
        back trail but is not a step walked, and it leaves nothing behind (:mod:`flowmachine.engine.path`).
        """
        place = self.current_place
        if outcome is COMPLETE:
            trigger, event = COMPLETE_TRIGGER, "complete"
        elif isinstance(outcome, Jump):
            trigger, event = f"goto:{outcome.target_name}", f"jump:{outcome.target_name}"
            if outcome.errors:
                self.record.errors = outcome.errors
        elif isinstance(outcome, str) and outcome == "complete":
            raise FlowDefinitionError(
                f"{place.component.__qualname__}.form_valid() in flow {self.flow.name!r} returned the "
                "string 'complete' (django-flows' COMPLETE): return flowmachine.COMPLETE."
            )
        elif isinstance(outcome, (str, type)):
            return self.advance(Jump(outcome), link=link)
        else:
            raise FlowDefinitionError(
                f"{place.component.__qualname__}.form_valid() in flow {self.flow.name!r} "
                f"returned {outcome!r}. Return COMPLETE, an Action or Scaffold (class or "
                f"name) to jump to, or an HttpResponse."
            )
        new_position = self.flow.fire(place.name, trigger, self.state)
        change = self._note_writes()
        if link:
            self.path.left_unanswered()
        summary = None
        if new_position == FINAL:
            self.path.drop_ahead()
        elif new_position in self.history:
            # Back to a step already walked (a jump link, a loop): the history stays the path that
            # leads here, as the back button leaves it, never a log that grows with every move.
            self._cut_history(self.history.index(new_position))
            self.path.back_to(new_position)
        else:
            if place.component.skip_on_back:  # type: ignore[attr-defined]
                if not link:  # off the back trail, but a step walked: the progress trail shows it
                    self.record.walked_off.append([len(self.history), place.name])
            else:
                if link:
                    self.record.linked.append(len(self.history))
                self.history.append(place.name)
            summary = self.path.arrive(new_position, answered=not link)
        if summary is not None:
            self._resume_at(summary)
            new_position = summary
        if new_position != FINAL and self.flow.places[new_position].component.revalidate:  # type: ignore[attr-defined]
            self.path.drop_ahead()  # a summary: the path to it is settled
        self._log(event, place.name, new_position, change if not self._pruned(change) else None)
        self.modified = True
        self.record.moved_at = self.version + 1
        if new_position == FINAL:
            self.current_place = None  # type: ignore[assignment]
            return None
        self.current_place = self.flow.places[new_position]
        self.record.position = new_position
        return self.current_place

    def return_to(self, summary: Place) -> None:
        """Back to *summary* without changing anything (the link of a page opened from its Change link)."""
        source = self.current_place.name
        self._resume_at(summary.name)
        self._log("back", source, summary.name)  # a move that completes nothing, like the back button
        self.current_place = summary
        self.record.position = summary.name
        self.record.moved_at = self.version + 1
        self.modified = True

    def _resume_at(self, name: str) -> None:
        """Make the walked step *name* ahead the current one, with the back trail of the path to it."""
        self.path.go_to(name)
        was_linked = {self.history[at] for at in self.record.linked if at < len(self.history)}
        history: list[str] = []
        walked_off: list[list[Any]] = []
        linked: list[int] = []
        for place in self.path.walked():
            if place.component.skip_on_back:  # type: ignore[attr-defined]
                walked_off.append([len(history), place.name])
                continue
            if place.name in was_linked:
                linked.append(len(history))
            history.append(place.name)
        self.history[:] = history
        self.record.walked_off = walked_off
        self.record.linked = linked

    def _note_writes(self) -> Any:
        """Note which state keys the current step changed since the last entry; the journal's delta."""
        if self.receiving_files:
            files.keep_uploads(self)
        change = self.journal.delta()
        delta = change[0]
        if delta:
            self.path.wrote(delta[0], delta[1] if len(delta) > 1 else ())
        return change

    def _pruned(self, change: Any) -> bool:
        """Whether the state changed again since *change* was computed (the path removed keys)."""
        return len(change[1]) != len(self.state) or any(key not in self.state for key in change[1])

    def rewind(self, place: Place) -> None:
        """Go back to a visited step (the back button): later history is dropped."""
        self._cut_history(self.history.index(place.name))
        self.path.back_to(place.name)
        self._log("back", self.current_place.name, place.name)
        self.current_place = place
        self.record.position = place.name
        self.record.moved_at = self.version + 1
        self.modified = True

    def _cut_history(self, index: int) -> None:
        """Forget the history from *index* on (and what the progress trail noted of it)."""
        del self.history[index:]
        if self.record.walked_off:
            self.record.walked_off = [entry for entry in self.record.walked_off if entry[0] <= index]
        if self.record.linked:
            self.record.linked = [at for at in self.record.linked if at < index]

    def _log(self, event: str, source: str | None, dest: str | None, change: Any = None) -> None:
        self.events.append((event, source, dest))
        self.journal.log(event, dest, change)

    def journal_changes(self) -> bool:
        """Journal state changed by a step that did not move (a ``data`` entry); True if it did."""
        change = self._note_writes()
        if not change[0]:
            return False
        place = self.current_place.name
        self._log("data", place, place, change)
        self.modified = True
        return True

    # -- answers and messages -------------------------------------------------

    def answers_for(self, place: Place) -> answers.Answers:
        """The answers last accepted on *place*'s page, to pre-fill its form (a formset's: its rows)."""
        return answers.answers_for(self.record, place)

    def formset_for(
        self, place: Place, formset_class: type[BaseFormSet[Any]], kwargs: dict[str, Any], *, shown: bool
    ) -> BaseFormSet[Any]:
        """*place*'s formset, built with *kwargs*, showing the rows accepted there last time."""
        remembered = self.record.answers.get(place.name)
        return answers.formset_for(formset_class, kwargs, remembered, shown=shown)

    def remember_answers(self, place: Place, form: forms.BaseForm | BaseFormSet[Any]) -> None:
        """Keep what was accepted on a page (never passwords or files) to show it again."""
        answers.remember(self.record, place, form)
        files.remember(self.record.answers.get(place.name), form)
        self.modified = True

    def mark_sensitive(self, request: HttpRequest, form: Any) -> None:
        """Hide the current step's sensitive POST data from error reports."""
        sensitive.mark_post_data(request, form, getattr(self.current_place.component, "sensitive_fields", ()))

    def summary(self, action: Any) -> list[StepSummary]:
        """The answers of the path taken to *action*'s page (:meth:`flowmachine.Action.summary`)."""
        return review.summarize(self, action)

    def revalidate(self, action: Any) -> Any:
        """Re-check the answers of the path taken to *action*'s page: None, or a jump to the first
        step whose answers no longer validate."""
        return review.revalidate(self, action)

    def return_link(self, place: Place) -> str | None:
        """While a summary's Change link is followed: a link from *place* back to the summary."""
        summary = self.record.returning
        if summary is None or summary == place.name or summary not in self.flow.places:
            return None
        signature = jump_signature(self.id, place.name, summary)
        return self.urls.url_for(self.flow.places[summary], {RETURN_PARAM: signature})

    def pop_errors(self) -> list[str] | dict[str, list[str]]:
        """The messages a jump asked to show on this page's form (shown once)."""
        errors = self.record.raw.pop("err", None) or []
        if errors:
            self.modified = True
        return errors if isinstance(errors, dict) else list(errors)

    # -- saving ---------------------------------------------------------------

    def next_record(self) -> dict[str, Any]:
        """The record to save: the next version (or, once finished, its finished marker)."""
        if self.finished:
            return self.record.finished_marker(self.done_url, self.journal.without_values())
        return self.record.next_version()

    def saved(self, raw: dict[str, Any]) -> None:
        """The store accepted *raw* (from :meth:`next_record`): this is now the task's record."""
        self.record.raw["version"] = raw["version"]
