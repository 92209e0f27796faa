"""Celery task removing expired flow tasks, the successor of django-flows' task.

Schedule it with Celery beat, e.g. every ten minutes::

    app.conf.beat_schedule = {
        "flowmachine-cleanup": {"task": "flowmachine.cleanup", "schedule": 600.0},
    }

Needs Celery: ``pip install "django-flowmachine[celery]"``.
"""

from __future__ import annotations

from typing import Any

try:
    from celery import shared_task
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        f'flowmachine.contrib.celery needs Celery: pip install "django-flowmachine[celery]" ({exc})'
    ) from exc

__all__ = ["cleanup_task", "TASK_NAME"]

#: The registered task name, for beat schedules and ``send_task``.
TASK_NAME = "flowmachine.cleanup"


@shared_task(name=TASK_NAME, ignore_result=False)
def cleanup_task(batch_size: int | None = None, store: str | None = None) -> dict[str, Any]:
    """Delete expired tasks of *store* (default ``FLOWS_STATE_STORE``) like ``manage.py cleanupflows``."""
    # Celery imports this module (``imports=[...]``) before Django is set up: the
    # cleanup code holds models, so it is imported when the task runs.
    from flowmachine.backends import get_store
    from flowmachine.engine.cleanup import cleanup

    result = cleanup(get_store(store), batch_size=batch_size)
    return {
        "store": result.store,
        "removed": result.removed,
        "abandoned": result.abandoned,
        "files": result.files,
        "note": result.note,
    }
