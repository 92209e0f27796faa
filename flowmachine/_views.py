"""The view layer: one endpoint per URL of a flow, all driving the same engine.

A request restores its task from the store, rewinds or redirects if it is for
another step than the current one, runs preconditions and the action, applies
the outcome to the compiled machine, and saves the next version of the record:
for a POST in the same database transaction as the action's own writes; a page
view reads without one.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, QueryDict
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from flowmachine import _events
from flowmachine._engine import JUMP_PARAM, VERSION_PARAM, Task, is_valid_task_id
from flowmachine._ids import is_fresh_provisional, new_task_id
from flowmachine._machine import CompiledFlow, Place
from flowmachine._migrate import flow_names
from flowmachine.binding import binding_hash, matches, provisional_binding
from flowmachine.components import _Jump
from flowmachine.conf import flow_settings
from flowmachine.exceptions import (
    ConflictError,
    CorruptStateError,
    FlowDefinitionError,
    InvalidJump,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from flowmachine.handler import FlowHandler

logger = logging.getLogger("flowmachine")

ON_COMPLETE_PARAM = "_on_complete"

_PAGES: dict[str, tuple[Any, Any]] = {
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
    title, message = _PAGES[kind]
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


class FlowEndpoint:
    """The Django view behind one URL of a flow: its entry or one of its actions."""

    def __init__(self, handler: FlowHandler, flow: CompiledFlow, place: Place | None, entry: bool) -> None:
        self.handler = handler
        self.flow = flow
        self.place = place
        self.entry = entry

    def __call__(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        try:
            return self._serve(request, kwargs)
        except StoreUnavailable as exc:
            logger.error("State store unavailable for flow %s: %s", self.flow.name, exc)
            return error_page(request, "unavailable", status=503, restart_url=self._restart(request, kwargs))
        except (OperationalError, InterfaceError) as exc:
            # The database went away mid-request (opening the transaction, in an
            # action, or at commit): the transaction was rolled back, so retrying is safe.
            logger.error("Database unavailable for flow %s: %s", self.flow.name, exc)
            return error_page(request, "unavailable", status=503, restart_url=self._restart(request, kwargs))
        except ConflictError as exc:
            logger.warning("Concurrent change refused in flow %s: %s", self.flow.name, exc)
            here = _same_site(request, request.get_full_path())
            return error_page(request, "conflict", status=409, continue_url=here)
        except CorruptStateError as exc:
            logger.error("Unusable task record in flow %s: %s", self.flow.name, exc)
            return error_page(request, "corrupt", status=410, restart_url=self._restart(request, kwargs))

    # -- the request ----------------------------------------------------------

    def _serve(self, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponseBase:
        param = flow_settings.FLOWS_TASK_ID_PARAM
        task_id = request.POST.get(param) if request.method == "POST" else None
        task_id = task_id or request.GET.get(param)
        if not task_id:
            if self.entry and request.method in ("GET", "HEAD"):
                return self._start(request, kwargs)
            return self._not_found(request, kwargs, "no task id")
        if not is_valid_task_id(task_id):
            return self._not_found(request, kwargs, "malformed task id")
        store = self.handler.get_store()
        if request.method in ("GET", "HEAD") and getattr(store, "atomic_versions", False):
            # A page view reads without a lock or a transaction; the rare GET that
            # moves the task (a link, the back button) writes by version, and if
            # another request got there first it runs again under the lock.
            try:
                return self._continue(request, kwargs, store, task_id)
            except ConflictError as exc:
                logger.info("GET in flow %s raced another request (%s): retried under the lock", self.flow.name, exc)
        with transaction.atomic(using=_store_alias(store)):
            return self._continue(request, kwargs, store, task_id)

    def _continue(self, request: HttpRequest, kwargs: dict[str, Any], store: Any, task_id: str) -> HttpResponseBase:
        record = store.get_state(task_id)
        if record is None:
            provisional = self._provisional(request, kwargs, task_id)
            if provisional is not None:
                return self._step(request, kwargs, store, provisional)
            logger.info("Unknown or expired task %s… in flow %s", task_id[:8], self.flow.name)
            _events.expired(request, self.flow, task_id, self.place.name if self.place else None)
            return error_page(request, "expired", status=410, restart_url=self._restart(request, kwargs))
        if not matches(str(record.get("bind", "")), self.handler.binder_value(request)):
            return self._not_found(request, kwargs, f"task {task_id[:8]}… is bound to another user")
        if record.get("flow") not in flow_names(self.flow):
            return self._not_found(request, kwargs, f"task {task_id[:8]}… belongs to flow {record.get('flow')!r}")
        if "done" in record:
            logger.info("Request for finished task %s… in flow %s", task_id[:8], self.flow.name)
            return error_page(
                request,
                "finished",
                status=410,
                continue_url=record.get("done"),
                restart_url=self._restart(request, kwargs),
            )
        task = Task(task_id, record, self.flow, self._namespace(request))
        if task.relocated:
            logger.info("Task %s… of flow %s moved from %s to %s (%s)", task_id[:8], self.flow.name, *task.relocated)
        return self._step(request, kwargs, store, task)

    def _step(self, request: HttpRequest, kwargs: dict[str, Any], store: Any, task: Task) -> HttpResponseBase:
        task.record.setdefault("kw", {}).update({k: str(v) for k, v in kwargs.items()})
        place = self.place
        if place is None or place is not task.current_place:
            if place is not None and place.name in task.history and place.is_action:
                task.rewind(place)
            else:
                if request.method == "POST":
                    logger.info(
                        "POST for %s while task %s… is at %s: redirected", place, task.id[:8], task.current_place
                    )
                return HttpResponseRedirect(task.url_for(request, task.current_place))
        elif request.method == "POST" and not task.provisional and _is_stale(request, task):
            return self._refuse_stale(request, kwargs, task)
        response = self._run(request, kwargs, task)
        write = self._write_needed(request, task)
        if write is None:
            task.events.clear()
            return response
        if write == "touch":  # only keeps the task alive: no signals, no transaction of its own
            store.touch(task.id)
            return response
        alias = _store_alias(store)
        # POSTs are already in the request's transaction; a GET that writes opens one here.
        in_transaction = transaction.get_connection(alias).in_atomic_block
        with contextlib.nullcontext() if in_transaction else transaction.atomic(using=alias):
            counts = _events.before_save(request, task)
            self._save(request, store, task)
            _events.after_save(request, self.flow, task, counts)
        return response

    def _run(self, request: HttpRequest, kwargs: dict[str, Any], task: Task) -> HttpResponseBase:
        scaffolds, action = task.bind(request, kwargs)
        refusal = task.check_preconditions(request, [*scaffolds, action])
        if refusal is not None:
            return refusal.response
        if request.method in ("GET", "HEAD") and JUMP_PARAM in request.GET and JUMP_PARAM not in task.carry:
            response: Any = self._follow_link(request, task, request.GET[JUMP_PARAM])
        else:
            for scaffold in scaffolds:
                scaffold.prepare(request)
            result = action.dispatch(request, **kwargs)
            if isinstance(result, HttpResponseBase):
                response = result
            else:
                response = self._apply(request, task, result)
        for scaffold in reversed(scaffolds):
            response = scaffold.handle_response(response) or response
        return response  # type: ignore[no-any-return]

    def _apply(self, request: HttpRequest, task: Task, outcome: Any) -> HttpResponseBase:
        task.carry.clear()  # this change writes the record: URLs need not carry the start any more
        try:
            place = task.advance(outcome)
        except InvalidJump:
            logger.exception("Invalid jump in flow %s", self.flow.name)
            raise
        if place is None:
            return self._finish(request, task)
        return HttpResponseRedirect(task.url_for(request, place))

    def _follow_link(self, request: HttpRequest, task: Task, target: str) -> HttpResponseBase:
        """A ``link_to`` link: jump from the current step, keeping the link's other query args."""
        from flowmachine.components import _Jump

        try:
            place = task.advance(_Jump(target))
        except InvalidJump as exc:
            logger.warning("Refused link jump: %s", exc)
            return HttpResponseRedirect(task.url_for(request, task.current_place))
        if place is None:
            return self._finish(request, task)
        if task.provisional:
            task.carry[JUMP_PARAM] = target  # replayed by the target's page: nothing is stored yet
        skip = {flow_settings.FLOWS_TASK_ID_PARAM, JUMP_PARAM}
        query = {k: request.GET.getlist(k) for k in request.GET if k not in skip}
        return HttpResponseRedirect(task.url_for(request, place, query))

    def _finish(self, request: HttpRequest, task: Task) -> HttpResponseBase:
        task.done_url = self._completion_url(request, task)
        return HttpResponseRedirect(task.done_url)

    def _completion_url(self, request: HttpRequest, task: Task) -> str:
        wanted = task.record.get("next")
        if wanted and url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return str(wanted)
        if wanted:
            logger.warning("Refused on-complete URL %r of task %s…", wanted, task.id[:8])
        default = self.handler.on_complete_url
        if default:
            return str(default)
        raise FlowDefinitionError(
            f"Flow {self.flow.name!r} completed but has nowhere to go: pass "
            f"on_complete_url to flow_entry_link() or ?{ON_COMPLETE_PARAM}=, or set "
            f"FlowHandler(on_complete_url=...)."
        )

    def _write_needed(self, request: HttpRequest, task: Task) -> Literal["put", "touch"] | None:
        """What this request must write: ``"put"`` (a new version), ``"touch"`` (keep it alive) or None."""
        if task.provisional:
            # Lazy creation: the first POST that changes the task writes its first record.
            if request.method != "POST" or not (task.finished or task.journal_changes() or task.modified):
                return None
            return "put"
        if task.finished or task.journal_changes() or task.modified:
            return "put"
        if time.time() - int(task.record.get("accessed", 0)) > _touch_interval():
            return "touch"
        return None

    def _save(self, request: HttpRequest, store: Any, task: Task) -> None:
        """Write the task's next version (or its finished marker)."""
        # Bound again at every write: the request was the owner's, and a login() in its step may have
        # flushed the session (another user, a new password) and the binder's secret with it.
        task.record["bind"] = binding_hash(self.handler.binder_value(request))
        if task.finished:
            store.put_state(task.id, task.finished_record(task.done_url))
        else:
            store.put_state(task.id, task.next_record())

    # -- starting -------------------------------------------------------------

    def _start(self, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponseBase:
        task = self._new_provisional(request, kwargs, new_task_id(self.flow.name, provisional_binding(request)))
        skip = {ON_COMPLETE_PARAM, flow_settings.FLOWS_TASK_ID_PARAM, JUMP_PARAM, VERSION_PARAM}
        query = {k: request.GET.getlist(k) for k in request.GET if k not in skip}
        return HttpResponseRedirect(task.url_for(request, task.current_place, query))

    def _new_provisional(self, request: HttpRequest, kwargs: dict[str, Any], task_id: str) -> Task:
        """A task with an id but no record: nothing is stored until its first change (lazy creation)."""
        on_complete = request.GET.get(ON_COMPLETE_PARAM)
        if on_complete and not url_has_allowed_host_and_scheme(
            on_complete, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            logger.warning("Ignored unsafe %s=%r in flow %s", ON_COMPLETE_PARAM, on_complete, self.flow.name)
            on_complete = None
        task = Task.start(
            self.flow,
            self._namespace(request),
            None,
            on_complete=on_complete,
            url_kwargs=kwargs,
            task_id=task_id,
        )
        task.provisional = True
        if on_complete:
            task.carry[ON_COMPLETE_PARAM] = on_complete
        return task

    def _provisional(self, request: HttpRequest, kwargs: dict[str, Any], task_id: str) -> Task | None:
        """The provisional task of an id this server issued recently, else None (unknown or expired)."""
        binding = provisional_binding(request)
        if not is_fresh_provisional(task_id, self.flow.name, binding, float(flow_settings.FLOWS_TASK_IDLE_TIMEOUT)):
            return None
        task = self._new_provisional(request, kwargs, task_id)
        target = request.GET.get(JUMP_PARAM)
        if target and self.place is not None and self.place is not task.current_place:
            # The page a link on the first step jumped to: replay the jump.
            try:
                if task.advance(_Jump(target)) is not None:
                    task.carry[JUMP_PARAM] = target
            except InvalidJump:
                logger.warning("Refused replayed link jump to %r in flow %s", target, self.flow.name)
                return None
        if self.place is not None and self.place is not task.current_place:
            return None  # a later step of a task without a record: it expired (or was lost)
        sent = request.POST.get(VERSION_PARAM) if request.method == "POST" else None
        if sent is not None and sent != str(task.moved_at):
            return None  # a page shown from a saved record (back on the first step), which is gone
        return task

    def _refuse_stale(self, request: HttpRequest, kwargs: dict[str, Any], task: Task) -> HttpResponseBase:
        """A POST from a page older than the task's last move: show the current step afresh, change nothing."""
        logger.info(
            "Stale POST for %s of task %s… (page of change %r, task at %d): refused",
            task.current_place.name,
            task.id[:8],
            request.POST.get(VERSION_PARAM),
            task.moved_at,
        )
        fresh = copy.copy(request)
        fresh.method = "GET"
        query = request.GET.copy()
        query.pop(JUMP_PARAM, None)
        fresh.GET = query  # type: ignore[assignment]  # a copy of the request's own GET
        fresh.POST = QueryDict()
        task.record["err"] = [str(STALE_MESSAGE)]
        response = self._run(fresh, kwargs, task)
        if response.status_code == 200:
            response.status_code = 409
        return response

    # -- helpers --------------------------------------------------------------

    def _namespace(self, request: HttpRequest) -> str | None:
        match = getattr(request, "resolver_match", None)
        if match is not None and match.namespace:
            return str(match.namespace)
        return self.handler.app_namespace

    def _restart(self, request: HttpRequest, kwargs: dict[str, Any]) -> str | None:
        from django.urls import NoReverseMatch, reverse

        namespace = self._namespace(request)
        name = self.flow.root.url_name
        try:
            kw = {k: v for k, v in kwargs.items() if k in self.flow.root.url_kwargs}
            return reverse(f"{namespace}:{name}" if namespace else name, kwargs=kw or None)
        except NoReverseMatch:
            return None

    def _not_found(self, request: HttpRequest, kwargs: dict[str, Any], reason: str) -> HttpResponse:
        logger.warning("Flow %s: 404 for %s (%s)", self.flow.name, request.path, reason)
        return error_page(request, "not_found", status=404, restart_url=self._restart(request, kwargs))


STALE_MESSAGE = _(
    "This page was out of date: the task changed in another window or tab since it was shown. "
    "Here is the current step; check it and submit again."
)


def _is_stale(request: HttpRequest, task: Task) -> bool:
    """Whether a POST for the current step comes from a page rendered before the task's last move.

    A form without the version field (a template not using ``{% flow_form_header %}``) is never stale.
    """
    sent = request.POST.get(VERSION_PARAM)
    return sent is not None and sent != str(task.moved_at)


def _same_site(request: HttpRequest, url: str) -> str | None:
    """*url* if following it stays on this site, else None (no open redirect through error pages)."""
    ok = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return url if ok else None


def _store_alias(store: Any) -> str:
    """The database whose transaction a request runs in: the db store's, else the default."""
    return getattr(store, "db_alias", None) or DEFAULT_DB_ALIAS


def _touch_interval() -> float:
    return min(60.0, float(flow_settings.FLOWS_TASK_IDLE_TIMEOUT) / 10)


def broken_flow_view(flow: CompiledFlow) -> Any:
    """The view behind the URLs of a flow that failed to compile."""

    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        flow.raise_for_problems()
        raise FlowDefinitionError(f"Flow {flow.name!r} cannot run.")

    return view


__all__ = ["FlowEndpoint", "error_page", "broken_flow_view", "urlencode"]
