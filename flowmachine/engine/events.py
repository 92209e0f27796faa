"""What a saved step means beyond the store: signals, funnel counts and the bound user.

The view layer calls :func:`before_save` just before a task's record is saved
and :func:`after_save` just after (only when it saves: nothing is sent for a
page view that stores nothing), with the moves :class:`~flowmachine.engine.task.Task`
noted in ``task.events``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.http import HttpRequest
from django.utils.functional import LazyObject, empty

from flowmachine import registry, signals
from flowmachine.engine import funnel
from flowmachine.engine.task import Task
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import FINAL

Counts = list[tuple[str, str]]


def before_save(request: HttpRequest | None, task: Task) -> Counts:
    """Note the logged-in user and the funnel counts of this request in the record."""
    user = known_user(request)
    if user is not None:
        task.record.user = user
    if not funnel.enabled() or not task.events:
        return []
    return _first_counts(task)


def known_user(request: HttpRequest | None) -> str | None:
    """The primary key of the request's logged-in user, if the request knows it without a query (else None).

    It does once ``request.user`` was looked at (or set by ``login()``), or
    once the session was loaded. A step that does neither keeps the user
    noted before: noting it must not cost a session read per step.
    """
    user = getattr(request, "user", None)
    if isinstance(user, LazyObject) and user._wrapped is empty:
        session = getattr(request, "session", None)
        if session is None or not session.accessed:
            return None
        pk = session.get(AUTH_SESSION_KEY)
        return str(pk) if pk else None
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.pk)
    return None


def _first_counts(task: Task) -> Counts:
    """The (action, counter) pairs this request adds, each step counted once per task."""
    seen = task.record.funnel
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
    task.record.funnel = {"e": sorted(entered), "c": sorted(completed)}
    return counts


def after_save(request: HttpRequest | None, flow: CompiledFlow, task: Task, counts: Counts) -> None:
    """Count the funnel and send the signals of the moves just saved."""
    if counts:
        funnel.add(flow.name, counts)
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
        sender = registry.find_entry_point(flow_name)
    signals.flow_abandoned.send(sender, flow=flow_name, task_id=task_id, action=action, request=None)
