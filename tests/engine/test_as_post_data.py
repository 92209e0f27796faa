"""``as_post_data``: the answers remembered for a form bind a new instance of it to what was accepted.

Each built-in form field (and each built-in widget that is remembered) is
accepted from the data a browser sends, remembered (and stored), and bound
again: the new form is valid and cleans to the same values. Formsets and
model formsets too: management form, prefixes, deleted rows left out.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import django
import pytest
from django import forms
from django.http import QueryDict

from flowmachine.codec import packb, unpackb
from flowmachine.engine.answers import accepted_answers, as_post_data
from tests.models import Order, Witness

pytestmark = pytest.mark.django_db

URL_KWARGS: dict[str, Any] = {"assume_scheme": "https"} if django.VERSION >= (5, 0) else {}
COLOURS = [("red", "Red"), ("blue", "Blue"), ("green", "Green")]
HERE = Path(__file__).parent
SIZES = [("s", "S"), ("m", "M"), ("l", "L")]


def browser_data(values: dict[str, Any]) -> QueryDict:
    """POST data as a browser sends it: one value per name, or several (a list)."""
    data = QueryDict(mutable=True)
    for name, value in values.items():
        if isinstance(value, list):
            data.setlist(name, value)
        else:
            data[name] = value
    return data


def stored(answers: Any) -> Any:
    """*answers* after a trip through the record's encoding."""
    return unpackb(packb(answers))


def rebound(form_class: type[forms.BaseForm], values: dict[str, Any], **kwargs: Any) -> tuple[Any, Any]:
    """The cleaned data of *form_class* accepted from *values*, and bound again from what was remembered."""
    accepted = form_class(data=browser_data(values), **kwargs)
    assert accepted.is_valid(), accepted.errors
    remembered = stored(accepted_answers(accepted))
    again = form_class(data=as_post_data(form_class(**kwargs), remembered), **kwargs)
    assert again.is_valid(), (again.errors, remembered)
    return accepted.cleaned_data, again.cleaned_data


def one_field_form(field: forms.Field) -> type[forms.Form]:
    return type("OneField", (forms.Form,), {"f": field})


def orders() -> list[Order]:
    return [Order.objects.create(item=f"item {n}", payment="card", task_id="-") for n in range(3)]


