"""Binding a task to the user who started it (``FLOWS_TASK_BINDER``).

A binder is a callable taking the request and returning a string that only
that user's requests produce. The task record keeps a keyed hash of it and
every request must produce the same value.

The default binder's value is a secret in the session's data. So that a step
need not read the session only for it, flow responses also send it back in a
cookie (:data:`COOKIE_NAME`) signed together with the session key and the time:
a request whose session has not been loaded takes the secret from that cookie
while the browser sends the same session key, for ``FLOWS_BINDER_COOKIE_AGE``
seconds. Logging out (a new key, or none) and ``login()`` (a new key) void the
cookie, so the session decides again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes

from flowmachine.conf import flow_settings

SESSION_KEY = "_flowmachine_binder"

#: The cookie carrying the session's binder secret, signed with the session key it was read under.
COOKIE_NAME = "flowmachine_binder"


def session_binder(request: HttpRequest) -> str:
    """Bind to a random secret kept in the session's data.

    Unlike the session key, the data survives ``django.contrib.auth.login()``,
    so a user who logs in mid-flow keeps the task. Logging out ends it. When
    ``login()`` flushes the session (another user was logged in, or the
    password changed), the task whose step logged in is bound to the new
    session; the browser's other tasks end, as at logout. While the session is
    not loaded, the binder cookie stands for it (see the module's docstring).
    """
    session = getattr(request, "session", None)
    if session is None:
        raise ImproperlyConfigured(
            "flowmachine's default FLOWS_TASK_BINDER needs "
            "django.contrib.sessions.middleware.SessionMiddleware in MIDDLEWARE."
        )
    if not session.accessed:
        vouched = cookie_secret(request)
        if vouched is not None:
            return vouched
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
        if session is None:
            return None
        if not session.accessed:
            vouched = cookie_secret(request)
            if vouched is not None:
                return vouched
        value = session.get(SESSION_KEY)
        return str(value) if value else None
    return str(binder(request))


_KEYS: dict[tuple[str, bytes], bytes] = {}


def _hmac(salt: str, message: str) -> str:
    """``salted_hmac(salt, message, algorithm="sha256").hexdigest()``, its key derived once per secret key."""
    secret = force_bytes(settings.SECRET_KEY)
    key = _KEYS.get((salt, secret))
    if key is None:
        if len(_KEYS) > 16:  # SECRET_KEY changed (tests): forget the old keys
            _KEYS.clear()
        key = _KEYS[(salt, secret)] = hashlib.sha256(salt.encode() + secret).digest()
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _cookie_signature(secret: str, session_key: str, issued: str) -> str:
    return _hmac("flowmachine.binding.cookie", f"{session_key}\0{issued}\0{secret}")[:32]


def cookie_age() -> int:
    """Seconds the binder cookie stands for the session (``FLOWS_BINDER_COOKIE_AGE``); 0: not used."""
    return max(0, int(flow_settings.FLOWS_BINDER_COOKIE_AGE or 0))


def cookie_secret(request: HttpRequest) -> str | None:
    """The binder secret the cookie vouches for, if it was signed with the session key sent now, lately (else None).

    Reads no session: the key is the session cookie's value.
    """
    age = cookie_age()
    raw = getattr(request, "COOKIES", {}).get(COOKIE_NAME)
    session = getattr(request, "session", None)
    key = session.session_key if session is not None else None
    if not age or not raw or not key:
        return None
    secret, issued, signature = (raw.split(":") + ["", ""])[:3]
    if not (secret and issued.isdigit()) or not constant_time_compare(
        signature, _cookie_signature(secret, key, issued)
    ):
        return None
    if not 0 <= time.time() - int(issued) <= age:
        return None
    return str(secret)


def refresh_cookie(binder: Any, request: HttpRequest, response: HttpResponseBase) -> None:
    """Send the binder cookie when this request read the session and the browser's copy is missing or old.

    Only for the default binder. A session without a key yet (created by this
    response) gets its cookie on the next flow request; a session without a
    secret (a stranger, or after logout) drops it.
    """
    session = getattr(request, "session", None)
    if binder is not session_binder or session is None or not cookie_age():
        return
    patch_vary_headers(response, ("Cookie",))  # the answer depends on the binder cookie
    if not session.accessed:  # the cookie stood for the session, or there is none to send
        return
    secret, key = session.get(SESSION_KEY), session.session_key
    sent = getattr(request, "COOKIES", {}).get(COOKIE_NAME)
    if secret and key:
        if cookie_secret(request) == secret and time.time() - int(str(sent).split(":")[1]) < cookie_age() / 2:
            return  # good for a while yet: the session, read anyway, agrees
        issued = str(int(time.time()))
        response.set_cookie(
            COOKIE_NAME,
            f"{secret}:{issued}:{_cookie_signature(str(secret), key, issued)}",
            max_age=cookie_age(),
            path=settings.SESSION_COOKIE_PATH,
            domain=settings.SESSION_COOKIE_DOMAIN,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )
    elif sent:
        response.delete_cookie(
            COOKIE_NAME,
            path=settings.SESSION_COOKIE_PATH,
            domain=settings.SESSION_COOKIE_DOMAIN,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )


def binding_hash(value: str, task_id: str | None = None) -> str:
    """The keyed hash of a binder value, over the task's id, that task records keep.

    Covering the id makes each task's binding its own: a record's binding
    cannot be copied onto another task. ``task_id`` None is the hash of
    records of format 1, which did not cover it.
    """
    message = value if task_id is None else f"{task_id}\0{value}"
    return _hmac("flowmachine.binding", message)[:32]


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
