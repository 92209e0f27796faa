"""The contract every state store implements, and the record codec they share.

A store keeps one record (a dict) per task id. The three methods below are the
contract inherited from django-flows; a store written to them works. The
built-in stores add one guarantee on top: :meth:`BaseStateStore.put_state`
writes atomically against the version it was read at (the record's
``"version"`` key), so of two concurrent requests on one task only one commits
and the other raises :class:`ConflictError`.

Records are encoded with msgpack by :mod:`flowmachine.codec`, which keeps
state values of the types Django's form fields produce (``Decimal``, dates,
UUIDs, model instances as references...) as msgpack extension types. From
:data:`COMPRESS_FROM` bytes on they are zlib-compressed behind a marker byte
msgpack never writes, so a step's one read and one write stay small however
long the journey.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flowmachine.codec import CURRENT, UnencodableValue, packb, unpackb
from flowmachine.conf import flow_settings
from flowmachine.exceptions import (
    ConflictError,
    CorruptStateError,
    StateEncodingError,
    StoreUnavailable,
)

__all__ = [
    "BaseStateStore",
    "Cleared",
    "ExpiredTask",
    "ConflictError",
    "CorruptStateError",
    "StoreUnavailable",
    "encode_record",
    "decode_record",
    "StateTooLargeError",
    "StateTooDeepError",
]

#: Records nested deeper than this (lists and dicts in lists and dicts) are refused as corrupt.
MAX_DEPTH = 64


class StateTooLargeError(StateEncodingError):
    """A task's record would be larger than ``FLOWS_MAX_STATE_BYTES``."""

    def __init__(self, size: int, limit: int, record: dict[str, Any]) -> None:
        data: dict[Any, Any] = record["data"] if isinstance(record.get("data"), dict) else {}
        sizes = sorted(((len(_packb(v)), str(k)) for k, v in data.items()), reverse=True)[:3]
        self.size, self.limit = size, limit
        self.flow, self.position = record.get("flow"), record.get("pos")
        self.key = sizes[0][1] if sizes else "<record>"
        self.value = None
        largest = ", ".join(f"{k!r} ({n:,} bytes)" for n, k in sizes) or "none"
        Exception.__init__(
            self,
            f"The task record of flow {self.flow!r} at {self.position!r} is {size:,} bytes encoded, over "
            f"FLOWS_MAX_STATE_BYTES ({limit:,}). Largest state keys: {largest}. Keep large data in your "
            f"own models and store its primary key in the state, or raise the setting.",
        )


class StateTooDeepError(StateEncodingError):
    """A task's state nests lists and dicts deeper than :data:`MAX_DEPTH`."""

    def __init__(self, key: str, record: dict[str, Any]) -> None:
        self.key, self.value, self.flow = key, None, record.get("flow")
        Exception.__init__(
            self,
            f"The task state of flow {self.flow!r} nests lists and dicts more than {MAX_DEPTH} deep under "
            f"key {key!r}: such records are refused when read back. Flatten the value.",
        )


def _packb(value: Any) -> bytes:
    try:
        return packb(value)
    except UnencodableValue:
        return b""


def max_state_bytes() -> int:
    """The largest encoded (uncompressed) record a store writes or reads: ``FLOWS_MAX_STATE_BYTES``."""
    return int(flow_settings.FLOWS_MAX_STATE_BYTES)


#: Records whose msgpack encoding reaches this many bytes are stored zlib-compressed
#: (place names repeat across history, answers and journal, so they shrink by half or more).
COMPRESS_FROM = 512
#: The first byte of a compressed record: 0xc1 is the one byte msgpack never writes.
COMPRESSED_MARK = b"\xc1"
#: Decompressed records larger than this are refused as corrupt.
MAX_RECORD_BYTES = 16 * 1024 * 1024


def _same(a: Any, b: Any) -> bool:
    """Whether *a* and *b* encode alike (cheap equality first)."""
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b) and packb(a) == packb(b)
    except (UnencodableValue, TypeError, ValueError):
        return False


def compact_journal(record: dict[str, Any]) -> dict[str, Any]:
    """*record* whose journal entry that last set each key, when that value is still the state's,
    holds :data:`~flowmachine.codec.CURRENT` instead of a second copy (undone by :func:`resolve_journal`)."""
    if not isinstance(record, dict):
        return record
    journal, data = record.get("jrnl"), record.get("data")
    if not isinstance(journal, list) or not isinstance(data, dict) or not data:
        return record
    seen: set[Any] = set()
    compacted = list(journal)
    for i in range(len(journal) - 1, -1, -1):
        entry = journal[i]
        if not isinstance(entry, list) or len(entry) < 4 or not isinstance(entry[3], dict):
            continue
        sets = entry[3]
        replaced = None
        for key, value in sets.items():
            if key in seen:
                continue
            seen.add(key)
            if key in data and _same(value, data[key]):
                replaced = replaced if replaced is not None else dict(sets)
                replaced[key] = CURRENT
        if replaced is not None:
            compacted[i] = [*entry[:3], replaced, *entry[4:]]
        if len(entry) > 4 and isinstance(entry[4], list):
            seen.update(entry[4])  # a later deletion: an earlier set is not the current value
        if len(seen) >= len(data) and all(key in seen for key in data):
            break
    if compacted == journal:
        return record
    return {**record, "jrnl": compacted}


