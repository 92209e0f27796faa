"""FlowHandler: registers entry-point scaffolds and serves them under one URL prefix."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from flowmachine import registry
from flowmachine.backends import get_store
from flowmachine.backends.base import BaseStateStore
from flowmachine.binding import existing_value
from flowmachine.components import Scaffold
from flowmachine.conf import flow_settings
from flowmachine.engine import events, quota
from flowmachine.engine.task import Task
from flowmachine.exceptions import FlowDefinitionError, TaskError
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import Problem
from flowmachine.record import SIGNED_OUT, Record
from flowmachine.web.serving import CompleteUrl
from flowmachine.web.urls import url_patterns

logger = logging.getLogger("flowmachine")


class FlowHandler:
    """Serves a set of flows under one URL prefix and one optional namespace.

    ``state_store`` is a store module's dotted path or a store instance; by
    default ``FLOWS_STATE_STORE`` decides, read on each request.
    ``on_complete_url`` is where a finished task goes when it was not started
    with an ``on_complete_url`` of its own: a URL, or a callable
    ``(request, task_id, state) -> URL`` asked as the task finishes, after its
    last step's writes, so the URL can name what the journey made.
    """

    def __init__(
        self,
        app_namespace: str | None = None,
        state_store: Any = None,
        on_complete_url: CompleteUrl | None = None,
    ) -> None:
        self.app_namespace = app_namespace
        self.state_store = state_store
        self.on_complete_url = on_complete_url
        self._entry_points: list[type[Scaffold]] = []
        self._flows: dict[type[Scaffold], CompiledFlow] = {}
        #: URL clashes found when ``urls`` was last built (reported by ``manage.py check``).
        self.problems: list[Problem] = []
        registry.register_handler(self)

    def register_entry_point(self, flow: type[Scaffold]) -> None:
        """Serve *flow* (a Scaffold) from this handler; compiled when ``urls`` is built."""
        if not (isinstance(flow, type) and issubclass(flow, Scaffold)):
            raise FlowDefinitionError(f"register_entry_point() takes a Scaffold subclass, not {flow!r}.")
        if flow not in self._entry_points:
            self._entry_points.append(flow)

    @property
    def entry_points(self) -> tuple[type[Scaffold], ...]:
        """The registered entry-point scaffolds, in registration order."""
        return tuple(self._entry_points)

    # -- compiling and URLs -----------------------------------------------------

    @property
    def flows(self) -> dict[type[Scaffold], CompiledFlow]:
        """The compiled entry points, compiled on first use."""
        for entry in self._entry_points:
            if entry not in self._flows:
                root_route = entry.url if entry.url is not None else ""
                compiled = self._flows[entry] = CompiledFlow(entry, root_route)
                for problem in compiled.problems:
                    logger.error("%s: %s", problem.id, problem.msg)
        return self._flows

    @property
    def urls(self) -> Any:
        """URL patterns for ``include()``: each action of each flow at its own path."""
        patterns, self.problems = url_patterns(self, list(self.flows.values()))
        for problem in self.problems:
            logger.error("%s: %s", problem.id, problem.msg)
        if self.app_namespace:
            return patterns, self.app_namespace
        return patterns

    def get_urls(self, flow_namespace: str | None = None) -> Any:
        """Gone (django-flows): raises, naming what to use instead."""
        raise FlowDefinitionError(
            "FlowHandler.get_urls() (django-flows) is gone: include(handler.urls) under the prefix you want, "
            "or create a second FlowHandler for a second namespace."
        )

    # -- tasks --------------------------------------------------------------------

    def get_store(self) -> BaseStateStore:
        """The state store this handler uses now."""
        if self.state_store is None or isinstance(self.state_store, str):
            return get_store(self.state_store)
        return self.state_store  # type: ignore[no-any-return]

    def binder_value(self, request: HttpRequest) -> str:
        """What binds a task to this requester (``FLOWS_TASK_BINDER``); creates it if needed."""
        return str(flow_settings.FLOWS_TASK_BINDER(request))

    def existing_binder_value(self, request: HttpRequest) -> str | None:
        """The requester's binder value if it has one, without creating one (refusals leave no trace)."""
        return existing_value(flow_settings.FLOWS_TASK_BINDER, request)

    def compiled(self, flow: type[Scaffold]) -> CompiledFlow:
        """The compiled flow of the entry point *flow*; raise if it is not served here or cannot run."""
        try:
            compiled = self.flows[flow]
        except KeyError:
            raise FlowDefinitionError(
                f"{flow.__name__} is not an entry point of this handler: call "
                f"register_entry_point({flow.__name__}) first."
            ) from None
        compiled.raise_for_problems()
        return compiled

    def create_task(
        self,
        request: HttpRequest,
        flow: CompiledFlow,
        *,
        namespace: str | None,
        on_complete_url: str | None = None,
        initial_state: dict[str, Any] | None = None,
        url_kwargs: dict[str, Any] | None = None,
    ) -> Task:
        """Start a task of *flow* bound to the requester and save it."""
        task = Task.start(
            flow,
            namespace,
            self.binder_value(request),
            initial_state=initial_state,
            on_complete=on_complete_url,
            url_kwargs=url_kwargs,
        )
        counts = events.before_save(request, task)
        raw = task.next_record()
        store = self.get_store()
        store.put_state(task.id, raw)
        task.saved(raw)
        quota.note_stored(request, store, task.id)
        events.after_save(request, flow, task, counts)
        return task

    def flow_entry_link(
        self,
        request: HttpRequest,
        flow: type[Scaffold],
        on_complete_url: str | None = None,
        initial_state: dict[str, Any] | None = None,
        url_args: Any = None,
        url_kwargs: dict[str, Any] | None = None,
        url_queryargs: dict[str, Any] | None = None,
    ) -> str:
        """Start a task of *flow* now and return the URL of its first step."""
        if isinstance(flow, str):
            raise FlowDefinitionError(
                f"flow_entry_link() takes the entry-point Scaffold class, not its name {flow!r}: "
                f"import the class and pass it."
            )
        if isinstance(initial_state, bool):
            raise TypeError(
                "flow_entry_link() has no with_state argument (django-flows): it always starts the task. "
                "Its fourth argument is initial_state, a dict of the state the task starts with."
            )
        compiled = self.compiled(flow)
        task = self.create_task(
            request,
            compiled,
            namespace=self.app_namespace,
            on_complete_url=on_complete_url,
            initial_state=initial_state,
            url_kwargs=url_kwargs,
        )
        first = compiled.root.first_leaf()
        name = f"{self.app_namespace}:{first.url_name}" if self.app_namespace else first.url_name
        base = reverse(name, args=url_args, kwargs=url_kwargs)
        query = {flow_settings.FLOWS_TASK_ID_PARAM: task.id, **(url_queryargs or {})}
        return f"{base}?{urlencode(query, doseq=True)}"


