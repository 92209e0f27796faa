"""Check your answers: the steps of the path taken, each answer as its user reads it, and a Change link.

:meth:`flowmachine.Action.summary` returns a :class:`StepSummary` for each
step on the path actually taken whose answers were accepted; the rows come
from each step's :meth:`~flowmachine.Action.summary_rows`, by default one per
field of its form, shown by :func:`display_value`. ``{% flow_summary %}``
renders them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.formsets import BaseFormSet
from django.forms.utils import pretty_name
from django.utils import formats, timezone
from django.utils.translation import gettext

__all__ = ["MASK", "AnswerRow", "StepSummary", "display_value", "form_rows"]

#: How a sensitive answer shows wherever answers are shown.
MASK = "••••••"


@dataclass(frozen=True)
class AnswerRow:
    """One answer of a summary: the field's name, its label and its value as the user reads it."""

    name: str
    label: str
    value: str
    #: The value is masked (a field declared sensitive, or a password).
    sensitive: bool = False


@dataclass(frozen=True)
class StepSummary:
    """One step on the path taken: its title, its answers, and the URL that changes them (None: cannot)."""

    title: str
    component: type
    rows: tuple[AnswerRow, ...]
    change_url: str | None


def display_value(field: forms.Field, value: Any) -> str:
    """*value* (as *field* cleans it) as its user reads it: a choice's label, an object's ``str()``,
    dates and numbers formatted for the active language, Yes or No."""
    if value is None or value == "" or value == [] or value == ():
        return ""
    if isinstance(value, models.QuerySet):
        value = list(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(display_value(field, item) for item in value)
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(field, forms.ChoiceField) and not isinstance(value, models.Model):
        labels = _choice_labels(field)
        if str(value) in labels:
            return labels[str(value)]
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    if isinstance(value, (datetime.date, datetime.time, Decimal, float, int)):
        return str(formats.localize(value))
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)


def _choice_labels(field: forms.ChoiceField) -> dict[str, str]:
    labels: dict[str, str] = {}
    choices: Any = field.choices
    for key, label in choices:
        if isinstance(label, (list, tuple)):  # a group of choices
            labels.update((str(k), str(v)) for k, v in label)
        else:
            labels[str(key)] = str(label)
    return labels


def form_rows(form: Any, remembered: Any, sensitive: Iterable[str] = ()) -> list[AnswerRow]:
    """A row for each visible field of *form*, from the answers *remembered* for it.

    Each value is cleaned by its field again (a product's id becomes the
    product); a value its field no longer accepts is shown as it was typed.
    A sensitive field shows :data:`MASK`, whatever was kept of it. A formset
    has a row for each row accepted (numbered, its answers in one line), or
    one saying there were none.
    """
    if isinstance(form, BaseFormSet):
        return _formset_rows(form, remembered if isinstance(remembered, list) else [], sensitive)
    if not isinstance(remembered, dict):
        return []
    hidden = set(sensitive)
    rows: list[AnswerRow] = []
    for name, field in form.fields.items():
        if field.widget.is_hidden:
            continue
        label = str(field.label if field.label is not None else pretty_name(name))
        if name in hidden or isinstance(field.widget, forms.PasswordInput):
            rows.append(AnswerRow(name, label, MASK, sensitive=True))
            continue
        if name not in remembered:
            continue
        raw = remembered[name]
        try:
            value = field.clean(raw)
        except (ValidationError, TypeError, ValueError):
            value = raw
        rows.append(AnswerRow(name, label, display_value(field, value)))
    return rows


def _formset_rows(formset: BaseFormSet[Any], rows: list[Any], sensitive: Iterable[str]) -> list[AnswerRow]:
    if not rows:
        return [AnswerRow(str(formset.prefix), "", gettext("None"))]
    template = formset.empty_form
    lines = []
    for number, row in enumerate(rows, 1):
        cells = form_rows(template, row, sensitive) if isinstance(row, dict) else []
        text = "; ".join(f"{cell.label}: {cell.value}" for cell in cells if cell.value)
        lines.append(AnswerRow(f"{formset.prefix}-{number - 1}", str(number), text))
    return lines


def rows_tuple(rows: Sequence[AnswerRow]) -> tuple[AnswerRow, ...]:
    """*rows* checked: each must be an :class:`AnswerRow` (a mistake in an overridden ``summary_rows``)."""
    for row in rows:
        if not isinstance(row, AnswerRow):
            raise TypeError(f"summary_rows() must return AnswerRow objects, not {row!r}.")
    return tuple(rows)
