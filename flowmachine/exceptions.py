"""Exceptions raised by django-flowmachine.

Definition mistakes raise :class:`FlowDefinitionError`; problems with a stored
task raise subclasses of :class:`TaskError`, which the view layer turns into a
clear page with the right status code.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist


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
    """A value in a task's state cannot be encoded (see :mod:`flowmachine.codec` for what can)."""

    def __init__(
        self, key: str, value: object, flow: str | None = None, *, offending: object = None, reason: str = ""
    ) -> None:
        self.key, self.value = key, value
        where = f" of flow {flow!r}" if flow else ""
        inner = offending if offending is not None and offending is not value else None
        what = type(value).__name__ if inner is None else f"{type(inner).__name__} (inside a {type(value).__name__})"
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"The task state{where} holds {what} under key {key!r}, which cannot be stored{why}: "
            f"state values must be None, bool, int, float, str, bytes, Decimal, date, datetime, time, "
            f"timedelta, UUID, saved model instances (kept as references), or lists, tuples, sets, "
            f"frozensets and dicts of those. Store a primary key or a string instead."
        )


class TaskError(FlowmachineError):
    """A request names a task that cannot be continued."""


class StoreUnavailable(TaskError):
    """The state store could not be reached; the request may be retried."""


class ConflictError(TaskError):
    """Another request changed the task between this request's read and write."""


class CorruptStateError(TaskError):
    """A stored task record cannot be decoded or no longer fits its flow."""


class StateReferenceGone(CorruptStateError, ObjectDoesNotExist):
    """A model instance kept in a task's state no longer exists (deleted, or its model is gone).

    Raised on the first use of the reference that needs the row (``.pk`` and
    equality do not). Templates render it as an empty value, as any
    ``ObjectDoesNotExist``; an action that does not catch it ends the request
    with the 410 page, the task unchanged.
    """

    def __init__(self, model: str, pk: object) -> None:
        self.model, self.pk = model, pk
        super().__init__(
            f"The task state refers to {model} with primary key {pk!r}, which no longer exists: "
            f"it was deleted (or its model removed) after it was stored."
        )
