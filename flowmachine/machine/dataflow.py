"""Data-flow checks: over every path of a compiled flow, each read is written before it.

An action reads the keys in its own ``reads``, in ``reads`` of its enclosing
scaffolds and in every ``RequiredState`` precondition on them; it writes the
keys in its ``writes`` when it is left. An action with ``writes = None`` (the
default: undeclared) may write anything, so no path through it is reported:
the checks only report what the declarations prove. Keys the root scaffold
lists in ``initial_keys`` are there from the start. Paths are those of the
:class:`~flowmachine.machine.paths.PathGraph`, read off the flow's edge table
(a custom transition may choose any sibling its ``possible_next`` allows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.paths import PathGraph
from flowmachine.machine.places import FINAL, Place
from flowmachine.preconditions import RequiredState

__all__ = ["Finding", "data_flow_findings"]

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    """One data-flow problem, reported as a system check message."""

    level: str
    id: str
    msg: str
    hint: str
    obj: Any


def _keys(value: Any) -> tuple[str, ...] | None:
    """A declared key list as a tuple, or None when it is not a list of strings."""
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(k, str) for k in value):
        return tuple(value)
    return None


def reads_of(place: Place) -> dict[str, str]:
    """The keys an action needs on arrival, each with where it was declared."""
    found: dict[str, str] = {}
    for node in place.lineage():
        component = node.component
        for key in _keys(getattr(component, "reads", ())) or ():
            found.setdefault(key, f"{component.__name__}.reads")
        for precondition in getattr(component, "preconditions", ()):
            if isinstance(precondition, RequiredState):
                for key in precondition.keys:
                    found.setdefault(key, f"{precondition!r} on {component.__name__}")
    return found


def data_flow_findings(flow: CompiledFlow) -> list[Finding]:
    """Every data-flow problem of *flow*, a compiled flow without definition problems."""
    findings = _declaration_findings(flow)
    if findings:
        return findings
    graph = PathGraph(flow)
    for source, target in graph.bad_jumps:
        place = flow.places[source]
        findings.append(
            Finding(
                ERROR,
                "flowmachine.E015",
                f"Flow {flow.name!r}: {place.component.__name__}.jumps names {target!r}, "
                f"which {source} cannot jump to.",
                "A jump goes to a sibling of the action or of one of its scaffolds; fix jumps or the action_set.",
                place.component,
            )
        )
    reachable = graph.reachable()
    findings += _read_findings(flow, graph, reachable)
    findings += _shape_findings(flow, graph, reachable)
    return findings


def _declaration_findings(flow: CompiledFlow) -> list[Finding]:
    findings = []
    seen: set[tuple[type, str]] = set()
    for place in flow.places.values():
        component = place.component
        names = ["reads"] + (["writes", "jumps"] if place.is_action else ["initial_keys"])
        for attr in names:
            value = getattr(component, attr, None)
            if (component, attr) in seen or value is None:
                continue
            seen.add((component, attr))
            if attr == "jumps":
                ok = isinstance(value, (list, tuple)) and all(isinstance(t, (str, type)) for t in value)
            else:
                ok = _keys(value) is not None
            if not ok:
                findings.append(
                    Finding(
                        ERROR,
                        "flowmachine.E015",
                        f"Flow {flow.name!r}: {component.__name__}.{attr} is {value!r}, not a list or tuple of "
                        f"{'targets' if attr == 'jumps' else 'state keys'}.",
                        f'Write it as a tuple, e.g. {attr} = ("key",) — note the trailing comma.',
                        component,
                    )
                )
    return findings


def _writes(flow: CompiledFlow, node: str) -> Sequence[str] | None:
    return _keys(getattr(flow.places[node].component, "writes", None))


def _read_findings(flow: CompiledFlow, graph: PathGraph, reachable: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    initial = set(_keys(getattr(flow.component, "initial_keys", ())) or ())
    #: The nodes reachable from each action by at least one move.
    after = {n: set().union(*(graph.reachable(e.target) for e in graph.out[n])) for n in graph.actions}
    for name in graph.actions:
        if name not in reachable:
            continue
        place = flow.places[name]
        for key, where in reads_of(place).items():
            if key in initial:
                continue

            def passes(node: str, key: str = key, target: str = name) -> bool:
                if node == target:
                    return False
                writes = _writes(flow, node)
                return writes is not None and key not in writes

            witness = graph.shortest(name, through=passes)
            if witness is None:
                continue
            written_somewhere = any(
                n in reachable and name in after[n] and (_writes(flow, n) is None or key in _writes(flow, n))  # type: ignore[operator]
                for n in graph.actions
            )
            hint = (
                f"Write {key!r} in an action before {place.local_name} on that path and list it in its "
                f"writes, or give it in initial_state and list it in {flow.name}.initial_keys."
            )
            if written_somewhere:
                findings.append(
                    Finding(
                        WARNING,
                        "flowmachine.W016",
                        f"Flow {flow.name!r}: {place.local_name} reads {key!r} ({where}), which is not written "
                        f"before it on the path {witness}.",
                        hint,
                        place.component,
                    )
                )
            else:
                findings.append(
                    Finding(
                        ERROR,
                        "flowmachine.E014",
                        f"Flow {flow.name!r}: {place.local_name} reads {key!r} ({where}), which no path writes "
                        f"before it, e.g. {witness}.",
                        hint,
                        place.component,
                    )
                )
    return findings


def _shape_findings(flow: CompiledFlow, graph: PathGraph, reachable: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    for name in graph.actions:
        place = flow.places[name]
        if name not in reachable:
            findings.append(
                Finding(
                    WARNING,
                    "flowmachine.W017",
                    f"Flow {flow.name!r}: {place.local_name} ({name}) cannot be reached from "
                    f"{graph.label(graph.start)}: no transition or jump leads to it.",
                    f"Declare the jump that enters it in the jumps of the action that takes it, or remove "
                    f"{place.local_name} from its scaffold's action_set.",
                    place.component,
                )
            )
        elif FINAL not in graph.reachable(name):
            way_in = graph.shortest(name)
            findings.append(
                Finding(
                    WARNING,
                    "flowmachine.W018",
                    f"Flow {flow.name!r}: {place.local_name} is a dead end: from the path {way_in} no "
                    f"transition or jump leads on to the end of the flow.",
                    "Let its scaffold's transition lead on (possible_next may return None to complete the "
                    "scaffold), or declare a jump out of it.",
                    place.component,
                )
            )
    return findings
