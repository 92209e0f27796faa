"""The view layer: one endpoint per URL of a flow, all driving the same engine.

A request names its task by id (in the query, or the form for a POST). The
endpoint checks the id, reads the record once, checks that it belongs to the
requester and to this flow, and hands the task to :mod:`flowmachine.web.step`,
which runs the step and saves the next version. A POST runs in a database
transaction with the action's own writes; a page view reads without one
(the rare GET that moves the task writes by version, and runs again under the
lock if another request got there first). Every refusal is a page of
:mod:`flowmachine.pages` with the right status, never a 500.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed
from django.urls import NoReverseMatch, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import http_date
from django.utils.translation import gettext_lazy as _

from flowmachine.backends.base import BaseStateStore, StateTooLargeError
from flowmachine.binding import binding_hash, matches, refresh_cookie
from flowmachine.conf import flow_settings
from flowmachine.engine import events, files
from flowmachine.engine.ids import is_valid_task_id
from flowmachine.engine.task import Task
from flowmachine.exceptions import (
    ConflictError,
    CorruptStateError,
    FinishError,
    FlowDefinitionError,
    StoreUnavailable,
    TaskError,
)
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.deploys import flow_names
from flowmachine.machine.places import Place
from flowmachine.pages import error_page
from flowmachine.record import SIGNED_OUT, Record
from flowmachine.web import provisional, step
from flowmachine.web.serving import Serving, same_site, store_alias

logger = logging.getLogger("flowmachine")

TOO_LARGE_MESSAGE = _("Your answers were too long to keep, so they were not saved. Shorten them and submit again.")

#: The longest value of a ``carry_query`` arg a "Start again" link passes on (longer ones are dropped).
MAX_CARRIED = 200

#: The methods a flow URL answers: GET and HEAD show a step, POST submits it.
METHODS = ("GET", "HEAD", "POST")

__all__ = ["FlowEndpoint", "broken_flow_view"]


class FlowEndpoint:
    """The Django view behind one URL of a flow: its entry or one of its actions."""

    def __init__(self, handler: Serving, flow: CompiledFlow, place: Place | None, entry: bool) -> None:
        self.handler = handler
        self.flow = flow
        self.place = place
        self.entry = entry

    def __call__(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        # Every answer of a flow URL is about one user's journey at one moment: never cached, so
        # the browser's Forward button and shared caches cannot replay a step the server moved past.
        response = add_no_store(self._answer(request, kwargs))
        refresh_cookie(flow_settings.FLOWS_TASK_BINDER, request, response)
        return response

    def _answer(self, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponseBase:
        if request.method not in METHODS:
            # PUT, PATCH, DELETE...: FormView would run post() for some of them, past the stale-page check.
            logger.info("Flow %s: %s %s refused (405)", self.flow.name, str(request.method)[:10], request.path[:200])
            return HttpResponseNotAllowed(METHODS)
        try:
            return self._serve(request, kwargs)
        except StoreUnavailable as exc:
            logger.error("State store unavailable for flow %s: %s", self.flow.name, exc)
            return self.page(request, "unavailable", status=503, restart_url=self.restart_url(request, kwargs))
        except (OperationalError, InterfaceError) as exc:
            # The database went away mid-request (opening the transaction, in an
            # action, or at commit): the transaction was rolled back, so retrying is safe.
            logger.error("Database unavailable for flow %s: %s", self.flow.name, exc)
            return self.page(request, "unavailable", status=503, restart_url=self.restart_url(request, kwargs))
        except ConflictError as exc:
            logger.warning("Concurrent change refused in flow %s: %s", self.flow.name, exc)
            here = same_site(request, request.get_full_path())
            return self.page(request, "conflict", status=409, continue_url=here)
        except StateTooLargeError as exc:
            # Rolled back with the request's transaction: the task is as it was before this request,
            # and its step is shown again saying so (the error page if it cannot be shown).
            logger.error("Task record of flow %s not saved: %s", self.flow.name, exc)
            shown = self.show_current(request, kwargs, str(TOO_LARGE_MESSAGE), status=413)
            if shown is not None:
                return shown
            return self.page(request, "too_large", status=413, continue_url=same_site(request, request.get_full_path()))
        except FinishError as exc:
            # A definition mistake (no on-complete URL) met at the last step: rolled back, so the
            # answers are kept. DEBUG shows the traceback and its hint; production a clear page.
            if settings.DEBUG:
                raise
            logger.error("Flow %s cannot finish: %s", self.flow.name, exc)
            return self.page(
                request, "cannot_finish", status=500, continue_url=same_site(request, request.get_full_path())
            )
        except CorruptStateError as exc:
            logger.error("Unusable task record in flow %s: %s", self.flow.name, exc)
            return self.page(request, "corrupt", status=410, restart_url=self.restart_url(request, kwargs))

    # -- the request ----------------------------------------------------------

    def _serve(self, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponseBase:
        param = flow_settings.FLOWS_TASK_ID_PARAM
        task_id = request.POST.get(param) if request.method == "POST" else None
        task_id = task_id or request.GET.get(param)
        if not task_id:
            if self.entry and request.method in ("GET", "HEAD"):
                return provisional.start(self, request, kwargs)
            return self.not_found(request, kwargs, "no task id")
        if not is_valid_task_id(task_id):
            return self.not_found(request, kwargs, "malformed task id")
        store = self.handler.get_store()
        if request.method in ("GET", "HEAD") and store.atomic_versions:
            try:
                return self._continue(request, kwargs, store, task_id)
            except ConflictError as exc:
                logger.info("GET in flow %s raced another request (%s): retried under the lock", self.flow.name, exc)
        with files.collecting(), transaction.atomic(using=store_alias(store)):
            response = self._continue(request, kwargs, store, task_id)
        step.note_first_save(request, store)
        return response

    def _continue(
        self, request: HttpRequest, kwargs: dict[str, Any], store: BaseStateStore, task_id: str
    ) -> HttpResponseBase:
        value = self.handler.existing_binder_value(request)
        # Read without refreshing the task's expiry unless the requester may be its owner.
        raw = store.get_state(task_id) if value is None else store.get_state_for(task_id, binding_hash(value, task_id))
        if raw is None:
            task = provisional.resume(self, request, kwargs, task_id)
            if task is not None:
                return step.run(self, request, kwargs, store, task)
            logger.info("Unknown or expired task %s… in flow %s", task_id[:8], self.flow.name)
            events.expired(request, self.flow, task_id, self.place.name if self.place else None)
            return self.page(request, "expired", status=410, restart_url=self.restart_url(request, kwargs))
        record = Record(raw)
        owner = task_id if record.binding_covers_id else None
        if value is None or not matches(record.binding, value, owner):
            return self.not_yours(request, kwargs, record, f"task {task_id[:8]}… is bound to another user")
        if record.flow not in flow_names(self.flow):
            return self.not_found(request, kwargs, f"task {task_id[:8]}… belongs to flow {record.flow!r}")
        if record.finished:
            logger.info("Request for finished task %s… in flow %s", task_id[:8], self.flow.name)
            return self.page(
                request,
                "finished",
                status=410,
                continue_url=same_site(request, record.done),
                restart_url=self.restart_url(request, kwargs),
            )
        task = Task.load(task_id, raw, self.flow, self.namespace(request))
        if task.relocated:
            logger.info("Task %s… of flow %s moved from %s to %s (%s)", task_id[:8], self.flow.name, *task.relocated)
        return step.run(self, request, kwargs, store, task)

    def show_current(
        self, request: HttpRequest, kwargs: dict[str, Any], message: str, *, status: int = 403
    ) -> HttpResponseBase | None:
        """The current step of the request's task shown afresh with *message* (*status*), changing nothing.

        None when the request names no task of this requester that can be shown.
        """
        param = flow_settings.FLOWS_TASK_ID_PARAM
        task_id = request.POST.get(param) or request.GET.get(param) or ""
        value = self.handler.existing_binder_value(request)
        if not is_valid_task_id(task_id) or value is None:
            return None
        try:
            raw = self.handler.get_store().get_state_for(task_id, binding_hash(value, task_id))
            record = Record(raw) if raw is not None else None
            if record is None or record.finished or record.flow not in flow_names(self.flow):
                return None
            if not matches(record.binding, value, task_id if record.binding_covers_id else None):
                return None
            task = Task.load(task_id, raw, self.flow, self.namespace(request))  # type: ignore[arg-type]
            return add_no_store(step.show_afresh(self, request, kwargs, task, message, status=status))
        except TaskError as exc:
            logger.info("Flow %s: could not show the current step after a refused POST: %s", self.flow.name, exc)
            return None

    # -- helpers --------------------------------------------------------------

    def namespace(self, request: HttpRequest) -> str | None:
        """The URL namespace the request came through (an instance namespace may differ from the app's)."""
        match = getattr(request, "resolver_match", None)
        if match is not None and match.namespace:
            return str(match.namespace)
        return self.handler.app_namespace

    def restart_url(self, request: HttpRequest, kwargs: dict[str, Any]) -> str | None:
        """Where a new task of this flow starts, for the "start again" link of a refusal.

        It keeps the path values of the root's URL, and the query args ``carry_query`` names that the
        refused URL carried (never read from the task: the requester may not be its owner).
        """
        namespace = self.namespace(request)
        name = self.flow.root.url_name
        try:
            kw = {k: v for k, v in kwargs.items() if k in self.flow.root.url_kwargs}
            path = reverse(f"{namespace}:{name}" if namespace else name, kwargs=kw or None)
        except NoReverseMatch:
            return None
        sent = {arg: request.GET.get(arg, "") for arg in getattr(self.flow.component, "carry_query", {})}
        query = {arg: value for arg, value in sent.items() if value and len(value) <= MAX_CARRIED}
        return f"{path}?{urlencode(query)}" if query else path

    def page(self, request: HttpRequest, kind: str, *, status: int, **context: Any) -> HttpResponse:
        """The refusal page *kind* of this flow, in the flow's own words (``Scaffold.noun``)."""
        return error_page(request, kind, status=status, noun=self.flow.component.noun, **context)

    def not_found(self, request: HttpRequest, kwargs: dict[str, Any], reason: str) -> HttpResponse:
        """404: no task, a malformed id, or another user's or another flow's task (*reason* is logged)."""
        logger.warning("Flow %s: 404 for %s (%s)", self.flow.name, request.path[:200], reason)
        return self.page(request, "not_found", status=404, restart_url=self.restart_url(request, kwargs))

    def not_yours(self, request: HttpRequest, kwargs: dict[str, Any], record: Record, reason: str) -> HttpResponse:
        """404: a task this requester's binding does not match (*reason* is logged).

        The page says what is true whoever asks: a browser that is signed out, asking for a task its
        owner's logout ended or one used while signed in, learns it ended with the sign-out
        (``signed_out``); anyone else that it was started elsewhere or ended with this browser's
        session (``not_yours``).
        """
        logger.warning("Flow %s: 404 for %s (%s)", self.flow.name, request.path[:200], reason)
        user = getattr(request, "user", None)
        signed_out = not getattr(user, "is_authenticated", False) and (
            record.binding == SIGNED_OUT or record.user is not None
        )
        kind = "signed_out" if signed_out else "not_yours"
        return self.page(request, kind, status=404, restart_url=self.restart_url(request, kwargs))


#: What ``add_never_cache_headers()`` sets on a response that has neither header yet.
_NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"


def add_no_store(response: HttpResponseBase) -> HttpResponseBase:
    """*response* with ``Cache-Control: no-store, private`` (and the rest of Django's never-cache headers)."""
    if response.has_header("Cache-Control") or response.has_header("Expires"):
        add_never_cache_headers(response)  # merged with what the response says already
    else:
        response.headers["Cache-Control"] = _NEVER_CACHE
        response.headers["Expires"] = http_date(time.time())
    return response


def broken_flow_view(flow: CompiledFlow) -> Any:
    """The view behind the URLs of a flow that failed to compile."""

    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        flow.raise_for_problems()
        raise FlowDefinitionError(f"Flow {flow.name!r} cannot run.")

    return view