#: (id, field, what a browser sends for it: {"" : value} is the field's own name, {"_0": ...} a suffix).
FIELDS: list[tuple[str, Any, dict[str, Any]]] = [
    ("char", lambda: forms.CharField(), {"": "hello"}),
    ("char-empty", lambda: forms.CharField(required=False), {"": ""}),
    ("char-missing", lambda: forms.CharField(required=False), {}),
    ("textarea", lambda: forms.CharField(widget=forms.Textarea), {"": "two\r\nlines"}),
    ("email", lambda: forms.EmailField(), {"": "a@example.com"}),
    ("integer", lambda: forms.IntegerField(), {"": "12345678901234567890"}),
    ("decimal", lambda: forms.DecimalField(max_digits=6, decimal_places=2), {"": "9.90"}),
    ("float", lambda: forms.FloatField(), {"": "2.5"}),
    ("boolean-checked", lambda: forms.BooleanField(), {"": "on"}),
    ("boolean-unchecked", lambda: forms.BooleanField(required=False), {}),
    ("null-boolean-true", lambda: forms.NullBooleanField(), {"": "true"}),
    ("null-boolean-false", lambda: forms.NullBooleanField(), {"": "false"}),
    ("null-boolean-unknown", lambda: forms.NullBooleanField(), {"": "unknown"}),
    (
        "null-boolean-radio",
        lambda: forms.NullBooleanField(widget=forms.RadioSelect(choices=[("true", "Yes"), ("false", "No")])),
        {"": "false"},
    ),
    ("date", lambda: forms.DateField(), {"": "2024-02-29"}),
    (
        "date-select",
        lambda: forms.DateField(widget=forms.SelectDateWidget(years=range(2020, 2030))),
        {"_year": "2024", "_month": "2", "_day": "29"},
    ),
    ("datetime", lambda: forms.DateTimeField(), {"": "2024-03-31 01:30:15"}),
    ("time", lambda: forms.TimeField(), {"": "13:45:30.25"}),
    ("duration", lambda: forms.DurationField(), {"": "1 02:03:04.000005"}),
    ("split-datetime", lambda: forms.SplitDateTimeField(), {"_0": "2024-03-31", "_1": "01:30"}),
    (
        "split-datetime-optional",
        lambda: forms.SplitDateTimeField(required=False),
        {"_0": "", "_1": ""},
    ),
    ("choice", lambda: forms.ChoiceField(choices=COLOURS), {"": "blue"}),
    ("choice-radio", lambda: forms.ChoiceField(choices=COLOURS, widget=forms.RadioSelect), {"": "green"}),
    ("typed-choice", lambda: forms.TypedChoiceField(choices=[("1", "One"), ("2", "Two")], coerce=int), {"": "2"}),
    ("multiple-choice", lambda: forms.MultipleChoiceField(choices=SIZES), {"": ["s", "l"]}),
    (
        "multiple-choice-checkboxes",
        lambda: forms.MultipleChoiceField(choices=SIZES, widget=forms.CheckboxSelectMultiple),
        {"": ["m"]},
    ),
    ("multiple-choice-none", lambda: forms.MultipleChoiceField(choices=SIZES, required=False), {}),
    (
        "typed-multiple-choice",
        lambda: forms.TypedMultipleChoiceField(choices=[("1", "One"), ("2", "Two"), ("3", "Three")], coerce=int),
        {"": ["1", "3"]},
    ),
    ("uuid", lambda: forms.UUIDField(), {"": "12345678-1234-5678-1234-567812345678"}),
    ("slug", lambda: forms.SlugField(), {"": "a-slug_1"}),
    ("url", lambda: forms.URLField(**URL_KWARGS), {"": "example.com/x"}),
    ("ip", lambda: forms.GenericIPAddressField(), {"": "2001:db8::1"}),
    ("json", lambda: forms.JSONField(), {"": '{"a": [1, 2.5, null, true], "b": {"c": "d"}}'}),
    ("regex", lambda: forms.RegexField(r"^[A-Z]{3}$"), {"": "ABC"}),
    ("combo", lambda: forms.ComboField(fields=[forms.CharField(max_length=20), forms.EmailField()]), {"": "a@b.org"}),
    ("file-path", lambda: forms.FilePathField(path=str(HERE), match=r"\.py$"), {"": str(HERE / "__init__.py")}),
    ("model-choice", lambda: forms.ModelChoiceField(queryset=Order.objects.all()), {"": "order:1"}),
    (
        "model-choice-radio",
        lambda: forms.ModelChoiceField(queryset=Order.objects.all(), widget=forms.RadioSelect),
        {"": "order:2"},
    ),
    (
        "model-multiple-choice",
        lambda: forms.ModelMultipleChoiceField(queryset=Order.objects.all()),
        {"": ["order:0", "order:2"]},
    ),
    (
        "model-multiple-choice-checkboxes",
        lambda: forms.ModelMultipleChoiceField(queryset=Order.objects.all(), widget=forms.CheckboxSelectMultiple),
        {"": ["order:1"]},
    ),
]


def _resolve(value: Any, rows: list[Order]) -> Any:
    """``"order:N"`` stands for the primary key of the N-th order (made in the test)."""
    if isinstance(value, list):
        return [_resolve(v, rows) for v in value]
    if isinstance(value, str) and value.startswith("order:"):
        return str(rows[int(value[6:])].pk)
    return value


def comparable(cleaned: dict[str, Any]) -> dict[str, Any]:
    """*cleaned* with querysets as lists (a queryset compares by identity)."""
    return {k: list(v) if hasattr(v, "model") and hasattr(v, "filter") else v for k, v in cleaned.items()}


@pytest.mark.parametrize(("make", "sent"), [(make, sent) for _, make, sent in FIELDS], ids=[i for i, _, _ in FIELDS])
@pytest.mark.parametrize("prefix", [None, "p"])
def test_every_field_cleans_again_to_what_was_accepted(make: Any, sent: dict[str, Any], prefix: str | None) -> None:
    rows = orders()
    name = "p-f" if prefix else "f"
    values = {name + suffix: _resolve(value, rows) for suffix, value in sent.items()}
    accepted, again = rebound(one_field_form(make()), values, prefix=prefix)
    assert comparable(again) == comparable(accepted)
    assert type(again["f"]) is type(accepted["f"])


