"""The diagram model and its dot and Mermaid renderings, checked against the compiled machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowmachine import Action, Linear, Scaffold, Transition
from flowmachine.diagrams import (
    INSTALL_HINT,
    DiagramsUnavailable,
    flow_graph,
    render,
    to_dot,
    to_mermaid,
    trace,
    without_jumps,
)
from flowmachine.exceptions import FlowDefinitionError
from flowmachine.machine.compiler import CompiledFlow
from tests.diagrams.test_diagrams_support import (
    EDGE_LINE,
    check_drawn_completely,
    check_nothing_looks_unreachable,
    dot_facts,
)
from tests.flows import Greeting, Purchase, handler

ROOT = Path(__file__).resolve().parents[2]
P = "Purchase."
GUA = P + "GetUserAccount."
FP = GUA + "ForgotPassword."
CP = P + "ChoosePayment."
NPM = CP + "NewPaymentMethod."
BA = NPM + "BankAccount."

ACTIONS = {
    P + "ChooseItem",
    GUA + "LoginOrRegister",
    GUA + "Register",
    FP + "EnterEmail",
    FP + "EnterCode",
    FP + "ResetPassword",
    CP + "SavedMethod",
    NPM + "CardNumber",
    BA + "BankDetails",
    BA + "AccountAddress",
    NPM + "PayPal",
    P + "Confirm",
}
SCAFFOLDS = {"Purchase", GUA[:-1], FP[:-1], CP[:-1], NPM[:-1], BA[:-1]}
COMPLETE_EDGES = {
    (P + "ChooseItem", GUA[:-1]),
    (GUA + "__exit__", CP[:-1]),
    (CP + "__exit__", P + "Confirm"),
    (P + "Confirm", P + "__final__"),
    (GUA + "LoginOrRegister", GUA + "__exit__"),
    (GUA + "Register", GUA + "__exit__"),
    (FP + "__exit__", GUA + "__exit__"),
    (FP + "EnterEmail", FP + "EnterCode"),
    (FP + "EnterCode", FP + "ResetPassword"),
    (FP + "ResetPassword", FP + "__exit__"),
    (CP + "SavedMethod", CP + "__exit__"),
    (NPM + "__exit__", CP + "__exit__"),
    (NPM + "CardNumber", NPM + "__exit__"),
    (BA + "__exit__", NPM + "__exit__"),
    (NPM + "PayPal", NPM + "__exit__"),
    (BA + "BankDetails", BA + "AccountAddress"),
    (BA + "AccountAddress", BA + "__exit__"),
}
# No action of the checkout declares its jumps: each first child of a `transition = None`
# scaffold is drawn jumping to its siblings, as path generation assumes.
JUMP_EDGES = {
    (GUA + "LoginOrRegister", GUA + "Register", "goto:Register"),
    (GUA + "LoginOrRegister", GUA + "ForgotPassword", "goto:ForgotPassword"),
    (CP + "SavedMethod", CP + "NewPaymentMethod", "goto:NewPaymentMethod"),
    (NPM + "CardNumber", NPM + "BankAccount", "goto:BankAccount"),
    (NPM + "CardNumber", NPM + "PayPal", "goto:PayPal"),
}


@pytest.fixture(scope="module")
def compiled():
    return handler.compiled(Purchase)


@pytest.fixture(scope="module")
def graph(compiled):
    return flow_graph(compiled)


# -- the model -------------------------------------------------------------------


def test_every_action_scaffold_complete_and_jump_of_the_checkout_is_in_the_model(graph):
    assert {n.id for n in graph.actions()} == ACTIONS
    assert set(graph.clusters) == SCAFFOLDS
    assert {(e.source, e.target) for e in graph.edges_of("complete")} == COMPLETE_EDGES
    assert {(e.source, e.target, e.label) for e in graph.edges_of("jump")} == JUMP_EDGES
    assert all(e.assumed for e in graph.edges_of("jump"))
    assert not [n for n in graph.nodes if "__jump__" in n]  # no generic jump points
    assert graph.edges_of("choice") == []
    assert graph.entry == P + "ChooseItem"
    assert graph.nodes[graph.start].kind == "start"
    assert graph.nodes[graph.final].kind == "final" and graph.final == P + "__final__"
    assert graph.clusters[FP[:-1]].transition == "Linear"
    assert graph.clusters[GUA[:-1]].transition == ""  # transition None: the actions decide
    assert graph.clusters[NPM[:-1]].parent == CP[:-1]
    assert graph.nodes[BA + "BankDetails"].cluster == BA[:-1]
    assert graph.anchor(NPM[:-1]) == NPM + "CardNumber"


def test_the_model_agrees_with_the_machine_on_every_trigger_from_every_action(compiled, graph):
    counts = check_drawn_completely(compiled, graph)
    assert counts == {"actions": 12, "scaffolds": 6, "complete": 17, "jumps": 5, "fired": counts["fired"]}
    assert counts["fired"] > 12


def test_flow_graph_takes_a_scaffold_class_and_refuses_broken_flows():
    assert set(flow_graph(Greeting).nodes) >= {"Greeting.Hello", "Greeting.Bye"}

    class Hollow(Scaffold):
        action_set = []

    with pytest.raises(FlowDefinitionError, match="E001"):
        flow_graph(Hollow)
    with pytest.raises(TypeError, match="Scaffold subclass"):
        flow_graph("Purchase")  # type: ignore[arg-type]


class Ask(Action):
    pass


class Adult(Action):
    pass


class Minor(Action):
    pass


class ByAge(Transition):
    def choose_next(self, current, siblings, state):
        if current == "Ask":
            return "Adult" if state["age"] >= 18 else "Minor"
        return None


class AgeCheck(Scaffold):
    transition = ByAge
    action_set = [Ask, Adult, Minor]


class Survey(Scaffold):
    transition = Linear
    action_set = [AgeCheck]


def test_a_custom_transition_may_lead_to_every_sibling_or_complete_the_scaffold():
    graph = flow_graph(Survey)
    choices = {(e.source, e.target) for e in graph.edges_of("choice")}
    children = ["Survey.AgeCheck.Ask", "Survey.AgeCheck.Adult", "Survey.AgeCheck.Minor"]
    exit_point = "Survey.AgeCheck.__exit__"
    assert choices == {(s, t) for s in children for t in [*children, exit_point]}
    assert {e.label for e in graph.edges_of("choice")} == {"complete?"}
    assert graph.clusters["Survey.AgeCheck"].transition == "ByAge"
    # what the machine does is among the drawn choices
    flow = CompiledFlow(Survey)
    assert ("Survey.AgeCheck.Ask", flow.fire("Survey.AgeCheck.Ask", "complete", {"age": 40})) in choices
    assert flow.fire("Survey.AgeCheck.Adult", "complete", {}) == "__complete__"
    assert (exit_point, "Survey.__final__") in {(e.source, e.target) for e in graph.edges_of("complete")}
    mermaid = to_mermaid(graph)
    assert 'Ask ==>|"complete?"| Adult' in mermaid
    assert 'Minor ==>|"complete?"| AgeCheck_exit' in mermaid


# -- highlighting ------------------------------------------------------------------


def _edges(graph, indexes):
    return {(graph.edges[i].source, graph.edges[i].target) for i in indexes}


def test_trace_marks_the_path_through_complete_edges_and_scaffold_exits(graph):
    mark = trace(graph, [P + "ChooseItem", GUA + "LoginOrRegister"], CP + "SavedMethod")
    assert mark.current == CP + "SavedMethod"
    assert mark.visited == {P + "ChooseItem", GUA + "LoginOrRegister", CP + "SavedMethod"}
    assert _edges(graph, mark.edges) == {
        (P + "ChooseItem", GUA[:-1]),
        (GUA + "LoginOrRegister", GUA + "__exit__"),
        (GUA + "__exit__", CP[:-1]),
    }


def test_trace_marks_a_jump_on_the_edge_from_the_action_that_jumped(graph):
    mark = trace(graph, [P + "ChooseItem", GUA + "LoginOrRegister", CP + "SavedMethod"], NPM + "CardNumber")
    assert (CP + "SavedMethod", NPM[:-1]) in _edges(graph, mark.edges)
    mark = trace(graph, [GUA + "LoginOrRegister"], GUA + "Register")
    assert _edges(graph, mark.edges) == {(GUA + "LoginOrRegister", GUA + "Register")}
    assert [graph.edges[i].kind for i in mark.edges] == ["jump"]
    mark = trace(graph, [GUA + "LoginOrRegister"], FP + "EnterEmail")
    assert _edges(graph, mark.edges) == {(GUA + "LoginOrRegister", FP[:-1])}
    # a gap left by the back button is explained by nothing
    assert trace(graph, [P + "ChooseItem"], FP + "EnterCode").edges == frozenset()
    # a jump the action does not declare (nor is assumed to make) is drawn by no edge, so none is marked
    assert trace(graph, [P + "ChooseItem"], P + "Confirm").edges == frozenset()
    assert trace(graph, [P + "ChooseItem"], P + "Confirm").visited == {P + "ChooseItem", P + "Confirm"}
    # names that are not in this flow are ignored
    assert trace(graph, ["Other.Step"], "Other.Place").current is None


# -- dot ----------------------------------------------------------------------------


def test_the_dot_output_has_every_cluster_node_and_labelled_edge(graph):
    facts = dot_facts(to_dot(graph))
    clusters = facts["clusters"]
    assert set(clusters) == {f"cluster_{s}" for s in SCAFFOLDS}
    assert clusters[f"cluster_{FP[:-1]}"] == f"cluster_{GUA[:-1]}"
    assert clusters["cluster_Purchase"] is None
    for action in ACTIONS:
        place_parent = action.rsplit(".", 1)[0]
        assert facts["holder"][action] == f"cluster_{place_parent}", action
    edges = facts["edges"]
    for source, target in COMPLETE_EDGES:
        head = graph.anchor(target)
        lhead = f"cluster_{target}" if target in graph.clusters else ""
        assert (source, head, "complete", lhead, "") in edges, (source, target)
    for source, target, label in JUMP_EDGES:
        head = graph.anchor(target)
        lhead = f"cluster_{target}" if target in graph.clusters else ""
        assert (source, head, label, lhead, "dashed") in edges, (source, target)
    assert (graph.start, P + "ChooseItem", "", "", "") in edges
    assert len(edges) == len(COMPLETE_EDGES) + len(JUMP_EDGES) + 1
    nodes = facts["nodes"]
    assert nodes[graph.start]["shape"] == "circle"
    assert nodes[graph.final]["shape"] == "doublecircle"
    assert nodes[P + "ChooseItem"]["penwidth"] == "2"  # the entry action
    assert nodes[GUA + "Register"]["label"] == "Register"


def test_a_highlight_shows_in_dot_and_svg(graph):
    mark = trace(graph, [P + "ChooseItem"], GUA + "LoginOrRegister")
    nodes = dot_facts(to_dot(graph, highlight=mark))["nodes"]
    assert nodes[GUA + "LoginOrRegister"]["class"] == "fm_current"
    assert nodes[P + "ChooseItem"]["class"] == "fm_visited"
    assert "class" not in nodes[P + "Confirm"]
    svg = render(graph, "svg", highlight=mark).decode()
    assert svg.count('class="node fm_current"') == 1
    assert svg.count('class="edge fm_path"') == 1
    assert "fm_current" not in render(graph, "svg").decode()


# -- Mermaid --------------------------------------------------------------------------


def test_the_mermaid_output_nests_subgraphs_and_has_every_edge(graph):
    text = to_mermaid(graph)
    lines = text.splitlines()
    assert lines[0] == "flowchart TB"
    # nesting: subgraph ... end blocks, indented by depth
    stack: list[str] = []
    holder: dict[str, str] = {}
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("subgraph "):
            name = stripped.split()[1].split("[")[0]
            if stack:
                holder[name] = stack[-1]
            stack.append(name)
        elif stripped == "end":
            stack.pop()
        elif stack and "(" in stripped and not EDGE_LINE.match(line):
            holder[stripped.split("(")[0].split(">")[0]] = stack[-1]
    assert stack == []
    assert holder["ForgotPassword"] == "GetUserAccount"
    assert holder["BankDetails"] == "BankAccount"
    assert holder["BankAccount"] == "NewPaymentMethod"
    assert holder["ChooseItem"] == "Purchase"
    edges = [EDGE_LINE.match(line).groups() for line in lines if EDGE_LINE.match(line)]
    assert len([e for e in edges if e[2] == "complete"]) == len(COMPLETE_EDGES)
    assert len([e for e in edges if e[2] and e[2].startswith("goto:")]) == len(JUMP_EDGES)
    assert ("ChooseItem", "-->", "complete", "GetUserAccount") in edges
    assert ("GetUserAccount_exit", "-->", "complete", "ChoosePayment") in edges
    assert ("ResetPassword", "-->", "complete", "ForgotPassword_exit") in edges
    assert ("Confirm", "-->", "complete", "Purchase_final") in edges
    assert ("CardNumber", "-.->", "goto:BankAccount", "BankAccount") in edges
    assert ("LoginOrRegister", "-.->", "goto:Register", "Register") in edges
    assert "_jump" not in text
    assert ("Purchase_start", "-->", None, "ChooseItem") in edges
    assert 'Purchase_final((("done"))):::final' in text


def test_mermaid_ids_stay_unique_when_names_repeat_across_flows(graph):
    text = to_mermaid([graph, flow_graph(Greeting)])
    ids = [line.split("(")[0].strip() for line in text.splitlines() if line.strip().endswith(")")]
    assert len(ids) == len(set(ids))
    mark = trace(graph, [P + "ChooseItem"], GUA + "LoginOrRegister")
    marked = to_mermaid(graph, highlight=mark)
    assert "class LoginOrRegister current" in marked
    assert "class ChooseItem visited" in marked
    assert "linkStyle 1 stroke" in marked  # the ChooseItem -> GetUserAccount edge


# -- the demo's flow --------------------------------------------------------------------


DEMO_SCRIPT = """
import json, os, sys
sys.path[:0] = [{demo!r}, {root!r}]
os.environ["DJANGO_SETTINGS_MODULE"] = "demo_site.settings"
import django
django.setup()
from shop.flows import Purchase, handler
from flowmachine.diagrams import flow_graph, to_dot, to_mermaid
from tests.diagrams.test_diagrams_support import check_drawn_completely, check_nothing_looks_unreachable, dot_facts
compiled = handler.compiled(Purchase)
graph = flow_graph(compiled)
counts = check_drawn_completely(compiled, graph)
facts = dot_facts(to_dot(graph))
assert set(facts["clusters"]) == {{"cluster_" + c for c in graph.clusters}}
for node in graph.actions():
    assert facts["holder"][node.id] == "cluster_" + node.cluster, node.id
