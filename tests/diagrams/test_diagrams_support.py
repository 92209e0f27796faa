"""Checks shared by the diagram tests (also run in a subprocess on the demo's flow).

``check_drawn_completely`` compares a diagram model with the compiled machine
itself: it fires every trigger from every action and asserts the model has
the edges that explain where the machine went, and no others; its jump edges
are exactly the path graph's. ``check_nothing_looks_unreachable`` asserts the
drawing without jumps still enters every action. They import nothing from the
test flows, so the demo's settings can use them.
"""

from __future__ import annotations

import re
from typing import Any

from flowmachine.diagrams import to_dot, to_mermaid
from flowmachine.exceptions import InvalidJump
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import FINAL
from flowmachine.testing import PathGraph

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
    # One COMPLETE edge per component (static transitions).
    assert len(complete) == len(places) - 1
    by_source: dict[str, list[Any]] = {}
    for edge in complete:
        by_source.setdefault(edge.source, []).append(edge)
        assert edge.label == "complete" and edge.trigger == "complete"
    assert all(len(v) == 1 for v in by_source.values())
    # Jumps: from the action that jumps, one per (action, target), exactly the path graph's jumps.
    paths = PathGraph(compiled)
    expected = {(e.source, e.trigger, e.target, e.assumed) for e in paths.edges if e.is_jump}
    drawn = {(e.source, e.trigger, graph.anchor(e.target), e.assumed) for e in jumps}
    assert drawn == expected
    assert len(jumps) == len(drawn)
    assert all(graph.nodes[e.source].kind == "action" for e in jumps)
    assert all(e.label == e.trigger and e.trigger.startswith("goto:") for e in jumps)

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
        drawn_end = graph.final if destination == FINAL else destination
        assert graph.anchor(target) == drawn_end, (action, target, destination)
        fired += 1
        # Jumps: the machine takes goto:N from the innermost scaffold around the action that has N as a
        # child; a drawn jump edge from the action ends at that child, and lands where the machine does.
        from_here = {e.trigger: e for e in jumps if e.source == action}
        for name in sorted(names):
            owner = next(
                (p for p in reversed(places[action].lineage()[:-1]) if any(c.local_name == name for c in p.children)),
                None,
            )
            try:
                destination = compiled.fire(action, f"goto:{name}", {})
            except InvalidJump:
                assert owner is None, (action, name)
                assert f"goto:{name}" not in from_here, (action, name)
                continue
            fired += 1
            assert owner is not None, (action, name)
            edge = from_here.get(f"goto:{name}")
            if edge is not None:
                assert edge.target == f"{owner.name}.{name}", (action, name)
                assert graph.anchor(edge.target) == destination, (action, name)
    return {
        "actions": len(actions),
        "scaffolds": len(scaffolds),
        "complete": len(complete),
        "jumps": len(jumps),
        "fired": fired,
    }


def check_nothing_looks_unreachable(graph: Any) -> dict[str, str]:
    """Assert every action has an incoming edge, or the jump mark, in the jumps=False dot and Mermaid output.

    Returns the mark of each marked action (its label's second line in dot).
    """
    facts = dot_facts(to_dot(graph, jumps=False))
    assert not [e for e in facts["edges"] if e[4] == "dashed"]
    heads = {edge[1] for edge in facts["edges"]}
    marks: dict[str, str] = {}
    for node in graph.actions():
        label = facts["nodes"][node.id]["label"]
        if node.id not in heads:
            assert "entered by a jump from" in label, f"{node.id} looks unreachable without jumps"
            marks[node.id] = re.sub(r"<[^>]*>", " ", label).split("entered by", 1)[1].strip()
    text = to_mermaid(graph, jumps=False)
    assert "-.->" not in text
    mermaid_heads = {m.group(4) for m in map(EDGE_LINE.match, text.splitlines()) if m}
    opening: list[str] = []  # subgraphs whose first action is the next node line: an edge into them enters it
    for line in text.splitlines():
        subgraph = re.match(r"^\s*subgraph (\w+)\[", line)
        if subgraph:
            opening.append(subgraph.group(1))
            continue
        node = re.match(r'^\s*(\w+)\("([^"]*)"\)', line)
        if node:
            if node.group(1) not in mermaid_heads and not mermaid_heads.intersection(opening):
                assert "entered by a jump from" in node.group(2), f"{node.group(1)} looks unreachable in Mermaid"
            opening = []
    return marks


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
        (
            str(e[0]),
            str(e[1]),
            e.attr.get("label") or e.attr.get("xlabel") or "",  # a jump's label is an xlabel
            e.attr.get("lhead") or "",
            e.attr.get("style") or "",
        )
        for e in agraph.edges()
    ]
    nodes = {str(n): dict(n.attr) for n in agraph.nodes()}
    return {"clusters": clusters, "holder": holder, "edges": edges, "nodes": nodes}