def end_tasks_at_logout(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """``user_logged_out`` receiver: end the running tasks the session stored, in every handler's store.

    Logging out must end the user's journeys even for a request that carries
    the old session's cookies afterwards (the binder cookie stands for the
    session for ``FLOWS_BINDER_COOKIE_AGE`` seconds), so each task is saved
    bound to no one: its pages then say that the user signed out, and its
    record expires as any other. A store that is down does not stop the
    logout (logged): such a task still ends when the cookie is too old.
    """
    ids = quota.noted(request)
    if not ids:
        return
    stores: dict[int, BaseStateStore] = {}
    for handler in registry.handlers():
        try:
            store = handler.get_store()
        except Exception as exc:  # a store that cannot be loaded: manage.py check names it
            logger.warning("Logout: a handler's store could not be loaded: %s", exc)
            continue
        stores.setdefault(id(store), store)
    ended = 0
    for store in stores.values():
        for task_id in ids:
            try:
                raw = store.get_state(task_id)
                record = Record(raw) if raw is not None else None
                if record is None or record.finished or record.binding == SIGNED_OUT:
                    continue
                store.put_state(task_id, record.signed_out())
                ended += 1
            except TaskError as exc:  # down, corrupt, or a step saved it meanwhile
                logger.warning("Logout: task %s… not ended in %s: %s", task_id[:8], type(store).__module__, exc)
    logger.info("Logout ended %d task(s) of the session", ended)
