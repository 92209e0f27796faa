"""The journal of a task: each move and the state's change since the previous one.

A state key named like a sensitive field of the flow is journalled masked
(:mod:`flowmachine.engine.sensitive`): replaying such a journal gives the mask.

An entry is ``[time, event, where it led, sets?, deleted keys?]``; places are
named by :func:`journal_name`. The journal keeps ``FLOWS_JOURNAL_LENGTH``
entries; older ones are folded into one leading ``base`` snapshot, so a replay
(``manage.py flowtask export``, :func:`flowmachine.testing.replay`) can rebuild
the state at every step it kept.
"""

from __future__ import annotations

import copy
import time
import weakref
from typing import Any

from flowmachine.codec import UnencodableValue, packb, unpackb
from flowmachine.conf import flow_settings
from flowmachine.engine.sensitive import sensitive_keys
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.summary import MASK

__all__ = ["Journal", "apply_entry", "journal_name"]


def _packed(value: Any) -> Any:
    """*value* encoded as the store encodes it, to tell later whether it changed.

    Comparing encodings is much cheaper than keeping a deep copy of the state,
    and it compares what would be stored, with the store's codec
    (:mod:`flowmachine.codec`): ``1`` and ``True`` differ, so do ``Decimal("1.0")``
    and ``Decimal("1.00")``, and a model instance is its reference, so comparing
    never loads one. A value that cannot be encoded gets a token equal to
    nothing, so it always counts as changed (saving it then fails with the
    store's message naming the key).
    """
    try:
        return packb(value)
    except UnencodableValue:
        return object()


def _copy(packed: Any, value: Any) -> Any:
    """A copy of *value* that later changes to the state cannot reach, from its encoding if it has one.

    A model instance's copy is a reference that is never loaded.
    """
    if isinstance(packed, bytes):
        return unpackb(packed)
    return copy.deepcopy(value)


def apply_entry(state: dict[str, Any], entry: list[Any], *, copy_values: bool = True) -> None:
    """Apply a journal entry's delta (or a ``base`` entry's snapshot) to *state* in place.

    *copy_values* False shares the entry's values with *state* (for entries
    that are discarded afterwards).
    """
    if entry[1] == "base":
        state.clear()
    if len(entry) > 3:
        state.update(copy.deepcopy(entry[3]) if copy_values else entry[3])
    for key in entry[4] if len(entry) > 4 else ():
        state.pop(key, None)


_short_names: weakref.WeakKeyDictionary[CompiledFlow, dict[str, str]] = weakref.WeakKeyDictionary()


def journal_name(flow: CompiledFlow, name: str) -> str:
    """How the journal names a place: its class name when no other action shares it, else its full name."""
    names = _short_names.get(flow)
    if names is None:
        actions = [p for p in flow.places.values() if p.is_action]
        counts: dict[str, int] = {}
        for place in actions:
            counts[place.local_name] = counts.get(place.local_name, 0) + 1
        names = _short_names[flow] = {p.name: p.local_name if counts[p.local_name] == 1 else p.name for p in actions}
    return names.get(name, name)


def fold(journal: list[list[Any]], limit: int) -> list[list[Any]]:
    """Keep *limit* entries: the oldest are folded into one leading ``base`` snapshot."""
    if limit < 2:
        return journal[-limit:] if limit > 0 else []
    folded = journal[: len(journal) - limit + 1]
    state: dict[str, Any] = {}
    position = None
    for entry in folded:
        apply_entry(state, entry, copy_values=False)
        position = entry[2] or position
    base = [folded[-1][0], "base", position]
    return [base + ([state] if state else []), *journal[len(folded) :]]


Delta = tuple[list[Any], dict[str, Any]]


class Journal:
    """Appends a task's moves to its record's journal, with what the state gained or lost since the last."""

    def __init__(self, flow: CompiledFlow, entries: list[list[Any]], state: dict[str, Any], *, fresh: bool) -> None:
        self.flow = flow
        self.entries = entries
        self.state = state
        #: The state as of the last entry, encoded by key (empty for a new task: all of it is new).
        self._baseline: dict[str, Any] = {} if fresh else {key: _packed(value) for key, value in state.items()}

    def log(self, event: str, dest: str | None, change: Delta | None = None) -> None:
        """Journal a move to *dest* (and the state's change: *change* if already computed)."""
        where = journal_name(self.flow, dest) if dest else dest
        delta, self._baseline = change or self.delta()
        self.entries.append([int(time.time()), event, where, *delta])
        limit = int(flow_settings.FLOWS_JOURNAL_LENGTH)
        if len(self.entries) > limit:
            self.entries[:] = fold(self.entries, limit)

    def delta(self) -> Delta:
        """What the state gained or lost since the last entry (``[]``, ``[sets]`` or ``[sets, deleted]``),
        and the state encoded by key: the next baseline."""
        baseline, state = self._baseline, self.state
        packed = {key: _packed(value) for key, value in state.items()}
        hidden = sensitive_keys(self.flow)
        sets = {
            key: MASK if key in hidden else _copy(p, state[key]) for key, p in packed.items() if baseline.get(key) != p
        }
        deleted = [key for key in baseline if key not in packed]
        return ([sets, deleted] if deleted else [sets] if sets else []), packed

    def without_values(self) -> list[list[Any]]:
        """The entries without their state deltas (what a finished marker keeps)."""
        return [entry[:3] for entry in self.entries]
