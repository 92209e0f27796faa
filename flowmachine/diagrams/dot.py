"""Drawing the diagram model with Graphviz (pygraphviz, the ``diagrams`` extra): dot, SVG, PNG, PDF.

pygraphviz is imported only when drawing, so the rest of the package works
without it; a missing install raises :class:`DiagramsUnavailable` naming the extra.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from flowmachine.diagrams.model import FlowGraph, GraphEdge, GraphNode, Highlight

__all__ = [
    "DiagramsUnavailable",
    "INSTALL_HINT",
    "agraph",
    "jump_mark",
    "scalable_svg",
    "PATH_COLOUR",
    "VISITED_COLOUR",
    "CURRENT_COLOUR",
]

INSTALL_HINT = 'pip install "django-flowmachine[diagrams]"'


class DiagramsUnavailable(ImportError):
    """Graphviz drawing was asked for but pygraphviz cannot be imported."""

    def __init__(self, reason: str = "") -> None:
        message = (
            f"Drawing flow diagrams as SVG, PNG, PDF or dot needs pygraphviz: {INSTALL_HINT} "
            "(a prebuilt wheel with Graphviz inside; only where pip finds no wheel for your platform "
            "does it build pygraphviz from source, which needs Graphviz and its headers). "
            "Mermaid text needs nothing: use format 'mermaid'."
        )
        if reason:
            message += f" ({reason})"
        super().__init__(message)


_FONT = "Helvetica"
_INK = "#334155"
_MUTED = "#94a3b8"
_CHOICE = "#7c3aed"
_VISITED = VISITED_COLOUR = "#dbeafe"
_CURRENT = CURRENT_COLOUR = "#fbbf24"
_PATH = PATH_COLOUR = "#2563eb"

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


_SVG_TAG = re.compile(r"<svg\b[^>]*>")
_SIZE = re.compile(r'\s(width|height)="([^"]*)"')


def scalable_svg(svg: str) -> str:
    """Graphviz SVG that the browser scales to the window: ``width="100%"``, no fixed height.

    The viewBox keeps the proportions; ``max-width`` keeps a small diagram at
    its natural size instead of blowing it up.
    """
    match = _SVG_TAG.search(svg)
    if match is None:
        return svg
    tag = match.group(0)
    sizes = dict(_SIZE.findall(tag))
    if "viewBox" not in tag:
        return svg
    bare = _SIZE.sub("", tag)
    limit = f"max-width:{sizes['width']};" if "width" in sizes else ""
    scaled = bare.replace("<svg", f'<svg width="100%" style="{limit}height:auto"', 1)
    return svg[: match.start()] + scaled + svg[match.end() :]


def jump_mark(graph: FlowGraph, node_id: str) -> str:
    """The words marking an action only jumps enter, once jump edges are left out ("" otherwise)."""
    sources = graph.jumped_from.get(node_id)
    if not sources:
        return ""
    return "entered by a jump from " + ", ".join(graph.nodes[s].label for s in sources)


def _jump_tooltip(graph: FlowGraph, edge: GraphEdge) -> str:
    source, target = graph.nodes[edge.source].label, edge.target.rsplit(".", 1)[-1]
    text = f"{source} may jump to {target} ({edge.trigger})"
    if edge.assumed:
        text += f"; assumed: {source} declares no jumps"
    return text


def _pygraphviz() -> Any:
    try:
        import pygraphviz
    except ImportError as exc:
        raise DiagramsUnavailable(str(exc)) from exc
    return pygraphviz


def agraph(graphs: list[FlowGraph], highlights: dict[str, Highlight]) -> Any:
    pgv = _pygraphviz()
    agraph = pgv.AGraph(directed=True, strict=False, name="flows")
    agraph.graph_attr.update(
        compound="true", rankdir="TB", fontname=_FONT, nodesep="0.3", ranksep="0.35", forcelabels="true"
    )
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
        mark = jump_mark(graph, node.id)
        if mark:
            attrs["label"] = f'<{escape(node.label)}<BR/><FONT POINT-SIZE="8" COLOR="{_MUTED}">{escape(mark)}</FONT>>'
            attrs["tooltip"] = f"{node.tooltip}; {mark}"
            attrs["style"] = "rounded,filled,dashed"
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
        if edge.kind == "jump":
            # placed beside the edge once laid out: a jump does not shape the layout, nor does its label
            attrs["xlabel"] = attrs.pop("label")
            attrs["tooltip"] = _jump_tooltip(graph, edge)
        elif edge.label:
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
