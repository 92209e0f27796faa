"""The codec of task state: msgpack with one extension type per Python type it keeps.

(Longer than most modules on purpose: the type table, its encoder and decoder
and the lazy model reference must change together, so they are kept in one file.)

Every value Django's built-in form fields produce can be kept in ``self.state``
and reads back with its type. msgpack's own types (``None``, ``bool``, ``int``,
``float``, ``str``, ``bytes``, lists and dicts with keys of any of these types)
are written as msgpack writes them; the others are msgpack extension types,
one code per kind. Nothing is ever pickled: reading a record builds only the
values in this table.

====  ========================  =========================================================
code  type                      payload
====  ========================  =========================================================
1     ``Decimal``               ``str(value)``, ASCII (exact: sign, digits, exponent)
2     ``date``                  ISO 8601, ``date.isoformat()``
3     ``datetime``              msgpack ``[year, month, day, hour, minute, second,
                                microsecond, offset]``: the UTC offset in microseconds,
                                nil for a naive one (a ``zoneinfo`` zone reads back as
                                its fixed offset at that moment)
4     ``time``                  msgpack ``[hour, minute, second, microsecond, offset]``
5     ``timedelta``             msgpack ``[days, seconds, microseconds]``
6     ``UUID``                  the 16 bytes
7     ``tuple``                 msgpack array of the items
8     ``set``                   msgpack array of the items, sorted by their encoding
                                (equal sets encode alike, so the journal sees no change)
9     ``frozenset``             as ``set``
10    model instance            msgpack ``[app_label, model_name, pk]``: a reference,
                                read back as a :class:`StoredInstance`
11    ``int`` beyond 64 bits    its decimal digits, ASCII
12    kept file                 msgpack ``[storage, name in it, file name, size,
                                content type]``: a :class:`flowmachine.files.KeptFile`
13    :data:`CURRENT`           empty: in a record's journal, "the value the state holds
                                now" (the record codec writes and resolves it)
-1    msgpack Timestamp         read only (written by earlier releases for aware
                                datetimes): an aware ``datetime`` in UTC
====  ========================  =========================================================

Subclasses of ``str``, ``int``, ``float``, ``bytes``, ``list`` and ``dict`` (a
``TextChoices`` member, an ``OrderedDict``) are kept as the base type. A
QuerySet (what ``ModelMultipleChoiceField`` gives) is kept as a list of model
references. Anything else raises :class:`UnencodableValue`, a ``TypeError``
that names the offending value; the record codec turns it into
:class:`~flowmachine.exceptions.StateEncodingError` naming the state key.

**Model instances are references, loaded lazily.** A model instance is stored
as its app label, model name and primary key, and reads back as a
:class:`StoredInstance` (its ``type()``): a proxy whose ``__class__`` is the model, so
``isinstance(value, Order)``, ``value == order`` (either way round), hashing
and ``value.pk`` need no query. The row is loaded on the first other use (an
attribute, ``str()``), and then every not yet loaded reference to the same
model decoded with it (from the same record) is loaded in that same query,
with ``in_bulk()`` on the model's base manager. Saving the state writes the
reference again without loading it. So:

* reading a task costs no query, however many references its state holds:
  most steps never use most of the state, and the engine itself (the journal,
  re-encoding the record, the admin's and ``flowtask``'s JSON views) never
  loads a reference;
* using references costs one query per model per request, not one per
  reference (a ``ModelMultipleChoiceField``'s list of five orders is one query).

This was chosen over loading every reference when the state is first read,
which would cost a query per model on every request of a long journey for
values kept for a later step.

**A deleted instance.** Using a reference to a row that no longer exists (or a
model no longer installed) raises
:class:`~flowmachine.exceptions.StateReferenceGone`, naming the model and the
primary key. It is an ``ObjectDoesNotExist`` (templates render it as an empty
value) and a ``CorruptStateError``: an action that does not catch it ends with
the "this form can no longer be continued" page (410), the task unchanged.
``.pk`` and equality still work without the row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import msgpack
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils.functional import LazyObject, empty

from flowmachine.exceptions import StateReferenceGone
from flowmachine.files import KeptFile

__all__ = [
    "EXT",
    "StoredInstance",
    "UnencodableValue",
    "is_loaded",
    "json_default",
    "CURRENT",
    "packb",
    "reference_of",
    "unpackb",
]

#: The extension code of each kind of value (see the table above).
EXT = {
    "Decimal": 1,
    "date": 2,
    "datetime": 3,
    "time": 4,
    "timedelta": 5,
    "UUID": 6,
    "tuple": 7,
    "set": 8,
    "frozenset": 9,
    "model": 10,
    "bigint": 11,
    "file": 12,
    "current": 13,
}


class _Current:
    """The type of :data:`CURRENT`."""

    def __repr__(self) -> str:
        return "CURRENT"


#: Stands for "the state's current value of this key" in a stored journal entry (never in a state).
CURRENT = _Current()

#: Integers beyond 64 bits are kept up to this many digits.
MAX_INT_DIGITS = 1000
#: Extension values nest (a tuple of sets of tuples) at most this deep when read.
MAX_EXT_DEPTH = 64

_INT64_MIN, _UINT64_END = -(2**63), 2**64
_Clock = TypeVar("_Clock", dt.datetime, dt.time)


class UnencodableValue(TypeError):
    """*value* cannot be kept in a task's state (*reason* says why, when it is not just its type)."""

    def __init__(self, value: object, reason: str = "") -> None:
        self.value, self.reason = value, reason
        super().__init__(f"{type(value).__name__} cannot be encoded{': ' + reason if reason else ''}")


