"""The DEBUG-only diagram views: ``<handler root>/.flowgraph`` and the site-wide page.

Outside DEBUG both answer 404, so they can stay in the URLconf of a deployed
site. A task id in the query (``?_t=...``) highlights that task's position and
path, but only when the task is bound to the requester: anyone else gets the
plain diagram, as if no id were given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.loader import render_to_string
from django.urls import URLResolver, get_resolver, get_script_prefix
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache

from flowmachine.binding import matches
from flowmachine.conf import flow_settings
from flowmachine.diagrams import (
    FORMATS,
    DiagramsUnavailable,
    FlowGraph,
    Highlight,
    flow_graph,
    render,
    scalable_svg,
    to_mermaid,
    trace,
)
from flowmachine.engine.ids import is_valid_task_id
from flowmachine.exceptions import TaskError
from flowmachine.record import Record
from flowmachine.web.serving import Serving

CONTENT_TYPES = {
    "svg": "image/svg+xml",
    "png": "image/png",
    "pdf": "application/pdf",
    "dot": "text/vnd.graphviz; charset=utf-8",
    "mermaid": "text/plain; charset=utf-8",
}


def _require_debug() -> None:
    if not settings.DEBUG:
        raise Http404("Flow diagrams are served only when DEBUG is on.")


def handler_flowgraph(handler: Serving) -> Callable[[HttpRequest], HttpResponse]:
    """The view behind ``<handler root>/.flowgraph``: every flow of *handler*, drawn."""

    @never_cache
    def flowgraph(request: HttpRequest) -> HttpResponse:
        _require_debug()
        fmt = request.GET.get("format", "svg").lower()
        if fmt not in FORMATS:
            return HttpResponseBadRequest(
                f"Unknown diagram format {fmt!r}: use one of {', '.join(FORMATS)}.",
                content_type="text/plain; charset=utf-8",
            )
        graphs = [flow_graph(compiled) for compiled in handler.flows.values()]
        wanted = request.GET.get("flow")
        if wanted:
            graphs = [g for g in graphs if g.name == wanted]
            if not graphs:
                raise Http404(f"This handler serves no flow named {wanted!r}.")
        highlight = _task_highlight(request, handler, graphs)
        try:
            jumps = request.GET.get("jumps", "1") not in ("0", "false", "no")
            body = render(graphs, fmt, highlight=highlight, jumps=jumps)
        except DiagramsUnavailable as exc:
            return HttpResponse(str(exc), status=501, content_type="text/plain; charset=utf-8")
        if fmt == "svg":  # scaled to the browser window, not drawn at Graphviz's fixed size
            body = scalable_svg(body.decode()).encode()
        return HttpResponse(body, content_type=CONTENT_TYPES[fmt])

    flowgraph.flowmachine_handler = handler  # type: ignore[attr-defined]
    return flowgraph


def _task_highlight(request: HttpRequest, handler: Serving, graphs: list[FlowGraph]) -> Highlight | None:
    """The highlight of the task named in the query, if it is bound to the requester."""
    task_id = request.GET.get(flow_settings.FLOWS_TASK_ID_PARAM, "")
    if not is_valid_task_id(task_id):
        return None
    try:
        raw = handler.get_store().get_state(task_id)
    except TaskError:
        return None
    record = Record(raw) if raw is not None else None
    if record is None or not record.running or record.problems():
        return None
    value = handler.existing_binder_value(request)
    if value is None or not matches(record.binding, value, task_id if record.binding_covers_id else None):
        return None
    graph = next((g for g in graphs if g.name == record.flow), None)
    if graph is None:
        return None
    return trace(graph, record.history, record.position)


def routed_handlers() -> list[tuple[Any, str]]:
    """Every handler included in the URLconf, with the route it is mounted at."""
    found: list[tuple[Serving, str]] = []

    def walk(patterns: Any, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
                continue
            handler = getattr(pattern.callback, "flowmachine_handler", None)
            if handler is not None:
                found.append((handler, prefix))

    walk(get_resolver().url_patterns, "")
    return found


@never_cache
def all_flowgraphs(request: HttpRequest) -> HttpResponse:
    """A page with the diagram of every flow served in the URLconf (DEBUG only; 404 otherwise)."""
    _require_debug()
    sections = []
    missing = ""
    for handler, route in routed_handlers():
        compiled_flows = list(handler.flows.values())
        graphs = [flow_graph(compiled) for compiled in compiled_flows if not compiled.problems]
        broken = [f"{p.id}: {p.msg}" for compiled in compiled_flows for p in compiled.problems]
        plain = "<" not in route and "^" not in route and "(" not in route
        section: dict[str, Any] = {
            "namespace": handler.app_namespace,
            "route": route,
            "url": f"{get_script_prefix()}{route}.flowgraph" if plain else None,
            "flows": [compiled.name for compiled in compiled_flows],
            "broken": broken,
            "svg": "",
            "mermaid": to_mermaid(graphs) if graphs else "",
        }
        if graphs and not missing:
            try:
                svg = scalable_svg(render(graphs, "svg").decode())
                section["svg"] = mark_safe(svg[svg.find("<svg") :])  # noqa: S308  (Graphviz output, not user input)
            except DiagramsUnavailable as exc:
                missing = str(exc)
        sections.append(section)
    body = render_to_string(
        "flowmachine/flowgraph_index.html", {"sections": sections, "missing": missing}, request=request
    )
    return HttpResponse(body)