assert len(facts["edges"]) == len(graph.edges)
mermaid = to_mermaid(graph)
assert mermaid.count('|"complete"|') == counts["complete"]
assert mermaid.count('-.->|"goto:') == counts["jumps"]
counts["marked"] = len(check_nothing_looks_unreachable(graph))
print(json.dumps(counts))
"""


@pytest.mark.slow
def test_the_demo_checkout_is_drawn_completely():
    script = DEMO_SCRIPT.format(demo=str(ROOT / "demo"), root=str(ROOT))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["actions"] >= 10 and counts["scaffolds"] >= 3


DEMO_LEAN_SCRIPT = """
import json, os, sys
sys.path[:0] = [{demo!r}, {root!r}]
os.environ["DJANGO_SETTINGS_MODULE"] = "demo_site.settings"
import django
django.setup()
from shop.flows import Purchase, handler
from flowmachine.diagrams import flow_graph
from tests.diagrams.test_diagrams_support import check_nothing_looks_unreachable
graph = flow_graph(handler.compiled(Purchase))
jumps = sorted([e.source.rsplit(".", 1)[1], e.target.rsplit(".", 1)[1]] for e in graph.edges_of("jump"))
print(json.dumps({{"marks": check_nothing_looks_unreachable(graph), "jumps": jumps}}))
"""


def test_nothing_in_the_demo_checkout_looks_unreachable_without_jumps():
    script = DEMO_LEAN_SCRIPT.format(demo=str(ROOT / "demo"), root=str(ROOT))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    marks = {name.rsplit(".", 1)[1]: mark for name, mark in found["marks"].items()}
    assert marks["Register"] == "a jump from LoginOrRegister"
    assert marks["CardNumber"] == marks["PayPal"] == marks["BankDetails"] == "a jump from PaymentChoice"
    assert ["PaymentChoice", "PayPal"] in found["jumps"] and ["LoginOrRegister", "ForgotPassword"] in found["jumps"]


def test_jumps_can_be_left_out_and_highlights_follow(graph):
    facts = dot_facts(to_dot(graph, jumps=False))
    assert len(facts["edges"]) == len(COMPLETE_EDGES) + 1
    assert not [e for e in facts["edges"] if e[4] == "dashed"]
    assert {f"cluster_{s}" for s in SCAFFOLDS} == set(facts["clusters"])
    mark = trace(graph, [P + "ChooseItem", GUA + "LoginOrRegister"], CP + "SavedMethod")
    lean = to_mermaid(graph, highlight=mark, jumps=False)
    assert "goto:" not in lean and "_jump" not in lean
    edge_lines = [line for line in lean.splitlines() if EDGE_LINE.match(line)]
    styled = {int(line.split()[1]) for line in lean.splitlines() if line.strip().startswith("linkStyle")}
    assert {EDGE_LINE.match(edge_lines[i]).group(1, 4) for i in styled} == {
        ("ChooseItem", "GetUserAccount"),
        ("LoginOrRegister", "GetUserAccount_exit"),
        ("GetUserAccount_exit", "ChoosePayment"),
    }
    nodes = dot_facts(to_dot(graph, highlight=mark, jumps=False))["nodes"]
    assert nodes[CP + "SavedMethod"]["class"] == "fm_current"


# -- nothing looks unreachable ----------------------------------------------------------


def test_with_jumps_every_action_has_an_incoming_edge(graph):
    heads = {edge[1] for edge in dot_facts(to_dot(graph))["edges"]}
    assert {n.id for n in graph.actions()} <= heads


def test_without_jumps_an_action_only_a_jump_enters_is_marked_with_who_jumps_there(graph):
    marks = check_nothing_looks_unreachable(graph)
    assert marks == {
        GUA + "Register": "a jump from LoginOrRegister",
        FP + "EnterEmail": "a jump from LoginOrRegister",
        NPM + "CardNumber": "a jump from SavedMethod",
        BA + "BankDetails": "a jump from CardNumber",
        NPM + "PayPal": "a jump from CardNumber",
    }
    lean, renumber = without_jumps(graph)
    assert lean.edges_of("jump") == [] and graph.edges_of("jump")  # the graph itself is left as it was
    assert lean.jumped_from[GUA + "Register"] == (GUA + "LoginOrRegister",)
    assert graph.jumped_from == {}
    assert [graph.edges[old] for old in renumber] == lean.edges
    nodes = dot_facts(to_dot(graph, jumps=False))["nodes"]
    assert "dashed" in nodes[GUA + "Register"]["style"]
    assert "dashed" not in nodes[GUA + "LoginOrRegister"]["style"]
    assert 'Register("Register<br/><small>entered by a jump from LoginOrRegister</small>"):::jumped' in to_mermaid(
        graph, jumps=False
    )


class Intro(Action):
    jumps = ("Outro", "Later")


class Later(Action):
    pass


class Outro(Action):
    jumps = ["Intro"]


class Aside(Action):
    jumps = ()  # declares that it never jumps


class Tour(Scaffold):
    transition = Linear
    action_set = [Intro, Later, Outro]


class Shortcut(Scaffold):
    action_set = [Aside, Tour]


def test_declared_jumps_are_drawn_from_their_action_and_replace_the_assumption():
    graph = flow_graph(Shortcut)
    t = "Shortcut.Tour."
    jumps = {(e.source, e.target, e.label, e.assumed) for e in graph.edges_of("jump")}
    # Aside is the first child of a transition-None scaffold but declares no jumps: nothing is assumed.
    assert jumps == {
        (t + "Intro", t + "Outro", "goto:Outro", False),
        (t + "Intro", t + "Later", "goto:Later", False),
        (t + "Outro", t + "Intro", "goto:Intro", False),
    }
    # Later and Outro are also entered by COMPLETE, Intro by the jump only: only jumps=False marks it
    lean, _ = without_jumps(graph)
    assert lean.jumped_from == {t + "Intro": (t + "Outro",)}
    marks = check_nothing_looks_unreachable(graph)
    assert marks == {t + "Intro": "a jump from Outro"}
    edges = dot_facts(to_dot(graph))["edges"]
    assert (t + "Outro", t + "Intro", "goto:Intro", "", "dashed") in edges
    tips = {(e.source, e.target): e for e in graph.edges_of("jump")}
    assert not tips[(t + "Outro", t + "Intro")].assumed
    mark = trace(graph, [t + "Intro", t + "Later", t + "Outro"], t + "Intro")
    assert {graph.edges[i].kind for i in mark.edges} == {"complete", "jump"}
    assert (t + "Outro", t + "Intro") in _edges(graph, mark.edges)


def test_assumed_jumps_say_so_on_hover(graph):
    dot = to_dot(graph)
    assert "LoginOrRegister may jump to Register (goto:Register); assumed: LoginOrRegister declares no jumps" in dot
    assert "declares no jumps" not in to_dot(flow_graph(Shortcut))


def test_the_install_message_names_the_wheel_and_keeps_headers_as_the_fallback():
    message = str(DiagramsUnavailable("No module named 'pygraphviz'"))
    assert message.startswith(f"Drawing flow diagrams as SVG, PNG, PDF or dot needs pygraphviz: {INSTALL_HINT} ")
    assert INSTALL_HINT == 'pip install "django-flowmachine[diagrams]"'
    assert "prebuilt wheel" in message
    assert message.index("prebuilt wheel") < message.index("no wheel for your platform") < message.index("headers")
    assert "apt-get" not in message and "libgraphviz" not in message
    assert "format 'mermaid'" in message and message.endswith("(No module named 'pygraphviz')")


def test_the_model_and_renderers_are_importable_from_the_package():
    import flowmachine

    assert flowmachine.flow_graph is flow_graph
    assert flowmachine.to_mermaid is to_mermaid and flowmachine.to_dot is to_dot
