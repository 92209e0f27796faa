"""Remembered answers: what was last accepted on each page, shown again when the user comes back."""

from __future__ import annotations

from typing import Any

from django import forms

from flowmachine.machine.places import Place
from flowmachine.record import Record

__all__ = ["accepted_answers", "answers_for", "remember"]


def accepted_answers(form: forms.BaseForm) -> dict[str, Any]:
    """The answers of an accepted form worth showing again: never passwords, files or hidden fields."""
    answers: dict[str, Any] = {}
    for name, field in form.fields.items():
        widget = field.widget
        if isinstance(widget, (forms.PasswordInput, forms.FileInput)) or widget.is_hidden:
            continue
        value = form[name].data
        if isinstance(value, (list, tuple)):
            answers[name] = [str(v) for v in value]
        elif value is None or isinstance(value, (bool, int, float, str)):
            answers[name] = value
    return answers


def answers_for(record: Record, place: Place) -> dict[str, Any]:
    """The answers last accepted on *place*'s page (empty if none)."""
    return dict(record.answers.get(place.name, {}))


def remember(record: Record, place: Place, form: forms.BaseForm) -> None:
    """Keep what was accepted on *place*'s page, to show it again."""
    record.answers[place.name] = accepted_answers(form)


def as_post_data(
    form: forms.BaseForm, remembered: dict[str, Any]
) -> Any:  # provisional: replaced by the formsets branch
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    for name, value in remembered.items():
        key = form.add_prefix(name)
        if value is None or value is False:
            continue
        if value is True:
            data[key] = "on"
        elif isinstance(value, list):
            data.setlist(key, [str(v) for v in value])
        else:
            data[key] = str(value)
    return data
