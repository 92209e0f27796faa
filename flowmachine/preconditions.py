"""Preconditions: checks run before a component handles a request.

Any object with ``process(request, component)`` returning None (go on) or an
``HttpResponse`` (answer with it instead) is a precondition. They run root
scaffold first, action last, and the first response wins.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase

from flowmachine.pages import error_page

if TYPE_CHECKING:
    from flowmachine.components import FlowComponent

logger = logging.getLogger(__name__)

__all__ = ["Precondition", "RequiredState", "LoginRequired"]


class Precondition:
    """Base class for preconditions (subclassing it is optional)."""

    def process(self, request: HttpRequest, component: FlowComponent) -> HttpResponseBase | None:
        raise NotImplementedError("preconditions must implement process(request, component)")


class RequiredState(Precondition):
    """Refuse the component unless every named key is set in the task's state."""

    def __init__(self, *keys: str) -> None:
        if not keys:
            raise TypeError("RequiredState needs at least one state key")
        self.keys = keys

    def process(self, request: HttpRequest, component: Any) -> HttpResponseBase | None:
        missing = [key for key in self.keys if key not in component.state]
        if not missing:
            return None
        task = component.task
        logger.warning(
            "Task %s… of flow %s reached %s without state %s",
            task.id[:8],
            task.flow.name,
            component.place.name,
            ", ".join(missing),
        )
        return error_page(
            request,
            "missing_state",
            status=409,
            detail=", ".join(missing),
            restart_url=task.urls.restart(),
            noun=task.flow.component.noun,
        )

    def __repr__(self) -> str:
        return f"RequiredState{self.keys!r}"


class LoginRequired(Precondition):
    """Send anonymous users to log in, with a ``next`` that returns into the same task."""

    def __init__(self, login_url: str | None = None) -> None:
        self.login_url = login_url

    def process(self, request: HttpRequest, component: Any) -> HttpResponseBase | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return redirect_to_login(component.task.urls.resume(), self.login_url)

    def __repr__(self) -> str:
        return f"LoginRequired(login_url={self.login_url!r})"


#: django-flows preconditions that were renamed: old name -> new name.
_RENAMED = {"EnsureAuthenticated": "LoginRequired"}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        raise ImportError(
            f"{name} (django-flows) is flowmachine.preconditions.{_RENAMED[name]}: "
            f"it redirects to the login page and comes back into the same task."
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
