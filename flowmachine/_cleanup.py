"""Removing expired tasks: shared by ``manage.py cleanupflows`` and the Celery task.

The database store's records are deleted in batches, each in its own short
transaction that selects a batch of expired ids (skipping rows locked by
running requests where the database can) and deletes exactly those, so a
table of millions of rows is never locked for long. The tmpfile store removes
its expired files with its own ``cleanup()``; Redis expires keys by itself.
Each removed task that had not finished is reported as abandoned
(:data:`flowmachine.signals.flow_abandoned` and the funnel's ``abandoned``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from flowmachine import _events
from flowmachine.stores import get_store


@dataclass
class CleanupResult:
    """What a cleanup run removed (or, in a dry run, would remove)."""

    store: str
    removed: int = 0
    abandoned: int = 0
    batches: int = 0
    dry_run: bool = False
    #: Set when the store needs no cleanup (Redis) or cannot be cleaned.
    note: str = ""


def cleanup(store: Any = None, *, batch_size: int | None = None, dry_run: bool = False) -> CleanupResult:
    """Remove the expired tasks of *store* (default: ``FLOWS_STATE_STORE``)."""
    from flowmachine.conf import flow_settings

    store = store if store is not None else get_store()
    size = int(batch_size or flow_settings.FLOWS_CLEANUP_BATCH_SIZE)
    if size < 1:
        raise ValueError(f"batch_size must be at least 1, not {size}.")
    name = type(store).__module__
    from flowmachine.backends import db as db_store

    if isinstance(store, db_store.StateStore):
        return _cleanup_db(store, size, dry_run)
    if name == "flowmachine.backends.redis":
        return CleanupResult(
            name,
            dry_run=dry_run,
            note="Redis expires task keys by itself (each key's TTL is FLOWS_TASK_IDLE_TIMEOUT): nothing to do.",
        )
    if callable(getattr(store, "cleanup", None)):
        removed = store.cleanup(dry_run=dry_run)
        result = CleanupResult(name, removed=len(removed), batches=1, dry_run=dry_run)
        if not dry_run:
            result.abandoned = _report_abandoned(removed)
        return result
    return CleanupResult(name, dry_run=dry_run, note=f"The store {name} has no cleanup() method: nothing was removed.")


def _cleanup_db(store: Any, size: int, dry_run: bool) -> CleanupResult:
    from flowmachine.backends.db import TaskRecord

    db = getattr(store, "db_alias", None) or router.db_for_write(TaskRecord)
    result = CleanupResult(type(store).__module__, dry_run=dry_run)
    cutoff = timezone.now() - timedelta(seconds=store.idle_timeout)
    expired = TaskRecord.objects.using(db).filter(accessed__lt=cutoff).order_by()
    if dry_run:
        result.removed = expired.count()
        return result
    skip_locked = connections[db].features.has_select_for_update_skip_locked
    while True:
        with transaction.atomic(using=db):
            batch = expired.select_for_update(skip_locked=True) if skip_locked else expired
            rows = list(batch.values_list("task_id", "flow", "position")[:size])
            if not rows:
                break
            # Re-checked: a row touched since it was selected (SQLite has no row locks) stays.
            deleted, _ = expired.filter(task_id__in=[row[0] for row in rows]).delete()
            result.removed += deleted
            result.batches += 1
            if deleted == len(rows):
                result.abandoned += _report_abandoned(
                    (task_id, {"flow": flow, "pos": pos}) for task_id, flow, pos in rows if pos
                )
        if len(rows) < size:
            break
    return result


def _report_abandoned(removed: Iterable[tuple[str, dict[str, Any] | None]]) -> int:
    """Signal and count each removed task that had not finished; return how many."""
    from flowmachine import _funnel

    per_flow: dict[str, list[tuple[str, str]]] = {}
    senders: dict[str, Any] = {}
    for task_id, record in removed:
        if not isinstance(record, dict) or "done" in record or not record.get("flow"):
            continue
        flow, position = str(record["flow"]), record.get("pos")
        if flow not in senders:
            senders[flow] = _events.entry_point(flow)
        _events.abandoned(flow, task_id, position if isinstance(position, str) else None, senders[flow])
        if isinstance(position, str):
            per_flow.setdefault(flow, []).append((position, "abandoned"))
    if _funnel.enabled():
        for flow, counts in per_flow.items():
            _funnel.add(flow, counts)
    return sum(len(counts) for counts in per_flow.values())
