"""The state keys and form fields of a flow that are sensitive: never kept as answers, journalled, or shown.

An action declares ``sensitive_fields``; every password field of its form is
sensitive without saying so. A state key named like a sensitive field is
masked in the journal, the admin and ``flowtask export``: keep in the state only
what is safe to keep (a card's last four digits, not its number).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from django import forms
from django.http import HttpRequest

from flowmachine import registry
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.summary import MASK, sensitive_names

__all__ = ["keys_of_flow", "mark_post_data", "mask", "masked_record", "sensitive_keys"]

_keys: weakref.WeakKeyDictionary[CompiledFlow, frozenset[str]] = weakref.WeakKeyDictionary()


def _declared(action: type) -> frozenset[str]:
    form_class = getattr(action, "form_class", None)
    fields = getattr(form_class, "base_fields", None)
    if fields is None:  # a formset class: the fields of its rows
        fields = getattr(getattr(form_class, "form", None), "base_fields", {})
    passwords = {name for name, field in fields.items() if isinstance(field.widget, forms.PasswordInput)}
    return frozenset(getattr(action, "sensitive_fields", ())) | passwords


def sensitive_keys(flow: CompiledFlow) -> frozenset[str]:
    """Every name any action of *flow* declares sensitive, or gives a password field."""
    keys = _keys.get(flow)
    if keys is None:
        keys = _keys[flow] = frozenset().union(*(_declared(p.component) for p in flow.places.values() if p.is_action))
    return keys


def keys_of_flow(name: Any) -> frozenset[str]:
    """:func:`sensitive_keys` of the served flow named *name* (none if no flow of that name is served)."""
    flow = registry.find_flow(name) if isinstance(name, str) else None
    return sensitive_keys(flow) if isinstance(flow, CompiledFlow) else frozenset()


def masked_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored *record* whose sensitive values (state, answers, journal) show the mask."""
    keys = keys_of_flow(record.get("flow"))
    if not keys:
        return record
    copy = dict(record)
    if isinstance(record.get("data"), dict):
        copy["data"] = mask(record["data"], keys)
    if isinstance(record.get("ans"), dict):
        copy["ans"] = {
            step: mask(answers, keys) if isinstance(answers, dict) else answers
            for step, answers in record["ans"].items()
        }
    if isinstance(record.get("jrnl"), list):
        copy["jrnl"] = [
            [*entry[:3], mask(entry[3], keys), *entry[4:]] if len(entry) > 3 and isinstance(entry[3], dict) else entry
            for entry in record["jrnl"]
        ]
    return copy


def mask(values: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """*values* with the value of each key in *keys* replaced by the mask."""
    hidden = set(keys)
    if not hidden.intersection(values):
        return values
    return {key: MASK if key in hidden else value for key, value in values.items()}


def mark_post_data(request: HttpRequest, form: Any, declared: Iterable[str]) -> None:
    """Hide *form*'s sensitive fields from Django's error reports, as ``sensitive_post_parameters`` does."""
    names = sensitive_names(form, declared)
    if not names:
        return
    if hasattr(form, "forms"):  # a formset: each row's fields
        keys = [row.add_prefix(name) for row in form.forms for name in names]
    else:
        keys = [form.add_prefix(name) for name in names]
    already = list(getattr(request, "sensitive_post_parameters", []) or [])
    if "__ALL__" not in already:
        request.sensitive_post_parameters = [*already, *keys]  # type: ignore[attr-defined]
