"""Removing expired tasks: shared by ``manage.py cleanupflows`` and the Celery task.

Each store removes its own expired records (:meth:`BaseStateStore.clear_expired
<flowmachine.backends.base.BaseStateStore.clear_expired>`); a store that
expires records by itself (Redis) has nothing to do. Each removed task that
had not finished is reported as abandoned
(:data:`flowmachine.signals.flow_abandoned` and the funnel's ``abandoned``),
inside the transaction that removed it where the store has one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS

from flowmachine import registry
from flowmachine.backends import get_store
from flowmachine.backends.base import BaseStateStore, ExpiredTask
from flowmachine.conf import flow_settings
from flowmachine.engine import events, files, funnel

__all__ = ["CleanupResult", "cleanup"]


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
    #: Kept files of tasks that are gone, deleted (or, in a dry run, that would be).
    files: int = 0


def cleanup(
    store: BaseStateStore | None = None, *, batch_size: int | None = None, dry_run: bool = False
) -> CleanupResult:
    """Remove the expired tasks of *store* (default: ``FLOWS_STATE_STORE``)."""
    store = store if store is not None else get_store()
    size = int(batch_size or flow_settings.FLOWS_CLEANUP_BATCH_SIZE)
    if size < 1:
        raise ValueError(f"batch_size must be at least 1, not {size}.")
    result = CleanupResult(type(store).__module__, dry_run=dry_run)
    try:
        _clear(store, result, size, dry_run)
    finally:
        # After the store's own cleanup, so the files of the tasks it just removed go too.
        alias = store.db_alias or DEFAULT_DB_ALIAS
        result.files = files.sweep(store, alias=alias, dry_run=dry_run, batch_size=size)
    return result


def _clear(store: BaseStateStore, result: CleanupResult, size: int, dry_run: bool) -> None:
    if store.expires_by_itself:
        result.note = (
            f"The store {result.store} expires tasks by itself after FLOWS_TASK_IDLE_TIMEOUT "
            "(Redis: each key's TTL): only the files of expired tasks were looked for."
        )
        return

    def report(batch: list[ExpiredTask]) -> None:
        result.abandoned += _report_abandoned(batch)

    try:
        cleared = store.clear_expired(batch_size=size, dry_run=dry_run, removed=report)
    except NotImplementedError:
        result.note = f"The store {result.store} cannot remove expired tasks (no clear_expired()): nothing was removed."
        return
    result.removed, result.batches = cleared.removed, cleared.batches


def _report_abandoned(removed: list[ExpiredTask]) -> int:
    """Signal and count each removed task that had not finished; return how many."""
    per_flow: dict[str, list[tuple[str, str]]] = {}
    senders: dict[str, type | None] = {}
    for task in removed:
        if task.position is None or not task.flow:
            continue
        if task.flow not in senders:
            senders[task.flow] = registry.find_entry_point(task.flow)
        events.abandoned(task.flow, task.task_id, task.position, senders[task.flow])
        per_flow.setdefault(task.flow, []).append((task.position, "abandoned"))
    if funnel.enabled():
        for flow, counts in per_flow.items():
            funnel.add(flow, counts)
    return sum(len(counts) for counts in per_flow.values())
