"""The default state store: one row per task in a Django model.

Works on every database Django supports; SQLite and PostgreSQL are tested.
A read inside a transaction locks the row (``SELECT ... FOR UPDATE`` where the
database supports it) and a write is a single conditional ``UPDATE`` on the
version read (the first, a single ``INSERT ... ON CONFLICT`` where the database
has it), so a step costs at most two queries. Those two statements are
built once per database and run on a cursor, without the ORM's compiler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.core.signals import setting_changed
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.utils import timezone

from flowmachine.backends.base import (
    BaseStateStore,
    Cleared,
    ConflictError,
    CorruptStateError,
    ExpiredTask,
    StoreUnavailable,
)
from flowmachine.models import TaskRecord
from flowmachine.record import Record

_UNAVAILABLE = (OperationalError, InterfaceError)


_STATEMENTS: dict[tuple[str, str], str] = {}


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    """The statements are built per database: rebuild them when the databases change."""
    if setting == "DATABASES":
        _STATEMENTS.clear()


setting_changed.connect(_settings_changed)


def _sqlite_write_lock_needed(connection: Any) -> bool:
    """Whether a locked read on *connection* must take SQLite's write lock itself.

    Not when the database has row locks, nor when its transactions already
    start with the write lock (Django 5.1's ``"transaction_mode": "IMMEDIATE"``);
    ``RETURNING`` needs SQLite 3.35.
    """
    if connection.vendor != "sqlite" or connection.features.has_select_for_update:
        return False
    mode = str(connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") or "").upper()
    return mode not in ("IMMEDIATE", "EXCLUSIVE") and connection.Database.sqlite_version_info >= (3, 35)


def _sql(connection: Any, kind: str) -> str:
    """A statement of a request (read, locked read, first insert, update, delete), built once per alias.

    A request makes these and nothing else on the table, so they skip the ORM's
    query compiler, as Django's database cache backend does.
    """
    key = (connection.alias, kind)
    if key not in _STATEMENTS:
        qn = connection.ops.quote_name
        table = qn(TaskRecord._meta.db_table)
        if kind == "update":
            names = ("version", "data", "accessed", "flow", "position", "user_id")
            assigned = ", ".join(f"{qn(name)} = %s" for name in names)
            # Only quoted names of the model's own columns are formatted in; values are parameters.
            sql = f"UPDATE {table} SET {assigned} WHERE {qn('task_id')} = %s AND {qn('version')} = %s"  # noqa: S608
        elif kind == "delete":
            sql = f"DELETE FROM {table} WHERE {qn('task_id')} = %s"  # noqa: S608
        elif kind == "insert":
            # The first record in one statement: a new row, or over a row left idle past the timeout
            # (the admin's "expire"); a live row of the same id is left alone (no row counted).
            inserted = ("task_id", "version", "data", "created", "accessed", "flow", "position", "user_id")
            columns = ", ".join(qn(name) for name in inserted)
            replaced = ", ".join(f"{qn(name)} = excluded.{qn(name)}" for name in inserted[1:])
            sql = (
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(inserted))}) "  # noqa: S608
                f"ON CONFLICT ({qn('task_id')}) DO UPDATE SET {replaced} WHERE {table}.{qn('accessed')} < %s"
            )
        elif kind == "select_locked" and _sqlite_write_lock_needed(connection):
            # SQLite locks the whole database, and a transaction that only read cannot wait for
            # another's write lock: two POSTs on one task would both read, then one would fail at
            # its write ("database is locked"). A no-op write that returns the row takes the
            # write lock with the read, so the second POST waits (busy timeout) and runs after.
            sql = (
                f"UPDATE {table} SET {qn('version')} = {qn('version')} "  # noqa: S608
                f"WHERE {qn('task_id')} = %s AND {qn('accessed')} >= %s RETURNING {qn('data')}"
            )
        else:
            sql = f"SELECT {qn('data')} FROM {table} WHERE {qn('task_id')} = %s AND {qn('accessed')} >= %s"  # noqa: S608
            if kind == "select_locked" and connection.features.has_select_for_update:
                sql += " FOR UPDATE"
        _STATEMENTS[key] = sql
    return _STATEMENTS[key]


def _columns(state: dict[str, Any]) -> dict[str, str]:
    """The record fields copied to their own columns (position is empty once finished)."""
    record = Record(state)
    return {
        "flow": str(record.flow or "")[:200],
        "position": "" if record.finished else str(record.position or "")[:255],
        "user_id": str(record.user or "")[:64],
    }


class StateStore(BaseStateStore):
    """Task records in the database, through the ``TaskRecord`` model."""

    atomic_versions = True
    in_database = True

    def __init__(self, using: str | None = None) -> None:
        self.using = using

    @property
    def db_alias(self) -> str:
        """The database holding the records: ``using``, else the router's choice for TaskRecord.

        The view layer opens each request's transaction on this alias, so the
        row lock and the write share it even when a router moves the table.
        """
        return self.using or router.db_for_write(TaskRecord)

    def _db(self) -> str:
        return self.db_alias

    def get_state(self, task_id: str) -> dict[str, Any] | None:
        db = self._db()
        connection = connections[db]
        cutoff = timezone.now() - timedelta(seconds=self.idle_timeout)
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    _sql(connection, "select_locked" if connection.in_atomic_block else "select"),
                    [task_id, connection.ops.adapt_datetimefield_value(cutoff)],
                )
                row = cursor.fetchone()
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"The task database is unavailable: {exc}") from exc
        return None if row is None else self.decode(bytes(row[0]))

    def put_state(self, task_id: str, state: dict[str, Any]) -> None:
        raw = self.encode(state)
        version = int(state["version"])
        now = timezone.now()
        db = self._db()
        columns = _columns(state)
        try:
            if version <= 1:
                self._create(db, task_id, version, raw, now, columns)
                return
            connection = connections[db]
            data = TaskRecord._meta.get_field("data").get_db_prep_value(raw, connection)
            accessed = connection.ops.adapt_datetimefield_value(now)
            values = [version, data, accessed, columns["flow"], columns["position"], columns["user_id"]]
            with connection.cursor() as cursor:
                cursor.execute(_sql(connection, "update"), [*values, task_id, version - 1])
                updated = cursor.rowcount
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"The task database is unavailable: {exc}") from exc
        if not updated:
            raise ConflictError(f"Task {task_id[:8]}… changed since it was read (version {version - 1}).")

    def _create(self, db: str, task_id: str, version: int, raw: bytes, now: Any, columns: dict[str, str]) -> None:
        """Insert the first record; an expired row of the same id (the admin's "expire") is replaced.

        One statement where the database has ``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE``
        (PostgreSQL, SQLite 3.24+); elsewhere an insert in a savepoint, then an update of an expired row.
        """
        connection = connections[db]
        cutoff = now - timedelta(seconds=self.idle_timeout)
        if connection.features.supports_update_conflicts_with_target:
            data = TaskRecord._meta.get_field("data").get_db_prep_value(raw, connection)
            stamp = connection.ops.adapt_datetimefield_value(now)
            values = [task_id, version, data, stamp, stamp, columns["flow"], columns["position"], columns["user_id"]]
            with connection.cursor() as cursor:
                cursor.execute(_sql(connection, "insert"), [*values, connection.ops.adapt_datetimefield_value(cutoff)])
                if cursor.rowcount != 1:
                    raise ConflictError(f"Task {task_id[:8]}… already exists.")
            return
        fields = {"version": version, "data": raw, "created": now, "accessed": now, **columns}
        try:
            with transaction.atomic(using=db):
                TaskRecord.objects.using(db).create(task_id=task_id, **fields)
            return
        except IntegrityError:
            pass
        if not TaskRecord.objects.using(db).filter(task_id=task_id, accessed__lt=cutoff).update(**fields):
            raise ConflictError(f"Task {task_id[:8]}… already exists.")

    def delete_state(self, task_id: str) -> None:
        connection = connections[self._db()]
        try:
            with connection.cursor() as cursor:  # one statement: no collector, no transaction of its own
                cursor.execute(_sql(connection, "delete"), [task_id])
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"The task database is unavailable: {exc}") from exc

    def touch(self, task_id: str) -> None:
        try:
            TaskRecord.objects.using(self._db()).filter(task_id=task_id).update(accessed=timezone.now())
        except DatabaseError as exc:
            raise StoreUnavailable(f"The task database is unavailable: {exc}") from exc

    def _live(self) -> Any:
        cutoff = timezone.now() - timedelta(seconds=self.idle_timeout)
        return TaskRecord.objects.using(self._db()).filter(accessed__gte=cutoff).order_by("task_id")

    def iter_task_ids(self) -> Iterator[str]:
        try:
            yield from self._live().values_list("task_id", flat=True).iterator(chunk_size=1000)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"The task database is unavailable: {exc}") from exc

    def iter_states(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        try:
            for task_id, data in self._live().values_list("task_id", "data").iterator(chunk_size=500):
                try:
                    yield task_id, self.decode(bytes(data))
                except CorruptStateError:
                    yield task_id, None
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"The task database is unavailable: {exc}") from exc

    def clear_expired(
        self,
        *,
        batch_size: int = 1000,
        dry_run: bool = False,
        removed: Callable[[list[ExpiredTask]], None] | None = None,
    ) -> Cleared:
        """Delete expired rows in batches, each in its own short transaction.

        A batch selects expired ids (skipping rows locked by running requests
        where the database can) and deletes exactly those, so a table of
        millions of rows is never locked for long.
        """
        db = self._db()
        cutoff = timezone.now() - timedelta(seconds=self.idle_timeout)
        expired = TaskRecord.objects.using(db).filter(accessed__lt=cutoff).order_by()
        if dry_run:
            return Cleared(removed=expired.count())
        skip_locked = connections[db].features.has_select_for_update_skip_locked
        total = batches = 0
        while True:
            with transaction.atomic(using=db):
                batch = expired.select_for_update(skip_locked=True) if skip_locked else expired
                rows = list(batch.values_list("task_id", "flow", "position")[:batch_size])
                if not rows:
                    break
                # Re-checked: a row touched since it was selected (SQLite has no row locks) stays.
                deleted, _ = expired.filter(task_id__in=[row[0] for row in rows]).delete()
                total += deleted
                batches += 1
                if deleted == len(rows) and removed is not None:
                    removed([ExpiredTask(task_id, flow, position or None) for task_id, flow, position in rows])
            if len(rows) < batch_size:
                break
        return Cleared(removed=total, batches=batches)
