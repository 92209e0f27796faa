"""``manage.py flowgraph``: files in every format, flows by name or dotted path, clear errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from flowmachine import Scaffold
from tests.diagrams.test_diagrams_support import EDGE_LINE, dot_facts

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("flowgraph", *args, stdout=out)
    return out.getvalue()


def test_svg_from_the_extension_is_valid_and_draws_the_nested_flow(tmp_path):
    target = tmp_path / "purchase.svg"
    message = _run("Purchase", "-o", str(target))
    assert "Wrote the svg diagram of Purchase" in message
    root = ET.parse(target).getroot()
    assert root.tag == f"{SVG}svg"
    titles = {t.text for t in root.iter(f"{SVG}title")}
    assert "cluster_Purchase.ChoosePayment.NewPaymentMethod.BankAccount" in titles
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"ChooseItem", "AccountAddress", "complete", "goto:BankAccount", "done"} <= texts


def test_png_pdf_dot_and_mermaid_files(tmp_path):
    _run("Purchase", "-o", str(tmp_path / "a.png"))
    assert (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    _run("Purchase", "-o", str(tmp_path / "a.pdf"))
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF-")
    _run("Purchase", "-o", str(tmp_path / "a.dot"))
    facts = dot_facts((tmp_path / "a.dot").read_text())
    assert len(facts["clusters"]) == 6 and len(facts["edges"]) == 23
    _run("tests.flows.Purchase", "-o", str(tmp_path / "a.gv"))
    assert (tmp_path / "a.gv").read_text() == (tmp_path / "a.dot").read_text()
    _run("Purchase", "-o", str(tmp_path / "a.mmd"))
    text = (tmp_path / "a.mmd").read_text()
    assert text.startswith("flowchart TB\n")
    assert sum(1 for line in text.splitlines() if EDGE_LINE.match(line)) == 23
    _run("Purchase", "--no-jumps", "-o", str(tmp_path / "lean.dot"))
    lean = dot_facts((tmp_path / "lean.dot").read_text())
    assert len(lean["edges"]) == 18 and all(style != "dashed" for *_, style in lean["edges"])
    assert (
        "entered by a jump from SavedMethod"
        in lean["nodes"]["Purchase.ChoosePayment.NewPaymentMethod.CardNumber"]["label"]
    )
    # --format wins over the extension
    _run("Purchase", "-o", str(tmp_path / "b.txt"), "--format", "mermaid")
    assert (tmp_path / "b.txt").read_text() == text


def test_without_a_file_it_writes_dot_or_the_format_to_stdout(capfd):
    call_command("flowgraph", "Greeting")
    assert capfd.readouterr().out.startswith("digraph")
    call_command("flowgraph", "Greeting", "--format", "mermaid")
    out = capfd.readouterr().out
    assert out.startswith("flowchart TB") and 'Hello -->|"complete"| Bye' in out


def test_errors_name_the_problem_and_the_fix(tmp_path):
    with pytest.raises(CommandError, match=r"No FlowHandler has an entry point named 'Nope'. Registered: .*Purchase"):
        _run("Nope")
    with pytest.raises(CommandError, match=r"Cannot import 'tests.flows.Nope'"):
        _run("tests.flows.Nope")
    with pytest.raises(CommandError, match=r"not a Scaffold subclass"):
        _run("tests.flows.ChooseItem")
    with pytest.raises(CommandError, match=r"Cannot tell the format from .*\.gif"):
        _run("Purchase", "-o", str(tmp_path / "x.gif"))
    assert not (tmp_path / "x.gif").exists()


def test_a_broken_flow_is_refused_with_its_problems(tmp_path):
    with pytest.raises(CommandError, match=r"DiagramBrokenFlow cannot be drawn:\n.*E002"):
        _run("tests.diagrams.test_diagrams_command.DiagramBrokenFlow", "-o", str(tmp_path / "x.svg"))


class DiagramBrokenFlow(Scaffold):
    action_set = ["NoSuchStep"]


@pytest.mark.slow
def test_the_demo_command_writes_its_checkout(tmp_path):
    """The command as a user runs it, in the demo project (this is how docs/img/demo-flow.svg is made)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for name in ["demo.svg", "demo.dot"]:
        result = subprocess.run(
            [sys.executable, "manage.py", "flowgraph", "Purchase", "-o", str(tmp_path / name)],
            cwd=ROOT / "demo",
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
    root = ET.parse(tmp_path / "demo.svg").getroot()
    assert root.tag == f"{SVG}svg"
    facts = dot_facts((tmp_path / "demo.dot").read_text())
    assert "cluster_Purchase" in facts["clusters"] and len(facts["clusters"]) >= 3
    # The diagram in the README and the docs is this one: same nodes, clusters and edges.
    committed = ET.parse(ROOT / "docs" / "img" / "demo-flow.svg").getroot()
    assert {t.text for t in committed.iter(f"{SVG}title")} == {t.text for t in root.iter(f"{SVG}title")}, (
        "docs/img/demo-flow.svg is out of date: cd demo && python manage.py flowgraph Purchase "
        "-o ../docs/img/demo-flow.svg"
    )


def test_make_demo_installs_the_diagrams_extra():
    """The demo's "Flow diagram" link needs pygraphviz: the demo's install has the extra."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(DEMO_STAMP): pyproject.toml", 1)[1].split("\n\n", 1)[0]
    installs = [line for line in recipe.splitlines() if "pip install" in line and " -e " in line]
    assert len(installs) == 1
    extras = installs[0].split('".[', 1)[1].split(']"', 1)[0].split(",")
    assert {"redis", "diagrams"} <= set(extras)
