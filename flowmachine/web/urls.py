"""The URL patterns of a handler: each action of each flow at its own path, plus its diagram."""

from __future__ import annotations

import re
from typing import Any

from django.urls import URLPattern, path

from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import Place, Problem
from flowmachine.web.diagram_views import handler_flowgraph
from flowmachine.web.endpoint import FlowEndpoint, broken_flow_view
from flowmachine.web.serving import Serving

_CONVERTER_NAME = re.compile(r"<(?:([^>:]+):)?[^>]+>")


def url_patterns(handler: Serving, flows: list[CompiledFlow]) -> tuple[list[URLPattern], list[Problem]]:
    """The patterns serving *flows* for *handler*, and the URL clashes found (E004)."""
    # In DEBUG only (404 otherwise): the diagram of this handler's flows.
    patterns: list[URLPattern] = [path(".flowgraph", handler_flowgraph(handler), name="flowgraph")]
    problems: list[Problem] = []
    routes: dict[str, tuple[CompiledFlow, Place]] = {}
    for compiled in flows:
        if compiled.problems:
            patterns.extend(_broken(compiled))
            continue
        entry_claimed = False
        for place in compiled.places.values():
            if not place.is_action:
                continue
            key = _CONVERTER_NAME.sub("<>", place.route)
            if key in routes:
                problems.append(_clash(place, routes[key][1]))
                continue
            routes[key] = (compiled, place)
            entry = place.route == compiled.root.route
            entry_claimed = entry_claimed or entry
            patterns.append(path(place.route, FlowEndpoint(handler, compiled, place, entry=entry), name=place.url_name))
        if not entry_claimed:
            key = _CONVERTER_NAME.sub("<>", compiled.root.route)
            if key in routes:
                problems.append(_clash(compiled.root, routes[key][1]))
                continue
            routes[key] = (compiled, compiled.root)
            view: Any = FlowEndpoint(handler, compiled, None, entry=True)
        else:
            # The entry shares its path with the first action; name it too.
            view = FlowEndpoint(handler, compiled, compiled.root.first_leaf(), entry=True)
        patterns.append(path(compiled.root.route, view, name=compiled.root.url_name))
    return patterns, problems


def _broken(compiled: CompiledFlow) -> list[URLPattern]:
    """A flow that failed to compile still gets its URLs, each raising its definition problems."""
    broken = broken_flow_view(compiled)
    patterns = [path(compiled.root.route, broken, name=compiled.root.url_name)]
    for place in compiled.places.values():
        if place.is_action and place.route != compiled.root.route:
            patterns.append(path(place.route, broken, name=place.url_name))
    return patterns


def _clash(place: Place, other: Place) -> Problem:
    return Problem(
        "flowmachine.E004",
        f"The URL {place.route!r} of {place.name} clashes with {other.name} in the same handler.",
        f"Give {place.component.__name__} or one of its scaffolds a distinct url.",
        place.component,
    )