# -- writing ---------------------------------------------------------------------------------------


def packb(value: Any) -> bytes:
    """*value* encoded; raise :class:`UnencodableValue` (a TypeError) for a value the codec does not keep."""
    try:
        return msgpack.packb(value, use_bin_type=True, strict_types=True, default=_default)  # type: ignore[no-any-return]
    except (ValueError, OverflowError) as exc:
        raise UnencodableValue(value, str(exc)) from exc
    except RecursionError as exc:  # tuples or sets nested hundreds deep
        raise UnencodableValue(value, "it nests too deep") from exc


def _ext(name: str, payload: bytes) -> msgpack.ExtType:
    return msgpack.ExtType(EXT[name], payload)


def _array(items: list[bytes]) -> bytes:
    """A msgpack array of items already encoded."""
    return msgpack.Packer().pack_array_header(len(items)) + b"".join(items)  # type: ignore[no-any-return]


def _items(value: Iterable[Any]) -> bytes:
    """A msgpack array of *value*'s items, in the order given."""
    return _array([packb(item) for item in value])


def _offset(value: dt.datetime | dt.time) -> int | None:
    """The UTC offset of *value* in microseconds, None for a naive one."""
    offset = value.utcoffset()
    return None if offset is None else offset // dt.timedelta(microseconds=1)


def _sorted_items(value: Iterable[Any]) -> bytes:
    """A msgpack array of *value*'s items sorted by their encoding: equal sets encode alike."""
    return _array(sorted(packb(item) for item in value))


def _int(value: int) -> Any:
    value = int(value)
    if _INT64_MIN <= value < _UINT64_END:
        return value
    digits = str(value)
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise UnencodableValue(value, f"an integer of more than {MAX_INT_DIGITS} digits")
    return _ext("bigint", digits.encode())


def _model(value: Model) -> msgpack.ExtType:
    meta = value._meta
    if value.pk is None:
        raise UnencodableValue(value, "an unsaved instance has no primary key")
    try:
        pk = packb(value.pk)
    except UnencodableValue as exc:
        raise UnencodableValue(value, f"its primary key ({type(value.pk).__name__}) cannot be encoded") from exc
    return _ext("model", _array([packb(meta.app_label), packb(meta.model_name), pk]))


#: How each type that is not msgpack's own is written, by exact type; subclasses are looked up in order.
_WRITERS: list[tuple[type, Callable[[Any], Any]]] = [
    (dt.datetime, lambda v: _ext("datetime", packb([*v.timetuple()[:6], v.microsecond, _offset(v)]))),
    (dt.date, lambda v: _ext("date", v.isoformat().encode())),
    (dt.time, lambda v: _ext("time", packb([v.hour, v.minute, v.second, v.microsecond, _offset(v)]))),
    (dt.timedelta, lambda v: _ext("timedelta", packb([v.days, v.seconds, v.microseconds]))),
    (Decimal, lambda v: _ext("Decimal", str(v).encode())),
    (uuid.UUID, lambda v: _ext("UUID", v.bytes)),
    (tuple, lambda v: _ext("tuple", _items(v))),
    (frozenset, lambda v: _ext("frozenset", _sorted_items(v))),
    (set, lambda v: _ext("set", _sorted_items(v))),
    (int, _int),
    (str, str.__str__),
    (bytes, bytes),
    (float, float),
    (dict, dict),
    (list, list),
    (Model, _model),
    (QuerySet, list),
    (KeptFile, lambda v: _ext("file", packb(v.reference()))),
    (_Current, lambda v: _ext("current", b"")),
]
_EXACT = dict(_WRITERS)


def _default(value: Any) -> Any:
    kind = type(value)
    if kind is StoredInstance:  # checked first: isinstance() would load it
        return _ext("model", _items(value._stored_ref))
    writer = _EXACT.get(kind)
    if writer is None:
        writer = next((w for base, w in _WRITERS if isinstance(value, base)), None)
        if writer is None:
            raise UnencodableValue(value)
    return writer(value)


