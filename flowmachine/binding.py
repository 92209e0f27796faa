"""Binding a task to the user who started it (``FLOWS_TASK_BINDER``).

A binder is a callable taking the request and returning a string that only
that user's requests produce. The task record keeps a keyed hash of it and
every request must produce the same value.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils.crypto import constant_time_compare, salted_hmac

from flowmachine.conf import flow_settings

SESSION_KEY = "_flowmachine_binder"


def session_binder(request: HttpRequest) -> str:
    """Bind to a random secret kept in the session's data.

    Unlike the session key, the data survives ``django.contrib.auth.login()``,
    so a user who logs in mid-flow keeps the task. Logging out ends it. When
    ``login()`` flushes the session (another user was logged in, or the
    password changed), the task whose step logged in is bound to the new
    session; the browser's other tasks end, as at logout.
    """
    session = getattr(request, "session", None)
    if session is None:
        raise ImproperlyConfigured(
            "flowmachine's default FLOWS_TASK_BINDER needs "
            "django.contrib.sessions.middleware.SessionMiddleware in MIDDLEWARE."
        )
    value = session.get(SESSION_KEY)
    if not value:
        value = session[SESSION_KEY] = secrets.token_urlsafe(24)
    return str(value)


def existing_value(binder: Any, request: HttpRequest) -> str | None:
    """The binder's value for *request* if it has one already, without creating one (None: it has none).

    A request that is refused (another user's task, an expired one) must leave
    nothing behind: with the default binder, asking for the value would store
    a new secret in a new session. Other binders are asked as usual.
    """
    if binder is session_binder:
        session = getattr(request, "session", None)
        value = session.get(SESSION_KEY) if session is not None else None
        return str(value) if value else None
    return str(binder(request))


def binding_hash(value: str, task_id: str | None = None) -> str:
    """The keyed hash of a binder value, over the task's id, that task records keep.

    Covering the id makes each task's binding its own: a record's binding
    cannot be copied onto another task. ``task_id`` None is the hash of
    records of format 1, which did not cover it.
    """
    message = value if task_id is None else f"{task_id}\0{value}"
    return salted_hmac("flowmachine.binding", message, algorithm="sha256").hexdigest()[:32]


def matches(stored: str | None, value: str, task_id: str | None = None) -> bool:
    """Compare a stored binding with a request's binder value in constant time."""
    return bool(stored) and constant_time_compare(str(stored), binding_hash(value, task_id))


def provisional_binding(request: HttpRequest) -> str:
    """What a task id is bound to before its record exists (lazy creation), without any server-side write.

    It is the secret of the CSRF cookie (set on the response if missing), so a
    crawler's visits store nothing and another browser cannot use the id.
    Without ``CsrfViewMiddleware`` the configured ``FLOWS_TASK_BINDER`` is used.
    """
    if "django.middleware.csrf.CsrfViewMiddleware" not in getattr(settings, "MIDDLEWARE", ()):
        return str(flow_settings.FLOWS_TASK_BINDER(request))
    get_token(request)
    return str(request.META.get("CSRF_COOKIE") or "")
