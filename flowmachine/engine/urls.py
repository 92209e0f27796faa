"""The URLs of a task's steps: each carries the task id, and the path values the task was started with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

from django.core.signing import Signer
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils.crypto import constant_time_compare

from flowmachine.conf import flow_settings
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import Place

__all__ = [
    "JUMP_PARAM",
    "SIGNATURE_PARAM",
    "VERSION_PARAM",
    "TaskUrls",
    "carried_query",
    "is_signed_jump",
    "jump_signature",
]

#: Query parameter of a ``link_to`` link: the component to jump to.
JUMP_PARAM = "_to"
#: Hidden form field carrying the change of the task a page was rendered from (stale pages).
VERSION_PARAM = "_v"
#: Query parameter of a ``link_to`` link: its signature over the task, the page and the target.
SIGNATURE_PARAM = "_s"

_SALT = "flowmachine.jump-link"

#: Paths reversed before, by URLconf, script prefix, URL name and path values: a step's
#: URL is reversed on nearly every request, the same few paths again and again.
_PATHS: dict[tuple[Any, ...], str] = {}
_MAX_PATHS = 10_000


def reverse_path(name: str, kwargs: dict[str, str]) -> str:
    """``reverse(name, kwargs=kwargs)``, remembered for the URL resolver and script prefix in force.

    Keyed by the resolver itself, which Django builds anew when the URLconf
    changes or ``clear_url_caches()`` is called, so a changed URLconf is never
    answered from memory.
    """
    key = (get_resolver(get_urlconf()), get_script_prefix(), name, *sorted(kwargs.items()))
    path = _PATHS.get(key)
    if path is None:
        path = reverse(name, kwargs=kwargs or None)
        if len(_PATHS) >= _MAX_PATHS:
            _PATHS.clear()
        _PATHS[key] = path
    return path


def jump_signature(task_id: str, source: str, target: str) -> str:
    """The signature a link from step *source* of task *task_id* to *target* carries."""
    return Signer(salt=_SALT).signature(f"{task_id}\0{source}\0{target}")


def is_signed_jump(task_id: str, source: str, target: str, signature: str) -> bool:
    """Whether *signature* is that of a link this server made from *source* to *target* in this task.

    Only the links a page offered are followed: a hand-made ``?_to=`` is not.
    """
    return bool(signature) and constant_time_compare(signature, jump_signature(task_id, source, target))


class LocatedTask(Protocol):
    """What the URLs read of their task (:class:`flowmachine.engine.task.Task` is one)."""

    id: str
    flow: CompiledFlow
    namespace: str | None
    provisional: bool
    current_place: Place

    @property
    def url_kwargs(self) -> dict[str, str]: ...

    @property
    def state(self) -> dict[str, Any]: ...


def carried_query(flow: CompiledFlow, values: Mapping[str, Any]) -> dict[str, str]:
    """The query args the flow's ``carry_query`` names, from *values* (a task's state, by state key)."""
    carried: dict[str, str] = {}
    for arg, key in getattr(flow.component, "carry_query", {}).items():
        value = values.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            carried[arg] = str(value)
    return carried


class TaskUrls:
    """Reverses the URLs of one task's steps."""

    def __init__(self, task: LocatedTask) -> None:
        self.task = task
        #: Query args the current step's URLs carry while the task has no record (lazy creation).
        self.carry: dict[str, str] = {}

    def _reverse(self, place: Place) -> str:
        name = f"{self.task.namespace}:{place.url_name}" if self.task.namespace else place.url_name
        kwargs = {k: v for k, v in self.task.url_kwargs.items() if k in place.url_kwargs}
        return reverse_path(name, kwargs)

    def url_for(self, place: Place, query: dict[str, Any] | None = None) -> str:
        """The URL of *place* in this task, carrying the task id (and *query*)."""
        task = self.task
        params: dict[str, Any] = {flow_settings.FLOWS_TASK_ID_PARAM: task.id}
        params.update(carried_query(task.flow, task.state))
        if task.provisional and place is task.current_place:
            params.update(self.carry)
        params.update(query or {})
        return f"{self._reverse(place)}?{urlencode(params, doseq=True)}"

    def current(self) -> str:
        """The URL of the task's current step."""
        return self.url_for(self.task.current_place)

    def resume(self) -> str:
        """A local URL that brings this user back to the current step (after logging in, say).

        A task without a record is restarted from its entry instead: its id is
        bound to the CSRF cookie, which logging in rotates.
        """
        if self.task.provisional:
            query = {k: v for k, v in self.carry.items() if k not in (JUMP_PARAM, SIGNATURE_PARAM)}
            return self.restart(query)
        return self.current()

    def jump_link(self, place: Place, target: str, query: dict[str, Any]) -> str:
        """A link from *place* that jumps to the component named *target* (signed: see :func:`is_signed_jump`)."""
        signature = jump_signature(self.task.id, place.name, target)
        return self.url_for(place, {JUMP_PARAM: target, SIGNATURE_PARAM: signature, **query})

    def restart(self, query: dict[str, Any] | None = None) -> str:
        """Where a new task of the same flow starts, with the query args ``carry_query`` names (and *query*)."""
        params = {**carried_query(self.task.flow, self.task.state), **(query or {})}
        path = self._reverse(self.task.flow.root)
        return f"{path}?{urlencode(params)}" if params else path
