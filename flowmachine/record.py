"""The saved record of a task: every field, its type, meaning and default, in one place.

A state store keeps one record per task: a plain dict that msgpack encodes
(``flowmachine.backends.base.encode_record``). Its short keys are spelled only
here; everything else reads and writes them through :class:`Record`, whose
attributes are the schema. The format must survive deploys, so each record
carries the number of the format it was written in (``fmt``):

* records without ``fmt`` were written before formats were numbered; their
  shape is format 1, and they are read as such;
* format 1: the binding hash (``bind``) does not cover the task id;
* format 2, the current format: the binding hash covers the task id, and the
  journal's entries are checked like the other fields. A format-1 record is
  read as it is and written back as format 2 at its next save;
* a record of a higher format was written by a newer release and is refused
  as corrupt (410) rather than misread.

Records saved by earlier releases may hold ``skp`` (where ``skip_on_back``
steps were left, without their names): it is no longer read, and the next save
drops it; those steps are then off the progress trail of that task.

A record is either *running* (``pos`` and ``data`` set) or a *finished
marker* (``done`` set: where the finished task went; no data is kept).
:meth:`Record.problems` is the one check of a record's shape; the engine
refuses a record it finds problems in with :class:`CorruptStateError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

__all__ = ["FORMAT", "FIELDS", "Field", "Record"]

#: The record format this release writes.
FORMAT = 2

T = TypeVar("T")


@dataclass(frozen=True)
class Field(Generic[T]):
    """One key of the record: its type, meaning and default (a factory, so lists are never shared)."""

    key: str
    kind: type | tuple[type, ...]
    meaning: str
    default: Callable[[], T]
    #: When a record holds the key, each item of the value (list items, dict values) must be of this type.
    items: type | tuple[type, ...] | None = None
    #: And each item must pass this check, when given.
    item_check: Callable[[Any], bool] | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        FIELDS[name] = self

    @overload
    def __get__(self, record: None, owner: type) -> Field[T]: ...
    @overload
    def __get__(self, record: Record, owner: type) -> T: ...
    def __get__(self, record: Record | None, owner: type) -> Field[T] | T:
        if record is None:
            return self
        raw = record.raw
        if self.key in raw:
            return raw[self.key]  # type: ignore[no-any-return]
        value = self.default()
        if isinstance(value, (list, dict)):
            raw[self.key] = value  # a container is kept, so changes to it are saved
        return value

    def __set__(self, record: Record, value: T) -> None:
        record.raw[self.key] = value

    def problem(self, raw: dict[str, Any]) -> bool:
        """Whether *raw* holds this key with a value of the wrong type."""
        if self.key not in raw:
            return False
        value = raw[self.key]
        if not isinstance(value, self.kind) or (isinstance(value, bool) and bool not in _tuple(self.kind)):
            return True
        if self.items is not None:
            values: Any = value.values() if isinstance(value, dict) else value
            check = self.item_check or (lambda item: True)
            return not all(isinstance(item, self.items) and check(item) for item in values)
        return False


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


#: Attribute name -> field, in declaration order (filled as :class:`Record` is defined).
FIELDS: dict[str, Field[Any]] = {}

_NONE = type(None)


def _none() -> None:
    return None


def journal_entry_ok(entry: list[Any]) -> bool:
    """The shape of a journal entry: ``[time, event, where it led, sets?, deleted keys?]``."""
    if not 3 <= len(entry) <= 5 or not isinstance(entry[0], int) or isinstance(entry[0], bool):
        return False
    if not isinstance(entry[1], str) or not isinstance(entry[2], (str, type(None))):
        return False
    if len(entry) > 3 and not isinstance(entry[3], dict):
        return False
    return len(entry) < 5 or (isinstance(entry[4], list) and all(isinstance(k, str) for k in entry[4]))


def _step_entry_ok(entry: list[Any]) -> bool:
    """The shape of a path entry: ``[action, [state keys]]``."""
    return (
        len(entry) == 2
        and isinstance(entry[0], str)
        and isinstance(entry[1], list)
        and all(isinstance(k, str) for k in entry[1])
    )


def _zero() -> int:
    return 0


def _first_format() -> int:
    return 1


#: The binding of a task whose owner logged out: no binder value hashes to it.
SIGNED_OUT = "signed-out"


class Record:
    """Typed access to a stored record (the dict a store reads and writes, kept as ``raw``)."""

    __slots__ = ("raw",)

    # -- every record --------------------------------------------------------
    version: Field[int] = Field("version", int, "the store's change counter: +1 at every save", _zero)
    format: Field[int] = Field(
        "fmt", int, "the record format it was written in; none: format 1 (see the module)", _first_format
    )
    flow: Field[str] = Field("flow", str, "the name of the flow (its entry-point scaffold)", str)
    binding: Field[str | None] = Field(
        "bind", (str, _NONE), "keyed hash of the binder value of the task's owner", _none
    )
    created: Field[int] = Field("created", int, "when the task was started (Unix seconds)", _zero)
    accessed: Field[int] = Field("accessed", int, "when the record was last saved (Unix seconds)", _zero)
    journal: Field[list[Any]] = Field(
        "jrnl",
        list,
        "moves and state deltas, oldest first (see flowmachine.engine.journal)",
        list,
        items=list,
        item_check=journal_entry_ok,
    )
    # -- a running task --------------------------------------------------------
    position: Field[str] = Field("pos", str, "the dotted name of the current action", str)
    data: Field[dict[str, Any]] = Field("data", dict, "the task's state (self.state in actions)", dict)
    history: Field[list[str]] = Field(
        "hist", list, "the back trail: actions left forward, oldest first", list, items=str
    )
    walked_off: Field[list[list[Any]]] = Field(
        "off",
        list,
        "skip_on_back actions walked: [history length when left, dotted name] (on the progress trail only)",
        list,
        items=list,
        item_check=lambda item: (
            len(item) == 2 and isinstance(item[0], int) and not isinstance(item[0], bool) and isinstance(item[1], str)
        ),
    )
    linked: Field[list[int]] = Field(
        "lnk", list, "indexes of history entries left by one of their links (on the back trail only)", list, items=int
    )
    answers: Field[dict[str, dict[str, Any] | list[dict[str, Any]]]] = Field(
        "ans",
        dict,
        "per action: the answers last accepted on its page, to show them again (a formset's: a list of rows)",
        dict,
        items=(dict, list),
        item_check=lambda item: isinstance(item, dict) or all(isinstance(row, dict) for row in item),
    )
    steps: Field[list[list[Any]]] = Field(
        "stp",
        list,
        "the path the answers describe: [action, [state keys it wrote]] in order (flowmachine.engine.path)",
        list,
        items=list,
        item_check=_step_entry_ok,
    )
    step_at: Field[int] = Field("sat", int, "the index in steps of the current action", _zero)
    returning: Field[str | None] = Field(
        "ret", (str, _NONE), "the summary a Change link comes back to once the change is made", _none
    )
    files: Field[list[list[Any]]] = Field(
        "fil",
        list,
        "the files the task keeps: [storage, name in it, file name, size, content type] (flowmachine.files)",
        list,
        items=list,
    )
    url_kwargs: Field[dict[str, str]] = Field(
        "kw", dict, "the path values of the task's URLs (Django path converters)", dict, items=str
    )
    fingerprint: Field[str | None] = Field(
        "fp", (str, _NONE), "the shape of the flow definition it was saved under (deploys)", _none
    )
    moved_at: Field[int] = Field(
        "at", int, "the version at which the task reached its current step (stale pages)", _zero
    )
    errors: Field[list[str] | dict[str, list[str]]] = Field(
        "err",
        (list, dict),
        "messages for the next page's form (send_to(..., with_errors=)): a list, or field name -> messages",
        list,
        items=(str, list),
        item_check=lambda item: isinstance(item, str) or all(isinstance(m, str) for m in item),
    )
    funnel: Field[dict[str, list[str]]] = Field(
        "fnl", dict, 'the steps the funnel has counted: {"e": entered, "c": completed}', dict
    )
    user: Field[str | None] = Field("uid", (str, _NONE), "the primary key of the logged-in user", _none)
    on_complete: Field[str | None] = Field(
        "next", (str, _NONE), "where to go when the flow completes (checked again then)", _none
    )
    # -- a finished task -------------------------------------------------------
    done: Field[str | None] = Field("done", (str, _NONE), "finished marker: where the task went", _none)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    # -- making records ----------------------------------------------------------

    @classmethod
    def new(
        cls,
        *,
        flow: str,
        position: str,
        data: dict[str, Any],
        binding: str | None,
        on_complete: str | None,
        url_kwargs: dict[str, str],
        fingerprint: str,
        now: int | None = None,
    ) -> Record:
        """The record of a task that has just started (version 0: not saved yet)."""
        now = int(time.time()) if now is None else now
        return cls(
            {
                "version": 0,
                "fmt": FORMAT,
                "flow": flow,
                "pos": position,
                "data": data,
                "hist": [],
                "stp": [[position, []]],
                "sat": 0,
                "jrnl": [],
                "ans": {},
                "created": now,
                "accessed": now,
                "bind": binding,
                "next": on_complete,
                "kw": url_kwargs,
                "fp": fingerprint,
                "at": 1,
            }
        )

    def next_version(self, now: int | None = None) -> dict[str, Any]:
        """What to save next: a copy at the next version, accessed now."""
        raw = dict(self.raw)
        raw["version"] = self.version + 1
        raw["fmt"] = FORMAT
        raw["accessed"] = int(time.time()) if now is None else now
        return raw

    def signed_out(self, now: int | None = None) -> dict[str, Any]:
        """What to save when the owner logs out: the next version, bound to no one (:data:`SIGNED_OUT`)."""
        raw = self.next_version(now)
        raw["bind"] = SIGNED_OUT
        return raw

    def finished_marker(self, done_url: str, journal: list[Any], now: int | None = None) -> dict[str, Any]:
        """What remains of a finished task: no data, only where it went (and the journal without values)."""
        return {
            "version": self.version + 1,
            "fmt": FORMAT,
            "flow": self.flow,
            "done": done_url,
            "bind": self.raw.get("bind"),
            "created": self.raw.get("created"),
            "accessed": int(time.time()) if now is None else now,
            "jrnl": journal,
        }

    # -- reading ------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether this is a finished marker."""
        return "done" in self.raw

    @property
    def binding_covers_id(self) -> bool:
        """Whether ``bind`` was computed over the task id (format 2 on)."""
        return self.format >= 2

    @property
    def running(self) -> bool:
        """Whether this record has a position and state to run from."""
        return isinstance(self.raw.get("pos"), str) and isinstance(self.raw.get("data"), dict)

    def problems(self) -> list[str]:
        """The keys whose values the engine could not work with, and a format it cannot read.

        Empty for a sound record: the one check of a record's shape.
        """
        bad = [f.key for f in FIELDS.values() if f.problem(self.raw)]
        stored = self.raw.get("fmt", 1)
        if isinstance(stored, int) and stored > FORMAT:
            bad.append(f"fmt (format {stored} is newer than this release's {FORMAT})")
        return bad

    def __repr__(self) -> str:
        return f"<Record {self.flow!r} v{self.version} at {self.raw.get('pos') or self.raw.get('done')!r}>"
