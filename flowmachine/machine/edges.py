"""The edge table of a compiled flow: where COMPLETE and each jump can lead, worked out once.

"Where does COMPLETE lead?" has one answer per flow, computed here when the
flow compiles (without definition problems) and read by everything that needs
it: the machine's wiring and the progress count (:mod:`.compiler`), the
generated paths (:mod:`.paths`), the data-flow checks (:mod:`.dataflow`) and
the diagrams (:mod:`flowmachine.diagrams.model`).

* Each child of a scaffold has an :class:`Outcome`: COMPLETE of it enters a
  fixed sibling (``next``), completes the scaffold (``completes``), or is
  decided at run time by the transition's ``choose_next`` (``chosen``), among
  the candidates its ``possible_next`` gives. The machine wires a chosen
  outcome to every sibling and lets ``choose_next`` pick; the candidates only
  narrow what paths assume.
* Each action has its COMPLETE moves: every action (or :data:`FINAL`) COMPLETE
  can lead to, each marked ``assumed`` when a run-time choice lies on the way.
  From them, and the jumps below, comes ``remaining``: the fewest actions
  left after this one on any way to the end (None when the end cannot be
  reached), what progress counts as "of m".
* Jumps: ``goto:N`` is defined on every scaffold that has N as a child and
  enters that child; fired from an action, the nearest enclosing such scaffold
  handles it. An action's jumps are resolved by walking up (so compiling stays
  linear in the flow's size). The jumps an action is known to make
  (:func:`jump_names`) are its declared ``jumps``, or, undeclared, the branches
  of a ``transition = None`` scaffold it is the first child of.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from flowmachine.exceptions import FlowDefinitionError
from flowmachine.machine.places import FINAL, Place
from flowmachine.transition import Transition, _ActionsDecide

COMPLETE_TRIGGER = "complete"
JUMP_PREFIX = "goto:"

OutcomeKind = Literal["next", "completes", "chosen"]


def jump_trigger(name: str) -> str:
    """The trigger of a jump to the component named *name*."""
    return JUMP_PREFIX + name


@dataclass(frozen=True, eq=False)
class Outcome:
    """What COMPLETE of *child* does inside its *scaffold*."""

    child: Place
    scaffold: Place
    kind: OutcomeKind
    #: The children COMPLETE may enter, None for completing the scaffold: for
    #: ``next`` and ``completes`` the one answer, for ``chosen`` what the
    #: transition's ``possible_next`` allows.
    candidates: tuple[Place | None, ...]

    @property
    def chosen(self) -> bool:
        """Decided at run time by the transition's ``choose_next``."""
        return self.kind == "chosen"

    @property
    def next(self) -> Place | None:
        """The sibling COMPLETE always enters (kind ``next``), else None."""
        return self.candidates[0] if self.kind == "next" else None

    @property
    def choices(self) -> tuple[Place | None, ...]:
        """What the machine lets ``choose_next`` pick: every child, or None (complete the scaffold)."""
        return (*self.scaffold.children, None) if self.chosen else self.candidates


@dataclass(frozen=True)
class Move:
    """Where a trigger from an action can lead: an action's state name or :data:`FINAL`."""

    target: str
    #: The move rests on a custom transition's run-time choice.
    assumed: bool = False


