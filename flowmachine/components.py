"""The building blocks of a flow: Actions (one page each) and Scaffolds (groups).

An :class:`Action` is a Django ``FormView``: GET shows the form, POST validates
it. ``form_valid`` returns :data:`COMPLETE` to let the enclosing scaffold's
transition decide what comes next, an Action or Scaffold (class or name) to
jump there, or an ``HttpResponse`` to answer directly. A :class:`Scaffold`
groups actions and scaffolds into a tree; entry-point scaffolds are compiled
into a state machine by :class:`flowmachine.FlowHandler`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeGuard, Union

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms.formsets import BaseFormSet
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _
from django.views.generic.edit import FormView

from flowmachine import registry
from flowmachine.conf import flow_settings
from flowmachine.files import refuse_oversized, show_kept_files
from flowmachine.summary import AnswerRow, StepSummary, form_rows

__all__ = ["COMPLETE", "Action", "Scaffold", "FlowComponent", "Target", "Jump"]


class _Complete:
    """The value ``form_valid`` returns to let the scaffold's transition decide."""

    _instance: ClassVar[_Complete | None] = None

    def __new__(cls) -> _Complete:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "COMPLETE"

    def __reduce__(self) -> str:
        return "COMPLETE"


COMPLETE = _Complete()

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _slug(name: str) -> str:
    return _CAMEL.sub("-", name).lower()


def _words(name: str) -> str:
    text = _CAMEL.sub(" ", name)
    return text[:1].upper() + text[1:].lower()


