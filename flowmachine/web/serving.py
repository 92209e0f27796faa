"""What the parts of the view layer need of each other, and the URLs they may send a user to.

:class:`Serving` is what an endpoint reads of its handler
(:class:`flowmachine.FlowHandler` is one); :class:`Endpoint` is what running a
step reads of the endpoint (:class:`flowmachine.web.endpoint.FlowEndpoint`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, Union

from django.db import DEFAULT_DB_ALIAS
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from flowmachine.backends.base import BaseStateStore
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import Place

__all__ = ["CompleteUrl", "Endpoint", "Serving", "same_site", "store_alias"]

#: Where a finished task goes: a URL, or a callable ``(request, task_id, state) -> URL`` asked when it
#: finishes (a page naming what the journey made: ``/orders/42/``).
CompleteUrl = Union[str, Callable[[HttpRequest, str, Mapping[str, Any]], str]]  # noqa: UP007


class Serving(Protocol):
    """The handler serving a flow: its namespace, default completion URL, store and binder."""

    app_namespace: str | None
    on_complete_url: CompleteUrl | None

    @property
    def flows(self) -> Mapping[Any, CompiledFlow]: ...

    def get_store(self) -> BaseStateStore: ...

    def binder_value(self, request: HttpRequest) -> str: ...

    def existing_binder_value(self, request: HttpRequest) -> str | None: ...


class Endpoint(Protocol):
    """The view of one URL of a flow: its entry (``place`` None) or one of its actions."""

    handler: Serving
    flow: CompiledFlow
    place: Place | None

    def namespace(self, request: HttpRequest) -> str | None: ...

    def restart_url(self, request: HttpRequest, kwargs: dict[str, Any]) -> str | None: ...


def same_site(request: HttpRequest, url: str | None) -> str | None:
    """*url* if following it stays on this site, else None (no open redirect through a flow)."""
    if not url:
        return None
    ok = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return url if ok else None


def store_alias(store: BaseStateStore) -> str:
    """The database whose transaction a request runs in: the store's, else the default."""
    return store.db_alias or DEFAULT_DB_ALIAS