class EdgeTable:
    """Every COMPLETE outcome and jump of one compiled flow (one without definition problems)."""

    def __init__(self, root: Place) -> None:
        self.root = root
        self._places = {p.name: p for p in root.walk()}
        #: Scaffold name -> its transition (the one instance its place holds).
        self._transitions: dict[str, Transition] = {}
        #: Scaffold name -> its children's names, the list handed to its transition.
        self._siblings: dict[str, list[str]] = {}
        #: Child place name -> its COMPLETE outcome.
        self._outcomes: dict[str, Outcome] = {}
        #: Scaffold name -> the jump triggers defined on it and the child each enters.
        self._entries: dict[str, dict[str, Place]] = {}
        for scaffold in self._places.values():
            if scaffold.children:
                self._add_scaffold(scaffold)
        #: Scaffold name -> the moves of COMPLETE once the scaffold completes.
        self._after: dict[str, tuple[Move, ...]] = {}
        #: Action name -> its COMPLETE moves.
        self._complete = {p.name: self._moves_after(p) for p in self._places.values() if not p.children}
        #: Action name -> how many more actions COMPLETE alone visits (None: it cannot be told).
        self.remaining = self._count_remaining()

    # -- building --------------------------------------------------------------

    def _add_scaffold(self, scaffold: Place) -> None:
        if scaffold.transition is None:
            raise FlowDefinitionError(f"{scaffold.name}: its transition is not valid (a definition problem).")
        transition = self._transitions[scaffold.name] = scaffold.transition
        siblings = self._siblings[scaffold.name] = [c.local_name for c in scaffold.children]
        by_name = dict(zip(siblings, scaffold.children, strict=True))
        self._entries[scaffold.name] = {jump_trigger(c.local_name): c for c in scaffold.children}
        for child in scaffold.children:
            fixed = transition.static_next(child.local_name, siblings)
            if fixed is NotImplemented:
                candidates = tuple(
                    None if name is None else by_name[name]
                    for name in transition.possible_next(child.local_name, siblings)
                    if name is None or name in by_name
                )
                outcome = Outcome(child, scaffold, "chosen", candidates)
            elif fixed is None:
                outcome = Outcome(child, scaffold, "completes", (None,))
            else:
                sibling = scaffold.children[siblings.index(fixed)]  # type: ignore[arg-type]
                outcome = Outcome(child, scaffold, "next", (sibling,))
            self._outcomes[child.name] = outcome

    def _moves_after(self, place: Place) -> tuple[Move, ...]:
        """Where COMPLETE leads once *place* (an action, or a scaffold completing) is done."""
        if place.parent is None:
            return (Move(FINAL),)
        outcome = self._outcomes[place.name]
        if not outcome.chosen:
            (target,) = outcome.candidates
            if target is not None:
                return (Move(target.first_leaf().name),)
            return self._scaffold_done(place.parent)
        moves: list[Move] = []
        for target in outcome.candidates:
            if target is None:
                moves.extend(Move(m.target, True) for m in self._scaffold_done(place.parent))
            else:
                moves.append(Move(target.first_leaf().name, True))
        return _first_of_each(moves)

    def _scaffold_done(self, scaffold: Place) -> tuple[Move, ...]:
        moves = self._after.get(scaffold.name)
        if moves is None:
            moves = self._after[scaffold.name] = self._moves_after(scaffold)
        return moves

    def _count_remaining(self) -> dict[str, int | None]:
        """Per action, the fewest actions after it on a way to the end: COMPLETE moves (every
        choice a transition may make) and known jumps, walked back from FINAL."""
        into: dict[str, list[str]] = {}
        for action in self._complete:
            targets = [m.target for m in self._complete[action]]
            names, _ = jump_names(self, self._places[action])
            targets += [t for t in (self.jump(action, n) for n in names) if t is not None]
            for target in targets:
                into.setdefault(target, []).append(action)
        counts: dict[str, int | None] = dict.fromkeys(self._complete)
        left = {FINAL: -1}
        queue = deque([FINAL])
        while queue:
            node = queue.popleft()
            for source in into.get(node, ()):
                if source not in left:
                    left[source] = counts[source] = left[node] + 1
                    queue.append(source)
        return counts

    # -- reading ---------------------------------------------------------------

    def transition(self, scaffold: Place) -> Transition:
        """The transition of *scaffold*, built once when the flow compiled."""
        return self._transitions[scaffold.name]

    def siblings(self, scaffold: Place) -> list[str]:
        """The names of *scaffold*'s children in order: what its transition is asked about."""
        return self._siblings[scaffold.name]

    def outcome(self, child: Place) -> Outcome:
        """What COMPLETE of *child* (an action or a scaffold) does inside its scaffold."""
        return self._outcomes[child.name]

    def entries(self, scaffold: Place) -> dict[str, Place]:
        """The jump triggers defined on *scaffold*, each with the child it enters."""
        return self._entries[scaffold.name]

    def complete(self, action: str) -> tuple[Move, ...]:
        """Every place COMPLETE from *action* can lead to, in flow order."""
        return self._complete[action]

    def static_complete(self, action: str) -> str | None:
        """Where COMPLETE from *action* always leads (an action or FINAL); None when chosen at run time."""
        moves = self._complete[action]
        if len(moves) == 1 and not moves[0].assumed:
            return moves[0].target
        return None

    def jump(self, action: str, name: str) -> str | None:
        """The action a jump to *name* from *action* lands on; None when no enclosing scaffold defines it."""
        entered = self.jump_entry(action, name)
        return entered.first_leaf().name if entered is not None else None

    def jump_entry(self, action: str, name: str) -> Place | None:
        """The child a jump to *name* from *action* enters (an action or a scaffold), None when undefined."""
        trigger = jump_trigger(name)
        scaffold = self._places[action].parent
        while scaffold is not None:
            child = self._entries[scaffold.name].get(trigger)
            if child is not None:
                return child
            scaffold = scaffold.parent
        return None

    def jumps(self, action: str) -> dict[str, str]:
        """Every jump trigger *action* can fire, with the action it lands on (the nearest scaffold wins)."""
        found: dict[str, str] = {}
        scaffold = self._places[action].parent
        while scaffold is not None:
            for trigger, child in self._entries[scaffold.name].items():
                found.setdefault(trigger, child.first_leaf().name)
            scaffold = scaffold.parent
        return found


def jump_names(table: EdgeTable, place: Place) -> tuple[list[str], bool]:
    """The names action *place* may jump to, and whether they are assumed.

    Its declared ``jumps`` when it has them (not assumed); otherwise the
    branches of each ``transition = None`` scaffold it is the first child of
    (assumed). Names the machine cannot jump to are kept: callers check them.
    """
    declared = getattr(place.component, "jumps", None)
    if declared is not None:
        return [t if isinstance(t, str) else t.component_name() for t in declared], False
    return _branch_entries(table, place), True


def _branch_entries(table: EdgeTable, place: Place) -> list[str]:
    """The jumps assumed of an undeclared action: from a branch scaffold's first child to its others."""
    names: list[str] = []
    node = place
    while node.parent is not None:
        parent = node.parent
        if isinstance(table.transition(parent), _ActionsDecide) and parent.children[0] is node:
            names.extend(c.local_name for c in parent.children[1:])
        node = parent
    return names


def _first_of_each(moves: Iterable[Move]) -> tuple[Move, ...]:
    """*moves* without repeated targets, each kept where it first appears."""
    seen: set[str] = set()
    kept: list[Move] = []
    for move in moves:
        if move.target not in seen:
            seen.add(move.target)
            kept.append(move)
    return tuple(kept)
