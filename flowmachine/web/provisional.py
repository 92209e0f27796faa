"""Tasks with an id but no record yet (lazy creation): nothing is stored until the first accepted POST.

The entry URL hands out a task id tagged for the requester
(:mod:`flowmachine.engine.ids`) and redirects to the first step; until a POST
changes the task, each request rebuilds the same fresh task from the id, so a
crawler that never submits leaves nothing in the store.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect

from flowmachine.binding import provisional_binding
from flowmachine.components import Jump
from flowmachine.conf import flow_settings
from flowmachine.engine.ids import is_fresh_provisional, new_task_id
from flowmachine.engine.task import Task
from flowmachine.engine.urls import JUMP_PARAM, SIGNATURE_PARAM, VERSION_PARAM, is_signed_jump
from flowmachine.exceptions import InvalidJump
from flowmachine.web.serving import Endpoint, same_site

logger = logging.getLogger("flowmachine")

__all__ = ["ON_COMPLETE_PARAM", "resume", "start"]

#: Query parameter of the entry URL: where to go when the flow completes (this site only).
ON_COMPLETE_PARAM = "_on_complete"


def start(endpoint: Endpoint, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponseBase:
    """The entry URL: a new id, and a redirect to the first step carrying the entry's other query args."""
    flow = endpoint.flow
    task = _fresh(endpoint, request, kwargs, new_task_id(flow.name, provisional_binding(request)))
    skip = {ON_COMPLETE_PARAM, flow_settings.FLOWS_TASK_ID_PARAM, JUMP_PARAM, SIGNATURE_PARAM, VERSION_PARAM}
    query = {k: request.GET.getlist(k) for k in request.GET if k not in skip}
    return HttpResponseRedirect(task.urls.url_for(task.current_place, query))


def resume(endpoint: Endpoint, request: HttpRequest, kwargs: dict[str, Any], task_id: str) -> Task | None:
    """The provisional task of an id this server issued recently, else None (unknown or expired)."""
    flow, place = endpoint.flow, endpoint.place
    if not is_fresh_provisional(
        task_id, flow.name, provisional_binding(request), float(flow_settings.FLOWS_TASK_IDLE_TIMEOUT)
    ):
        return None
    task = _fresh(endpoint, request, kwargs, task_id)
    target = request.GET.get(JUMP_PARAM)
    if target and place is not None and place is not task.current_place:
        # The page a link on the first step jumped to: replay the jump, if the first step offered it.
        signature = request.GET.get(SIGNATURE_PARAM, "")
        if not is_signed_jump(task_id, task.current_place.name, target, signature):
            logger.info("Flow %s: a young id's jump to %r without a valid signature", flow.name, target[:40])
            return None
        try:
            if task.advance(Jump(target), link=True) is not None:
                task.urls.carry[JUMP_PARAM] = target
                task.urls.carry[SIGNATURE_PARAM] = signature
        except InvalidJump:
            logger.warning("Refused replayed link jump to %r in flow %s", target[:40], flow.name)
            return None
    if place is not None and place is not task.current_place:
        return None  # a later step of a task without a record: it expired (or was lost)
    sent = request.POST.get(VERSION_PARAM) if request.method == "POST" else None
    if sent is not None and sent != str(task.moved_at):
        return None  # a page shown from a saved record (back on the first step), which is gone
    return task


def _fresh(endpoint: Endpoint, request: HttpRequest, kwargs: dict[str, Any], task_id: str) -> Task:
    """A task with an id but no record: nothing is stored until its first change."""
    on_complete = request.GET.get(ON_COMPLETE_PARAM)
    if on_complete and same_site(request, on_complete) is None:
        logger.warning("Ignored unsafe %s=%r in flow %s", ON_COMPLETE_PARAM, on_complete[:80], endpoint.flow.name)
        on_complete = None
    task = Task.start(
        endpoint.flow,
        endpoint.namespace(request),
        None,
        on_complete=on_complete,
        url_kwargs=kwargs,
        task_id=task_id,
    )
    task.provisional = True
    if on_complete:
        task.urls.carry[ON_COMPLETE_PARAM] = on_complete
    return task
