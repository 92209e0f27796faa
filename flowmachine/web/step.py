"""Running one step of a task for a request, and saving what it changed.

:func:`run` rewinds or redirects when the request is for another step than
the current one, refuses a POST from an out-of-date page, runs the
preconditions, the scaffolds' hooks and the action, applies the outcome to the
compiled machine (through :class:`~flowmachine.engine.task.Task`, as the test
replay does) and writes the next version of the record, or only keeps the task
alive, or writes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from types import MappingProxyType
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from flowmachine.backends.base import BaseStateStore, StateTooLargeError, max_state_bytes
from flowmachine.binding import binding_hash
from flowmachine.codec import packb
from flowmachine.components import Jump
from flowmachine.conf import flow_settings
from flowmachine.engine import events, files, quota
from flowmachine.engine.path import RETURN_PARAM
from flowmachine.engine.task import Task
from flowmachine.engine.urls import JUMP_PARAM, SIGNATURE_PARAM, VERSION_PARAM, is_signed_jump
from flowmachine.exceptions import FinishError, FlowDefinitionError, InvalidJump
from flowmachine.web.provisional import ON_COMPLETE_PARAM
from flowmachine.web.serving import Endpoint, same_site, store_alias

logger = logging.getLogger("flowmachine")

__all__ = ["STALE_MESSAGE", "note_first_save", "run", "show_afresh"]

STALE_MESSAGE = _(
    "This page was out of date: your answers changed in another window or tab since it was shown. "
    "Here is the current step; check it and submit again."
)


def run(
    endpoint: Endpoint, request: HttpRequest, kwargs: dict[str, Any], store: BaseStateStore, task: Task
) -> HttpResponseBase:
    """Serve *request* for *task* at *endpoint*'s step, and save what changed."""
    place = endpoint.place
    bound = task.url_kwargs
    if any(key in bound and bound[key] != str(value) for key, value in kwargs.items()):
        # The path values belong to the task (recorded when it started): another product id in
        # the URL is the task's own URL for that step, never a change of the task.
        logger.info("Flow %s: path values of task %s… differ from its own: redirected", endpoint.flow.name, task.id[:8])
        return HttpResponseRedirect(task.urls.url_for(place if place is not None else task.current_place))
    for key, value in kwargs.items():
        bound.setdefault(key, str(value))
    if place is None or place is not task.current_place:
        changing = place is not None and _is_signed_change(request, task, place)
        if place is not None and place.name in task.history and place.is_action:
            summary = task.current_place.name
            task.rewind(place)
            if changing:  # a summary's Change link: come back to the summary once changed
                task.record.returning = summary
        elif changing and place is not None and place.name == task.record.returning:
            task.return_to(place)  # back to the summary, nothing changed
        elif request.method == "POST" and place is not None:
            # A page the browser kept (Forward, an old tab) of a step the task is not on: its answers
            # cannot be applied, so show the current step saying so, instead of dropping them silently.
            return _refuse_stale(endpoint, request, kwargs, task)
        else:
            return HttpResponseRedirect(task.urls.current())
    elif request.method == "POST" and not task.provisional and _is_stale(request, task):
        return _refuse_stale(endpoint, request, kwargs, task)  # changes nothing: no write
    response = _respond(endpoint, request, kwargs, task)
    write = _write_needed(request, task)
    if write is None:
        task.events.clear()
        return response
    if write == "touch":  # only keeps the task alive: no signals, no transaction of its own
        if not store.owner_reads_refresh:  # else the owner's read just did
            store.touch(task.id)
        return response
    alias = store_alias(store)
    # POSTs are already in the request's transaction; a GET that writes opens one here.
    in_transaction = transaction.get_connection(alias).in_atomic_block
    with contextlib.nullcontext() if in_transaction else transaction.atomic(using=alias):
        counts = events.before_save(request, task)
        # Bound again at every write: the request was the owner's, and a login() in its step may have
        # flushed the session (another user, a new password) and the binder's secret with it.
        task.record.binding = binding_hash(endpoint.handler.binder_value(request), task.id)
        files.settle(task, alias)
        raw = task.next_record()
        try:
            store.put_state(task.id, raw)
        except StateTooLargeError:
            # What the user typed must not fail a step: remembered answers (only there to fill a form
            # in again) go first; if the record is still too large, what the action kept is the cause.
            raw = _without_large_answers(task, raw)
            store.put_state(task.id, raw)
        task.saved(raw)
        if raw["version"] == 1:  # first stored: counts towards the session's limit
            if in_transaction and not store.in_database:
                setattr(request, _FIRST_SAVED, task.id)  # noted after the commit: see note_first_save()
            else:  # removing the oldest task joins this transaction
                quota.note_stored(request, store, task.id)
        events.after_save(request, endpoint.flow, task, counts)
    return response


