"""Transitions decide where COMPLETE leads inside a scaffold.

A scaffold's ``transition`` is compiled into the flow's state machine once. The
built-in :class:`Linear` is wired statically; a custom transition subclasses
:class:`Transition` and overrides :meth:`Transition.choose_next`, which runs on
each COMPLETE with the task's state. Three methods answer three questions:
:meth:`~Transition.static_next` where COMPLETE leads when that never depends
on the state, :meth:`~Transition.choose_next` where it leads for this state,
and :meth:`~Transition.possible_next` where it can lead at all (what generated
paths and data-flow checks assume of a transition decided at run time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class Transition:
    """Base class of custom transitions.

    Override :meth:`choose_next` to pick which sibling follows a completed
    child, or return None to complete the whole scaffold (which lets the parent
    scaffold's transition decide).
    """

    def choose_next(self, current: str, siblings: Sequence[str], state: Mapping[str, Any]) -> str | None:
        """Return the name of the sibling to enter after *current* completes, or None."""
        return None

    def static_next(self, current: str, siblings: Sequence[str]) -> str | None | type[NotImplemented]:  # type: ignore[valid-type]
        """Where COMPLETE leads, if it never depends on state; NotImplemented otherwise.

        A transition that returns a name (or None) here is wired into the
        machine as a fixed edge and :meth:`choose_next` is never called; the
        default, NotImplemented, has :meth:`choose_next` decide on each COMPLETE.
        """
        return NotImplemented  # type: ignore[no-any-return]

    def possible_next(self, current: str, siblings: Sequence[str]) -> Sequence[str | None]:
        """Every answer :meth:`choose_next` can give after *current*: sibling names, None to complete.

        Only asked when :meth:`static_next` returns NotImplemented, and only to
        narrow what generated paths and data-flow checks assume; the machine
        still lets :meth:`choose_next` pick any sibling. By default the answer of
        :meth:`static_next` when there is one, else any: every sibling and None.
        """
        fixed = self.static_next(current, siblings)
        if fixed is NotImplemented:
            return [*siblings, None]
        return [fixed]  # type: ignore[list-item]


class Linear(Transition):
    """Next in ``action_set`` order; after the last, complete the scaffold."""

    def choose_next(self, current: str, siblings: Sequence[str], state: Mapping[str, Any]) -> str | None:
        return self.static_next(current, siblings)

    def static_next(self, current: str, siblings: Sequence[str]) -> str | None:
        index = list(siblings).index(current)
        return siblings[index + 1] if index + 1 < len(siblings) else None


class _ActionsDecide(Transition):
    """The default (``transition = None``): COMPLETE completes the scaffold."""

    def static_next(self, current: str, siblings: Sequence[str]) -> str | None:
        return None


def as_transition(value: object) -> Transition:
    """Accept a Transition class, an instance, or None."""
    if value is None:
        return _ActionsDecide()
    if isinstance(value, type) and issubclass(value, Transition):
        return value()
    if isinstance(value, Transition):
        return value
    raise TypeError(f"{value!r} is not a Transition subclass or instance")
