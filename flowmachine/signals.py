"""Signals sent as tasks move through their flows.

Every signal is sent with ``sender`` (the flow's entry-point Scaffold class, or
``None`` when no loaded handler serves that flow any more) and the keyword
arguments ``flow`` (the flow's name), ``task_id``, ``action`` (the dotted name
of the step concerned, or ``None``) and ``request`` (``None`` outside a
request). Signals of a request are sent after the task's record is saved,
inside the request's transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["flow_started", "step_completed", "flow_completed", "flow_expired", "flow_abandoned"]

#: A task was created; ``action`` is its first step.
flow_started = Signal()

#: A task left ``action`` forward (its form was accepted, or a ``link_to`` link
#: jumped away from it); ``next_action`` is where it went (``None`` when the flow
#: finished).
step_completed = Signal()

#: A task finished its flow; ``action`` is the step that finished it.
flow_completed = Signal()

#: A request arrived for a task the store no longer has (it expired, was cleaned
#: up, or never existed); ``action`` is the step requested (``None`` for the entry URL).
flow_expired = Signal()

#: Cleanup removed a task that expired without finishing; ``action`` is the step
#: it was left at. Redis expires keys itself, so its tasks are never reported.
flow_abandoned = Signal()