# -- reading ---------------------------------------------------------------------------------------


class _Decoder:
    """One decoding: msgpack's limits, the extension depth, and the references it read (loaded together)."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self.depth = 0
        self.references = _References()

    def unpack(self, raw: bytes) -> Any:
        return msgpack.unpackb(raw, raw=False, timestamp=3, strict_map_key=False, ext_hook=self.ext, **self.limits)

    def ext(self, code: int, data: bytes) -> Any:
        reader = _READERS.get(code)
        if reader is None:
            raise ValueError(f"unexpected msgpack extension type {code}")
        if self.depth >= MAX_EXT_DEPTH:
            raise ValueError(f"extension values nest more than {MAX_EXT_DEPTH} deep")
        self.depth += 1
        try:
            return reader(self, data)
        finally:
            self.depth -= 1

    def array(self, data: bytes) -> list[Any]:
        items = self.unpack(data)
        if not isinstance(items, list):
            raise ValueError("extension payload is not an array")
        return items


def _text(data: bytes) -> str:
    return data.decode("ascii")


def _clock(kind: type[_Clock], fields: list[Any]) -> _Clock:
    """A datetime or time from its fields, the last its UTC offset in microseconds (None: naive)."""
    *parts, offset = fields
    zone = None if offset is None else dt.timezone(dt.timedelta(microseconds=offset))
    return kind(*parts).replace(tzinfo=zone)


def _timedelta(decoder: _Decoder, data: bytes) -> dt.timedelta:
    days, seconds, microseconds = decoder.array(data)
    return dt.timedelta(days=days, seconds=seconds, microseconds=microseconds)


def _read_reference(decoder: _Decoder, data: bytes) -> StoredInstance:
    app_label, model_name, pk = decoder.array(data)
    if not isinstance(app_label, str) or not isinstance(model_name, str):
        raise ValueError("model reference without app label and model name")
    try:
        hash(pk)
    except TypeError:
        raise ValueError("model reference with an unhashable primary key") from None
    return StoredInstance(app_label, model_name, pk, decoder.references)


def _file(decoder: _Decoder, data: bytes) -> KeptFile:
    fields = decoder.array(data)
    kinds = (str, str, str, int, str)
    if len(fields) != len(kinds) or not all(isinstance(f, k) for f, k in zip(fields, kinds, strict=True)):
        raise ValueError("kept file reference without storage, name, file name, size and content type")
    return KeptFile(*fields)


def _bigint(decoder: _Decoder, data: bytes) -> int:
    if len(data) > MAX_INT_DIGITS + 1:  # the sign
        raise ValueError("integer too long")
    return int(_text(data))


_READERS: dict[int, Callable[[_Decoder, bytes], Any]] = {
    EXT["Decimal"]: lambda d, data: Decimal(_text(data)),
    EXT["date"]: lambda d, data: dt.date.fromisoformat(_text(data)),
    EXT["datetime"]: lambda d, data: _clock(dt.datetime, d.array(data)),
    EXT["time"]: lambda d, data: _clock(dt.time, d.array(data)),
    EXT["timedelta"]: _timedelta,
    EXT["UUID"]: lambda d, data: uuid.UUID(bytes=data),
    EXT["tuple"]: lambda d, data: tuple(d.array(data)),
    EXT["set"]: lambda d, data: set(d.array(data)),
    EXT["frozenset"]: lambda d, data: frozenset(d.array(data)),
    EXT["model"]: _read_reference,
    EXT["bigint"]: _bigint,
    EXT["file"]: _file,
    EXT["current"]: lambda d, data: CURRENT,
}


def unpackb(raw: bytes, **limits: int) -> Any:
    """Decode bytes written by :func:`packb`; *limits* are msgpack's ``max_*_len`` arguments.

    Raise ValueError (or another exception of msgpack's) for bytes it did not write.
    """
    return _Decoder(limits).unpack(raw)


# -- model references ------------------------------------------------------------------------------

_GONE = object()


class _References:
    """The model references of one decoding: loaded together, one query per model, on first use."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], set[Any]] = {}
        self.loaded: dict[tuple[str, str, Any], Any] = {}

    def add(self, app_label: str, model_name: str, pk: Any) -> None:
        if (app_label, model_name, pk) not in self.loaded:
            self.pending.setdefault((app_label, model_name), set()).add(pk)

    def load(self, app_label: str, model_name: str, pk: Any) -> Model:
        key = (app_label, model_name, pk)
        if key not in self.loaded:
            wanted = self.pending.pop((app_label, model_name), set()) | {pk}
            found = _fetch(app_label, model_name, wanted)
            for one in wanted:
                self.loaded[(app_label, model_name, one)] = found.get(one, _GONE)
        instance = self.loaded[key]
        if instance is _GONE:
            raise StateReferenceGone(f"{app_label}.{model_name}", pk)
        return instance  # type: ignore[no-any-return]


def _fetch(app_label: str, model_name: str, pks: set[Any]) -> dict[Any, Model]:
    """The instances of *pks* that exist, by the pk they were stored under."""
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return {}
    field = model._meta.pk
    if field is None:  # pragma: no cover - every concrete model has one
        return {}
    stored: dict[Any, Any] = {}
    for pk in pks:
        try:
            stored[field.to_python(pk)] = pk
        except (ValidationError, TypeError, ValueError):
            continue  # a pk the model no longer takes: the row cannot exist
    rows = model._base_manager.in_bulk(list(stored))
    return {stored[pk]: row for pk, row in rows.items() if pk in stored}


if TYPE_CHECKING:
    _Proxy = LazyObject[Model]
else:
    _Proxy = LazyObject


def _concrete_label(model: type[Model]) -> str:
    return str((model._meta.concrete_model or model)._meta.label_lower)


class StoredInstance(_Proxy):
    """A model instance read back from a task's state: loaded on first use (see the module's docstring).

    ``isinstance(value, Order)`` is true; ``value == order`` and ``hash(value)``
    compare the model and primary key, and ``value.pk`` is the stored key, all
    without a query. Any other use loads the row, or raises
    :class:`~flowmachine.exceptions.StateReferenceGone` if it no longer exists.
    Saving the state writes the same reference again without loading it.
    :func:`reference_of` and :func:`is_loaded` tell what it refers to and
    whether it was loaded; its ``type()`` is this class.
    """

    _wrapped: Any
    _stored_ref: tuple[str, str, Any]
    _stored_batch: _References

    def __init__(self, app_label: str, model_name: str, pk: Any, references: _References) -> None:
        super().__init__()
        self.__dict__["_stored_ref"] = (app_label, model_name, pk)
        self.__dict__["_stored_batch"] = references
        references.add(app_label, model_name, pk)

    def _setup(self) -> None:
        self._wrapped = self._stored_batch.load(*self._stored_ref)

    # Its own attributes are private and prefixed, so none hides a model's: see reference_of().

    def _stored_label(self) -> str:
        return f"{self._stored_ref[0]}.{self._stored_ref[1]}"

    def _stored_model(self) -> type[Model] | None:
        try:
            return apps.get_model(self._stored_ref[0], self._stored_ref[1])
        except LookupError:
            return None

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105 - isinstance() and Model.__eq__ read it: no query
        return self._stored_model() or type(self)

    def __getattr__(self, name: str) -> Any:
        if self._wrapped is empty:
            if name == "pk":
                return self._stored_ref[2]
            model = self._stored_model() if name == "_meta" else None
            if model is not None:
                return model._meta
            self._setup()
        return getattr(self._wrapped, name)

    def _stored_identity(self) -> tuple[str, Any]:
        """(the concrete model's label, the pk): what two references to one row share."""
        model = self._stored_model()
        return (_concrete_label(model) if model else self._stored_label()), self._stored_ref[2]

    def __eq__(self, other: object) -> bool:
        if type(other) is StoredInstance:
            return self._stored_identity() == other._stored_identity()
        if isinstance(other, Model):
            return other.pk is not None and self._stored_identity() == (_concrete_label(type(other)), other.pk)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self._stored_ref[2])  # as Model.__hash__: the pk

    def __bool__(self) -> bool:
        return True  # as a model instance, without loading it

    def __repr__(self) -> str:
        state = "" if is_loaded(self) else " (not loaded)"
        return f"<StoredInstance {self._stored_label()} pk={self._stored_ref[2]!r}{state}>"

    def __copy__(self) -> StoredInstance:
        return StoredInstance(*self._stored_ref, self._stored_batch)

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredInstance:
        result = StoredInstance(*self._stored_ref, self._stored_batch)
        memo[id(self)] = result
        return result


def reference_of(value: Any) -> tuple[str, Any] | None:
    """``(model label, pk)`` of a model instance read back from the state (not loading it), else None."""
    return (value._stored_label(), value._stored_ref[2]) if type(value) is StoredInstance else None


def is_loaded(value: Any) -> bool:
    """Whether a model instance read back from the state was loaded (a deleted row never is); True for others."""
    return type(value) is not StoredInstance or value._wrapped is not empty


def json_default(value: Any) -> Any:
    """For ``json.dumps(default=...)`` of a record: a model reference without loading it, else ``str()``."""
    reference = reference_of(value)
    if reference is not None:
        label, pk = reference
        return {"model": label, "pk": pk if isinstance(pk, (int, str)) else str(pk)}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