def resolve_journal(record: dict[str, Any]) -> None:
    """Put the state's values back where :func:`compact_journal` left :data:`~flowmachine.codec.CURRENT`."""
    journal, data = record.get("jrnl"), record.get("data")
    if not isinstance(journal, list):
        return
    for entry in journal:
        if isinstance(entry, list) and len(entry) > 3 and isinstance(entry[3], dict):
            sets = entry[3]
            for key, value in sets.items():
                if value is CURRENT:
                    if not isinstance(data, dict) or key not in data:
                        raise CorruptStateError(f"Task record's journal refers to state key {key!r}, which it lacks.")
                    sets[key] = unpackb(packb(data[key]))  # a copy: later changes to the state do not reach it


def encode_record(record: dict[str, Any]) -> bytes:
    """Encode a task record with msgpack (zlib-compressed when large); name the offending state key on failure.

    The journal does not repeat the state: see :func:`compact_journal`.
    """
    record = compact_journal(record)
    try:
        raw = packb(record)
    except UnencodableValue as exc:
        _raise_for_unencodable(record)
        raise StateEncodingError("<record>", record, record.get("flow"), reason=exc.reason) from exc
    limit = max_state_bytes()
    if len(raw) > limit:
        raise StateTooLargeError(len(raw), limit, record)
    if _too_deep(record, MAX_DEPTH):
        data: dict[Any, Any] = record["data"] if isinstance(record.get("data"), dict) else {}
        key = next((str(k) for k, v in data.items() if _too_deep(v, MAX_DEPTH - 2)), "<record>")
        raise StateTooDeepError(key, record)
    if len(raw) >= COMPRESS_FROM:
        compressed = COMPRESSED_MARK + zlib.compress(raw)
        if len(compressed) < len(raw):
            return compressed
    return raw


def _raise_for_unencodable(record: dict[str, Any]) -> None:
    """Raise StateEncodingError naming the first state key (or record key) whose value cannot be encoded."""
    data = record.get("data")
    items = data.items() if isinstance(data, dict) else []
    values = [pair for k, v in items for pair in ((str(k), v), (repr(k), k))]
    for key, value in [*values, *((f"<record {k}>", v) for k, v in record.items())]:
        try:
            packb(value)
        except UnencodableValue as exc:
            raise StateEncodingError(key, value, record.get("flow"), offending=exc.value, reason=exc.reason) from None


def decode_record(raw: bytes) -> dict[str, Any]:
    """Decode bytes written by :func:`encode_record`; raise CorruptStateError otherwise.

    Hostile bytes cannot make it allocate much: records over ``FLOWS_MAX_STATE_BYTES``
    (after decompression), lengths beyond that and nesting deeper than :data:`MAX_DEPTH`
    are refused as corrupt.
    """
    limit = min(max_state_bytes(), MAX_RECORD_BYTES)
    if raw[:1] == COMPRESSED_MARK:
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(raw[1:], limit + 1)
        except zlib.error as exc:
            raise CorruptStateError(f"Task record cannot be decompressed: {exc}") from exc
        if len(raw) > limit:
            raise CorruptStateError(f"Task record decompresses to more than FLOWS_MAX_STATE_BYTES ({limit:,}).")
        if inflater.unconsumed_tail or not inflater.eof:
            raise CorruptStateError("Task record is truncated.")
    if len(raw) > limit:
        raise CorruptStateError(f"Task record is {len(raw):,} bytes, over FLOWS_MAX_STATE_BYTES ({limit:,}).")
    try:
        record = unpackb(
            raw,
            max_str_len=limit,
            max_bin_len=limit,
            max_array_len=limit,
            max_map_len=limit,
            max_ext_len=limit,
        )
    except Exception as exc:  # msgpack raises several unrelated types on bad input
        raise CorruptStateError(f"Task record cannot be decoded: {exc}") from exc
    if not isinstance(record, dict) or not isinstance(record.get("version"), int):
        raise CorruptStateError("Task record has no version: it was not written by flowmachine.")
    if _too_deep(record, MAX_DEPTH):
        raise CorruptStateError(f"Task record nests lists and dicts more than {MAX_DEPTH} deep.")
    resolve_journal(record)
    return record


