"""Flow diagrams: a compiled flow drawn with Graphviz (SVG, PNG, PDF, dot) or as Mermaid text.

Drawing goes extract -> model -> renderer: :func:`flow_graph` reads a
:class:`FlowGraph` off the compiled machine (so nested scaffolds come out as
the machine runs them), and :func:`to_dot`, :func:`to_mermaid` and
:func:`render` draw it. Graphviz output needs the ``diagrams`` extra
(pygraphviz), imported only when drawing; Mermaid text needs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flowmachine._graph import (
    FlowGraph,
    GraphCluster,
    GraphEdge,
    GraphNode,
    Highlight,
    extract,
    trace,
)
from flowmachine._machine import CompiledFlow
from flowmachine.components import Scaffold

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

__all__ = [
    "FORMATS",
    "DiagramsUnavailable",
    "FlowGraph",
    "GraphCluster",
    "GraphEdge",
    "GraphNode",
    "Highlight",
    "all_flowgraphs",
    "flow_graph",
    "render",
    "to_dot",
    "to_mermaid",
    "trace",
]

#: Output formats of :func:`render`; all but ``mermaid`` need pygraphviz.
FORMATS = ("svg", "png", "pdf", "dot", "mermaid")
GRAPHVIZ_FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = 'pip install "django-flowmachine[diagrams]"'

FlowLike = type[Scaffold] | CompiledFlow | FlowGraph
Flows = FlowLike | Sequence[FlowLike]


class DiagramsUnavailable(ImportError):
    """Graphviz drawing was asked for but pygraphviz cannot be imported."""

    def __init__(self, reason: str = "") -> None:
        message = (
            f"Drawing flow diagrams as SVG, PNG, PDF or dot needs pygraphviz: {INSTALL_HINT} "
            "(pygraphviz builds against Graphviz: install Graphviz and its headers first, "
            "e.g. apt-get install graphviz libgraphviz-dev). "
            "Mermaid text needs nothing: use format 'mermaid'."
        )
        if reason:
            message += f" ({reason})"
        super().__init__(message)


def flow_graph(flow: FlowLike) -> FlowGraph:
    """The diagram model of *flow*: an entry-point Scaffold class or a compiled flow."""
    if isinstance(flow, FlowGraph):
        return flow
    if isinstance(flow, type) and issubclass(flow, Scaffold):
        flow = CompiledFlow(flow, flow.url if flow.url is not None else "")
    if not isinstance(flow, CompiledFlow):
        raise TypeError(f"flow_graph() takes a Scaffold subclass or a compiled flow, not {flow!r}.")
    flow.raise_for_problems()
    return extract(flow)


def _graphs(flows: Flows) -> list[FlowGraph]:
    if isinstance(flows, (FlowGraph, CompiledFlow, type)):
        return [flow_graph(flows)]
    return [flow_graph(f) for f in flows]


def _highlights(highlight: Highlight | Iterable[Highlight] | None) -> dict[str, Highlight]:
    if highlight is None:
        return {}
    if isinstance(highlight, Highlight):
        return {highlight.flow: highlight}
    return {h.flow: h for h in highlight}


def _prepare(
    flows: Flows, highlight: Highlight | Iterable[Highlight] | None, jumps: bool
) -> tuple[list[FlowGraph], dict[str, Highlight]]:
    """The graphs and highlights to draw; without jump points and edges unless *jumps*."""
    graphs, highlights = _graphs(flows), _highlights(highlight)
    if jumps:
        return graphs, highlights
    lean: list[FlowGraph] = []
    for graph in graphs:
        kept = [i for i, e in enumerate(graph.edges) if e.kind != "jump"]
        hidden = {n.id for n in graph.nodes.values() if n.kind == "jump"}
        lean.append(
            replace(
                graph,
                nodes={k: n for k, n in graph.nodes.items() if k not in hidden},
                edges=[graph.edges[i] for i in kept],
                members={k: [m for m in v if m not in hidden] for k, v in graph.members.items()},
            )
        )
        mark = highlights.get(graph.name)
        if mark is not None:
            renumber = {old: new for new, old in enumerate(kept)}
            highlights[graph.name] = replace(mark, edges=frozenset(renumber[i] for i in mark.edges if i in renumber))
    return lean, highlights


# -- Graphviz ------------------------------------------------------------------

_FONT = "Helvetica"
_INK = "#334155"
_MUTED = "#94a3b8"
_CHOICE = "#7c3aed"
_VISITED = "#dbeafe"
_CURRENT = "#fbbf24"
_PATH = "#2563eb"

_NODE_STYLE: dict[str, dict[str, str]] = {
    "action": {"shape": "box", "style": "rounded,filled", "fillcolor": "white", "color": _INK, "fontsize": "11"},
    "start": {
        "shape": "circle",
        "style": "filled",
        "fillcolor": "black",
        "label": "",
        "width": "0.2",
        "fixedsize": "true",
    },
    "final": {
        "shape": "doublecircle",
        "style": "filled",
        "fillcolor": "#e2e8f0",
        "color": _INK,
        "fontsize": "9",
        "width": "0.45",
        "fixedsize": "true",
    },
    "exit": {"shape": "point", "peripheries": "2", "width": "0.09", "color": _INK, "label": ""},
    "jump": {"shape": "plaintext", "fontsize": "9", "fontcolor": _MUTED},
}

_EDGE_STYLE: dict[str, dict[str, str]] = {
    "entry": {"color": _INK},
    "complete": {"color": _INK, "fontsize": "9", "fontcolor": _INK},
    "choice": {"color": _CHOICE, "fontsize": "9", "fontcolor": _CHOICE},
    "jump": {
        "color": _MUTED,
        "fontsize": "8",
        "fontcolor": _MUTED,
        "style": "dashed",
        "arrowsize": "0.6",
        "constraint": "false",
    },
}


def _pygraphviz() -> Any:
    try:
        import pygraphviz
    except ImportError as exc:
        raise DiagramsUnavailable(str(exc)) from exc
    return pygraphviz


def _agraph(graphs: list[FlowGraph], highlights: dict[str, Highlight]) -> Any:
    pgv = _pygraphviz()
    agraph = pgv.AGraph(directed=True, strict=False, name="flows")
    agraph.graph_attr.update(compound="true", rankdir="TB", fontname=_FONT, nodesep="0.3", ranksep="0.35")
    agraph.node_attr.update(fontname=_FONT)
    agraph.edge_attr.update(fontname=_FONT)
    for graph in graphs:
        _draw_flow(agraph, graph, highlights.get(graph.name))
    return agraph


def _draw_flow(agraph: Any, graph: FlowGraph, highlight: Highlight | None) -> None:
    def fill(container: Any, key: str | None) -> None:
        for member in graph.members.get(key, ()):
            if member in graph.clusters:
                cluster = graph.clusters[member]
                label = cluster.label + (f"\n({cluster.transition})" if cluster.transition else "")
                sub = container.add_subgraph(
                    name=f"cluster_{cluster.id}",
                    label=label,
                    style="rounded",
                    color=_MUTED,
                    fontsize="11",
                    fontname=_FONT,
                    penwidth="2" if cluster.parent is None else "1",
                )
                fill(sub, member)
            else:
                container.add_node(member, **node_attrs(graph.nodes[member]))

    def node_attrs(node: GraphNode) -> dict[str, str]:
        attrs = {"label": node.label, "tooltip": node.tooltip, **_NODE_STYLE[node.kind]}
        if node.id == graph.entry:
            attrs["penwidth"] = "2"
        if highlight is not None and node.id in highlight.visited and node.kind == "action":
            attrs.update(fillcolor=_VISITED, **{"class": "fm_visited"})
        if highlight is not None and node.id == highlight.current:
            attrs.update(fillcolor=_CURRENT, penwidth="2.5", **{"class": "fm_current"})
        return attrs

    fill(agraph, None)
    for index, edge in enumerate(graph.edges):
        attrs = {"label": edge.label, **_EDGE_STYLE[edge.kind]}
        if edge.label:
            attrs["tooltip"] = edge.label
        if edge.target in graph.clusters and not _inside(graph, edge.source, edge.target):
            attrs["lhead"] = f"cluster_{edge.target}"
        if highlight is not None and index in highlight.edges:
            attrs.update(color=_PATH, penwidth="2.2", **{"class": "fm_path"})
        agraph.add_edge(edge.source, graph.anchor(edge.target), key=f"{graph.name}#{index}", **attrs)


def _inside(graph: FlowGraph, node_id: str, cluster_id: str) -> bool:
    cluster = graph.nodes[node_id].cluster
    while cluster is not None:
        if cluster == cluster_id:
            return True
        cluster = graph.clusters[cluster].parent
    return False


def to_dot(flows: Flows, *, highlight: Highlight | Iterable[Highlight] | None = None, jumps: bool = True) -> str:
    """Graphviz dot source of one or several flows (needs pygraphviz)."""
    return str(_agraph(*_prepare(flows, highlight, jumps)).string())


def render(
    flows: Flows,
    format: str = "svg",
    *,
    highlight: Highlight | Iterable[Highlight] | None = None,
    jumps: bool = True,
) -> bytes:
    """Draw one or several flows in *format* (one of :data:`FORMATS`) and return the bytes.

    ``highlight`` marks a task's path (see :func:`trace`); ``jumps=False`` leaves
    out the jump points and their edges for a lighter picture.
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown diagram format {format!r}: use one of {', '.join(FORMATS)}.")
    if format == "mermaid":
        return to_mermaid(flows, highlight=highlight, jumps=jumps).encode()
    agraph = _agraph(*_prepare(flows, highlight, jumps))
    if format == "dot":
        return str(agraph.string()).encode()
    return bytes(agraph.draw(format=format, prog="dot"))


