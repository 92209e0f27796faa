"""A ``CSRF_FAILURE_VIEW`` for sites with flows: a refused POST of a flow shows its step again.

Logging in rotates the CSRF token, so a form left open in another tab fails
Django's CSRF check with a bare 403. Set ``CSRF_FAILURE_VIEW =
"flowmachine.csrf_failure"``: on a flow URL the user sees the current step of
that journey again, with a message to submit again (status 403, nothing
changed); anywhere else Django's own view answers.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils.translation import gettext_lazy as _
from django.views.csrf import csrf_failure as django_csrf_failure

from flowmachine.web.endpoint import FlowEndpoint

__all__ = ["CSRF_MESSAGE", "csrf_failure"]

CSRF_MESSAGE = _(
    "This form could not be sent: you may have signed in or out in another window. "
    "Your answers were not sent; please check them and submit again."
)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponseBase:
    """Django's CSRF failure view, showing a flow's current step again on the flow's own URLs."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        match = None
    if match is not None and isinstance(match.func, FlowEndpoint):
        request.resolver_match = match
        shown = match.func.show_current(request, match.kwargs, str(CSRF_MESSAGE))
        if shown is not None:
            return shown
    return django_csrf_failure(request, reason=reason)
