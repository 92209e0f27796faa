"""Flow diagrams: a compiled flow drawn with Graphviz (SVG, PNG, PDF, dot) or as Mermaid text.

Drawing goes extract -> model -> renderer: :func:`flow_graph` reads a
:class:`FlowGraph` off the compiled machine (so nested scaffolds come out as
the machine runs them), and :func:`to_dot`, :func:`to_mermaid` and
:func:`render` draw it. Graphviz output needs the ``diagrams`` extra
(pygraphviz), imported only when drawing; Mermaid text needs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from flowmachine.components import Scaffold
from flowmachine.diagrams.dot import INSTALL_HINT, DiagramsUnavailable, agraph, scalable_svg
from flowmachine.diagrams.mermaid import mermaid
from flowmachine.diagrams.model import (
    FlowGraph,
    GraphCluster,
    GraphEdge,
    GraphNode,
    Highlight,
    extract,
    trace,
    without_jumps,
)
from flowmachine.machine.compiler import CompiledFlow

__all__ = [
    "FORMATS",
    "INSTALL_HINT",
    "DiagramsUnavailable",
    "FlowGraph",
    "GraphCluster",
    "GraphEdge",
    "GraphNode",
    "Highlight",
    "flow_graph",
    "render",
    "scalable_svg",
    "to_dot",
    "to_mermaid",
    "trace",
    "without_jumps",
]

#: Output formats of :func:`render`; all but ``mermaid`` need pygraphviz.
FORMATS = ("svg", "png", "pdf", "dot", "mermaid")
GRAPHVIZ_FORMATS = ("svg", "png", "pdf", "dot")

FlowLike = type[Scaffold] | CompiledFlow | FlowGraph
Flows = FlowLike | Sequence[FlowLike]


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
    """The graphs and highlights to draw; without jump edges unless *jumps* (see :func:`without_jumps`)."""
    graphs, highlights = _graphs(flows), _highlights(highlight)
    if jumps:
        return graphs, highlights
    lean: list[FlowGraph] = []
    for graph in graphs:
        drawn, renumber = without_jumps(graph)
        lean.append(drawn)
        mark = highlights.get(graph.name)
        if mark is not None:
            highlights[graph.name] = replace(mark, edges=frozenset(renumber[i] for i in mark.edges if i in renumber))
    return lean, highlights


def to_dot(flows: Flows, *, highlight: Highlight | Iterable[Highlight] | None = None, jumps: bool = True) -> str:
    """Graphviz dot source of one or several flows (needs pygraphviz)."""
    return str(agraph(*_prepare(flows, highlight, jumps)).string())


def to_mermaid(flows: Flows, *, highlight: Highlight | Iterable[Highlight] | None = None, jumps: bool = True) -> str:
    """Mermaid flowchart text of one or several flows (no C library needed)."""
    return mermaid(*_prepare(flows, highlight, jumps))


def render(
    flows: Flows,
    format: str = "svg",
    *,
    highlight: Highlight | Iterable[Highlight] | None = None,
    jumps: bool = True,
) -> bytes:
    """Draw one or several flows in *format* (one of :data:`FORMATS`) and return the bytes.

    ``highlight`` marks a task's path (see :func:`trace`); ``jumps=False`` leaves
    out the jump edges for a lighter picture, marking each action that only a
    jump enters with the actions that jump there.
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown diagram format {format!r}: use one of {', '.join(FORMATS)}.")
    if format == "mermaid":
        return to_mermaid(flows, highlight=highlight, jumps=jumps).encode()
    drawn = agraph(*_prepare(flows, highlight, jumps))
    if format == "dot":
        return str(drawn.string()).encode()
    return bytes(drawn.draw(format=format, prog="dot"))
