"""Paths through a compiled flow: its action graph, generated paths, and coverage.

The graph's nodes are a flow's actions plus the end (FINAL); its edges are the
moves an action can make, read off the flow's edge table (:mod:`.edges`):

* COMPLETE edges, from each scaffold's transition. ``Linear`` and ``None`` are
  known exactly. A custom transition's ``choose_next`` depends on data, so it
  is assumed to choose any sibling or None (complete the scaffold), unless the
  transition's ``possible_next(current, siblings)`` returns the names (and
  None) it can choose.
* Jump edges. An action's declared ``jumps`` are taken as given. An action that
  declares nothing is assumed to jump, when it is inside the *first* child of a
  ``transition = None`` scaffold, to each other child of that scaffold: that is
  how such a scaffold's branches are entered ("log in | register | forgot
  password"). Other jumps (error paths, "back to" links) are not assumed.

Edges that rest on an assumption are marked ``assumed``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flowmachine import registry
from flowmachine.components import Scaffold
from flowmachine.exceptions import FlowDefinitionError
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.edges import COMPLETE_TRIGGER, JUMP_PREFIX, jump_names, jump_trigger
from flowmachine.machine.places import FINAL, Place

__all__ = [
    "Coverage",
    "Edge",
    "FlowPath",
    "PathGraph",
    "compile_flow",
    "coverage",
    "jump_names",
    "shortest_paths",
    "simple_paths",
]

#: Paths :func:`simple_paths` lists before giving up (a flow with many loops).
MAX_PATHS = 10_000


def compile_flow(flow: type[Scaffold] | CompiledFlow) -> CompiledFlow:
    """The compiled machine of *flow*: the one its handler serves, else compiled now."""
    if isinstance(flow, CompiledFlow):
        compiled = flow
    else:
        handler = registry.handler_serving(flow)
        served: CompiledFlow | None = handler.flows[flow] if handler is not None else None
        if served is None:
            if not (isinstance(flow, type) and issubclass(flow, Scaffold)):
                raise FlowDefinitionError(f"Expected a Scaffold subclass (an entry point), not {flow!r}.")
            served = CompiledFlow(flow, flow.url if flow.url is not None else "")
        compiled = served
    compiled.raise_for_problems()
    return compiled


@dataclass(frozen=True)
class Edge:
    """One move of the graph: *trigger* (``complete`` or ``goto:Name``) from *source* to *target*."""

    source: str
    trigger: str
    target: str
    assumed: bool = False

    @property
    def is_jump(self) -> bool:
        return self.trigger != COMPLETE_TRIGGER

    @property
    def jump_target(self) -> str | None:
        """The name a jump asks for (``Register`` in ``goto:Register``), None for COMPLETE."""
        return self.trigger[len(JUMP_PREFIX) :] if self.is_jump else None


class PathGraph:
    """The actions of a compiled flow and the edges between them: what paths are generated from."""

    def __init__(self, flow: type[Scaffold] | CompiledFlow) -> None:
        self.flow = compile_flow(flow)
        self.start = self.flow.root.first_leaf().name
        self.actions = [p.name for p in self.flow.root.walk() if p.is_action]
        #: Declared jumps the machine refuses: (action, target name).
        self.bad_jumps: list[tuple[str, str]] = []
        self.edges: list[Edge] = []
        for name in self.actions:
            self.edges.extend(self._edges_from(self.flow.places[name]))
        self.out: dict[str, list[Edge]] = {name: [] for name in self.actions}
        for edge in self.edges:
            self.out[edge.source].append(edge)
        labels = [self.flow.places[n].local_name for n in self.actions]
        self._ambiguous = {label for label in labels if labels.count(label) > 1}

    # -- building ----------------------------------------------------------------

    def _edges_from(self, place: Place) -> list[Edge]:
        table = self.flow.edges
        edges = [Edge(place.name, COMPLETE_TRIGGER, m.target, m.assumed) for m in table.complete(place.name)]
        names, assumed = jump_names(table, place)
        for name in names:
            target = table.jump(place.name, name)
            if target is None:
                self.bad_jumps.append((place.name, name))
            elif not any(e.trigger == jump_trigger(name) and e.target == target for e in edges):
                edges.append(Edge(place.name, jump_trigger(name), target, assumed))
        return edges

    # -- reading ------------------------------------------------------------------

    def label(self, name: str) -> str:
        """A short readable name: the class name, or the dotted name below the root when ambiguous."""
        if name == FINAL:
            return "END"
        place = self.flow.places[name]
        if place.local_name in self._ambiguous:
            return name.split(".", 1)[1]
        return place.local_name

    def find(self, name: str) -> str:
        """The full state name of an action given its full name, label, or class name."""
        if name in self.flow.places:
            return name
        matches = [n for n in self.actions if self.label(n) == name or self.flow.places[n].local_name == name]
        if len(matches) != 1:
            raise KeyError(
                f"Flow {self.flow.name!r} has {'no' if not matches else 'several'} action(s) named {name!r}"
                f"{': ' + ', '.join(matches) if matches else ''}."
            )
        return matches[0]

    def reachable(self, start: str | None = None) -> set[str]:
        """Every node reachable from *start* (default: the entry), itself included."""
        start = start or self.start
        seen, queue = {start}, deque([start])
        while queue:
            node = queue.popleft()
            for edge in self.out.get(node, ()):
                if edge.target not in seen:
                    seen.add(edge.target)
                    queue.append(edge.target)
        return seen

    def shortest(self, target: str, start: str | None = None, through: Any = None) -> FlowPath | None:
        """A shortest path from *start* to *target*; *through(node)* may forbid passing a node."""
        start = start or self.start
        parents: dict[str, Edge | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == target:
                edges: list[Edge] = []
                while parents[node] is not None:
                    edge = parents[node]
                    edges.append(edge)  # type: ignore[arg-type]
                    node = edge.source  # type: ignore[union-attr]
                return FlowPath(self, start, tuple(reversed(edges)))
            if through is not None and not through(node):
                continue
            for edge in self.out.get(node, ()):
                if edge.target not in parents:
                    parents[edge.target] = edge
                    queue.append(edge.target)
        return None


@dataclass(frozen=True)
class FlowPath:
    """A walk through a flow from its entry: the edges taken, in order."""

    graph: PathGraph = field(repr=False, compare=False)
    start: str
    edges: tuple[Edge, ...]

    @property
    def flow(self) -> str:
        return self.graph.flow.name

    @property
    def nodes(self) -> tuple[str, ...]:
        """The states visited, entry first (FINAL last when the path finishes the flow)."""
        return (self.start, *(e.target for e in self.edges))

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions visited, as short labels."""
        return tuple(self.graph.label(n) for n in self.nodes if n != FINAL)

    @property
    def end(self) -> str:
        return self.nodes[-1]

    @property
    def finishes(self) -> bool:
        return self.end == FINAL

    @property
    def id(self) -> str:
        """A stable id for ``pytest.mark.parametrize``: ``-`` before a COMPLETE step, ``~`` before a jump."""
        parts = [self.graph.label(self.start)]
        for edge in self.edges:
            parts.append(("~" if edge.is_jump else "-") + self.graph.label(edge.target))
        return "".join(parts)

    @property
    def steps(self) -> list[str]:
        """One readable line per move, e.g. ``LoginOrRegister --jump--> Register``."""
        label = self.graph.label
        return [f"{label(e.source)} --{'jump' if e.is_jump else 'complete'}--> {label(e.target)}" for e in self.edges]

    def __str__(self) -> str:
        label = self.graph.label
        text = label(self.start)
        for edge in self.edges:
            text += (" ~> " if edge.is_jump else " -> ") + label(edge.target)
        return text

    def __iter__(self) -> Iterator[Edge]:
        return iter(self.edges)

    def __len__(self) -> int:
        return len(self.edges)


