"""Checks shared by the diagram tests (also run in a subprocess on the demo's flow).

``check_drawn_completely`` compares a diagram model with the compiled machine
itself: it fires every trigger from every action and asserts the model has
the edges that explain where the machine went, and no others. It imports
nothing from the test flows, so the demo's settings can use it.
"""

from __future__ import annotations

import re
from typing import Any

from flowmachine.exceptions import InvalidJump
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import FINAL

EDGE_LINE = re.compile(r'^\s*(\S+) (-->|==>|-\.->)(?:\|"([^"]*)"\|)? (\S+)$')


def check_drawn_completely(compiled: CompiledFlow, graph: Any) -> dict[str, int]:
    """Assert *graph* draws every action, scaffold, COMPLETE and jump of *compiled*; return counts."""
    places = compiled.places
    actions = {name for name, place in places.items() if place.is_action}
    scaffolds = {name for name, place in places.items() if not place.is_action}
    assert {n.id for n in graph.actions()} == actions
    assert set(graph.clusters) == scaffolds
    for name, place in places.items():
        parent = place.parent.name if place.parent else None
        if place.is_action:
            assert graph.nodes[name].cluster == parent, name
            assert graph.nodes[name].label == place.local_name
        else:
            assert graph.clusters[name].parent == parent, name
    assert graph.entry == compiled.root.first_leaf().name
    assert [(e.source, e.target) for e in graph.edges if e.kind == "entry"] == [(graph.start, graph.entry)]
    assert graph.nodes[graph.final].kind == "final"

    complete = [e for e in graph.edges if e.kind == "complete"]
    jumps = [e for e in graph.edges if e.kind == "jump"]
    # One COMPLETE edge per component (static transitions), one jump edge per child of a scaffold.
    assert len(complete) == len(places) - 1
    assert len(jumps) == len(places) - 1
    by_source: dict[str, list[Any]] = {}
    for edge in complete:
        by_source.setdefault(edge.source, []).append(edge)
        assert edge.label == "complete" and edge.trigger == "complete"
    assert all(len(v) == 1 for v in by_source.values())

    names = {place.local_name for place in places.values()}
    fired = 0
    for action in sorted(actions):
        # COMPLETE: follow the drawn edges through exit points to where the machine goes.
        node, hops = action, 0
        while True:
            edge = by_source[node][0]
            target = edge.target
            if target == graph.final or graph.nodes.get(target, None) is None or graph.nodes[target].kind != "exit":
                break
            node, hops = target, hops + 1
            assert hops < 50
        destination = compiled.fire(action, "complete", {})
        drawn = graph.final if destination == FINAL else destination
        assert graph.anchor(target) == drawn, (action, target, destination)
        fired += 1
        # Jumps: the machine takes goto:N from the innermost scaffold around the action that has N as a child.
        for name in sorted(names):
            owner = next(
                (p for p in reversed(places[action].lineage()[:-1]) if any(c.local_name == name for c in p.children)),
                None,
            )
            try:
                destination = compiled.fire(action, f"goto:{name}", {})
            except InvalidJump:
                assert owner is None, (action, name)
                continue
            fired += 1
            assert owner is not None, (action, name)
            target = f"{owner.name}.{name}"
            matching = [e for e in jumps if e.source == f"{owner.name}.__jump__" and e.target == target]
            assert len(matching) == 1, (action, name)
            assert matching[0].label == f"goto:{name}" and matching[0].trigger == f"goto:{name}"
            assert graph.anchor(target) == destination
    return {
        "actions": len(actions),
        "scaffolds": len(scaffolds),
        "complete": len(complete),
        "jumps": len(jumps),
        "fired": fired,
    }


def dot_facts(dot: str) -> dict[str, Any]:
    """Parse dot source: cluster nesting, which cluster holds each node, and the edges."""
    import pygraphviz

    agraph = pygraphviz.AGraph(string=dot)
    clusters: dict[str, str | None] = {}
    holder: dict[str, str | None] = {}

    def walk(graph: Any, parent: str | None) -> None:
        # A subgraph lists its nested subgraphs' nodes too: the deepest one visited wins.
        for node in graph.nodes():
            holder[str(node)] = parent
        for sub in graph.subgraphs():
            clusters[sub.name] = parent
            walk(sub, sub.name)

    walk(agraph, None)
    edges = [
        (str(e[0]), str(e[1]), e.attr.get("label") or "", e.attr.get("lhead") or "", e.attr.get("style") or "")
        for e in agraph.edges()
    ]
    nodes = {str(n): dict(n.attr) for n in agraph.nodes()}
    return {"clusters": clusters, "holder": holder, "edges": edges, "nodes": nodes}
