"""Remembered answers: what was last accepted on each page, shown again when the user comes back.

A form's answers are a dict of field name to ``form[name].data`` (what the
user sent, never passwords, files or hidden fields). A formset's answers are
a list of such dicts, one per row kept (deleted rows and untouched extra rows
left out); a model formset's row also carries its instance's primary key once
the instance is in the database. :func:`as_post_data` turns either back into
POST data that binds a new form to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union, overload

from django import forms
from django.db.models import Case, IntegerField, Model, QuerySet, Value, When
from django.forms.formsets import (
    DELETION_FIELD_NAME,
    INITIAL_FORM_COUNT,
    MAX_NUM_FORM_COUNT,
    MIN_NUM_FORM_COUNT,
    TOTAL_FORM_COUNT,
    BaseFormSet,
)
from django.http import QueryDict

from flowmachine.machine.places import Place
from flowmachine.record import Record
from flowmachine.summary import sensitive_names

__all__ = [
    "Answers",
    "accepted_answers",
    "accepted_rows",
    "answers_for",
    "as_post_data",
    "formset_for",
    "remember",
]

#: What is remembered for one page: a form's {field name: data}, or a formset's rows.
Answers = Union[dict[str, Any], list[dict[str, Any]]]  # noqa: UP007  (a runtime alias: Python 3.10 needs Union here)


@overload
def accepted_answers(form: BaseFormSet[Any], sensitive: Iterable[str] = ()) -> list[dict[str, Any]]: ...
@overload
def accepted_answers(form: forms.BaseForm, sensitive: Iterable[str] = ()) -> dict[str, Any]: ...
def accepted_answers(form: forms.BaseForm | BaseFormSet[Any], sensitive: Iterable[str] = ()) -> Answers:
    """The answers of an accepted form worth showing again: never sensitive fields (*sensitive* and
    every password field), files or hidden fields."""
    if isinstance(form, BaseFormSet):
        return accepted_rows(form, sensitive)
    hidden = sensitive_names(form, sensitive)
    answers: dict[str, Any] = {}
    for name, field in form.fields.items():
        widget = field.widget
        if name in hidden or isinstance(widget, forms.FileInput) or widget.is_hidden:
            continue
        value = form[name].data
        if isinstance(value, (list, tuple)):
            answers[name] = [str(v) for v in value]
        elif value is None or isinstance(value, (bool, int, float, str)):
            answers[name] = value
    return answers


# -- formsets ----------------------------------------------------------------------------------------


def _model(formset: BaseFormSet[Any] | type[BaseFormSet[Any]]) -> type[Model] | None:
    """The model of a model formset (None for a plain formset)."""
    model = getattr(formset, "model", None)
    return model if isinstance(model, type) and issubclass(model, Model) else None


def _pk_name(model: type[Model]) -> str:
    pk = model._meta.pk
    return pk.name if pk is not None else "id"  # every concrete model has a primary key


def accepted_rows(formset: BaseFormSet[Any], sensitive: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The rows of an accepted formset worth showing again: each row's answers, deleted and empty rows left out.

    A model formset's row keeps its instance's primary key (as a string,
    under the primary key's name) when the instance is in the database, so
    Back shows that row again; rows with a key come first, as a model formset
    shows them.
    """
    model = _model(formset)
    saved: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    for form in formset.forms:
        cleaned = getattr(form, "cleaned_data", None)
        if not cleaned or (formset.can_delete and cleaned.get(DELETION_FIELD_NAME)):
            continue  # an extra row left untouched, or a deleted one
        row = accepted_answers(form, sensitive)
        row.pop(DELETION_FIELD_NAME, None)
        instance = getattr(form, "instance", None)
        if model is not None and isinstance(instance, Model) and not instance._state.adding:
            row[_pk_name(model)] = str(instance.pk)
            saved.append(row)
        else:
            new.append(row)
    return saved + new


def _accepted_queryset(model: type[Model], pks: Sequence[str]) -> QuerySet[Any]:
    """The rows with primary keys *pks*, in that order."""
    if not pks:
        return model._default_manager.none()
    order = Case(*[When(pk=pk, then=Value(index)) for index, pk in enumerate(pks)], output_field=IntegerField())
    return model._default_manager.filter(pk__in=pks).order_by(order)


