"""A three-question survey flow for the integration tests (signals, funnel, cleanup, admin, crispy).

Use it with ``@pytest.mark.urls("tests.survey_flows")``: it is served at
``/survey/`` beside the admin.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold

NAME = "Survey.AskName"
AGE = "Survey.AskAge"
COLOUR = "Survey.AskColour"


class AnswerForm(forms.Form):
    answer = forms.CharField()


class Question(Action):
    template_name = "shop/step.html"
    form_class = AnswerForm
    _abstract = True

    def form_valid(self, form):
        self.state[type(self).__name__] = form.cleaned_data["answer"]
        return COMPLETE


class AskName(Question):
    url = "name/"


class AskAge(Question):
    url = "age/"


class AskColour(Question):
    url = "colour/"


class Survey(Scaffold):
    transition = Linear
    action_set = [AskName, AskAge, AskColour]


handler = FlowHandler(app_namespace="survey", on_complete_url="/survey-done/")
handler.register_entry_point(Survey)

urlpatterns = [
    path("survey/", include(handler.urls)),
    path("admin/", admin.site.urls),
]
