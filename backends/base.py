"""The contract every state store implements, and the record codec they share.

A store keeps one record (a dict) per task id. The three methods below are the
contract inherited from django-flows; a store written to them works. The
built-in stores add one guarantee on top: :meth:`BaseStateStore.put_state`
writes atomically against the version it was read at (the record's
``"version"`` key), so of two concurrent requests on one task only one commits
and the other raises :class:`ConflictError`.

Records are encoded with msgpack; from :data:`COMPRESS_FROM` bytes on they are
zlib-compressed behind a marker byte msgpack never writes, so a step's one read
and one write stay small however long the journey.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgpack

from flowmachine.conf import flow_settings
from flowmachine.exceptions import (
    ConflictError,
    CorruptStateError,
    StateEncodingError,
    StoreUnavailable,
)

__all__ = [
    "BaseStateStore",
    "ConflictError",
    "CorruptStateError",
    "StoreUnavailable",
    "encode_record",
    "decode_record",
]


#: Records whose msgpack encoding reaches this many bytes are stored zlib-compressed
#: (place names repeat across history, answers and journal, so they shrink by half or more).
COMPRESS_FROM = 512
#: The first byte of a compressed record: 0xc1 is the one byte msgpack never writes.
COMPRESSED_MARK = b"\xc1"
#: Decompressed records larger than this are refused as corrupt.
MAX_RECORD_BYTES = 16 * 1024 * 1024


def encode_record(record: dict[str, Any]) -> bytes:
    """Encode a task record with msgpack (zlib-compressed when large); name the offending state key on failure."""
    try:
        raw: bytes = msgpack.packb(record, use_bin_type=True, datetime=True)
    except (TypeError, ValueError, OverflowError):
        _raise_for_unencodable(record)
        raise
    if len(raw) >= COMPRESS_FROM:
        compressed = COMPRESSED_MARK + zlib.compress(raw)
        if len(compressed) < len(raw):
            return compressed
    return raw


def _raise_for_unencodable(record: dict[str, Any]) -> None:
    data = record.get("data")
    if isinstance(data, dict):
        for key, value in data.items():
            try:
                msgpack.packb(value, use_bin_type=True, datetime=True)
            except (TypeError, ValueError, OverflowError):
                raise StateEncodingError(str(key), value, record.get("flow")) from None
            if not isinstance(key, str):
                raise StateEncodingError(repr(key), key, record.get("flow"))
    for key, value in record.items():
        try:
            msgpack.packb(value, use_bin_type=True, datetime=True)
        except (TypeError, ValueError, OverflowError):
            raise StateEncodingError(f"<record {key}>", value, record.get("flow")) from None


def decode_record(raw: bytes) -> dict[str, Any]:
    """Decode bytes written by :func:`encode_record`; raise CorruptStateError otherwise."""
    if raw[:1] == COMPRESSED_MARK:
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(raw[1:], MAX_RECORD_BYTES)
        except zlib.error as exc:
            raise CorruptStateError(f"Task record cannot be decompressed: {exc}") from exc
        if inflater.unconsumed_tail or not inflater.eof:
            raise CorruptStateError("Task record is truncated or decompresses to more than 16 MiB.")
    try:
        record = msgpack.unpackb(raw, raw=False, timestamp=3, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types on bad input
        raise CorruptStateError(f"Task record cannot be decoded: {exc}") from exc
    if not isinstance(record, dict) or not isinstance(record.get("version"), int):
        raise CorruptStateError("Task record has no version: it was not written by flowmachine.")
    return record


class BaseStateStore:
    """Base class of state stores: subclass it in a module as ``StateStore``."""

    #: True when put_state() honours the record's ``version`` atomically.
    atomic_versions: bool = False

    @property
    def idle_timeout(self) -> int:
        """Seconds a task may stay untouched before it expires."""
        return int(flow_settings.FLOWS_TASK_IDLE_TIMEOUT)

    encode = staticmethod(encode_record)
    decode = staticmethod(decode_record)

    def touch(self, task_id: str) -> None:
        """Mark the task as used now without changing it. Optional; default does nothing."""

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
