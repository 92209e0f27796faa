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

__all__ = ["DEFAULT_NOUN", "PAGES", "error_page"]

#: What each refusal says; ``%(noun)s`` is the flow's own word for itself (``Scaffold.noun``).
PAGES: dict[str, tuple[Any, Any]] = {
    "not_found": (
        _("Page not found"),
        _("This page belongs to a %(noun)s that was not started in this browser."),
    ),
    "signed_out": (
        _("This %(noun)s has ended"),
        _("You are signed out, so this %(noun)s has ended. Start again to go on."),
    ),
    "not_yours": (
        _("This %(noun)s cannot go on here"),
        _(
            "It was started in another browser, or it ended here when you signed out, signed in as "
            "someone else, or your session ran out."
        ),
    ),
    "expired": (
        _("This %(noun)s has expired"),
        _("It was left unused for too long, or it never existed. Your answers were not kept."),
    ),
    "finished": (
        _("This %(noun)s is complete"),
        _("It was already sent, so this step was not run again."),
    ),
    "conflict": (
        _("This step changed in another window"),
        _("Your answers arrived twice at the same time; the other ones were kept. Reload to continue."),
    ),
    "unavailable": (
        _("Temporarily unavailable"),
        _("We could not reach the place where your answers are kept. Nothing was lost; please try again in a moment."),
    ),
    "corrupt": (
        _("This %(noun)s cannot be continued"),
        _("Your saved answers no longer fit this %(noun)s, which may have changed since you started."),
    ),
    "too_large": (
        _("Your answers could not be kept"),
        _("They are more than this %(noun)s can keep. Nothing was changed: go back and shorten them."),
    ),
    "cannot_finish": (
        _("This %(noun)s cannot be finished right now"),
        _("Your answers are kept, but the site does not know where to take you next. Please try again later."),
    ),
    "missing_state": (
        _("Some earlier answers are missing"),
        _("This step needs information from an earlier step that was not given."),
    ),
}

#: What a flow calls itself on these pages when its root scaffold sets no ``noun``.
DEFAULT_NOUN = _("form")


def error_page(
    request: HttpRequest,
    kind: str,
    *,
    status: int,
    detail: str = "",
    restart_url: str | None = None,
    continue_url: str | None = None,
    noun: str | None = None,
) -> HttpResponse:
    """Render the page a user sees when a journey cannot go on (*noun*: the flow's word for itself)."""
    title, message = PAGES[kind]
    words = {"noun": noun or DEFAULT_NOUN}
    context = {
        "kind": kind,
        "title": title % words,
        "message": message % words,
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
