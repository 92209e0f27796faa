"""Compiling an entry-point scaffold into one ``transitions`` HierarchicalMachine.

The place tree (:mod:`.places`) becomes nested states (leaves are actions) and
its edge table (:mod:`.edges`) the machine's transitions. COMPLETE is the
``complete`` trigger, wired per scaffold as the table says: a fixed edge to the
next sibling, none (the event bubbles up: the scaffold completes), or one
conditional edge per sibling asking the transition's ``choose_next``. A jump to
a component named N is the ``goto:N`` trigger, defined on every scaffold that
has N as a child, so it bubbles from the current action up to the nearest such
scaffold. The machine is built once and then only triggered: a request sets a
throw-away position object to the stored state and fires one event on it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from transitions.core import MachineError
from transitions.extensions.nesting import HierarchicalMachine, NestedState

from flowmachine.components import Scaffold
from flowmachine.exceptions import FlowDefinitionError, InvalidJump
from flowmachine.machine.edges import COMPLETE_TRIGGER, JUMP_PREFIX, EdgeTable
from flowmachine.machine.places import FINAL, SEPARATOR, Place, build_places
from flowmachine.transition import Transition


class _State(NestedState):
    separator = SEPARATOR


class _Machine(HierarchicalMachine):
    state_cls = _State


class _Position:
    """The model a request triggers events on: just the current state name."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


class CompiledFlow:
    """An entry-point scaffold compiled into places and one state machine."""

    def __init__(self, root_component: type[Scaffold], root_route: str | None = None) -> None:
        self.component = root_component
        self.name = root_component.component_name()
        self._lock = threading.Lock()
        #: (position, trigger) -> new position, for moves that no custom transition decides.
        self._static_moves: dict[tuple[str, str], str] = {}
        self.root, self.places, self.problems = build_places(root_component, root_route)
        self._edges: EdgeTable | None = None
        self.machine: HierarchicalMachine | None = None
        if not self.problems:
            self._edges = EdgeTable(self.root)
            for name, count in self._edges.remaining.items():
                self.places[name].remaining = count
            self.machine = self._build_machine(self._edges)

    @property
    def edges(self) -> EdgeTable:
        """Where COMPLETE and each jump can lead from every action (a flow without definition problems)."""
        if self._edges is None:
            raise FlowDefinitionError(f"Flow {self.name!r} has definition problems and has no edges.")
        return self._edges

    # -- the machine ----------------------------------------------------------

    def _build_machine(self, edges: EdgeTable) -> HierarchicalMachine:
        def state_def(place: Place) -> Any:
            if not place.children:
                return place.local_name
            return {
                "name": place.local_name,
                "children": [state_def(c) for c in place.children],
                "initial": place.children[0].local_name,
            }

        machine = _Machine(
            model=None,
            states=[state_def(self.root), {"name": FINAL, "final": True}],
            initial=self.root.name,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        machine.add_transition(COMPLETE_TRIGGER, self.root.name, FINAL)
        for scaffold in self.places.values():
            if scaffold.children:
                _wire(machine, edges, scaffold)
        return machine

    # -- running ----------------------------------------------------------------

    def fire(self, position: str, trigger: str, state: Mapping[str, Any]) -> str:
        """Fire *trigger* from *position*; return the new position (FINAL when done)."""
        if self.machine is None:
            raise FlowDefinitionError(f"Flow {self.name!r} has definition problems and cannot run.")
        known = self._static_moves.get((position, trigger))
        if known is not None:
            return known
        model = _Position(position)
        context: dict[str, Any] = {"state": state, "choices": {}}
        with self._lock:
            try:
                self.machine.trigger_event(model, trigger, context=context)
            except (MachineError, AttributeError) as exc:
                if trigger.startswith(JUMP_PREFIX):
                    raise InvalidJump(self.name, position, trigger[len(JUMP_PREFIX) :]) from exc
                raise
        if not context["choices"]:
            # No custom transition was asked, so the move never depends on the state:
            # remember it (at most one entry per action and trigger the flow defines).
            self._static_moves[(position, trigger)] = model.state
        return model.state

    def raise_for_problems(self) -> None:
        if self.problems:
            lines = [f"{p.id}: {p.msg}" + (f" HINT: {p.hint}" if p.hint else "") for p in self.problems]
            raise FlowDefinitionError("\n".join(lines))


def _wire(machine: HierarchicalMachine, edges: EdgeTable, scaffold: Place) -> None:
    """Add the jumps defined on *scaffold* and the COMPLETE edges of its children, as the table says."""
    transition, siblings = edges.transition(scaffold), edges.siblings(scaffold)
    for trigger, child in edges.entries(scaffold).items():
        machine.add_transition(trigger, scaffold.name, child.name)
        outcome = edges.outcome(child)
        if outcome.chosen:
            for target in outcome.choices:
                if target is not None:  # None: no edge; the event bubbles up and the scaffold completes
                    choice = _Choice(transition, scaffold.name, child.local_name, siblings, target.local_name)
                    machine.add_transition(COMPLETE_TRIGGER, child.name, target.name, conditions=[choice])
        elif outcome.next is not None:
            machine.add_transition(COMPLETE_TRIGGER, child.name, outcome.next.name)


class _Choice:
    """Condition of a custom transition: did choose_next pick this target?"""

    def __init__(self, transition: Transition, scope: str, current: str, siblings: list[str], target: str) -> None:
        self.transition, self.scope, self.current = transition, scope, current
        self.siblings, self.target = siblings, target

    def __call__(self, event: Any) -> bool:
        context = event.kwargs["context"]
        key = (self.scope, self.current)
        if key not in context["choices"]:
            choice = self.transition.choose_next(self.current, self.siblings, context["state"])
            if choice is not None and choice not in self.siblings:
                raise FlowDefinitionError(
                    f"{type(self.transition).__name__}.choose_next() in scaffold {self.scope!r} returned "
                    f"{choice!r} after {self.current}. Return the name of one of its children "
                    f"({', '.join(self.siblings)}) or None to complete the scaffold."
                )
            context["choices"][key] = choice
        return bool(context["choices"][key] == self.target)
