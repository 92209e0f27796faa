"""Files a task keeps: saved when assigned to the state, deleted when nothing needs them any more.

An uploaded file assigned to ``self.state`` is saved in ``FLOWS_FILE_STORAGE``
under the task's own folder (a keyed hash of its id, so it cannot be guessed)
with a random name, and replaced in the state by a
:class:`~flowmachine.files.KeptFile`. The record lists the files it holds, and
the ``TaskFile`` table indexes them by task, whatever the store.

A kept file is deleted

- once no state key nor remembered answer holds it (replaced by a new upload,
  or its step left the path), after the request's transaction commits;
- once its task finishes, after the last step's transaction commits (so a
  model that copied it keeps its copy);
- when the request that saved it is refused or fails (a conflict, a stale page,
  the store down, an exception): nothing of that request is kept;
- by cleanup (``cleanupflows``, the Celery task) once its task is gone:
  expired, abandoned, or removed from Redis by its TTL.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import posixpath
import secrets
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.files.storage import storages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from flowmachine.backends.base import BaseStateStore
from flowmachine.conf import flow_settings
from flowmachine.files import KeptFile
from flowmachine.models import TaskFile
from flowmachine.record import Record

if TYPE_CHECKING:
    from flowmachine.engine.task import Task

logger = logging.getLogger("flowmachine")

__all__ = ["collecting", "discard_saved", "folder", "held", "keep_uploads", "remember", "settle", "sweep"]

#: The files saved by the request being served, deleted if it does not commit.
_saved: ContextVar[list[KeptFile] | None] = ContextVar("flowmachine_saved_files", default=None)

_MAX_DEPTH = 8


def folder(task_id: str) -> str:
    """The storage folder of a task's files: not guessable from outside, found again from the id."""
    return "flowmachine/" + salted_hmac("flowmachine.files", task_id, algorithm="sha256").hexdigest()[:32]


@contextlib.contextmanager
def collecting() -> Iterator[None]:
    """Serve a request: the files it saves are deleted again if it ends with an exception."""
    saved: list[KeptFile] = []
    token = _saved.set(saved)
    try:
        yield
    except BaseException:
        _delete(saved, "its request failed")
        raise
    finally:
        _saved.reset(token)


def discard_saved(reason: str) -> None:
    """Delete the files this request saved so far (it is answered without saving the task)."""
    saved = _saved.get()
    if saved:
        _delete(list(saved), reason)
        saved.clear()


def keep_uploads(task: Task) -> None:
    """Save each uploaded file in the state (and the remembered answers), and keep a reference instead.

    A remembered answer holding an upload the state does not keep is dropped:
    only what an action keeps is kept.
    """
    kept: dict[int, KeptFile] = {}
    state = task.state
    for key, value in list(state.items()):
        new = _replace(task, value, kept, 0)
        if new is not value:
            state[key] = new
    for answers in task.record.answers.values():
        # A form's answers are a dict; a formset's, a list of rows (dicts).
        for row in answers if isinstance(answers, list) else [answers]:
            if not isinstance(row, dict):
                continue
            for name, value in list(row.items()):
                if isinstance(value, UploadedFile):
                    if id(value) in kept:
                        row[name] = kept[id(value)]
                    else:
                        del row[name]


def _replace(task: Task, value: Any, kept: dict[int, KeptFile], depth: int) -> Any:
    if isinstance(value, UploadedFile):
        if id(value) not in kept:
            kept[id(value)] = _save(task, value)
        return kept[id(value)]
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, list):
        items = [_replace(task, item, kept, depth + 1) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, tuple):
        items = [_replace(task, item, kept, depth + 1) for item in value]
        return tuple(items) if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        pairs = {k: _replace(task, v, kept, depth + 1) for k, v in value.items()}
        return pairs if any(pairs[k] is not v for k, v in value.items()) else value
    return value


def _save(task: Task, upload: UploadedFile) -> KeptFile:  # type: ignore[type-arg]
    """Save *upload* in the task's folder, under a random name (never the user's file name)."""
    alias = str(flow_settings.FLOWS_FILE_STORAGE)
    storage = storages[alias]
    path = storage.save(f"{folder(task.id)}/{secrets.token_hex(16)}", upload)
    kept = KeptFile(alias, path, upload.name or "", upload.size or 0, upload.content_type or "")
    task.kept_any = True
    saved = _saved.get()
    if saved is not None:
        saved.append(kept)
    logger.info("Flow %s: task %s… kept a file of %d bytes", task.flow.name, task.id[:8], kept.size)
    return kept