# -- Mermaid -------------------------------------------------------------------

_MERMAID_WORDS = {"end", "graph", "subgraph", "flowchart", "class", "classdef", "style", "click", "direction"}
_MERMAID_ARROWS = {"entry": "-->", "complete": "-->", "choice": "==>", "jump": "-.->"}


def _mermaid_ids(graphs: list[FlowGraph]) -> dict[str, str]:
    ids: dict[str, str] = {}
    used: set[str] = set()
    wanted: dict[str, list[str]] = {}
    for graph in graphs:
        for key in [*graph.clusters, *graph.nodes]:
            # Short ids: the component's own name, or its scaffold's name and the point's kind.
            short = key.rsplit(".", 2)[-2:] if key.endswith("__") else key.rsplit(".", 1)[-1:]
            wanted.setdefault(_mermaid_id(short), []).append(key)
    for short_id, keys in wanted.items():
        for key in keys:
            candidate = short_id if len(keys) == 1 else _mermaid_id([key])
            n = 1
            base = candidate
            while candidate in used:
                n += 1
                candidate = f"{base}_{n}"
            used.add(candidate)
            ids[key] = candidate
    return ids


def _mermaid_id(parts: list[str]) -> str:
    base = "_".join(re.sub(r"\W+", "_", p).strip("_") for p in parts) or "n"
    return base + "_" if base.lower() in _MERMAID_WORDS else base


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _mermaid_node(node: GraphNode, mid: str) -> str:
    if node.kind == "start":
        return f"{mid}(( )):::start"
    if node.kind == "final":
        return f"{mid}((({_mermaid_text(node.label)}))):::final"
    if node.kind == "exit":
        return f"{mid}(( )):::exit"
    if node.kind == "jump":
        return f"{mid}>{_mermaid_text(node.label)}]:::jump"
    return f"{mid}({_mermaid_text(node.label)})"


