"""How many stored journeys one browser session may hold (``FLOWS_MAX_TASKS_PER_SESSION``).

A task is stored by its first accepted POST. Each one is noted in the
session; storing one more than the limit ends the session's oldest task (one
delete), so a script replaying a session cannot fill the store. Sessions
without the session framework (a custom binder) are not limited here.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest

from flowmachine.backends.base import BaseStateStore
from flowmachine.conf import flow_settings

__all__ = ["SESSION_KEY", "note_stored"]

logger = logging.getLogger("flowmachine")

#: Session key of the ids of the tasks this session stored, oldest first.
SESSION_KEY = "_flowmachine_tasks"


def note_stored(request: HttpRequest | None, store: BaseStateStore, task_id: str) -> str | None:
    """Note that *task_id* was just stored for this session; end the oldest over the limit (its id)."""
    session = getattr(request, "session", None)
    limit = int(flow_settings.FLOWS_MAX_TASKS_PER_SESSION or 0)
    if session is None or limit < 1:
        return None
    ids = [i for i in session.get(SESSION_KEY, []) if isinstance(i, str) and i != task_id]
    ids.append(task_id)
    ended = None
    if len(ids) > limit:
        ended = ids.pop(0)
        store.delete_state(ended)
        logger.info("Session's oldest task %s… ended: more than %d stored tasks", ended[:8], limit)
    session[SESSION_KEY] = ids
    return ended