def test_the_covered_fields_are_every_built_in_field_that_is_remembered() -> None:
    """Each built-in field class (but the file ones, never remembered, and the abstract ones) is tested above."""
    covered = {type(make()) for _, make, _ in FIELDS}
    never_remembered = {forms.FileField, forms.ImageField}
    abstract = {forms.Field, forms.MultiValueField}
    built_in = {
        cls
        for cls in vars(forms).values()
        if isinstance(cls, type) and issubclass(cls, forms.Field) and cls.__module__.startswith("django.forms")
    }
    assert built_in - never_remembered - abstract <= covered, built_in - never_remembered - abstract - covered


class Everything(forms.Form):
    """Many fields at once, with a prefix: the data of one does not disturb another."""

    name = forms.CharField()
    agreed = forms.BooleanField(required=False)
    maybe = forms.NullBooleanField()
    when = forms.SplitDateTimeField()
    sizes = forms.MultipleChoiceField(choices=SIZES, widget=forms.CheckboxSelectMultiple)
    order = forms.ModelChoiceField(queryset=Order.objects.all())
    price = forms.DecimalField(max_digits=6, decimal_places=2)
    length = forms.DurationField()
    ident = forms.UUIDField()


def test_a_form_with_many_fields_and_a_prefix() -> None:
    rows = orders()
    sent = {
        "x-name": "Ann",
        "x-agreed": "on",
        "x-maybe": "false",
        "x-when_0": "2024-01-02",
        "x-when_1": "03:04",
        "x-sizes": ["s", "m"],
        "x-order": str(rows[0].pk),
        "x-price": "0.10",
        "x-length": "00:00:01",
        "x-ident": str(uuid.UUID(int=7)),
    }
    accepted, again = rebound(Everything, sent, prefix="x")
    assert again == accepted
    assert again["when"] == dt.datetime(2024, 1, 2, 3, 4, tzinfo=again["when"].tzinfo)
    assert again["price"] == Decimal("0.10") and again["maybe"] is False


class Secret(forms.Form):
    name = forms.CharField()
    password = forms.CharField(widget=forms.PasswordInput, required=False)
    token = forms.CharField(widget=forms.HiddenInput, required=False)
    upload = forms.FileField(required=False)


def test_password_file_and_hidden_fields_get_no_data() -> None:
    accepted = Secret(data={"name": "Ann", "password": "s3cret", "token": "t"})
    assert accepted.is_valid()
    data = as_post_data(Secret(), accepted_answers(accepted))
    assert dict(data) == {"name": ["Ann"]}
    assert as_post_data(Secret(), {"name": "Ann", "password": "s3cret"})["password"] == "s3cret"  # given: used


def test_a_checkbox_sends_on_when_checked_and_nothing_when_not() -> None:
    form = one_field_form(forms.BooleanField(required=False))()
    assert as_post_data(form, {"f": True})["f"] == "on"
    assert "f" not in as_post_data(form, {"f": False})


def test_answers_of_another_shape_bind_nothing() -> None:
    assert not as_post_data(one_field_form(forms.CharField())(), [{"f": "x"}])


# -- formsets ------------------------------------------------------------------------------------------


class WitnessForm(forms.Form):
    name = forms.CharField()
    phone = forms.CharField(required=False)
    seen = forms.DateField(required=False)
    sure = forms.BooleanField(required=False)


def management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": str(initial)}


def rows_of(formset: Any) -> list[dict[str, Any]]:
    """The formset's rows kept (as a flow step keeps them): no empty extra rows, no deleted rows."""
    return [comparable(row) for row in formset.cleaned_data if row and not row.get("DELETE")]


@pytest.mark.parametrize("prefix", [None, "witnesses"])
def test_a_formset_binds_again_to_its_rows_without_the_deleted_and_the_empty(prefix: str | None) -> None:
    formset_class = forms.formset_factory(WitnessForm, extra=2, can_delete=True, can_order=True)
    p = prefix or "form"
    sent = {
        **management(p, 4),
        f"{p}-0-name": "Ann",
        f"{p}-0-seen": "2024-01-02",
        f"{p}-0-sure": "on",
        f"{p}-0-ORDER": "2",
        f"{p}-1-name": "Bob",
        f"{p}-1-DELETE": "on",
        f"{p}-2-name": "Cy",
        f"{p}-2-phone": "123",
        f"{p}-2-ORDER": "1",
        # row 3: an extra row left empty
    }
    accepted = formset_class(data=browser_data(sent), prefix=prefix)
    assert accepted.is_valid(), accepted.errors
    remembered = stored(accepted_answers(accepted))
    assert [row["name"] for row in remembered] == ["Ann", "Cy"]
    again = formset_class(data=as_post_data(formset_class(prefix=prefix), remembered), prefix=prefix)
    assert again.is_valid(), again.errors
    assert rows_of(again) == rows_of(accepted)
    assert [f.cleaned_data["name"] for f in again.ordered_forms] == ["Cy", "Ann"]


