"""The stored journeys of one browser session: at most ``FLOWS_MAX_TASKS_PER_SESSION``, ended at logout.

A task is stored by its first accepted POST. Each one is noted in the
session; storing one more than the limit ends the session's oldest task (one
delete), so a script replaying a session cannot fill the store. Sessions
without the session framework (a custom binder) are not limited here.

With the default binder and its cookie (``FLOWS_BINDER_COOKIE_AGE``) the
notes are kept even without a limit: the cookie lets a step skip the session
read, so logging out ends the session's tasks by saving them bound to no one
(:func:`noted` lists them for the logout) rather than by the binder no longer
matching.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest

from flowmachine.backends.base import BaseStateStore
from flowmachine.binding import cookie_age, session_binder
from flowmachine.conf import flow_settings

__all__ = ["SESSION_KEY", "note_stored", "noted"]

logger = logging.getLogger("flowmachine")

#: Session key of the ids of the tasks this session stored, oldest first.
SESSION_KEY = "_flowmachine_tasks"

#: Without a limit, how many of the newest ids are noted for logout to end.
NOTED_WITHOUT_LIMIT = 50


def _noting() -> bool:
    """Whether stored tasks are noted for logout: the default binder vouched for by its cookie."""
    return flow_settings.FLOWS_TASK_BINDER is session_binder and cookie_age() > 0


def note_stored(request: HttpRequest | None, store: BaseStateStore, task_id: str) -> str | None:
    """Note that *task_id* was just stored for this session; end the oldest over the limit (its id)."""
    session = getattr(request, "session", None)
    limit = int(flow_settings.FLOWS_MAX_TASKS_PER_SESSION or 0)
    if session is None or (limit < 1 and not _noting()):
        return None
    ids = [i for i in session.get(SESSION_KEY, []) if isinstance(i, str) and i != task_id]
    ids.append(task_id)
    ended = None
    if limit >= 1 and len(ids) > limit:
        ended = ids.pop(0)
        store.delete_state(ended)
        logger.info("Session's oldest task %s… ended: more than %d stored tasks", ended[:8], limit)
    session[SESSION_KEY] = ids[-NOTED_WITHOUT_LIMIT:] if limit < 1 else ids
    return ended


def noted(request: HttpRequest | None) -> list[str]:
    """The ids of the tasks this request's session stored, oldest first (read as logout ends them)."""
    session = getattr(request, "session", None)
    if session is None:
        return []
    return [i for i in session.get(SESSION_KEY, []) if isinstance(i, str)]
