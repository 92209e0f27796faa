"""Looking back over the path taken: the summary of its answers, and re-checking them at the end.

Both rebuild each earlier step's action for the current request (its form may
depend on the user or on the state) and read the answers remembered for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.forms.formsets import BaseFormSet
from django.http import HttpResponseBase, HttpResponseRedirect

from flowmachine.engine import answers
from flowmachine.engine.path import RETURN_PARAM
from flowmachine.engine.urls import jump_signature
from flowmachine.machine.places import Place
from flowmachine.summary import StepSummary, rows_tuple

if TYPE_CHECKING:
    from flowmachine.engine.task import Task

__all__ = ["revalidate", "summarize"]


def _step_action(task: Task, current: Any, place: Place) -> Any:
    """*place*'s action, set up for the request *current* (the action on the page) serves."""
    action: Any = place.component()
    action.setup(current.request, **current.kwargs)
    action.task, action.place, action.state = task, place, task.state
    return action


def summarize(task: Task, current: Any) -> list[StepSummary]:
    """The summary of the answers accepted on the path taken to *current*'s page."""
    summaries: list[StepSummary] = []
    history = set(task.history)
    for place in task.path.walked():
        if place.name not in task.record.answers:
            continue  # left without its answers accepted, or before answers were remembered
        action = _step_action(task, current, place)
        rows = rows_tuple(action.summary_rows())
        if not rows:
            continue
        change = None
        if place.name in history and place.component.changeable:  # type: ignore[attr-defined]
            query = {RETURN_PARAM: jump_signature(task.id, current.place.name, place.name)}
            change = task.urls.url_for(place, query)
        summaries.append(StepSummary(place.component.display_title(), place.component, rows, change))
    return summaries


def revalidate(task: Task, current: Any) -> HttpResponseBase | None:
    """Re-check each earlier step's accepted answers with its form: None if all still validate,
    else a redirect to the first that does not, gone back to as the back button goes.

    The first step whose answers fail is where the user is sent, its errors on its
    form. A step whose form has fields whose answers are never kept (passwords,
    sensitive fields, files) is not re-checked: what was not kept cannot be.
    """
    task.path.drop_ahead()
    for place in task.path.walked():
        remembered = task.record.answers.get(place.name)
        if not remembered:
            continue  # nothing kept to re-check (a form without fields, or only passwords)
        action = _step_action(task, current, place)
        form = action.get_unbound_form()
        if not _checkable(action, form):
            continue
        kwargs = action.get_form_kwargs()
        kwargs["data"] = answers.as_post_data(form, remembered)
        kwargs.pop("files", None)
        if isinstance(form, BaseFormSet):
            bound: Any = task.formset_for(place, type(form), kwargs, shown=False)
        else:
            bound = action.get_form_class()(**kwargs)
        if not bound.is_valid():
            return _send_back(task, place, _errors_of(bound))
    return None


def _errors_of(form: Any) -> list[str] | dict[str, list[str]]:
    """*form*'s errors as ``send_to(..., with_errors=)`` takes them (a formset's: numbered messages)."""
    if isinstance(form, BaseFormSet):
        messages = [str(m) for m in form.non_form_errors()]
        rows: list[Any] = list(form.errors)  # one ErrorDict per row
        for number, row in enumerate(rows, 1):
            messages += [f"{number}. {m}" for row_messages in row.values() for m in row_messages]
        return messages
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}


def _send_back(task: Task, place: Place, errors: list[str] | dict[str, list[str]]) -> HttpResponseBase:
    """Back to *place* (as the back button goes), its form showing *errors*; once they are
    corrected, the journey comes back to the step that revalidated."""
    history = task.history
    if place.name not in history:  # off the back trail (skip_on_back): the step before it
        walked = task.path.walked()
        earlier = [p for p in walked[: walked.index(place)] if p.name in history]
        if not earlier:
            return HttpResponseRedirect(task.urls.current())
        place = earlier[-1]
    summary = task.current_place.name
    task.rewind(place)
    task.record.errors = errors
    task.record.returning = summary  # once corrected, straight back here, as after a Change link
    return HttpResponseRedirect(task.urls.url_for(place))


def _checkable(action: Any, form: Any) -> bool:
    sensitive = set(action.sensitive_fields)
    rows = isinstance(form, BaseFormSet)  # a row's hidden fields (its id) are the formset's to bind
    if rows:
        form = form.empty_form
    for name, field in getattr(form, "fields", {}).items():
        widget = field.widget
        if name in sensitive or (widget.is_hidden and not rows):
            return False
        if isinstance(widget, (forms.PasswordInput, forms.FileInput)):
            return False
    return True