def formset_for(
    formset_class: type[BaseFormSet[Any]], kwargs: dict[str, Any], rows: Answers | None, *, shown: bool
) -> BaseFormSet[Any]:
    """A formset step's formset, showing the *rows* accepted last time (None: none accepted yet).

    A plain formset shows them as its ``initial`` rows (the ``extra`` rows
    follow). A model formset's queryset becomes the accepted rows that are in
    the database, in their order, on every request, so a POST binds the rows
    it showed; rows not saved yet are shown as extra rows. Remembered rows
    are the initial data only when the page is *shown* (a GET): on a POST, a
    row shown from memory and sent unchanged must still count as a row, not
    as an untouched extra row that Django leaves out.
    """
    kwargs = dict(kwargs)
    model = _model(formset_class)
    unsaved: list[dict[str, Any]] = []
    if isinstance(rows, list):
        if model is None:
            if shown:
                kwargs["initial"] = rows
        else:
            pk_name = _pk_name(model)
            kwargs["queryset"] = _accepted_queryset(model, [row[pk_name] for row in rows if pk_name in row])
            unsaved = [row for row in rows if pk_name not in row]
            if shown:
                kwargs["initial"] = unsaved
    formset = formset_class(**kwargs)
    if shown and unsaved:
        formset.extra += len(unsaved)  # a model formset shows its initial data in extra rows: one each, then the extra
    return formset


# -- binding a form to remembered answers ----------------------------------------------------------


def _put(data: QueryDict, widget: forms.Widget, name: str, value: Any) -> None:
    """Put *value* (what ``widget.value_from_datadict`` gave) into *data* under *name*, as the widget reads it."""
    if isinstance(widget, forms.MultiWidget):
        parts = value if isinstance(value, (list, tuple)) else ()
        suffixes = getattr(widget, "widgets_names", [f"_{index}" for index in range(len(widget.widgets))])
        for suffix, subwidget, part in zip(suffixes, widget.widgets, parts, strict=False):
            _put(data, subwidget, name + suffix, part)
    elif value is None:
        return  # a widget reads a missing name as None
    elif isinstance(widget, forms.NullBooleanSelect) and isinstance(value, bool):
        data[name] = "true" if value else "false"
    elif isinstance(widget, forms.CheckboxInput) and isinstance(value, bool):
        if value:
            data[name] = "on"  # unchecked: a browser sends nothing
    elif isinstance(value, (list, tuple)):
        data.setlist(name, [str(v) for v in value])
    else:
        # Every other built-in widget reads data[name], SelectDateWidget too when its parts are absent.
        data[name] = str(value)


def _form_data(data: QueryDict, form: forms.BaseForm, answers: Mapping[str, Any]) -> None:
    for name, field in form.fields.items():
        if name in answers:
            _put(data, field.widget, form.add_prefix(name), answers[name])


def _formset_data(data: QueryDict, formset: BaseFormSet[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    model = _model(formset)
    if model is None:
        initial = len(rows)  # every row an initial row: validated in full, never left out as an empty extra
    else:
        pk_name = _pk_name(model)
        rows = sorted(rows, key=lambda row: pk_name not in row)  # rows in the database first, as a model formset
        initial = sum(1 for row in rows if pk_name in row)
    management = formset.management_form
    data[management.add_prefix(TOTAL_FORM_COUNT)] = str(len(rows))
    data[management.add_prefix(INITIAL_FORM_COUNT)] = str(initial)
    data[management.add_prefix(MIN_NUM_FORM_COUNT)] = str(formset.min_num)
    data[management.add_prefix(MAX_NUM_FORM_COUNT)] = str(formset.max_num)
    fields = formset.empty_form.fields
    for index, row in enumerate(rows):
        prefix = formset.add_prefix(index)
        for name, field in fields.items():
            if name in row:
                _put(data, field.widget, f"{prefix}-{name}", row[name])


def as_post_data(form: forms.BaseForm | BaseFormSet[Any], remembered: Answers) -> QueryDict:
    """POST data binding a new instance of *form*'s class to the answers remembered for it (for revalidation).

    Pass it as ``data=`` to the same form (or formset) class with the same
    prefix and other keyword arguments: ``is_valid()`` and ``cleaned_data``
    are then what was accepted. Fields never remembered (password, file and
    hidden widgets) get no data: a required one fails, an optional one is
    empty. A formset's ``cleaned_data`` holds the rows kept (deleted and
    untouched extra rows were not remembered); every row is bound as an
    initial row, and a model formset binds its rows with a primary key to
    those instances, which its queryset must hold (as :func:`formset_for`
    gives it).
    """
    data = QueryDict(mutable=True)
    if isinstance(form, BaseFormSet):
        _formset_data(data, form, remembered if isinstance(remembered, list) else [])
    else:
        _form_data(data, form, remembered if isinstance(remembered, Mapping) else {})
    return data


# -- the record --------------------------------------------------------------------------------------


def answers_for(record: Record, place: Place) -> Answers:
    """The answers last accepted on *place*'s page (empty if none; a formset step's: a list of rows)."""
    answers = record.answers.get(place.name, {})
    return [dict(row) for row in answers] if isinstance(answers, list) else dict(answers)


def remember(record: Record, place: Place, form: forms.BaseForm | BaseFormSet[Any]) -> None:
    """Keep what was accepted on *place*'s page, to show it again (never its sensitive fields)."""
    record.answers[place.name] = accepted_answers(form, getattr(place.component, "sensitive_fields", ()))
