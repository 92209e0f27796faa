"""Exceptions raised by django-flowmachine.

Definition mistakes raise :class:`FlowDefinitionError`; problems with a stored
task raise subclasses of :class:`TaskError`, which the view layer turns into a
clear page with the right status code.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class FlowmachineError(Exception):
    """Root of every exception raised by django-flowmachine."""


class FlowDefinitionError(FlowmachineError, ImproperlyConfigured):
    """A scaffold or action is defined in a way that cannot be compiled."""


class InvalidJump(FlowmachineError):
    """An action asked to go somewhere its flow does not allow."""

    def __init__(self, flow: str, source: str, target: str) -> None:
        self.flow, self.source, self.target = flow, source, target
        super().__init__(
            f"In flow {flow!r}, {source!r} cannot jump to {target!r}: a jump may only "
            f"go to a sibling of the action or a sibling of one of its enclosing "
            f"scaffolds. Add {target!r} to one of those scaffolds' action_set, or "
            f"return COMPLETE and let a transition decide."
        )


class FinishError(FlowDefinitionError):
    """A flow completed but has nowhere to go: no on-complete URL for the task or its handler."""


class StateEncodingError(FlowmachineError, TypeError):
    """A value in a task's state cannot be encoded with msgpack."""

    def __init__(self, key: str, value: object, flow: str | None = None) -> None:
        self.key, self.value = key, value
        where = f" of flow {flow!r}" if flow else ""
        super().__init__(
            f"The task state{where} holds {type(value).__name__} under key {key!r}, "
            f"which cannot be stored: state values must be None, bool, int, float, "
            f"str, bytes, or lists and dicts of those. Store a primary key or a "
            f"string instead."
        )


class TaskError(FlowmachineError):
    """A request names a task that cannot be continued."""


class StoreUnavailable(TaskError):
    """The state store could not be reached; the request may be retried."""


class ConflictError(TaskError):
    """Another request changed the task between this request's read and write."""


class CorruptStateError(TaskError):
    """A stored task record cannot be decoded or no longer fits its flow."""