def to_mermaid(flows: Flows, *, highlight: Highlight | Iterable[Highlight] | None = None, jumps: bool = True) -> str:
    """Mermaid flowchart text of one or several flows (no C library needed)."""
    graphs, highlights = _prepare(flows, highlight, jumps)
    ids = _mermaid_ids(graphs)
    lines = ["flowchart TB"]
    for graph in graphs:

        def emit(container: str | None, depth: int, graph: FlowGraph = graph) -> None:
            pad = "  " * depth
            for key in graph.members.get(container, []):
                if key in graph.clusters:
                    cluster = graph.clusters[key]
                    label = cluster.label + (f" ({cluster.transition})" if cluster.transition else "")
                    lines.append(f"{pad}subgraph {ids[key]}[{_mermaid_text(label)}]")
                    emit(key, depth + 1)
                    lines.append(f"{pad}end")
                else:
                    lines.append(pad + _mermaid_node(graph.nodes[key], ids[key]))

        emit(None, 1)
        for edge in graph.edges:
            arrow = _MERMAID_ARROWS[edge.kind]
            label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
            lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
        mark = highlights.get(graph.name)
        if mark is not None:
            visited = [ids[n] for n in sorted(mark.visited) if n != mark.current and n in ids]
            if visited:
                lines.append(f"  class {','.join(visited)} visited")
            if mark.current:
                lines.append(f"  class {ids[mark.current]} current")
            for index in sorted(mark.edges):
                lines.append(f"  linkStyle {_link_number(graphs, graph, index)} stroke:{_PATH},stroke-width:3px")
    lines += [
        "  classDef start fill:#000,stroke:#000",
        "  classDef final fill:#e2e8f0,stroke:#334155",
        "  classDef exit fill:#334155,stroke:#334155",
        "  classDef jump fill:none,stroke:none,color:#94a3b8",
        f"  classDef visited fill:{_VISITED}",
        f"  classDef current fill:{_CURRENT},stroke-width:3px",
    ]
    return "\n".join(lines) + "\n"


def _link_number(graphs: list[FlowGraph], graph: FlowGraph, index: int) -> int:
    """Mermaid numbers links in order across the whole chart."""
    offset = 0
    for other in graphs:
        if other is graph:
            return offset + index
        offset += len(other.edges)
    raise ValueError(graph.name)


# -- views ---------------------------------------------------------------------


def all_flowgraphs(request: HttpRequest) -> HttpResponse:
    """A page with the diagram of every flow served in the URLconf (DEBUG only; 404 otherwise)."""
    from flowmachine._graph_views import all_flowgraphs as view

    return view(request)