class FlowComponent:
    """What Actions and Scaffolds share: a name, a URL fragment, preconditions."""

    #: Path fragment added to the enclosing scaffold's URL; Django path
    #: converters are allowed. None derives it from the class name.
    url: ClassVar[str | None] = None
    #: Objects with ``process(request, component)`` run before every request.
    preconditions: ClassVar[Sequence[Any]] = ()
    #: Human title for progress trails; None derives it from the class name.
    title: ClassVar[str | None] = None
    #: Former class names, so tasks saved under an older deploy resume here (see docs/deploys.md).
    renamed_from: ClassVar[Sequence[str]] = ()
    #: State keys this component needs set before it runs (checked at start-up;
    #: ``RequiredState`` preconditions count too). On a scaffold: every action in it.
    reads: ClassVar[Sequence[str]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("_abstract"):
            return
        registry.register_component(cls)

    @classmethod
    def component_name(cls) -> str:
        """The name of this component's states in the compiled machine."""
        return cls.__name__

    @classmethod
    def default_url(cls) -> str:
        return f"{_slug(cls.__name__)}/"

    @classmethod
    def display_title(cls) -> str:
        return cls.title or _words(cls.__name__)


Target = Union[str, type[FlowComponent]]  # noqa: UP007  (a runtime alias: Python 3.10 needs Union here)


#: What ``send_to(..., with_errors=)`` takes: messages, or field name -> messages (as ``ValidationError``).
Errors = Union[Sequence[str], Mapping[str, Union[str, Sequence[str]]]]  # noqa: UP007


def _errors(errors: Any) -> list[str] | dict[str, list[str]]:
    """*errors* as stored: a list of messages, or a dict of field name to a list of messages."""
    if errors is None:
        return []
    if isinstance(errors, Mapping):
        fields: dict[str, list[str]] = {}
        for name, messages in errors.items():
            if not isinstance(name, str):
                break
            fields[name] = [str(messages)] if isinstance(messages, str) else [str(m) for m in messages]
        else:
            return fields
    elif isinstance(errors, (list, tuple)):
        return [str(message) for message in errors]
    raise TypeError(f"with_errors takes a list of messages or a dict of field name to messages, not {errors!r}.")


def _is_formset(form_class: object) -> TypeGuard[type[BaseFormSet[Any]]]:
    return isinstance(form_class, type) and issubclass(form_class, BaseFormSet)


def _add_errors(form: forms.BaseForm, errors: list[str] | dict[str, list[str]]) -> None:
    """Show *errors* (a list: non-field errors; a dict: on each field) on an unbound *form*."""
    by_field = errors if isinstance(errors, dict) else {NON_FIELD_ERRORS: errors}
    for name, messages in by_field.items():
        if not messages:
            continue
        # form.add_error() needs cleaned_data, which an unbound form lacks.
        name = name if name in form.fields else NON_FIELD_ERRORS
        empty = form.error_class(error_class="nonfield") if name == NON_FIELD_ERRORS else form.error_class()
        form.errors.setdefault(name, empty).extend(messages)


def _add_non_form_errors(formset: BaseFormSet[Any], errors: list[str] | dict[str, list[str]]) -> None:
    """Show *errors* on an unbound *formset*, as its non-form errors: a field's messages after the field's label.

    The messages are about the step, not one row (and a formset may have no
    row at all), so they go above the rows, ``{{ form.non_form_errors }}``.
    """
    if not errors:
        return
    messages: list[str] = []
    if isinstance(errors, dict):
        row = formset.empty_form
        for name, field_messages in errors.items():
            if name in row.fields:
                label = row[name].label
                messages += [_("%(field)s: %(message)s") % {"field": label, "message": m} for m in field_messages]
            else:
                messages += field_messages
    else:
        messages = list(errors)
    formset.non_form_errors().extend(messages)  # an unbound formset's (empty) list, kept for the page


class Jump:
    """An explicit jump: what ``send_to`` returns (a target returned by ``form_valid`` becomes one)."""

    __slots__ = ("target", "errors")

    def __init__(self, target: Target, errors: Errors | None = None) -> None:
        self.target = target
        #: Messages for the target's form: a list (non-field errors) or {field name: [messages]}.
        self.errors: list[str] | dict[str, list[str]] = _errors(errors)

    @property
    def target_name(self) -> str:
        target = self.target
        return target if isinstance(target, str) else target.component_name()


class Action(FlowComponent, FormView):  # type: ignore[type-arg]
    """One page of a flow: a FormView whose ``form_valid`` says where to go next."""

    _abstract = True
    #: A form class, or a formset class (``formset_factory``, ``modelformset_factory``...): see docs/formsets.md.
    form_class: type[forms.BaseForm] | type[BaseFormSet[Any]] | None = None
    #: Leave this action out of the back trail (a page that only redirects, say).
    skip_on_back: ClassVar[bool] = False
    #: State keys ``form_valid`` sets; None (the default) means undeclared: may set any.
    writes: ClassVar[Sequence[str] | None] = None
    #: Targets ``form_valid`` or ``link_to`` may jump to; None means undeclared
    #: (see the testing guide for what path generation then assumes).
    jumps: ClassVar[Sequence[Target] | None] = None
    #: State keys this action sets that outlive it: kept when the step leaves the path taken
    #: (the user went back and took another branch). Every other key it wrote is removed then.
    keeps: ClassVar[Sequence[str]] = ()
    #: Form fields whose values are never kept, logged or shown (password fields are, undeclared).
    sensitive_fields: ClassVar[Sequence[str]] = ()
    #: Before ``form_valid``, re-check every earlier step's answers with its form; the first step
    #: whose answers no longer validate is shown again with its errors (typically the last step).
    revalidate: ClassVar[bool] = False
    #: Whether a summary offers to change this step's answers (False: an account created, a
    #: payment made: shown, with no Change link).
    changeable: ClassVar[bool] = True
    #: The largest file this step accepts, in bytes (None: ``FLOWS_MAX_UPLOAD_BYTES``).
    max_upload_bytes: ClassVar[int | None] = None

    # Set by the engine before dispatch: the running task (flowmachine.engine.task.Task),
    # this action's place in the compiled flow, and the task's state.
    task: Any
    place: Any
    state: dict[str, Any]
    #: True while the page is shown afresh for a refused POST (its data is not bound to the form).
    showing_afresh: bool = False

    def get_form_class(self) -> type[forms.BaseForm] | type[BaseFormSet[Any]]:
        return self.form_class or forms.Form

    def get_initial(self) -> Any:
        """The class's ``initial`` plus the answers last accepted on this page.

        A formset step's is the class's ``initial`` as a list of rows: the
        rows accepted last time replace it when the page is shown (see
        :meth:`get_form`).
        """
        if _is_formset(self.get_form_class()):
            return list(super().get_initial() or ())
        initial = dict(super().get_initial())
        remembered = self.task.answers_for(self.place)
        if isinstance(remembered, dict):
            initial.update(remembered)
        return initial

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        form = self.get_form()
        valid = form.is_valid()
        if request.FILES:
            self.task.receiving_files = True
            limit = self.max_upload_bytes or int(flow_settings.FLOWS_MAX_UPLOAD_BYTES)
            valid = refuse_oversized(form, request, limit) and valid
        if valid:
            if self.revalidate:
                failed = self.task.revalidate(self)
                if failed is not None:
                    return failed
            outcome = self.form_valid(form)
            if form.is_valid():  # form_valid() may still refuse the data (form.add_error(), form_invalid())
                self.task.remember_answers(self.place, form)
            return outcome
        return self.form_invalid(form)

    def show_afresh(self) -> HttpResponseBase:
        """The page as a GET shows it, whatever the request (a POST refused as out of date)."""
        self.showing_afresh = True
        return self.render_to_response(self.get_context_data())

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_form_kwargs()
        if self.showing_afresh:
            kwargs.pop("data", None)
            kwargs.pop("files", None)
        return kwargs

    def form_valid(self, form: forms.BaseForm) -> Any:
        """Act on valid data; return COMPLETE, a target, or an HttpResponse."""
        return COMPLETE

    def get_form(self, form_class: type[forms.BaseForm] | type[BaseFormSet[Any]] | None = None) -> Any:
        """The page's form (or formset), with the messages a ``send_to(..., with_errors=)`` left for it.

        A formset step's formset shows the rows accepted last time; a model
        formset's queryset becomes those rows (see docs/formsets.md).
        """
        form_class = form_class or self.get_form_class()
        shown = self.request.method in ("GET", "HEAD") or self.showing_afresh
        form: forms.BaseForm | BaseFormSet[Any]
        if _is_formset(form_class):
            form = self.task.formset_for(self.place, form_class, self.get_form_kwargs(), shown=shown)
        else:
            form = super().get_form(form_class)
            show_kept_files(form)
        if shown:
            errors = self.task.pop_errors()
            if isinstance(form, BaseFormSet):
                _add_non_form_errors(form, errors)
            else:
                _add_errors(form, errors)
        return form

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        for key, value in self.state.items():
            context.setdefault(key, value)
        context["state"] = self.state
        context["flow"] = self.task.context(self.place, self.request)
        context["flows_back_url"] = context["flow"].back_url
        return context

    def send_to(self, target: Target, with_errors: Errors | None = None) -> Jump:
        """Jump to *target*, showing *with_errors* on its form.

        A list of messages shows as the form's non-field errors; a dict of
        field name to messages (the shape of ``ValidationError``) shows each
        field's messages on that field (a name the form lacks: as non-field
        errors). Anything else raises ``TypeError``.
        """
        return Jump(target, with_errors)

    def link_to(self, target: Target, **query: Any) -> str:
        """URL of a link that jumps from this page to *target* in the same task."""
        if "additional_url_params" in query:
            raise TypeError(
                "link_to() takes extra query arguments as keywords: write link_to(target, key=value) "
                "instead of additional_url_params={...} (django-flows)."
            )
        name = target if isinstance(target, str) else target.component_name()
        return str(self.task.urls.jump_link(self.place, name, query))

    def url_of(self, step: Target | None = None, **query: Any) -> str:
        """The URL of *step* (an action of this flow; default: this one) in this task, with *query*.

        A step the task has not reached redirects to the current step when
        followed; a step on the back trail goes back to it.
        """
        place = self.place if step is None else self.place.flow_place(step)
        return str(self.task.urls.url_for(place, query or None))

    @property
    def trail(self) -> tuple[Any, ...]:
        """The steps walked to reach this page, oldest first: each has ``name``, ``title``, ``url``
        and ``component`` (the progress trail of ``flow.progress.trail``)."""
        return tuple(self.task.context(self.place).trail)

    def summary(self) -> list[StepSummary]:
        """The answers of the path taken to this page, step by step, each with a Change link.

        Only steps whose answers were accepted, on the path actually taken, in
        order; a Change link opens its step and comes back here once the change
        is made (unless the change opens steps that need new answers: those are
        asked first). ``{% flow_summary %}`` renders this.
        """
        return self.task.summary(self)  # type: ignore[no-any-return]

    def summary_rows(self) -> Sequence[AnswerRow]:
        """This step's rows in a summary: by default one per visible field of its form, with the
        answer accepted last (sensitive ones masked). Override to show the answers differently
        (an empty list leaves the step out of the summary)."""
        return form_rows(self.get_unbound_form(), self.task.answers_for(self.place), self.sensitive_fields)

    def get_unbound_form(self) -> Any:
        """This step's form as a GET builds it (fields and choices set up for this request), never
        bound to the request's data: what summaries and revalidation start from."""
        kwargs = self.get_form_kwargs()
        kwargs.pop("data", None)
        kwargs.pop("files", None)
        form_class = self.get_form_class()
        if _is_formset(form_class):
            return self.task.formset_for(self.place, form_class, kwargs, shown=True)
        return form_class(**kwargs)

    @property
    def return_url(self) -> str | None:
        """While this page was opened from a summary's Change link: a link back to the summary
        that changes nothing (else None)."""
        return self.task.return_link(self.place)  # type: ignore[no-any-return]

    def set_trail(self, steps: Sequence[Target]) -> None:
        """Make *steps* (actions of this flow, in order) the back trail and the progress trail.

        For a summary page that shows the path the answers describe: after a
        "Change" link came back to it, or when a branch was left for another.
        """
        self.task.set_trail([self.place.flow_place(step) for step in steps])


class Scaffold(FlowComponent):
    """A group of actions and scaffolds; ``transition`` decides what COMPLETE means."""

    _abstract = True

    #: Actions and Scaffolds (classes, names, or dotted paths), in order.
    action_set: ClassVar[Sequence[Target]] = ()
    #: None (actions decide), :class:`~flowmachine.Linear`, or a Transition subclass.
    transition: ClassVar[Any] = None
    #: On an entry point: {old component name: new name} for tasks saved under an older deploy.
    renames: ClassVar[dict[str, str]] = {}
    #: On an entry point: the state keys every task starts with (``initial_state``).
    initial_keys: ClassVar[Sequence[str]] = ()
    #: On an entry point: what users call this journey on its pages ("checkout", "application");
    #: None says "form". Mark it for translation (``gettext_lazy``).
    noun: ClassVar[Any] = None

    def __init__(self, request: HttpRequest, task: Any, place: Any) -> None:
        """Set up for one request of *task* (the running task) at *place* (this scaffold in the flow)."""
        self.request = request
        self.task = task
        self.place = place
        self.state = task.state

    def prepare(self, request: HttpRequest) -> None:
        """Called before the action runs, from the root scaffold down."""

    def handle_response(self, response: HttpResponseBase) -> HttpResponseBase:
        """Called with the action's response, from the innermost scaffold up."""
        return response
