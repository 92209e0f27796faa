"""FlowHandler: registers entry-point scaffolds and serves them under one URL prefix."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import URLPattern, path, reverse

from flowmachine import _events
from flowmachine._engine import Task
from flowmachine._machine import CompiledFlow, Place, Problem
from flowmachine._views import FlowEndpoint, broken_flow_view
from flowmachine.components import Scaffold
from flowmachine.conf import flow_settings
from flowmachine.exceptions import FlowDefinitionError
from flowmachine.stores import get_store

logger = logging.getLogger("flowmachine")

#: Every handler created in this process, for system checks and diagrams.
_handlers: list[FlowHandler] = []

_CONVERTER_NAME = re.compile(r"<(?:([^>:]+):)?[^>]+>")


class FlowHandler:
    """Serves a set of flows under one URL prefix and one optional namespace.

    ``state_store`` is a store module's dotted path or a store instance; by
    default ``FLOWS_STATE_STORE`` decides, read on each request.
    ``on_complete_url`` is where a finished task goes when it was not started
    with an ``on_complete_url`` of its own.
    """

    def __init__(
        self,
        app_namespace: str | None = None,
        state_store: Any = None,
        on_complete_url: str | None = None,
    ) -> None:
        self.app_namespace = app_namespace
        self.state_store = state_store
        self.on_complete_url = on_complete_url
        self._entry_points: list[type[Scaffold]] = []
        self._flows: dict[type[Scaffold], CompiledFlow] = {}
        self.problems: list[Problem] = []
        _handlers.append(self)

    def register_entry_point(self, flow: type[Scaffold]) -> None:
        """Serve *flow* (a Scaffold) from this handler; compiled when ``urls`` is built."""
        if not (isinstance(flow, type) and issubclass(flow, Scaffold)):
            raise FlowDefinitionError(f"register_entry_point() takes a Scaffold subclass, not {flow!r}.")
        if flow not in self._entry_points:
            self._entry_points.append(flow)

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
        from flowmachine._graph_views import handler_flowgraph

        # In DEBUG only (404 otherwise): the diagram of this handler's flows.
        patterns: list[URLPattern] = [path(".flowgraph", handler_flowgraph(self), name="flowgraph")]
        routes: dict[str, tuple[CompiledFlow, Place]] = {}
        self.problems = []
        for compiled in self.flows.values():
            if compiled.problems:
                broken = broken_flow_view(compiled)
                patterns.append(path(compiled.root.route, broken, name=compiled.root.url_name))
                for place in compiled.places.values():
                    if place.is_action and place.route != compiled.root.route:
                        patterns.append(path(place.route, broken, name=place.url_name))
                continue
            entry_claimed = False
            for place in compiled.places.values():
                if not place.is_action:
                    continue
                key = _CONVERTER_NAME.sub("<>", place.route)
                if key in routes:
                    other = routes[key][1]
                    self._clash(place, other)
                    continue
                routes[key] = (compiled, place)
                entry = place.route == compiled.root.route
                entry_claimed = entry_claimed or entry
                view = FlowEndpoint(self, compiled, place, entry=entry)
                patterns.append(path(place.route, view, name=place.url_name))
            if not entry_claimed:
                key = _CONVERTER_NAME.sub("<>", compiled.root.route)
                if key in routes:
                    self._clash(compiled.root, routes[key][1])
                    continue
                routes[key] = (compiled, compiled.root)
                view = FlowEndpoint(self, compiled, None, entry=True)
                patterns.append(path(compiled.root.route, view, name=compiled.root.url_name))
            else:
                # The entry shares its path with the first action; name it too.
                first = compiled.root.first_leaf()
                patterns.append(
                    path(
                        compiled.root.route,
                        FlowEndpoint(self, compiled, first, entry=True),
                        name=compiled.root.url_name,
                    )
                )
        if self.app_namespace:
            return patterns, self.app_namespace
        return patterns

    def _clash(self, place: Place, other: Place) -> None:
        problem = Problem(
            "flowmachine.E004",
            f"The URL {place.route!r} of {place.name} clashes with {other.name} in the same handler.",
            f"Give {place.component.__name__} or one of its scaffolds a distinct url.",
            place.component,
        )
        self.problems.append(problem)
        logger.error("%s: %s", problem.id, problem.msg)

    # -- tasks --------------------------------------------------------------------

    def get_store(self) -> Any:
        """The state store this handler uses now."""
        if self.state_store is None or isinstance(self.state_store, str):
            return get_store(self.state_store)
        return self.state_store

    def binder_value(self, request: HttpRequest) -> str:
        return str(flow_settings.FLOWS_TASK_BINDER(request))

    def compiled(self, flow: type[Scaffold]) -> CompiledFlow:
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
        counts = _events.before_save(request, task)
        self.get_store().put_state(task.id, task.next_record())
        task.record["version"] = 1
        _events.after_save(request, flow, task, counts)
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