def _without_large_answers(task: Task, raw: dict[str, Any]) -> dict[str, Any]:
    """*raw* with the largest remembered answers dropped until it fits (raise if it never does)."""
    limit = max_state_bytes()
    sizes = sorted(((len(packb(answers)), step) for step, answers in task.record.answers.items()), reverse=True)
    for size, step in sizes:
        task.record.answers.pop(step, None)
        raw = task.next_record()
        logger.info(
            "Flow %s: the answers remembered for %s (%d bytes) were not kept: too large", task.flow.name, step, size
        )
        if len(packb(raw)) <= limit:
            break
    return raw


#: Request attribute: the task this request stored first, to be noted in the session after the commit.
_FIRST_SAVED = "_flowmachine_first_saved"


def note_first_save(request: HttpRequest, store: BaseStateStore) -> None:
    """After the request's transaction committed: note the task it stored first in the session's quota.

    For stores outside the database: reading the session there would open a
    database transaction in a step that writes nothing else to the database.
    """
    task_id = request.__dict__.pop(_FIRST_SAVED, None)
    if task_id is not None:
        quota.note_stored(request, store, task_id)


def show_afresh(
    endpoint: Endpoint, request: HttpRequest, kwargs: dict[str, Any], task: Task, message: str, *, status: int
) -> HttpResponseBase:
    """The task's current step as a GET shows it, with *message* on its form; nothing is saved."""
    task.record.errors = [message]
    response = _respond(endpoint, request, kwargs, task, afresh=True)
    if response.status_code == 200:
        response.status_code = status
    return response


def _respond(
    endpoint: Endpoint, request: HttpRequest, kwargs: dict[str, Any], task: Task, *, afresh: bool = False
) -> HttpResponseBase:
    """Run the preconditions, the scaffolds' hooks and the action (or follow a jump link)."""
    scaffolds, action = task.bind(request, kwargs)
    refusal = task.check_preconditions(request, [*scaffolds, action])
    if refusal is not None:
        return refusal.response
    link = request.GET.get(JUMP_PARAM) if request.method in ("GET", "HEAD") else None
    if link is not None and JUMP_PARAM not in task.urls.carry and not afresh:
        if not is_signed_jump(task.id, task.current_place.name, link, request.GET.get(SIGNATURE_PARAM, "")):
            logger.info(
                "Flow %s: a jump link to %r without a valid signature was ignored", endpoint.flow.name, link[:40]
            )
            link = None
    if link is not None and JUMP_PARAM not in task.urls.carry and not afresh:
        response: Any = _follow_link(endpoint, request, task, link)
    else:
        for scaffold in scaffolds:
            if scaffold.prepare(request) is not None:
                raise FlowDefinitionError(
                    f"{type(scaffold).__qualname__}.prepare() returned a value: in django-flowmachine its "
                    "return value is not used. To answer instead of the action, use a precondition "
                    "(an object with process(request, component) in preconditions)."
                )
        result = action.show_afresh() if afresh else action.dispatch(request, **kwargs)
        response = result if isinstance(result, HttpResponseBase) else _apply(endpoint, request, task, result)
    for scaffold in reversed(scaffolds):
        response = scaffold.handle_response(response) or response
    return response  # type: ignore[no-any-return]


def _apply(endpoint: Endpoint, request: HttpRequest, task: Task, outcome: Any) -> HttpResponseBase:
    """What the action returned (COMPLETE or a jump), applied to the machine: redirect to the next step."""
    task.urls.carry.clear()  # this change writes the record: URLs need not carry the start any more
    try:
        place = task.advance(outcome)
    except InvalidJump:
        logger.exception("Invalid jump in flow %s", endpoint.flow.name)
        raise
    if place is None:
        return _finish(endpoint, request, task)
    return HttpResponseRedirect(task.urls.url_for(place))