#: A model reference read back from the state is none of these, without loading it (its __class__ is the model).
_CONTAINERS = (dict, list, tuple, set, frozenset)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether *value* nests containers more than *limit* levels (level by level: no recursion)."""
    level, depth = ([value] if isinstance(value, _CONTAINERS) else []), 1
    while level:
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below.extend([child for child in children if isinstance(child, _CONTAINERS)])
        level, depth = below, depth + 1
    return False


@dataclass(frozen=True)
class ExpiredTask:
    """A task removed by :meth:`BaseStateStore.clear_expired`: its id, flow and where it was left.

    ``position`` is None for a finished marker or a record that could not be read.
    """

    task_id: str
    flow: str
    position: str | None


@dataclass(frozen=True)
class Cleared:
    """What :meth:`BaseStateStore.clear_expired` removed (or, in a dry run, would remove)."""

    removed: int = 0
    batches: int = 0


class BaseStateStore:
    """Base class of state stores: subclass it in a module as ``StateStore``.

    The three methods at the end are the contract every store implements. The
    attributes and methods before them are optional capabilities with
    defaults, which callers use without checking a store's type.
    """

    #: True when put_state() honours the record's ``version`` atomically (see put_state()).
    atomic_versions: bool = False
    #: True when the store drops expired records by itself (Redis key expiry), so
    #: :meth:`clear_expired` has nothing to do.
    expires_by_itself: bool = False
    #: True when :meth:`get_state_for` refreshes the owner's expiry itself, so a page view
    #: never needs a :meth:`touch` (and its round trip) to keep the task alive.
    owner_reads_refresh: bool = False
    #: True when the records are rows of :attr:`db_alias`'s database, so removing one (the
    #: session's oldest task, over ``FLOWS_MAX_TASKS_PER_SESSION``) belongs in the request's
    #: transaction; other stores' requests leave the database alone where they can.
    in_database: bool = False

    @property
    def db_alias(self) -> str | None:
        """The database alias whose transaction a step's writes must share (the row lock
        and the action's own writes), or None: Django's default database."""
        return None

    @property
    def idle_timeout(self) -> int:
        """Seconds a task may stay untouched before it expires."""
        return int(flow_settings.FLOWS_TASK_IDLE_TIMEOUT)

    encode = staticmethod(encode_record)
    decode = staticmethod(decode_record)

    def touch(self, task_id: str) -> None:
        """Mark the task as used now without changing it. Optional; default does nothing."""

    def get_state_for(self, task_id: str, binding: str) -> dict[str, Any] | None:
        """:meth:`get_state` for a requester whose binding hash is *binding*.

        A store whose reads refresh a record's expiry refreshes it here only
        when the record's ``bind`` is *binding*, so a stranger holding a task's
        URL cannot keep it alive. Optional: the default is :meth:`get_state`.
        """
        return self.get_state(task_id)

    def clear_expired(
        self,
        *,
        batch_size: int = 1000,
        dry_run: bool = False,
        removed: Callable[[list[ExpiredTask]], None] | None = None,
    ) -> Cleared:
        """Remove the records left unused for longer than the idle timeout (``manage.py cleanupflows``).

        *removed* is called with each batch of removed tasks, inside that
        batch's transaction where the store has one, so what it does (signals,
        counters) commits with the deletion. A dry run only counts. Optional:
        the default raises NotImplementedError, which cleanup reports as
        "this store cannot be cleaned".
        """
        raise NotImplementedError(
            f"{type(self).__module__}.{type(self).__name__} cannot remove expired tasks: implement clear_expired()."
        )

    # -- optional: listing the records (``manage.py flowtasks``) -------------

    def iter_task_ids(self) -> Iterator[str]:
        """Yield the id of every live (unexpired) record, in no particular order. Optional."""
        raise NotImplementedError(
            f"{type(self).__module__}.{type(self).__name__} cannot list its tasks: implement "
            f"iter_task_ids() (or iter_states()) to use manage.py flowtasks with this store."
        )

    def iter_states(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Yield ``(task_id, record)`` for every live record; the record is None if it cannot be decoded.

        Listing must not count as using a task: it does not refresh expiry. The
        default reads each id from :meth:`iter_task_ids` with :meth:`get_state`;
        the built-in stores read in batches without touching.
        """
        for task_id in self.iter_task_ids():
            try:
                record = self.get_state(task_id)
            except CorruptStateError:
                yield task_id, None
                continue
            if record is not None:
                yield task_id, record

    # -- methods subclasses must implement ---------------------------------

    def get_state(self, task_id: str) -> dict[str, Any] | None:
        """Return the task's record, or None if it does not exist or has expired.

        Raise CorruptStateError for bytes that cannot be decoded and
        StoreUnavailable when the store cannot be reached.
        """
        raise NotImplementedError("subclasses of BaseStateStore must provide a get_state() method")

    def put_state(self, task_id: str, state: dict[str, Any]) -> None:
        """Save the task's record.

        Stores with ``atomic_versions`` save only if the stored version is
        ``state["version"] - 1`` (or, for version 1, if no record exists) and
        raise ConflictError otherwise.
        """
        raise NotImplementedError("subclasses of BaseStateStore must provide a put_state() method")

    def delete_state(self, task_id: str) -> None:
        """Remove the task's record; removing a missing record is not an error."""
        raise NotImplementedError("subclasses of BaseStateStore must provide a delete_state() method")
