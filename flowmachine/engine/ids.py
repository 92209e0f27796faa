"""Task ids: 128 random bits, the time they were issued, and a keyed tag.

An id is 24 bytes in url-safe base64 (32 characters): 16 random bytes, the
issue time (4 bytes, seconds) and 4 bytes of an HMAC over both, the flow's
name and the requester's provisional binding
(:func:`flowmachine.binding.provisional_binding`). The tag lets the server
recognise an id it issued to this requester before any record exists, so the
entry URL can hand out ids without writing anything (lazy creation): a record
is first written when the task first changes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time

from django.utils.crypto import salted_hmac

#: 32 characters of url-safe base64: 192 bits, 128 of them random.
TASK_ID_LENGTH = 32
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_NONCE_BYTES = 16
_TAG_BYTES = 4
#: Seconds an issued id may appear to come from the future (clock skew between servers).
_SKEW = 300


def is_valid_task_id(value: str) -> bool:
    """Check an id's format before it goes anywhere near a store."""
    return isinstance(value, str) and len(value) == TASK_ID_LENGTH and _ID_CHARS.issuperset(value)


def _tag(body: bytes, flow_name: str, binding: str) -> bytes:
    value = b"\0".join([body, flow_name.encode(), binding.encode()])
    return salted_hmac("flowmachine.task-id", value, algorithm="sha256").digest()[:_TAG_BYTES]


def new_task_id(flow_name: str = "", binding: str = "", now: float | None = None) -> str:
    """A fresh task id for *flow_name*, tagged so this server can recognise it for *binding* later."""
    issued = int(time.time() if now is None else now) & 0xFFFFFFFF
    body = secrets.token_bytes(_NONCE_BYTES) + issued.to_bytes(4, "big")
    return base64.urlsafe_b64encode(body + _tag(body, flow_name, binding)).decode("ascii")


def issued_at(task_id: str, flow_name: str, binding: str) -> int | None:
    """When this server issued *task_id* for *flow_name* and *binding*, or None if it did not."""
    if not is_valid_task_id(task_id):
        return None
    try:
        raw = base64.urlsafe_b64decode(task_id)
    except (binascii.Error, ValueError):
        return None
    body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if len(body) != _NONCE_BYTES + 4 or not hmac.compare_digest(tag, _tag(body, flow_name, binding)):
        return None
    return int.from_bytes(body[_NONCE_BYTES:], "big")


def is_fresh_provisional(
    task_id: str, flow_name: str, binding: str, idle_timeout: float, now: float | None = None
) -> bool:
    """True if this server issued *task_id* for the flow and binding less than the idle timeout ago."""
    issued = issued_at(task_id, flow_name, binding)
    if issued is None:
        return False
    current = time.time() if now is None else now
    return current - idle_timeout <= issued <= current + _SKEW