def remember(answers: dict[str, Any] | list[Any] | None, form: Any) -> None:
    """Remember a file field's answer (an upload, or the file kept before) to show it on Back;
    :func:`keep_uploads` keeps it only if the state keeps it too. (A formset's rows keep no file.)"""
    cleaned = getattr(form, "cleaned_data", None)
    if not isinstance(answers, dict) or not isinstance(cleaned, dict):
        return
    for name, field in getattr(form, "fields", {}).items():
        value = cleaned.get(name)
        if isinstance(field, forms.FileField) and isinstance(value, (UploadedFile, KeptFile)):
            answers[name] = value


def held(record: Record) -> set[KeptFile]:
    """The kept files the record's state and remembered answers hold."""
    found: set[KeptFile] = set()
    _collect(record.data, found, 0)
    _collect(record.answers, found, 0)
    return found


def _collect(value: Any, found: set[KeptFile], depth: int) -> None:
    if isinstance(value, KeptFile):
        found.add(value)
    elif depth < _MAX_DEPTH and isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _collect(item, found, depth + 1)
    elif depth < _MAX_DEPTH and isinstance(value, dict):
        for item in value.values():
            _collect(item, found, depth + 1)


def settle(task: Task, alias: str) -> None:
    """At a task's save: index its new files, and delete the ones it no longer holds (or all of them,
    once finished) after the transaction on *alias* commits. Costs nothing for a task without files."""
    before = {tuple(ref[:2]) for ref in task.record.files}
    if not before and not task.kept_any:
        return
    now = set() if task.finished else held(task.record)
    current = {(f.storage_name, f.path) for f in now}
    gone = before - current
    added = current - before
    task.record.files = [f.reference() for f in sorted(now, key=lambda f: f.path)]
    rows = TaskFile.objects.using(alias)
    if added:
        stamp = timezone.now()
        rows.bulk_create([TaskFile(task_id=task.id, storage=s, path=p, kept_at=stamp) for s, p in sorted(added)])
    if gone:
        for storage, path in gone:
            rows.filter(storage=storage, path=path).delete()
        files = [KeptFile(storage, path, "", 0) for storage, path in gone]
        reason = "its task finished" if task.finished else "nothing holds it any more"
        transaction.on_commit(lambda: _delete(files, reason), using=alias)


def _delete(files: list[KeptFile], reason: str) -> None:
    folders: set[tuple[str, str]] = set()
    for kept in files:
        try:
            kept.storage.delete(kept.path)
        except Exception as exc:  # a storage that is down: cleanup tries again
            logger.warning("Kept file %s not deleted (%s): %s", kept.path, reason, exc)
        else:
            logger.debug("Kept file %s deleted: %s", kept.path, reason)
            folders.add((kept.storage_name, posixpath.dirname(kept.path)))
    for storage_name, name in folders:
        _remove_if_empty(storage_name, name)


def _remove_if_empty(storage_name: str, name: str) -> None:
    """Remove a task's folder once it holds no file, where the storage has folders on disk."""
    try:
        where = storages[storage_name].path(name)
    except Exception:  # a storage without local paths (NotImplementedError: a bucket has no folders)
        return
    with contextlib.suppress(OSError):  # not empty (another file of the task), or already gone
        os.rmdir(where)


def sweep(store: BaseStateStore, *, alias: str, dry_run: bool = False, batch_size: int = 1000) -> int:
    """Delete the files of tasks that are gone from *store* (expired, abandoned, finished); return how many.

    Only files kept longer ago than ``FLOWS_TASK_IDLE_TIMEOUT`` are looked at: a task
    younger than that cannot have expired.
    """
    idle = datetime.timedelta(seconds=float(flow_settings.FLOWS_TASK_IDLE_TIMEOUT))
    rows = TaskFile.objects.using(alias)
    candidates = rows.filter(kept_at__lt=timezone.now() - idle)
    removed = 0
    checked: set[str] = set()
    while True:
        task_ids = list(
            candidates.exclude(task_id__in=checked).values_list("task_id", flat=True).distinct()[:batch_size]
        )
        if not task_ids:
            return removed
        for task_id in task_ids:
            checked.add(task_id)
            raw = store.get_state(task_id)
            if raw is not None and not Record(raw).finished:
                continue  # still running: its files are in use
            found = list(rows.filter(task_id=task_id).values_list("storage", "path"))
            removed += len(found)
            if dry_run:
                continue
            with transaction.atomic(using=alias):
                rows.filter(task_id=task_id).delete()
                files = [KeptFile(storage, path, "", 0) for storage, path in found]
                transaction.on_commit(lambda files=files: _delete(files, "its task is gone"), using=alias)  # type: ignore[misc]
