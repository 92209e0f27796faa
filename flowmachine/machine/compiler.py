"""Compiling an entry-point scaffold into one ``transitions`` HierarchicalMachine.

The scaffold tree becomes nested states (leaves are actions). COMPLETE is the
``complete`` trigger, wired per scaffold by its transition; a jump to a
component named N is the ``goto:N`` trigger, defined on every scaffold that has
N as a child, so it bubbles from the current action up to the nearest such
scaffold. The machine is built once and then only triggered: a request sets a
throw-away position object to the stored state and fires one event on it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from transitions.core import MachineError
from transitions.extensions.nesting import HierarchicalMachine, NestedState

from flowmachine import registry
from flowmachine.components import Action, FlowComponent, Scaffold
from flowmachine.exceptions import FlowDefinitionError, InvalidJump
from flowmachine.transition import Transition, as_transition

logger = logging.getLogger(__name__)

SEPARATOR = "."
FINAL = "__complete__"
COMPLETE_TRIGGER = "complete"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONVERTER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


class _State(NestedState):
    separator = SEPARATOR


class _Machine(HierarchicalMachine):
    state_cls = _State


@dataclass(frozen=True)
class Problem:
    """A definition mistake found while compiling, reported as a system check."""

    id: str
    msg: str
    hint: str | None = None
    obj: Any = None


@dataclass(eq=False)
class Place:
    """One occurrence of a component in a compiled flow: a state of its machine."""

    name: str
    component: type[FlowComponent]
    parent: Place | None
    route: str
    children: list[Place] = field(default_factory=list)
    remaining: int | None = None
    url_kwargs: tuple[str, ...] = ()

    @property
    def is_action(self) -> bool:
        return issubclass(self.component, Action)

    @property
    def local_name(self) -> str:
        return self.component.component_name()

    @property
    def url_name(self) -> str:
        return self.name

    def lineage(self) -> list[Place]:
        """This place and its ancestors, root first."""
        chain: list[Place] = []
        node: Place | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        chain.reverse()
        return chain

    def first_leaf(self) -> Place:
        node = self
        while node.children:
            node = node.children[0]
        return node

    def walk(self) -> Iterator[Place]:
        yield self
        for child in self.children:
            yield from child.walk()

    def flow_place(self, step: str | type[FlowComponent]) -> Place:
        """The place of *step* (a component class, or its name) in this place's flow.

        A component used at several places resolves to the one nearest this
        place (sharing the longest part of its dotted name).
        """
        name = step if isinstance(step, str) else step.component_name()
        root = self.lineage()[0]
        found = [p for p in root.walk() if p.local_name == name or p.name == name]
        if not found:
            raise FlowDefinitionError(f"Flow {root.name!r} has no step named {name!r} (asked from {self.name}).")
        mine = self.name.split(SEPARATOR)
        return max(found, key=lambda p: _common_prefix(p.name.split(SEPARATOR), mine))

    def __repr__(self) -> str:
        return f"<Place {self.name}>"


def _common_prefix(a: list[str], b: list[str]) -> int:
    """How many leading items *a* and *b* share."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


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
        self.problems: list[Problem] = []
        self.places: dict[str, Place] = {}
        self._lock = threading.Lock()
        #: (position, trigger) -> new position, for moves that no custom transition decides.
        self._static_moves: dict[tuple[str, str], str] = {}
        self._sibling_names: dict[Place, list[str]] = {}
        self.root = self._build(root_component, None, root_route, [])
        self.machine: HierarchicalMachine | None = None
        if not self.problems:
            self._compute_remaining()
            self.machine = self._build_machine()

    # -- building the place tree -------------------------------------------

    def _build(
        self,
        component: type[FlowComponent],
        parent: Place | None,
        route: str | None,
        stack: list[type[FlowComponent]],
    ) -> Place:
        local = component.component_name()
        name = local if parent is None else f"{parent.name}{SEPARATOR}{local}"
        if not _IDENTIFIER.match(local) or local.startswith("__"):
            self._problem(
                "flowmachine.E013",
                f"{name}: the component name {local!r} is not a Python identifier or starts with '__'.",
                "Rename the class; its name names the state in the flow's machine.",
                component,
            )
        if route is None:
            route = component.url if component.url is not None else component.default_url()
        full_route = (parent.route if parent else "") + route
        place = Place(name=name, component=component, parent=parent, route=full_route)
        place.url_kwargs = tuple(_CONVERTER.findall(full_route))
        self.places[name] = place
        if issubclass(component, Scaffold):
            self._build_children(place, component, stack + [component])
        elif not issubclass(component, Action):
            self._problem(
                "flowmachine.E008",
                f"{name}: {component!r} is neither an Action nor a Scaffold.",
                "Put only Action or Scaffold subclasses (or their names) in action_set.",
                component,
            )
        return place

    def _build_children(self, place: Place, scaffold: type[Scaffold], stack: list[type[FlowComponent]]) -> None:
        try:
            as_transition(scaffold.transition)
        except TypeError:
            self._problem(
                "flowmachine.E009",
                f"{place.name}: transition {scaffold.transition!r} is not a Transition.",
                "Use None, Linear, or a subclass of flowmachine.Transition.",
                scaffold,
            )
        if not scaffold.action_set:
            self._problem(
                "flowmachine.E001",
                f"{place.name}: the scaffold's action_set is empty.",
                "List the Actions and Scaffolds this scaffold groups in action_set.",
                scaffold,
            )
            return
        seen: set[str] = set()
        for entry in scaffold.action_set:
            child = self._resolve(place, scaffold, entry)
            if child is None:
                continue
            child_name = child.component_name()
            if child_name in seen:
                self._problem(
                    "flowmachine.E003",
                    f"{place.name}: {child_name} appears more than once in action_set.",
                    "A component may appear once per scaffold; wrap a second use in its own Scaffold.",
                    scaffold,
                )
                continue
            seen.add(child_name)
            if child in stack:
                cycle = " -> ".join(c.component_name() for c in stack[stack.index(child) :] + [child])
                self._problem(
                    "flowmachine.E005",
                    f"{place.name}: scaffolds nest in a cycle: {cycle}.",
                    "A scaffold cannot contain itself, directly or through other scaffolds.",
                    scaffold,
                )
                continue
            place.children.append(self._build(child, place, None, stack))

    def _resolve(self, place: Place, scaffold: type[Scaffold], entry: Any) -> type[FlowComponent] | None:
        if isinstance(entry, type):
            if issubclass(entry, FlowComponent):
                return entry
            self._problem(
                "flowmachine.E008",
                f"{place.name}: {entry!r} in action_set is neither an Action nor a Scaffold.",
                "Put only Action or Scaffold subclasses (or their names) in action_set.",
                scaffold,
            )
            return None
        if not isinstance(entry, str):
            self._problem(
                "flowmachine.E008",
                f"{place.name}: {entry!r} in action_set is neither a class nor a name.",
                "Put only Action or Scaffold subclasses (or their names) in action_set.",
                scaffold,
            )
            return None
        if "." in entry:
            return self._import(place, scaffold, entry)
        candidates: list[type[FlowComponent]] = registry.components_named(entry)
        if len(candidates) > 1:
            same_module = [c for c in candidates if c.__module__ == scaffold.__module__]
            if len(same_module) == 1:
                return same_module[0]
            self._problem(
                "flowmachine.E010",
                f"{place.name}: the name {entry!r} in action_set matches several classes: "
                + ", ".join(f"{c.__module__}.{c.__qualname__}" for c in candidates)
                + ".",
                "Use the class itself or its dotted path.",
                scaffold,
            )
            return None
        if not candidates:
            self._problem(
                "flowmachine.E002",
                f"{place.name}: {entry!r} in action_set matches no Action or Scaffold.",
                "Check the spelling, or make sure the module defining it is imported "
                "before the flow's URLs are built (or use a dotted path).",
                scaffold,
            )
            return None
        return candidates[0]

    def _import(self, place: Place, scaffold: type[Scaffold], entry: str) -> type[FlowComponent] | None:
        """A dotted path in action_set: its import error is reported as such (E020), not as a missing name."""
        module_name, _, attr = entry.rpartition(".")
        try:
            found = getattr(import_module(module_name), attr)
        except ImportError as exc:
            self._problem(
                "flowmachine.E020",
                f"{place.name}: {entry!r} in action_set cannot be imported: {exc}.",
                f"Fix the import error in {module_name}, or the dotted path.",
                scaffold,
            )
            return None
        except AttributeError:
            found = None
        if isinstance(found, type) and issubclass(found, FlowComponent):
            return found
        self._problem(
            "flowmachine.E002",
            f"{place.name}: {entry!r} in action_set matches no Action or Scaffold.",
            f"Check that {module_name} defines {attr} as an Action or Scaffold subclass.",
            scaffold,
        )
        return None

    def _problem(self, id: str, msg: str, hint: str | None, obj: Any) -> None:
        self.problems.append(Problem(id, f"Flow {self.name!r}: {msg}", hint, obj))

    # -- progress -----------------------------------------------------------

    def _static_next(self, place: Place) -> Place | None | object:
        """The action COMPLETE leads to from *place*, None at the end, or NotImplemented."""
        node = place
        while node.parent is not None:
            parent = node.parent
            siblings = self._siblings(parent)
            nxt = as_transition(parent.component.transition).static_next(node.local_name, siblings)  # type: ignore[attr-defined]
            if nxt is NotImplemented:
                return NotImplemented  # type: ignore[no-any-return]
            if nxt is not None:
                return parent.children[siblings.index(nxt)].first_leaf()  # type: ignore[arg-type]
            node = parent
        return None

    def _siblings(self, scaffold: Place) -> list[str]:
        """The local names of *scaffold*'s children, listed once per scaffold (compiling stays linear)."""
        names = self._sibling_names.get(scaffold)
        if names is None:
            names = self._sibling_names[scaffold] = [c.local_name for c in scaffold.children]
        return names

    def _compute_remaining(self) -> None:
        """For each action, how many more actions COMPLETE alone would visit."""
        for place in self.places.values():
            if not place.is_action or place.remaining is not None:
                continue
            chain: list[Place] = []
            node: Any = place
            tail: int | None = 0
            while True:
                if node is None:
                    tail = 0
                    break
                if node is NotImplemented:
                    tail = None
                    break
                if node.remaining is not None:
                    tail = node.remaining + 1
                    break
                if node in chain:  # a custom cycle cannot be measured
                    tail = None
                    break
                chain.append(node)
                node = self._static_next(node)
            for item in reversed(chain):
                item.remaining = tail if tail is None else tail
                if tail is not None:
                    item.remaining = tail
                    tail += 1
            if tail is None:
                for item in chain:
                    item.remaining = -1
        for place in self.places.values():
            if place.remaining == -1:
                place.remaining = None

    # -- the machine ----------------------------------------------------------

    def _build_machine(self) -> HierarchicalMachine:
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
        for place in self.places.values():
            if place.children:
                self._wire(machine, place)
        return machine

    def _wire(self, machine: HierarchicalMachine, scaffold: Place) -> None:
        transition = as_transition(scaffold.component.transition)  # type: ignore[attr-defined]
        siblings = [c.local_name for c in scaffold.children]
        for child in scaffold.children:
            machine.add_transition(f"goto:{child.local_name}", scaffold.name, child.name)
            nxt = transition.static_next(child.local_name, siblings)
            if nxt is NotImplemented:
                for target in scaffold.children:
                    machine.add_transition(
                        COMPLETE_TRIGGER,
                        child.name,
                        target.name,
                        conditions=[_Choice(transition, scaffold.name, child.local_name, siblings, target.local_name)],
                    )
            elif nxt is not None:
                machine.add_transition(COMPLETE_TRIGGER, child.name, f"{scaffold.name}{SEPARATOR}{nxt}")

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
                if trigger.startswith("goto:"):
                    raise InvalidJump(self.name, position, trigger[5:]) from exc
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
