"""What a saved step means beyond the store: signals, funnel counts and the bound user.

The view layer calls :func:`before_save` just before a task's record is saved
and :func:`after_save` just after (only when it saves: nothing is sent for a
page view that stores nothing), with the moves :class:`~flowmachine._engine.Task`
noted in ``task.events``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowmachine import signals
from flowmachine._machine import FINAL

if TYPE_CHECKING:
    from django.http import HttpRequest

    from flowmachine._engine import Task
    from flowmachine._machine import CompiledFlow

#: Record key of the steps already counted by the funnel: {"e": [...], "c": [...]}.
FUNNEL_KEY = "fnl"

Counts = list[tuple[str, str]]


def before_save(request: HttpRequest | None, task: Task) -> Counts:
    """Note the logged-in user and the funnel counts of this request in the record."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        if task.record.get("uid") != str(user.pk):
            task.record["uid"] = str(user.pk)
    from flowmachine import _funnel  # holds a model: imported once apps are ready

    if not _funnel.enabled() or not task.events:
        return []
    return _first_counts(task)


def _first_counts(task: Task) -> Counts:
    """The (action, counter) pairs this request adds, each step counted once per task."""
    seen = task.record.get(FUNNEL_KEY)
    seen = seen if isinstance(seen, dict) else {}
    entered = {x for x in seen.get("e", ()) if isinstance(x, str)}
    completed = {x for x in seen.get("c", ()) if isinstance(x, str)}
    counts: Counts = []
    for event, source, dest in task.events:
        if event == "back":
            continue
        if source is not None and source not in completed:
            completed.add(source)
            counts.append((source, "completed"))
        if dest is not None and dest not in entered:
            entered.add(dest)
            counts.append((dest, "entered"))
    task.record[FUNNEL_KEY] = {"e": sorted(entered), "c": sorted(completed)}
    return counts


def after_save(request: HttpRequest | None, flow: CompiledFlow, task: Task, counts: Counts) -> None:
    """Count the funnel and send the signals of the moves just saved."""
    if counts:
        from flowmachine import _funnel

        _funnel.add(flow.name, counts)
    sender = flow.component
    common: dict[str, Any] = {"flow": flow.name, "task_id": task.id, "request": request}
    for event, source, dest in task.events:
        if event == "start":
            signals.flow_started.send(sender, action=dest, **common)
        elif event != "back":
            finished = dest == FINAL
            signals.step_completed.send(sender, action=source, next_action=None if finished else dest, **common)
            if finished:
                signals.flow_completed.send(sender, action=source, **common)
    task.events.clear()


def expired(request: HttpRequest, flow: CompiledFlow, task_id: str, action: str | None) -> None:
    """A request came for a task the store does not have."""
    signals.flow_expired.send(flow.component, flow=flow.name, task_id=task_id, action=action, request=request)


def abandoned(flow_name: str, task_id: str, action: str | None, sender: Any = None) -> None:
    """Cleanup removed an unfinished task (*sender*: the flow's entry point, looked up if None)."""
    if sender is None:
        sender = entry_point(flow_name)
    signals.flow_abandoned.send(sender, flow=flow_name, task_id=task_id, action=action, request=None)


def entry_point(flow_name: str) -> Any:
    """The entry-point Scaffold class of a flow served by a loaded handler, else None."""
    from flowmachine.handler import _handlers

    for handler in _handlers:
        for scaffold in handler._entry_points:
            if scaffold.component_name() == flow_name:
                return scaffold
    return None


def compiled_flow(flow_name: str) -> CompiledFlow | None:
    """The compiled flow of that name from a loaded handler, else None."""
    from flowmachine.handler import _handlers

    for handler in _handlers:
        for compiled in handler.flows.values():
            if compiled.name == flow_name:
                return compiled
    return None
