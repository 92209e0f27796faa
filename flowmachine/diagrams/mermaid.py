"""Drawing the diagram model as Mermaid flowchart text (needs no C library)."""

from __future__ import annotations

import re

from flowmachine.diagrams.dot import CURRENT_COLOUR, PATH_COLOUR, VISITED_COLOUR, jump_mark
from flowmachine.diagrams.model import FlowGraph, GraphNode, Highlight

__all__ = ["mermaid"]

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


def _mermaid_node(graph: FlowGraph, node: GraphNode, mid: str) -> str:
    if node.kind == "start":
        return f"{mid}(( )):::start"
    if node.kind == "final":
        return f"{mid}((({_mermaid_text(node.label)}))):::final"
    if node.kind == "exit":
        return f"{mid}(( )):::exit"
    mark = jump_mark(graph, node.id)
    if mark:
        return f"{mid}({_mermaid_text(f'{node.label}<br/><small>{mark}</small>')}):::jumped"
    return f"{mid}({_mermaid_text(node.label)})"


def mermaid(graphs: list[FlowGraph], highlights: dict[str, Highlight]) -> str:
    """Mermaid flowchart text of *graphs*, marking each flow's highlight."""
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
                    lines.append(pad + _mermaid_node(graph, graph.nodes[key], ids[key]))

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
                lines.append(f"  linkStyle {_link_number(graphs, graph, index)} stroke:{PATH_COLOUR},stroke-width:3px")
    lines += [
        "  classDef start fill:#000,stroke:#000",
        "  classDef final fill:#e2e8f0,stroke:#334155",
        "  classDef exit fill:#334155,stroke:#334155",
        "  classDef jumped stroke-dasharray:4 3",
        f"  classDef visited fill:{VISITED_COLOUR}",
        f"  classDef current fill:{CURRENT_COLOUR},stroke-width:3px",
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
