"""The diagram model of a compiled flow: nodes, clusters and edges, read off the machine.

Extraction follows the compiled machine, not the class tree: each scaffold is a
cluster with an *exit* point (where it completes). COMPLETE edges are those the
machine is wired with, read off the flow's edge table
(:mod:`flowmachine.machine.edges`): a static transition (``Linear``, ``None``)
gives one edge per child, a custom transition's ``choose_next`` gives an edge
to every sibling and to the exit.

Jump edges start at the action that jumps: one per (action, target) the action
declares in ``Action.jumps``. An action that declares nothing is given the
jumps path generation assumes (:func:`flowmachine.machine.paths.jump_names`):
from the first child of a ``transition = None`` scaffold to each other child;
those edges are marked ``assumed``. Each edge ends where the machine's
``goto:Name`` lands from that action. Without jumps (:func:`without_jumps`), an
action that only a jump enters keeps a mark naming the actions that jump
there, so nothing looks unreachable. Renderers (:mod:`flowmachine.diagrams`)
only draw this model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Literal

from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.edges import COMPLETE_TRIGGER, EdgeTable, jump_trigger
from flowmachine.machine.paths import jump_names
from flowmachine.machine.places import Place
from flowmachine.transition import Transition, _ActionsDecide

NodeKind = Literal["action", "start", "final", "exit"]
EdgeKind = Literal["entry", "complete", "choice", "jump"]

#: Suffixes of the ids of drawn points that are not actions: the flow's start
#: and end, and each scaffold's exit (where it completes).
START_NODE = "__start__"
END_NODE = "__final__"
EXIT_NODE = "__exit__"


@dataclass(frozen=True)
class GraphNode:
    """A drawn point: an action, the flow's start or final state, or a scaffold's exit point."""

    id: str
    label: str
    kind: NodeKind
    cluster: str | None
    place: str | None = None
    tooltip: str = ""


@dataclass(frozen=True)
class GraphCluster:
    """A scaffold: a box around its children."""

    id: str
    label: str
    parent: str | None
    transition: str
    entry: str


@dataclass(frozen=True)
class GraphEdge:
    """A transition of the machine; ``target`` is a node id or a cluster id (entering its first action).

    A jump edge starts at the action that jumps; ``assumed`` when the action
    declares no ``jumps`` and the edge is what path generation assumes of it.
    """

    source: str
    target: str
    kind: EdgeKind
    label: str
    trigger: str | None = None
    assumed: bool = False


@dataclass
class FlowGraph:
    """Everything a renderer needs to draw one compiled flow."""

    name: str
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    clusters: dict[str, GraphCluster] = field(default_factory=dict)
    edges: list[GraphEdge] = field(default_factory=list)
    #: What each cluster (None: the top level) holds, node and cluster ids in flow order.
    members: dict[str | None, list[str]] = field(default_factory=dict)
    start: str = ""
    entry: str = ""
    final: str = ""
    #: Left without its jump edges (:func:`without_jumps`): each action that
    #: nothing else enters, with the actions whose jumps land there.
    jumped_from: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def anchor(self, target: str) -> str:
        """The node an edge to *target* ends at: the node itself or a cluster's first action."""
        cluster = self.clusters.get(target)
        return cluster.entry if cluster is not None else target

    def actions(self) -> list[GraphNode]:
        return [n for n in self.nodes.values() if n.kind == "action"]

    def edges_of(self, kind: EdgeKind) -> list[GraphEdge]:
        return [e for e in self.edges if e.kind == kind]


@dataclass(frozen=True)
class Highlight:
    """What to mark on a diagram for one task: its current action, visited actions, path edges."""

    flow: str
    current: str | None
    visited: frozenset[str]
    edges: frozenset[int]


def transition_label(transition: Transition) -> str:
    if isinstance(transition, _ActionsDecide):
        return ""
    return type(transition).__name__


def extract(flow: CompiledFlow) -> FlowGraph:
    """Read the diagram model off a compiled flow (one without definition problems)."""
    root = flow.root
    graph = FlowGraph(name=flow.name)
    graph.start = f"{root.name}.{START_NODE}"
    graph.final = f"{root.name}.{END_NODE}"
    graph.entry = root.first_leaf().name
    graph.nodes[graph.start] = GraphNode(graph.start, "start", "start", None, tooltip=f"{flow.name} starts")
    graph.nodes[graph.final] = GraphNode(graph.final, "done", "final", None, tooltip=f"{flow.name} is complete")
    graph.edges.append(GraphEdge(graph.start, graph.entry, "entry", ""))
    graph.members[None] = [graph.start, root.name, graph.final]
    edges = flow.edges
    for place in root.walk():
        if place.children:
            _add_scaffold(graph, edges, place)
        else:
            title = place.component.display_title()
            graph.nodes[place.name] = GraphNode(
                place.name,
                place.local_name,
                "action",
                _cluster_of(place),
                place=place.name,
                tooltip=f"{title} (/{place.route})",
            )
    for place in root.walk():
        if place.children:
            _wire(graph, edges, place)
    for place in root.walk():
        if not place.children:
            _add_jumps(graph, edges, place)
    return graph


