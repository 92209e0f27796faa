"""The flows the benchmark runs: the N-step form as a flowmachine flow, and generated flows.

Every step of every variant uses :class:`DetailsForm` and ``bench/step.html``,
so the floor, the wizard and flowmachine pay the same form and template costs.
"""

from __future__ import annotations

from typing import Any

from django import forms

from flowmachine import COMPLETE, Action, Linear, Scaffold

#: Steps of the linear form compared across the floor, the wizard and flowmachine.
STEPS = 5

#: What the benchmark's client posts on every step.
FORM_DATA = {"name": "Ada Lovelace", "email": "ada@example.com", "quantity": "2", "size": "M", "note": ""}


class DetailsForm(forms.Form):
    name = forms.CharField(max_length=100)
    email = forms.EmailField()
    quantity = forms.IntegerField(min_value=1, max_value=99)
    size = forms.ChoiceField(choices=[("S", "Small"), ("M", "Medium"), ("L", "Large")])
    note = forms.CharField(required=False, widget=forms.Textarea)


class NameForm(forms.Form):
    """The one-field form of the production setup: the library's own cost is not diluted by rendering."""

    name = forms.CharField(max_length=100)


#: What the benchmark's client posts on every step of the one-field form.
NAME_DATA = {"name": "Ada Lovelace"}

#: The production setup's forms by number of fields: (form class, data posted).
FORMS: dict[int, tuple[type[forms.Form], dict[str, str]]] = {1: (NameForm, NAME_DATA), 5: (DetailsForm, FORM_DATA)}


class BenchStep(Action):
    """A step of a benchmark flow: keeps the form's data in the task's state."""

    _abstract = True
    template_name = "bench/step.html"
    form_class = DetailsForm

    def form_valid(self, form: forms.BaseForm) -> Any:
        self.state[self.place.local_name] = form.cleaned_data
        return COMPLETE


def _steps(prefix: str, count: int) -> list[type[Action]]:
    return [
        type(f"{prefix}{i}", (BenchStep,), {"url": f"s{i}/", "__module__": __name__})  # type: ignore[misc]
        for i in range(1, count + 1)
    ]


class Checkout(Scaffold):
    """The N-step linear form."""

    url = "start/"
    transition = Linear
    action_set = _steps("Step", STEPS)


class NameStep(BenchStep):
    _abstract = True
    form_class = NameForm


class NameCheckout(Scaffold):
    """The N-step linear form with one field per step."""

    url = "start/"
    transition = Linear
    action_set = [
        type(f"NameStep{i}", (NameStep,), {"url": f"s{i}/", "__module__": __name__})  # type: ignore[misc]
        for i in range(1, STEPS + 1)
    ]


#: The production setup's flows by number of fields.
CHECKOUTS: dict[int, type[Scaffold]] = {1: NameCheckout, 5: Checkout}


def linear_flow(actions: int) -> type[Scaffold]:
    """One Linear scaffold of *actions* actions."""
    return type(  # type: ignore[return-value]
        f"Linear{actions}",
        (Scaffold,),
        {
            "url": f"linear{actions}/",
            "transition": Linear,
            "action_set": _steps(f"L{actions}x", actions),
            "__module__": __name__,
        },
    )


def nested_flow(depth: int, actions: int = 10) -> type[Scaffold]:
    """*actions* actions in a Linear scaffold wrapped in scaffolds, *depth* scaffolds in all."""
    inner: type[Scaffold] = type(  # type: ignore[assignment]
        f"Nest{depth}d{depth}",
        (Scaffold,),
        {
            "url": f"nest{depth}/" if depth == 1 else f"n{depth}/",
            "transition": Linear,
            "action_set": _steps(f"N{depth}x", actions),
            "__module__": __name__,
        },
    )
    for level in range(depth - 1, 0, -1):
        inner = type(  # type: ignore[assignment]
            f"Nest{depth}d{level}",
            (Scaffold,),
            {
                "url": f"nest{depth}/" if level == 1 else f"n{level}/",
                "transition": Linear,
                "action_set": [inner],
                "__module__": __name__,
            },
        )
    return inner


SCALE_SIZES = (10, 100, 1000)
NEST_DEPTHS = (1, 5, 20)
LINEAR_FLOWS = {n: linear_flow(n) for n in SCALE_SIZES}
NESTED_FLOWS = {d: nested_flow(d) for d in NEST_DEPTHS}
