"""Without pygraphviz the diagram features say which extra to install, and nothing else breaks.

Each test runs a fresh interpreter whose import system refuses ``pygraphviz``
(a meta path finder inserted before anything is imported), as on a machine
where the ``diagrams`` extra was never installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXTRA = 'pip install "django-flowmachine[diagrams]"'

PRELUDE = """
import sys

class _NoPygraphviz:
    def find_spec(self, name, path=None, target=None):
        if name == "pygraphviz" or name.startswith("pygraphviz."):
            raise ModuleNotFoundError("No module named 'pygraphviz'", name=name)
        return None

sys.meta_path.insert(0, _NoPygraphviz())
sys.modules.pop("pygraphviz", None)
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
import django
django.setup()
"""


def _python(body: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["FLOWMACHINE_TEST_DB"] = "sqlite"  # an in-memory database of the subprocess's own
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + body, *args], cwd=ROOT, env=env, check=False, capture_output=True, text=True
    )


def test_pygraphviz_really_is_unimportable_in_the_subprocess():
    result = _python("import pygraphviz")
    assert result.returncode != 0
    assert "No module named 'pygraphviz'" in result.stderr


def test_the_command_names_the_extra_and_mermaid_still_works(tmp_path):
    body = """
import io, json
from django.core.management import call_command, CommandError
out = {}
try:
    call_command("flowgraph", "Purchase", "-o", sys.argv[1])
except CommandError as exc:
    out["svg"] = str(exc)
try:
    call_command("flowgraph", "Purchase", "--format", "dot", stdout=io.StringIO())
except CommandError as exc:
    out["dot"] = str(exc)
call_command("flowgraph", "Purchase", "-o", sys.argv[2], stdout=io.StringIO())
print(json.dumps(out))
"""
    result = _python(body, str(tmp_path / "x.svg"), str(tmp_path / "x.mmd"))
    assert result.returncode == 0, result.stderr
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    for message in errors.values():
        assert EXTRA in message
        assert "format 'mermaid'" in message
    assert set(errors) == {"svg", "dot"}
    assert not (tmp_path / "x.svg").exists()
    assert (tmp_path / "x.mmd").read_text().startswith("flowchart TB")


def test_the_python_api_raises_an_import_error_naming_the_extra():
    body = """
from tests.flows import Purchase
from flowmachine.diagrams import DiagramsUnavailable, render, to_mermaid, flow_graph
assert len(flow_graph(Purchase).actions()) == 12
assert to_mermaid(Purchase).startswith("flowchart TB")
try:
    render(Purchase, "png")
except ImportError as exc:
    assert isinstance(exc, DiagramsUnavailable)
    print(exc)
"""
    result = _python(body)
    assert result.returncode == 0, result.stderr
    assert EXTRA in result.stdout


def test_the_views_answer_with_the_message_and_the_rest_of_the_site_works():
    body = """
import json, types
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import include, path
from flowmachine import all_flowgraphs
from tests.flows import handler

setup_test_environment()
urls = types.ModuleType("diagram_urls")
urls.urlpatterns = [path("buy/", include(handler.urls)), path("flowgraphs/", all_flowgraphs)]
sys.modules["diagram_urls"] = urls
settings.ROOT_URLCONF = "diagram_urls"
settings.DEBUG = True
call_command("migrate", verbosity=0, run_syncdb=True)
client = Client()
out = {}
for url in ["/buy/.flowgraph", "/buy/.flowgraph?format=png", "/buy/.flowgraph?format=mermaid", "/flowgraphs/"]:
    response = client.get(url)
    out[url] = [response.status_code, response["Content-Type"], response.content.decode()]
response = client.get("/buy/")
out["entry"] = [response.status_code, response["Location"]]
out["check"] = [str(m) for m in __import__("django.core.checks", fromlist=["run_checks"]).run_checks()]
print(json.dumps(out))
"""
    result = _python(body)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for url in ["/buy/.flowgraph", "/buy/.flowgraph?format=png"]:
        status, content_type, text = out[url]
        assert status == 501 and content_type.startswith("text/plain")
        assert EXTRA in text
    status, content_type, text = out["/buy/.flowgraph?format=mermaid"]
    assert status == 200 and text.startswith("flowchart TB")
    status, content_type, text = out["/flowgraphs/"]
    assert status == 200 and EXTRA.replace('"', "&quot;") in text
    assert '<pre class="mermaid">flowchart TB' in text and "<svg" not in text
    # flows still run and the system checks still pass without pygraphviz
    assert out["entry"][0] == 302 and "/buy/item/?_t=" in out["entry"][1]
    assert out["check"] == []