def shortest_paths(flow: type[Scaffold] | CompiledFlow | PathGraph) -> list[FlowPath]:
    """One shortest path from the entry to each reachable action (and one to the end)."""
    graph = flow if isinstance(flow, PathGraph) else PathGraph(flow)
    paths = []
    for target in [*graph.actions, FINAL]:
        path = graph.shortest(target)
        if path is not None:
            paths.append(path)
    return paths


def simple_paths(flow: type[Scaffold] | CompiledFlow | PathGraph, *, limit: int = MAX_PATHS) -> list[FlowPath]:
    """Every path from the entry to the end that visits no action twice."""
    graph = flow if isinstance(flow, PathGraph) else PathGraph(flow)
    found: list[FlowPath] = []
    stack: list[Edge] = []
    on_path = {graph.start}

    def visit(node: str) -> None:
        for edge in graph.out.get(node, ()):
            if edge.target == FINAL:
                found.append(FlowPath(graph, graph.start, (*stack, edge)))
                if len(found) > limit:
                    raise FlowDefinitionError(
                        f"Flow {graph.flow.name!r} has more than {limit} simple paths; use "
                        f"shortest_paths(), or pass simple_paths(..., limit=N)."
                    )
                continue
            if edge.target in on_path:
                continue
            on_path.add(edge.target)
            stack.append(edge)
            visit(edge.target)
            stack.pop()
            on_path.discard(edge.target)

    visit(graph.start)
    return found


@dataclass(frozen=True)
class Coverage:
    """Which states and transitions of a flow a set of paths visits."""

    flow: str
    states: dict[str, bool]
    transitions: dict[Edge, bool]
    graph: PathGraph = field(repr=False, compare=False)

    @property
    def missing_states(self) -> list[str]:
        return [s for s, hit in self.states.items() if not hit]

    @property
    def missing_transitions(self) -> list[Edge]:
        return [t for t, hit in self.transitions.items() if not hit]

    @property
    def complete(self) -> bool:
        return not self.missing_states and not self.missing_transitions

    def __str__(self) -> str:
        label = self.graph.label
        states_hit = sum(self.states.values())
        edges_hit = sum(self.transitions.values())
        lines = [
            f"Coverage of flow {self.flow!r}: {states_hit}/{len(self.states)} states, "
            f"{edges_hit}/{len(self.transitions)} transitions."
        ]
        for state in self.missing_states:
            lines.append(f"  state not visited: {state}")
        for edge in self.missing_transitions:
            kind = "jump" if edge.is_jump else "complete"
            lines.append(f"  transition not taken: {label(edge.source)} --{kind}--> {label(edge.target)}")
        return "\n".join(lines)


def coverage(flow: type[Scaffold] | CompiledFlow | PathGraph, paths: Iterable[FlowPath]) -> Coverage:
    """Report the states (actions, scaffolds, the end) and transitions that *paths* cover."""
    graph = flow if isinstance(flow, PathGraph) else PathGraph(flow)
    places = graph.flow.places
    states = {name: False for name in places}
    states[FINAL] = False
    transitions = {edge: False for edge in graph.edges}
    for path in paths:
        for node in path.nodes:
            states[node] = True
            place = places.get(node)
            while place is not None:
                states[place.name] = True
                place = place.parent
        for edge in path.edges:
            for known in transitions:
                if known.source == edge.source and known.trigger == edge.trigger and known.target == edge.target:
                    transitions[known] = True
    return Coverage(graph.flow.name, states, transitions, graph)
