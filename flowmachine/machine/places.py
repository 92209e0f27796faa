"""The place tree of a flow: one Place per occurrence of a component, and the definition problems.

Compiling starts here. From the entry-point scaffold the tree is built by
resolving each ``action_set`` entry (a class, a registered name or a dotted
path) and checking what the machine needs of it: names that can be state
names, no repeated child, no scaffold inside itself, a valid ``transition``
(built here, once per scaffold place). What is wrong is collected as a
:class:`Problem` (a system check) instead of raised, so every mistake of a
flow is reported at once. A place's ``name`` is its state in the flow's
machine: the component names from the root, joined by :data:`SEPARATOR`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from flowmachine import registry
from flowmachine.components import Action, FlowComponent, Scaffold
from flowmachine.conf import flow_settings
from flowmachine.exceptions import FlowDefinitionError
from flowmachine.transition import Transition, as_transition

SEPARATOR = "."
#: The machine's final state: where COMPLETE of the entry-point scaffold leads.
FINAL = "__complete__"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONVERTER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


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
    #: A scaffold's transition, built once from its ``transition`` (None for an action).
    transition: Transition | None = None

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


def build_places(
    root_component: type[Scaffold], root_route: str | None = None
) -> tuple[Place, dict[str, Place], list[Problem]]:
    """The place tree below *root_component*: its root, every place by name (tree order), and the problems."""
    builder = _Builder(root_component.component_name())
    root = builder.build(root_component, None, root_route, [])
    builder.check_carry_query(root_component)
    return root, builder.places, builder.problems


class _Builder:
    """Builds one flow's place tree, collecting its definition problems."""

    def __init__(self, flow_name: str) -> None:
        self.name = flow_name
        self.places: dict[str, Place] = {}
        self.problems: list[Problem] = []

    def build(
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
            place.transition = as_transition(scaffold.transition)
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
            place.children.append(self.build(child, place, None, stack))

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

    def check_carry_query(self, root: type[FlowComponent]) -> None:
        """E027: an entry point's ``carry_query`` must map query arg names of its own to state keys."""
        carried = getattr(root, "carry_query", {})
        own = flow_settings.FLOWS_TASK_ID_PARAM
        if isinstance(carried, dict) and all(
            isinstance(arg, str)
            and isinstance(key, str)
            and _IDENTIFIER.match(arg)
            and not arg.startswith("_")
            and arg != own
            for arg, key in carried.items()
        ):
            return
        self._problem(
            "flowmachine.E027",
            f"{root.component_name()}.carry_query is {carried!r}: it must be a dict of query arg names to state keys.",
            f'Write it as {{"product": "product_id"}}; names starting with \'_\' and {own!r} are the library\'s own.',
            root,
        )

    def _problem(self, id: str, msg: str, hint: str | None, obj: Any) -> None:
        self.problems.append(Problem(id, f"Flow {self.name!r}: {msg}", hint, obj))
