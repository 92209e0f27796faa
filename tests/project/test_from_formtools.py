"""The port in docs/from-formtools.md is real: the formtools wizard and the flow collect the same data.

Both live in examples/from_formtools/signup and are served by its urls.py;
each is walked with the Django test client, as a browser would.
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path

import pytest
from django.test import Client

from flowmachine import registry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "from_formtools"
PAGE = ROOT / "docs" / "from-formtools.md"
ANSWERS = [("name", "Ada"), ("email", "ada@example.com"), ("plan", "pro")]
EXPECTED = dict(ANSWERS)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')

pytestmark = pytest.mark.django_db


@pytest.fixture
def example(settings, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    with registry.isolated():  # the example's handler serves this test only
        importlib.import_module("signup.urls")
    flows = importlib.import_module("signup.flows")
    settings.ROOT_URLCONF = "signup.urls"
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(EXAMPLE / "signup" / "templates")]  # as APP_DIRS finds them in a project
    settings.TEMPLATES = templates
    with registry.isolated(flows.handler):
        yield


def walk_the_wizard(client):
    response = client.get("/wizard/")
    assert response.status_code == 200
    steps = ["name", "contact", "plan"]
    for number, (step, (field, value)) in enumerate(zip(steps, ANSWERS), start=1):
        html = response.content.decode()
        assert f"Step {number} of 3" in html
        if step == "plan":
            assert "Nearly done, Ada." in html  # get_cleaned_data_for_step() in the plan's own template
        # The management form names the step; each field is prefixed with its step's name.
        response = client.post("/wizard/", {"signup_wizard-current_step": step, f"{step}-{field}": value})
    assert response.status_code == 302 and response["Location"] == "/done/"
    return client


def walk_the_flow(client):
    response = client.get("/signup/")
    assert response.status_code == 302
    url = response["Location"]
    for number, (field, value) in enumerate(ANSWERS, start=1):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert f"Step {number} of 3" in html
        if field == "plan":
            assert "Nearly done, Ada." in html  # the state in the plan's own template
        response = client.post(url, {**dict(HIDDEN.findall(html)), field: value})
        assert response.status_code == 302, html
        url = response["Location"]
    assert url == "/done/"
    return client


def test_the_wizard_and_the_flow_collect_the_same_data(example):
    wizard = walk_the_wizard(Client())
    flow = walk_the_flow(Client())
    assert wizard.session["signup"] == EXPECTED
    assert flow.session["signup"] == EXPECTED
    assert wizard.get("/done/").content == flow.get("/done/").content


def test_an_invalid_answer_keeps_each_on_its_step(example):
    wizard = Client()
    wizard.get("/wizard/")
    response = wizard.post("/wizard/", {"signup_wizard-current_step": "name", "name-name": ""})
    assert response.status_code == 200 and "Step 1 of 3" in response.content.decode()

    flow = Client()
    url = flow.get("/signup/")["Location"]
    html = flow.get(url).content.decode()
    response = flow.post(url, {**dict(HIDDEN.findall(html)), "name": ""})
    assert response.status_code == 200 and "Step 1 of 3" in response.content.decode()


@pytest.mark.parametrize(
    "path", ["signup/forms.py", "signup/wizard.py", "signup/flows.py", "signup/urls.py", "signup/views.py"]
)
def test_the_page_includes_the_example_code(path):
    assert f"```{{literalinclude}} ../examples/from_formtools/{path}\n" in PAGE.read_text()
