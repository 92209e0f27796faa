"""The two baselines: a plain FormView per step (the floor) and a SessionWizardView."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.generic.edit import FormView
from formtools.wizard.views import SessionWizardView

from tests.benchmarks.flows import STEPS, DetailsForm

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

    def done(self, form_list: Any, **kwargs: Any) -> HttpResponse:
        return HttpResponseRedirect(DONE_URL)


def done(request: HttpRequest) -> HttpResponse:
    return render(request, "bench/done.html")
