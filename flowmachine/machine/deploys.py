"""Resuming tasks saved under an older definition of their flow (deploys under live tasks).

Each record keeps the fingerprint of the flow definition it was saved under
(``"fp"``). When a task is read by a definition with another fingerprint its
position, history and remembered answers are moved with this policy:

1. the same action, if its full dotted position still exists;
2. else the same position with declared renames applied (``renamed_from`` on a
   component, ``renames`` on the root scaffold);
3. else the action with the same (renamed) class name, wherever it now sits
   (the one sharing the longest part of the old path; the first in flow order
   on a tie);
4. else the first action of the nearest enclosing scaffold that survives
   (found by position, then by name), and at worst the flow's first action.

The task's data is always kept. Records without a fingerprint (saved before
fingerprints existed) are taken as they are.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import SEPARATOR, Place, _common_prefix
from flowmachine.record import Record

_fingerprints: weakref.WeakKeyDictionary[CompiledFlow, str] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Move:
    """Where a task saved under another definition resumes, and why."""

    old: str
    new: str
    reason: str

    @property
    def moved(self) -> bool:
        return self.old != self.new


def fingerprint(flow: CompiledFlow) -> str:
    """A short hash of the flow's shape: its positions, their kinds and the scaffolds' transitions."""
    try:
        return _fingerprints[flow]
    except KeyError:
        pass
    lines = []
    for place in flow.root.walk():
        if place.is_action:
            lines.append(f"{place.name} A")
        else:
            transition = getattr(place.component, "transition", None)
            kind = getattr(transition, "__qualname__", repr(transition))
            lines.append(f"{place.name} S {kind}")
    value = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
    _fingerprints[flow] = value
    return value


def flow_names(flow: CompiledFlow) -> set[str]:
    """The names a record of this flow may carry: its own and those its root was renamed from."""
    return {flow.name, *_old_names(flow.component)}


def _old_names(component: Any) -> tuple[str, ...]:
    names = getattr(component, "renamed_from", ()) or ()
    return (names,) if isinstance(names, str) else tuple(names)


def renames(flow: CompiledFlow) -> dict[str, str]:
    """Old component name -> current name, from ``renamed_from`` and the root's ``renames``."""
    mapping: dict[str, str] = {}
    for place in flow.places.values():
        for old in _old_names(place.component):
            mapping[old] = place.local_name
    mapping.update(getattr(flow.component, "renames", None) or {})
    return mapping


def _by_name(flow: CompiledFlow, segments: list[str], *, actions: bool) -> Place | None:
    """The place named ``segments[-1]`` closest to the old path ``segments``."""
    candidates = [p for p in flow.places.values() if p.local_name == segments[-1] and p.is_action == actions]
    if not candidates:
        return None
    return max(candidates, key=lambda p: _common_prefix(p.name.split(SEPARATOR), segments))


def _match_action(flow: CompiledFlow, position: str, mapping: dict[str, str]) -> Move | None:
    """Policy steps 1-3: the same action, renamed, or by class name; None if it is gone."""
    place = flow.places.get(position)
    if place is not None and place.is_action:
        return Move(position, position, "unchanged")
    segments = [mapping.get(s, s) for s in position.split(SEPARATOR)]
    renamed = SEPARATOR.join(segments)
    place = flow.places.get(renamed)
    if place is not None and place.is_action:
        return Move(position, renamed, "renamed")
    found = _by_name(flow, segments, actions=True)
    if found is not None:
        return Move(position, found.name, "moved" if renamed == position else "renamed and moved")
    return None


def plan(flow: CompiledFlow, position: str) -> Move:
    """Where a task saved at *position* resumes in *flow* (the policy in this module's docstring)."""
    mapping = renames(flow)
    move = _match_action(flow, position, mapping)
    if move is not None:
        return move
    segments = [mapping.get(s, s) for s in position.split(SEPARATOR)]
    for end in range(len(segments) - 1, 0, -1):
        head = segments[:end]
        place = flow.places.get(SEPARATOR.join(head))
        if place is None:
            place = _by_name(flow, head, actions=False) or _by_name(flow, head, actions=True)
        if place is not None:
            leaf = place.first_leaf()
            where = "the flow" if place is flow.root else place.name
            return Move(position, leaf.name, f"removed; first action of {where}")
    return Move(position, flow.root.first_leaf().name, "removed; first action of the flow")


def relocation(flow: CompiledFlow, record: Record) -> Move | None:
    """The move a record needs to run on *flow*, or None if it was saved under this definition."""
    stored = record.fingerprint
    if not record.running:
        return None
    if stored is None or stored == fingerprint(flow):
        if record.flow == flow.name or record.flow not in flow_names(flow):
            return None
    return plan(flow, record.position)


def _map_names(flow: CompiledFlow, names: Iterable[Any], mapping: dict[str, str]) -> dict[str, str]:
    """Old position -> current action for the positions that still have one."""
    mapped: dict[str, str] = {}
    for name in names:
        if isinstance(name, str) and name not in mapped:
            move = _match_action(flow, name, mapping)
            if move is not None:
                mapped[name] = move.new
    return mapped


def relocate(record: Record, flow: CompiledFlow) -> Move | None:
    """Apply :func:`relocation` to *record* in place: position, history, answers, fingerprint.

    The progress trail's notes (``skip_on_back`` steps walked, pages left by a link) are dropped.
    """
    move = relocation(flow, record)
    if move is None:
        return None
    mapping = renames(flow)
    known = _map_names(flow, record.history, mapping)
    new_history: list[str] = []
    for name in record.history:
        target = known.get(name)
        if target is not None and target not in new_history:
            new_history.append(target)
    if move.new in new_history:  # moved back to a visited step: cut the history there, like Back
        del new_history[new_history.index(move.new) :]
    record.history = new_history
    # The progress trail's notes point into the old history: the moved task's trail is its history.
    record.walked_off = []
    record.linked = []
    known = _map_names(flow, record.answers, mapping)
    record.answers = {known[k]: v for k, v in record.answers.items() if k in known}
    record.position = move.new
    record.flow = flow.name
    record.fingerprint = fingerprint(flow)
    if move.moved:
        record.moved_at = record.version + 1
    return move
