"""flowmachine.contrib.crispy with django-crispy-forms and crispy-bootstrap5 installed."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from crispy_forms.layout import Layout, Submit
from django import forms
from django.template import Context, Template
from django.test import Client
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from flowmachine.contrib.crispy import FlowFields, FlowFormHelper

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.integrations.test_crispy")]


class PetForm(forms.Form):
    name = forms.CharField()
    kind = forms.ChoiceField(choices=[("cat", "Cat"), ("dog", "Dog")])


class CrispyStep(Action):
    template_name = "survey/crispy_step.html"
    form_class = PetForm
    _abstract = True

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        form.helper = self.make_helper()
        return form

    def make_helper(self) -> FlowFormHelper:
        helper = FlowFormHelper()
        helper.add_input(Submit("next", "Next"))
        return helper

    def form_valid(self, form):
        self.state.setdefault("pets", []).append(form.cleaned_data["name"])
        return COMPLETE


class FirstPet(CrispyStep):
    url = "first/"


class SecondPet(CrispyStep):
    """Its own layout (only the name field): FlowFields is appended to it."""

    url = "second/"

    def make_helper(self) -> FlowFormHelper:
        helper = FlowFormHelper()
        helper.layout = Layout("name")
        return helper

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        form.fields["kind"].required = False
        return form


class Pets(Scaffold):
    transition = Linear
    action_set = [FirstPet, SecondPet]


handler = FlowHandler(app_namespace="pets", on_complete_url="/pets-done/")
handler.register_entry_point(Pets)
urlpatterns = [path("pets/", include(handler.urls))]


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self.inputs: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms.append({k: v or "" for k, v in attrs})
        if tag == "input":
            self.inputs.append({k: v or "" for k, v in attrs})


def parse(html: str) -> _Inputs:
    parser = _Inputs()
    parser.feed(html)
    return parser


def hidden(page: _Inputs) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for attrs in page.inputs:
        if attrs.get("type") == "hidden":
            values.setdefault(attrs["name"], []).append(attrs.get("value", ""))
    return values


def header_names(html_of_page_context: str) -> set[str]:
    return set(re.findall(r'name="([^"]+)"', html_of_page_context))


def start(client: Client) -> str:
    response = client.get("/pets/")
    assert response.status_code == 302
    return response["Location"]


def test_the_helper_renders_every_hidden_field_of_the_flow_header_and_one_csrf_token(client):
    url = start(client)
    response = client.get(url)
    assert response.status_code == 200
    page = parse(response.content.decode())
    fields = hidden(page)
    task_id = url.split("_t=")[1]
    assert fields["_t"] == [task_id]
    assert len(fields["csrfmiddlewaretoken"]) == 1
    # Whatever {% flow_form_header %} emits (task id, and any other field) is in the crispy form.
    header = Template("{% load flowmachine %}{% flow_form_header %}").render(
        Context({"flow": response.context["flow"], "request": response.wsgi_request})
    )
    assert header_names(header) <= set(fields)
    assert page.forms[0]["method"] == "post"
    html = response.content.decode()
    assert 'name="name"' in html and '<select name="kind" class="select form-select"' in html  # bootstrap5


def test_a_flow_is_walked_through_crispy_forms_with_csrf_enforced():
    client = Client(enforce_csrf_checks=True)
    url = start(client)
    for name in ("Tom", "Rex"):
        page = parse(client.get(url).content.decode())
        data = {key: values[0] for key, values in hidden(page).items()}
        data.update({"name": name, "kind": "cat"})
        response = client.post(url, data)
        assert response.status_code == 302, response.content[:300]
        url = response["Location"]
    assert url == "/pets-done/"


def test_a_custom_layout_gets_the_flow_fields_appended_and_keeps_its_own_fields(client):
    url = start(client)
    page = parse(client.get(url).content.decode())
    data = {key: values[0] for key, values in hidden(page).items()}
    url = client.post(url, {**data, "name": "Tom", "kind": "cat"})["Location"]
    html = client.get(url).content.decode()
    page = parse(html)
    assert hidden(page)["_t"] == [url.split("_t=")[1]]
    names = {attrs.get("name") for attrs in page.inputs}
    assert "name" in names and "kind" not in names and 'name="kind"' not in html


def test_flow_fields_outside_a_flow_render_nothing():
    assert FlowFields().render(None, Context({})) == ""


@pytest.mark.parametrize(
    "module, extra", [("flowmachine.contrib.crispy", "crispy"), ("flowmachine.contrib.celery", "celery")]
)
def test_a_missing_package_names_the_extra(module: str, extra: str) -> None:
    blocked = {"crispy": "crispy_forms", "celery": "celery"}[extra]
    code = f"import sys; sys.modules[{blocked!r}] = None; import {module}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert f'pip install "django-flowmachine[{extra}]"' in result.stderr