def _follow_link(endpoint: Endpoint, request: HttpRequest, task: Task, target: str) -> HttpResponseBase:
    """A ``link_to`` link: jump from the current step, keeping the link's other query args.

    The step left is left for another branch: what it wrote is removed (:mod:`flowmachine.engine.path`).
    """
    try:
        place = task.advance(Jump(target), link=True)
    except InvalidJump as exc:
        logger.warning("Refused link jump: %s", exc)
        return HttpResponseRedirect(task.urls.current())
    if place is None:
        return _finish(endpoint, request, task)
    if task.provisional:
        # Replayed by the target's page, signature and all: nothing is stored yet.
        task.urls.carry[JUMP_PARAM] = target
        task.urls.carry[SIGNATURE_PARAM] = request.GET.get(SIGNATURE_PARAM, "")
    # The link's other query args go on; the carried ones are the task's own, from its state.
    skip = {flow_settings.FLOWS_TASK_ID_PARAM, JUMP_PARAM, SIGNATURE_PARAM, *endpoint.flow.component.carry_query}
    query = {k: request.GET.getlist(k) for k in request.GET if k not in skip}
    return HttpResponseRedirect(task.urls.url_for(place, query))


def _finish(endpoint: Endpoint, request: HttpRequest, task: Task) -> HttpResponseBase:
    """The flow completed: go to the task's own on-complete URL (this site only), else the handler's."""
    wanted = task.record.on_complete
    if wanted and same_site(request, wanted) is None:
        logger.warning("Refused on-complete URL %r of task %s…", wanted[:80], task.id[:8])
        wanted = None
    done: Any = wanted or endpoint.handler.on_complete_url
    if callable(done):
        # Asked now, after the last step's writes (in the same transaction): it may name what they made.
        ask = done
        done = ask(request, task.id, MappingProxyType(task.state))
        if not done:
            raise FinishError(
                f"Flow {endpoint.flow.name!r} completed, but FlowHandler(on_complete_url={ask!r}) returned "
                f"{done!r}: return the URL a finished task goes to."
            )
    if not done:
        raise FinishError(
            f"Flow {endpoint.flow.name!r} completed but has nowhere to go: pass "
            f"on_complete_url to flow_entry_link() or ?{ON_COMPLETE_PARAM}=, or set "
            f"FlowHandler(on_complete_url=...)."
        )
    task.done_url = str(done)
    return HttpResponseRedirect(task.done_url)


def _write_needed(request: HttpRequest, task: Task) -> Literal["put", "touch"] | None:
    """What this request must write: ``"put"`` (a new version), ``"touch"`` (keep it alive) or None."""
    if task.provisional:
        # Lazy creation: the first POST that changes the task writes its first record.
        if request.method != "POST" or not (task.finished or task.journal_changes() or task.modified):
            return None
        return "put"
    if task.finished or task.journal_changes() or task.modified:
        return "put"
    if time.time() - task.record.accessed > _touch_interval():
        return "touch"
    return None


def _is_signed_change(request: HttpRequest, task: Task, place: Any) -> bool:
    """Whether the request follows a summary's Change link, or the link back to the summary,
    made by this server from the task's current step (:data:`RETURN_PARAM`)."""
    signature = request.GET.get(RETURN_PARAM) if request.method in ("GET", "HEAD") else None
    return bool(signature) and is_signed_jump(task.id, task.current_place.name, place.name, str(signature))


def _is_stale(request: HttpRequest, task: Task) -> bool:
    """Whether a POST for the current step comes from a page rendered before the task's last move.

    A form without the version field (a template not using ``{% flow_form_header %}``) is never stale.
    """
    sent = request.POST.get(VERSION_PARAM)
    return sent is not None and sent != str(task.moved_at)


def _refuse_stale(endpoint: Endpoint, request: HttpRequest, kwargs: dict[str, Any], task: Task) -> HttpResponseBase:
    """A POST from a page older than the task's last move: show the current step afresh, change nothing."""
    logger.info(
        "Stale POST for %s of task %s… (page of %s, change %r; task at change %d): refused",
        task.current_place.name,
        task.id[:8],
        endpoint.place.name if endpoint.place else "the entry",
        request.POST.get(VERSION_PARAM, "")[:12],
        task.moved_at,
    )
    return show_afresh(endpoint, request, kwargs, task, str(STALE_MESSAGE), status=409)


def _touch_interval() -> float:
    return min(60.0, float(flow_settings.FLOWS_TASK_IDLE_TIMEOUT) / 10)
