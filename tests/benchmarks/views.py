"""The two baselines: a plain FormView per step (the floor) and a SessionWizardView.

The production setup has its own of each, one per database and form size
(:func:`production_views`): the floor's page view reads nothing, its POST
saves the cleaned data in the session, as a hand-written step would.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.generic.edit import FormView
from formtools.wizard.views import SessionWizardView

from tests.benchmarks.flows import FORMS, STEPS, DetailsForm

DONE_URL = "/done/"


class FloorStep(FormView):
    """Step *step* of the form as a hand-written view: its data goes into the session."""

    template_name = "bench/step.html"
    form_class = DetailsForm

    def _key(self) -> str:
        return f"floor:{self.kwargs['step']}"

    def get_initial(self) -> dict[str, Any]:
        return dict(self.request.session.get(self._key(), {}))

    def form_valid(self, form: DetailsForm) -> HttpResponse:
        self.request.session[self._key()] = form.cleaned_data
        step = self.kwargs["step"]
        return HttpResponseRedirect(f"/floor/{step + 1}/" if step < STEPS else DONE_URL)


class BenchWizard(SessionWizardView):
    """The same form as a django-formtools wizard, data kept in the session."""

    form_list = [DetailsForm] * STEPS
    template_name = "bench/step.html"

    def get_prefix(self, request: HttpRequest, *args: Any, **kwargs: Any) -> str:
        return "bench_wizard"  # the same management form for every wizard of the benchmark

    def done(self, form_list: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponseRedirect(DONE_URL)


def done(request: HttpRequest) -> HttpResponse:
    return render(request, "bench/done.html")


class PlainFloorStep(FormView):
    """A hand-written step: an empty form on GET; on POST its data goes into the session, then a redirect."""

    template_name = "bench/step.html"
    prefix_url = ""

    def form_valid(self, form: Any) -> HttpResponse:
        step = self.kwargs["step"]
        self.request.session[f"floor:{step}"] = form.cleaned_data
        return HttpResponseRedirect(f"{self.prefix_url}{step + 1}/" if step < STEPS else DONE_URL)


def production_views(prefix: str, fields: int) -> tuple[Any, Any]:
    """The floor step and the wizard of the production setup under *prefix*, with the *fields*-field form."""
    form = FORMS[fields][0]
    floor = type(f"Floor{fields}", (PlainFloorStep,), {"form_class": form, "prefix_url": f"{prefix}floor/"})
    wizard = type(f"Wizard{fields}", (BenchWizard,), {"form_list": [form] * STEPS})
    return floor.as_view(), wizard.as_view()