def test_a_formset_with_no_rows_binds_again_to_no_rows() -> None:
    formset_class = forms.formset_factory(WitnessForm, extra=1)
    accepted = formset_class(data=management("form", 1))
    assert accepted.is_valid()
    assert accepted_answers(accepted) == []
    again = formset_class(data=as_post_data(formset_class(), []))
    assert again.is_valid() and again.cleaned_data == []


def test_a_formset_row_of_empty_values_is_still_a_row() -> None:
    """A row shown again (an initial row) and sent with nothing in its optional fields is bound as a row."""
    optional = forms.formset_factory(one_field_form(forms.CharField(required=False)), extra=0)
    accepted = optional(data={**management("form", 1, 1), "form-0-f": ""}, initial=[{"f": ""}])
    assert accepted.is_valid() and accepted.cleaned_data == [{"f": ""}]
    again = optional(data=as_post_data(optional(), stored(accepted_answers(accepted))))
    assert again.is_valid() and again.cleaned_data == [{"f": ""}]


def test_a_model_formset_binds_its_rows_to_their_instances() -> None:
    ann = Witness.objects.create(name="Ann")
    bob = Witness.objects.create(name="Bob")
    formset_class = forms.modelformset_factory(Witness, fields=["name", "phone"], extra=1, can_delete=True)
    sent = {
        **management("form", 3, 2),
        "form-0-id": str(ann.pk),
        "form-0-name": "Ann",
        "form-0-phone": "1",
        "form-1-id": str(bob.pk),
        "form-1-name": "Bob",
        "form-1-DELETE": "on",
        "form-2-name": "Cy",  # a new row, not saved
    }
    queryset = Witness.objects.filter(pk__in=[ann.pk, bob.pk])
    accepted = formset_class(data=browser_data(sent), queryset=queryset)
    assert accepted.is_valid(), accepted.errors
    remembered = stored(accepted_answers(accepted))
    assert remembered == [{"name": "Ann", "phone": "1", "id": str(ann.pk)}, {"name": "Cy", "phone": None}]
    again = formset_class(data=as_post_data(formset_class(queryset=queryset), remembered), queryset=queryset)
    assert again.is_valid(), again.errors
    assert rows_of(again) == rows_of(accepted)
    assert again.forms[0].instance == ann and again.forms[1].instance.pk is None


def test_a_saved_model_formset_remembers_the_new_rows_with_their_keys() -> None:
    formset_class = forms.modelformset_factory(Witness, fields=["name"], extra=2)
    accepted = formset_class(
        data={**management("form", 2), "form-0-name": "Ann", "form-1-name": "Bob"}, queryset=Witness.objects.none()
    )
    assert accepted.is_valid()
    ann, bob = accepted.save()
    remembered = accepted_answers(accepted)
    assert remembered == [{"name": "Ann", "id": str(ann.pk)}, {"name": "Bob", "id": str(bob.pk)}]
    data = as_post_data(formset_class(), remembered)
    assert data["form-INITIAL_FORMS"] == "2"
    again = formset_class(data=data, queryset=Witness.objects.filter(pk__in=[ann.pk, bob.pk]))
    assert again.is_valid(), again.errors
    assert [row["id"] for row in again.cleaned_data] == [ann, bob]


def test_an_inline_formset_binds_its_rows() -> None:
    order = orders()[0]
    Witness.objects.create(order=order, name="Ann")
    formset_class = forms.inlineformset_factory(Order, Witness, fields=["name", "phone"], extra=1)
    (ann,) = order.witnesses.all()
    sent = {
        **management("witnesses", 2, 1),
        "witnesses-0-id": str(ann.pk),
        "witnesses-0-order": str(order.pk),
        "witnesses-0-name": "Ann B",
        "witnesses-1-name": "Cy",
    }
    accepted = formset_class(data=browser_data(sent), instance=order)
    assert accepted.is_valid(), accepted.errors
    remembered = stored(accepted_answers(accepted))
    assert [row.get("id") for row in remembered] == [str(ann.pk), None]
    again = formset_class(data=as_post_data(formset_class(instance=order), remembered), instance=order)
    assert again.is_valid(), again.errors
    assert rows_of(again) == rows_of(accepted)
    assert again.cleaned_data[0]["order"] == order
