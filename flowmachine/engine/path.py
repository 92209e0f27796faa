"""The path the answers describe: which steps were walked, in order, and which state keys each wrote.

The record keeps the steps walked as ``[[action, [keys]], ...]`` with the
index of the current step. Steps after it are *ahead*: walked before the user
went back (the back button, a Change link, a jump to an earlier step). When
the flow goes on from there:

- to the step that came next before, nothing changes;
- to a step further ahead, the steps in between are no longer on the path:
  the state keys only they wrote are removed (a key an action ``keeps``
  stays), and so are their remembered answers;
- to a step never walked, the steps ahead wait: the path may join them again.
  What is still ahead when the flow finishes, or reaches a step that
  ``revalidate`` s (a summary), is removed then.

A step left by a ``link_to`` link, without its form being accepted, is left
for another branch: it is removed at once.

While a Change link of a summary is followed (:data:`RETURN_PARAM`), the
summary is where the path goes back to as soon as it joins a step already
answered (a ``skip_on_back`` step, a one-time page, is asked again): the steps
after it keep their answers and are not asked again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import Place
from flowmachine.record import Record

__all__ = ["AnswerPath", "RETURN_PARAM"]

#: Query parameter of a summary's Change links: come back to the summary once the change is made.
RETURN_PARAM = "_r"


class PathTask(Protocol):
    """What the path reads and changes of its task (:class:`flowmachine.engine.task.Task` is one)."""

    record: Record
    flow: CompiledFlow


class AnswerPath:
    """The steps of one task's path and the state keys each wrote (kept in its record)."""

    def __init__(self, task: PathTask) -> None:
        self.task = task
        record = task.record
        at = record.step_at
        if 0 <= at < len(record.steps) and record.steps[at][0] == record.position:
            return
        if not record.steps:
            # A record saved before steps were kept: the back trail is the best account of the path,
            # and the keys have no known writer, so none is removed for it.
            record.steps = [[name, []] for name in record.history] + [[record.position, []]]
            record.step_at = len(record.steps) - 1
            return
        # Out of step with the position (a deploy moved the task, say): resume where the position is.
        i = self.index(record.position)
        if i is None:
            record.steps.append([record.position, []])
            i = len(record.steps) - 1
        record.step_at = i

    # -- reading ------------------------------------------------------------

    @property
    def steps(self) -> list[list[Any]]:
        return self.task.record.steps

    def walked(self) -> list[Place]:
        """The steps on the path before the current one, oldest first."""
        places = self.task.flow.places
        return [places[name] for name, _keys in self.steps[: self.task.record.step_at] if name in places]

    def index(self, name: str) -> int | None:
        for i, (step, _keys) in enumerate(self.steps):
            if step == name:
                return i
        return None

    # -- changing -----------------------------------------------------------

    def wrote(self, sets: Iterable[str], deleted: Iterable[str]) -> None:
        """The current step set *sets* and deleted *deleted* (state keys)."""
        gone = set(deleted)
        if gone:
            for entry in self.steps:
                if any(key in gone for key in entry[1]):
                    entry[1] = [key for key in entry[1] if key not in gone]
        own = self.steps[self.task.record.step_at][1]
        own.extend(key for key in sets if key not in own)

    def back_to(self, name: str) -> None:
        """The task went back to the walked step *name*: the steps after it are now ahead."""
        i = self.index(name)
        if i is None:  # not a walked step (an older record): it joins the path here
            i = self.task.record.step_at + 1
            self.steps.insert(i, [name, []])
        self.task.record.step_at = i

    def arrive(self, name: str, *, answered: bool = True) -> str | None:
        """The flow went on to *name*; return the summary to go back to instead, if any (only
        when the step left had its answers accepted: a link is not a change made)."""
        record = self.task.record
        at = record.step_at
        ahead = [step for step, _keys in self.steps[at + 1 :]]
        if name in ahead:
            j = ahead.index(name)
            self._remove(range(at + 1, at + 1 + j))
            record.step_at = at + 1
            target = record.returning
            place = self.task.flow.places.get(name)
            asked_again = place is not None and getattr(place.component, "skip_on_back", False)  # a one-time page
            if answered and target is not None and name != target and target in ahead[j:] and not asked_again:
                return target  # joined a step answered before: straight back to the summary
            if name == target:
                record.returning = None
            return None
        self.steps.insert(at + 1, [name, []])
        record.step_at = at + 1
        return None

    def left_unanswered(self) -> None:
        """The current step was left by a link for another branch: it leaves nothing behind."""
        self._remove([self.task.record.step_at], keep_entry=True)

    def go_to(self, name: str) -> None:
        """Move to the walked step *name* ahead (the summary a change returns to)."""
        i = self.index(name)
        if i is None:  # not walked: nothing to go back to
            return
        self.task.record.step_at = i
        if self.task.record.returning == name:
            self.task.record.returning = None

    def drop_ahead(self) -> None:
        """Remove what is still ahead: the path is settled (the end, or a step that revalidates)."""
        at = self.task.record.step_at
        self._remove(range(at + 1, len(self.steps)))

    def _remove(self, indexes: Iterable[int], *, keep_entry: bool = False) -> None:
        """Remove the steps at *indexes* (their entries, unless *keep_entry*), the state keys only they
        wrote and their remembered answers."""
        record, places = self.task.record, self.task.flow.places
        doomed = sorted(set(indexes))
        if not doomed:
            return
        others: set[str] = set()
        for i, (_step, keys) in enumerate(self.steps):
            if i not in doomed:
                others.update(keys)
        for i in doomed:
            step, keys = self.steps[i]
            place = places.get(step)
            kept = set(getattr(place.component, "keeps", ()) if place is not None else ())
            for key in keys:
                if key not in others and key not in kept:
                    record.data.pop(key, None)
            record.answers.pop(step, None)
            self.steps[i][1] = [key for key in keys if key in kept]
        if not keep_entry:
            for i in reversed(doomed):
                del self.steps[i]
                if i < record.step_at:
                    record.step_at -= 1
