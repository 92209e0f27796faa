"""The pages a user sees when a journey cannot go on: forged ids, expiry, conflicts, outages.

Every refusal of the view layer and of the built-in preconditions renders
``flowmachine/error.html`` (override it in your templates) through
:func:`error_page`, with the status code that fits.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

__all__ = ["error_page", "PAGES"]

PAGES: dict[str, tuple[Any, Any]] = {
    "not_found": (
        _("Page not found"),
        _("This page belongs to a task that was not started in this browser session."),
    ),
    "expired": (
        _("This task has expired"),
        _("It was left unused for too long, or it never existed. Your answers were not kept."),
    ),
    "finished": (
        _("This task has finished"),
        _("It was already completed, so this step was not run again."),
    ),
    "conflict": (
        _("This step changed in another window"),
        _("Two requests for this task arrived at the same time; the other one was kept. Reload to continue."),
    ),
    "unavailable": (
        _("Temporarily unavailable"),
        _("We could not reach the place where your progress is kept. Nothing was lost; please try again in a moment."),
    ),
    "corrupt": (
        _("This task cannot be continued"),
        _("Its saved progress no longer fits this form, which may have changed since you started."),
    ),
    "too_large": (
        _("Your answers could not be kept"),
        _("They are more than this form can keep. Nothing was changed: go back and shorten them."),
    ),
    "missing_state": (
        _("Some earlier answers are missing"),
        _("This step needs information from an earlier step that was not given."),
    ),
}


def error_page(
    request: HttpRequest,
    kind: str,
    *,
    status: int,
    detail: str = "",
    restart_url: str | None = None,
    continue_url: str | None = None,
) -> HttpResponse:
    """Render the page a user sees when a task cannot go on."""
    title, message = PAGES[kind]
    context = {
        "kind": kind,
        "title": title,
        "message": message,
        "detail": detail,
        "restart_url": restart_url,
        "continue_url": continue_url,
        "status": status,
    }
    body = render_to_string(["flowmachine/error.html"], context, request=request)
    response = HttpResponse(body, status=status)
    if status == 503:
        response["Retry-After"] = "5"
    return response