def _cluster_of(place: Place) -> str | None:
    return place.parent.name if place.parent is not None else None


def _exit_id(graph: FlowGraph, scaffold: Place) -> str:
    return graph.final if scaffold.parent is None else f"{scaffold.name}.{EXIT_NODE}"


def _source_id(graph: FlowGraph, place: Place) -> str:
    """Where a COMPLETE of *place* starts: the action, or the scaffold's exit point."""
    return _exit_id(graph, place) if place.children else place.name


def _add_scaffold(graph: FlowGraph, edges: EdgeTable, scaffold: Place) -> None:
    graph.clusters[scaffold.name] = GraphCluster(
        scaffold.name,
        scaffold.local_name,
        _cluster_of(scaffold),
        transition_label(edges.transition(scaffold)),
        scaffold.first_leaf().name,
    )
    members = graph.members[scaffold.name] = [c.name for c in scaffold.children]
    if scaffold.parent is not None:
        exit_id = _exit_id(graph, scaffold)
        graph.nodes[exit_id] = GraphNode(exit_id, "", "exit", scaffold.name, tooltip=f"{scaffold.local_name} completes")
        members.append(exit_id)


def _wire(graph: FlowGraph, edges: EdgeTable, scaffold: Place) -> None:
    """The COMPLETE edges of *scaffold*'s children, as the machine has them."""
    exit_id = _exit_id(graph, scaffold)
    for child in scaffold.children:
        source = _source_id(graph, child)
        outcome = edges.outcome(child)
        kind: EdgeKind = "choice" if outcome.chosen else "complete"
        label = "complete?" if outcome.chosen else "complete"
        for target in outcome.choices:
            graph.edges.append(
                GraphEdge(source, exit_id if target is None else target.name, kind, label, COMPLETE_TRIGGER)
            )


def _add_jumps(graph: FlowGraph, edges: EdgeTable, action: Place) -> None:
    """One jump edge per target *action* declares (or is assumed to jump to), to where the machine lands."""
    names, assumed = jump_names(edges, action)
    drawn: set[str] = set()
    for name in names:
        entered = edges.jump_entry(action.name, name)
        if entered is None or entered.name in drawn:
            continue  # a jump the machine refuses is a definition problem, reported by the checks
        drawn.add(entered.name)
        trigger = jump_trigger(name)
        graph.edges.append(GraphEdge(action.name, entered.name, "jump", trigger, trigger, assumed=assumed))


def without_jumps(graph: FlowGraph) -> tuple[FlowGraph, dict[int, int]]:
    """*graph* without its jump edges, and the new index of each kept edge.

    An action that no kept edge enters but a jump does is marked with the
    actions that jump there (``jumped_from``), so it does not look unreachable.
    """
    kept = [i for i, e in enumerate(graph.edges) if e.kind != "jump"]
    entered = {graph.anchor(graph.edges[i].target) for i in kept}
    marks: dict[str, list[str]] = {}
    for edge in graph.edges_of("jump"):
        landing = graph.anchor(edge.target)
        if landing not in entered:
            sources = marks.setdefault(landing, [])
            if edge.source not in sources:
                sources.append(edge.source)
    lean = replace(
        graph,
        edges=[graph.edges[i] for i in kept],
        jumped_from={k: tuple(v) for k, v in marks.items()},
    )
    return lean, {old: new for new, old in enumerate(kept)}


def trace(graph: FlowGraph, history: Sequence[str], position: str | None) -> Highlight:
    """Mark a task's visited actions, its current action and the edges between its steps."""
    steps = [name for name in history if name in graph.nodes]
    if position in graph.nodes:
        steps.append(position)
    edges: set[int] = set()
    for source, target in pairwise(steps):
        edges.update(_explain(graph, source, target))
    current = position if position in graph.nodes and graph.nodes[position].kind == "action" else None
    return Highlight(graph.name, current, frozenset(steps), frozenset(edges))


def _explain(graph: FlowGraph, source: str, target: str) -> Iterable[int]:
    """The edges that took a task from action *source* to action *target*: COMPLETE, else a jump."""
    outgoing: dict[str, list[int]] = {}
    for index, edge in enumerate(graph.edges):
        if edge.kind in ("complete", "choice"):
            outgoing.setdefault(edge.source, []).append(index)
    stack: list[tuple[str, list[int]]] = [(source, [])]
    seen = {source}
    while stack:
        node, chain = stack.pop()
        for index in outgoing.get(node, ()):
            edge = graph.edges[index]
            if graph.anchor(edge.target) == target:
                return [*chain, index]
            head = graph.nodes.get(edge.target)
            if head is not None and head.kind == "exit" and head.id not in seen:
                seen.add(head.id)
                stack.append((head.id, [*chain, index]))
    # A jump: the drawn jump edge from the action that jumped (none for a jump it does not declare).
    for index, edge in enumerate(graph.edges):
        if edge.kind == "jump" and edge.source == source and graph.anchor(edge.target) == target:
            return [index]
    return []
