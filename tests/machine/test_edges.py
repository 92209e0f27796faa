"""The edge table of a compiled flow agrees with its machine, its progress counts, its diagram and its paths.

Every flow here is checked the same way: each trigger (``complete`` with every
choice a custom transition can make, and ``goto:N`` for every name in the
flow and one that is not) is fired from each action, and the machine must land
exactly where the table says; the diagram's edges and the PathGraph's edges
must be what the table gives, and ``remaining`` the PathGraph's shortest way
to the end.
"""

from __future__ import annotations

import pytest

from flowmachine import Action, FlowDefinitionError, InvalidJump, Linear, Scaffold, Transition
from flowmachine.diagrams import flow_graph
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.edges import COMPLETE_TRIGGER, Move, jump_trigger
from flowmachine.machine.places import FINAL, Place
from flowmachine.testing import PathGraph
from flowmachine.transition import _ActionsDecide

# -- transitions -----------------------------------------------------------------


class EgPick(Transition):
    """Decided at run time, declaring nothing: enters the sibling the state names, else completes."""

    def choose_next(self, current, siblings, state):
        pick = state.get("pick")
        return pick if pick in siblings else None


class EgOnward(Transition):
    """Decided at run time, but only ever the next sibling or None (and says so)."""

    def possible_next(self, current, siblings):
        index = siblings.index(current)
        return [siblings[index + 1], None] if index + 1 < len(siblings) else [None]

    def choose_next(self, current, siblings, state):
        pick = state.get("pick")
        return pick if pick in self.possible_next(current, siblings) else None


class EgBack(Transition):
    """Fixed, but backwards: COMPLETE always re-enters the first child (a loop)."""

    def static_next(self, current, siblings):
        return siblings[0]


class EgCounted(Linear):
    """Linear, counting how many instances the compiler builds."""

    built = 0

    def __init__(self):
        type(self).built += 1


def _actions(*names: str, **attrs: object) -> list[type[Action]]:
    return [type(name, (Action,), {"__module__": __name__, **attrs}) for name in names]


def _scaffold(name: str, transition: object, action_set: list[type]) -> type[Scaffold]:
    attrs = {"__module__": __name__, "transition": transition, "action_set": action_set}
    return type(name, (Scaffold,), attrs)


# -- flows -------------------------------------------------------------------------

EgLinear = _scaffold("EgLinear", Linear, _actions("EgA", "EgB", "EgC"))

# transition None: the account choice is entered through jumps from its first child.
(EgLogin,) = _actions("EgLogin")
(EgWelcome, EgRegister, EgEmail, EgCode, EgDone) = _actions("EgWelcome", "EgRegister", "EgEmail", "EgCode", "EgDone")
EgForgot = _scaffold("EgForgot", Linear, [EgEmail, EgCode])
EgAccount = _scaffold("EgAccount", None, [EgLogin, EgRegister, EgForgot])
EgSignIn = _scaffold("EgSignIn", Linear, [EgWelcome, EgAccount, EgDone])

EgPicked = _scaffold("EgPicked", EgPick, _actions("EgP1", "EgP2", "EgP3"))
EgPicky = _scaffold("EgPicky", Linear, [*_actions("EgIntro"), EgPicked, *_actions("EgOutro")])

EgOnwards = _scaffold("EgOnwards", EgOnward(), _actions("EgN1", "EgN2", "EgN3"))
EgNarrow = _scaffold("EgNarrow", Linear, [EgOnwards, *_actions("EgNEnd")])

# Three scaffolds deep below the root, each with another transition.
EgL3 = _scaffold("EgL3", None, _actions("EgLeafA", "EgLeafB"))
EgL2 = _scaffold("EgL2", EgPick, [EgL3, *_actions("EgLeafC")])
EgL1 = _scaffold("EgL1", Linear, [EgL2, *_actions("EgLeafD", jumps=("EgL2", "EgNowhere"))])
EgDeep = _scaffold("EgDeep", Linear, [EgL1, *_actions("EgLeafE")])

# One action used in two scaffolds, and again around them (a jump to it finds the nearest).
(EgShared,) = _actions("EgShared")
EgShipping = _scaffold("EgShipping", Linear, [EgShared, *_actions("EgShipMethod")])
EgBilling = _scaffold("EgBilling", Linear, [EgShared, *_actions("EgPayMethod")])
EgTwice = _scaffold("EgTwice", Linear, [EgShipping, EgBilling, EgShared])

EgLoop = _scaffold("EgLoop", EgBack, _actions("EgLoopA", "EgLoopB"))

FLOWS = [EgLinear, EgSignIn, EgPicky, EgNarrow, EgDeep, EgTwice, EgLoop]


def _compiled(flow: type[Scaffold]) -> CompiledFlow:
    compiled = CompiledFlow(flow)
    assert compiled.problems == []
    return compiled


def _actions_of(compiled: CompiledFlow) -> list[Place]:
    return [p for p in compiled.places.values() if p.is_action]


def _names(compiled: CompiledFlow) -> list[str]:
    return sorted({p.local_name for p in compiled.places.values()})


# -- the machine -------------------------------------------------------------------


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.__name__)
def test_complete_lands_where_the_table_says_for_every_choice(flow):
    compiled = _compiled(flow)
    table = compiled.edges
    picks = [None, *_names(compiled)]
    for action in _actions_of(compiled):
        moves = table.complete(action.name)
        reached = {compiled.fire(action.name, COMPLETE_TRIGGER, {"pick": pick}) for pick in picks}
        assert reached == {m.target for m in moves}, action.name
        assert len({m.target for m in moves}) == len(moves), action.name
        fixed = table.static_complete(action.name)
        if fixed is not None:
            assert moves == (Move(fixed),)
        else:
            assert all(m.assumed for m in moves), action.name


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.__name__)
def test_every_jump_lands_where_the_table_says(flow):
    compiled = _compiled(flow)
    table = compiled.edges
    for action in _actions_of(compiled):
        fired = {}
        for name in [*_names(compiled), "EgNowhere"]:
            expected = table.jump(action.name, name)
            if expected is None:
                with pytest.raises(InvalidJump):
                    compiled.fire(action.name, jump_trigger(name), {})
            else:
                fired[jump_trigger(name)] = compiled.fire(action.name, jump_trigger(name), {})
                assert fired[jump_trigger(name)] == expected
        assert table.jumps(action.name) == fired


def test_the_table_reads_as_the_flows_say():
    signin = _compiled(EgSignIn).edges
    assert signin.complete("EgSignIn.EgWelcome") == (Move("EgSignIn.EgAccount.EgLogin"),)
    assert signin.complete("EgSignIn.EgAccount.EgRegister") == (Move("EgSignIn.EgDone"),)
    assert signin.complete("EgSignIn.EgAccount.EgForgot.EgCode") == (Move("EgSignIn.EgDone"),)
    assert signin.complete("EgSignIn.EgDone") == (Move(FINAL),)
    assert signin.jump("EgSignIn.EgAccount.EgForgot.EgCode", "EgRegister") == "EgSignIn.EgAccount.EgRegister"
    assert signin.jump("EgSignIn.EgWelcome", "EgRegister") is None

    picky = _compiled(EgPicky).edges
    p = "EgPicky.EgPicked."
    assumed = [Move(p + "EgP1", True), Move(p + "EgP2", True), Move(p + "EgP3", True), Move("EgPicky.EgOutro", True)]
    assert picky.complete(p + "EgP2") == tuple(assumed)
    assert picky.static_complete(p + "EgP2") is None

    narrow = _compiled(EgNarrow).edges
    n = "EgNarrow.EgOnwards."
    assert narrow.complete(n + "EgN1") == (Move(n + "EgN2", True), Move("EgNarrow.EgNEnd", True))
    assert narrow.complete(n + "EgN3") == (Move("EgNarrow.EgNEnd", True),)

    deep = _compiled(EgDeep).edges
    d = "EgDeep.EgL1.EgL2."
    # EgL3 (None) completes into EgL2's run-time choice: any child of EgL2, or on to EgLeafD.
    assert deep.complete(d + "EgL3.EgLeafB") == (
        Move(d + "EgL3.EgLeafA", True),
        Move(d + "EgLeafC", True),
        Move("EgDeep.EgL1.EgLeafD", True),
    )
    assert deep.complete("EgDeep.EgL1.EgLeafD") == (Move("EgDeep.EgLeafE"),)

    twice = _compiled(EgTwice).edges
    assert twice.complete("EgTwice.EgShipping.EgShared") == (Move("EgTwice.EgShipping.EgShipMethod"),)
    assert twice.complete("EgTwice.EgBilling.EgShared") == (Move("EgTwice.EgBilling.EgPayMethod"),)
    assert twice.complete("EgTwice.EgBilling.EgPayMethod") == (Move("EgTwice.EgShared"),)
    assert twice.jump("EgTwice.EgBilling.EgPayMethod", "EgShared") == "EgTwice.EgBilling.EgShared"
    assert twice.jump("EgTwice.EgShipping.EgShipMethod", "EgShared") == "EgTwice.EgShipping.EgShared"
    assert twice.jump("EgTwice.EgShipping.EgShipMethod", "EgBilling") == "EgTwice.EgBilling.EgShared"
    assert twice.jump("EgTwice.EgShared", "EgShared") == "EgTwice.EgShared"
    assert twice.jumps("EgTwice.EgBilling.EgPayMethod")["goto:EgShared"] == "EgTwice.EgBilling.EgShared"


def test_the_outcome_of_each_child_is_data():
    compiled = _compiled(EgDeep)
    table, places = compiled.edges, compiled.places
    l2, l3 = places["EgDeep.EgL1.EgL2"], places["EgDeep.EgL1.EgL2.EgL3"]
    leaf_c = places["EgDeep.EgL1.EgL2.EgLeafC"]
    inner = table.outcome(places["EgDeep.EgL1.EgL2.EgL3.EgLeafA"])
    assert (inner.kind, inner.candidates, inner.next, inner.chosen) == ("completes", (None,), None, False)
    chosen = table.outcome(l3)
    assert (chosen.kind, chosen.scaffold, chosen.candidates) == ("chosen", l2, (l3, leaf_c, None))
    assert chosen.choices == (l3, leaf_c, None)
    onward = table.outcome(l2)
    assert (onward.kind, onward.next) == ("next", places["EgDeep.EgL1.EgLeafD"])
    assert table.siblings(l2) == ["EgL3", "EgLeafC"]
    assert table.entries(l2) == {"goto:EgL3": l3, "goto:EgLeafC": leaf_c}
    assert isinstance(table.transition(l3), _ActionsDecide) and isinstance(table.transition(l2), EgPick)

    signin = _compiled(EgSignIn)
    account = signin.places["EgSignIn.EgAccount"]
    assert signin.edges.outcome(signin.places["EgSignIn.EgWelcome"]).next is account
    assert signin.edges.entries(signin.root)["goto:EgAccount"] is account

    narrow = _compiled(EgNarrow)
    n1 = narrow.places["EgNarrow.EgOnwards.EgN1"]
    outcome = narrow.edges.outcome(n1)
    # possible_next narrows what is assumed; the machine still lets choose_next pick any child.
    assert outcome.candidates == (narrow.places["EgNarrow.EgOnwards.EgN2"], None)
    assert outcome.choices == (*narrow.places["EgNarrow.EgOnwards"].children, None)


# -- progress ------------------------------------------------------------------------


def _fewest_left(compiled: CompiledFlow, action: str) -> int | None:
    """The fewest actions after *action* on a way to the end, found by the path graph's own search."""
    path = PathGraph(compiled).shortest(FINAL, start=action)
    return None if path is None else len(path.edges) - 1


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.__name__)
def test_remaining_is_the_fewest_actions_left_on_the_path_graph(flow):
    compiled = _compiled(flow)
    for action in _actions_of(compiled):
        assert action.remaining == compiled.edges.remaining[action.name] == _fewest_left(compiled, action.name)


def test_remaining_counts_the_shortest_way_through_choices_and_jumps_and_none_in_a_loop():
    def remaining(flow):
        return {p.name: p.remaining for p in _actions_of(_compiled(flow))}

    assert remaining(EgLinear) == {"EgLinear.EgA": 2, "EgLinear.EgB": 1, "EgLinear.EgC": 0}
    assert remaining(EgTwice) == {
        "EgTwice.EgShipping.EgShared": 4,
        "EgTwice.EgShipping.EgShipMethod": 3,
        "EgTwice.EgBilling.EgShared": 2,
        "EgTwice.EgBilling.EgPayMethod": 1,
        "EgTwice.EgShared": 0,
    }
    # A run-time choice: the shortest of what it may choose (here: on to EgOutro at once).
    assert remaining(EgPicky) == {
        "EgPicky.EgIntro": 2,
        "EgPicky.EgPicked.EgP1": 1,
        "EgPicky.EgPicked.EgP2": 1,
        "EgPicky.EgPicked.EgP3": 1,
        "EgPicky.EgOutro": 0,
    }
    # Branches entered by jumps count their own way to the end, not the first child's.
    assert remaining(EgSignIn) == {
        "EgSignIn.EgWelcome": 2,
        "EgSignIn.EgAccount.EgLogin": 1,
        "EgSignIn.EgAccount.EgRegister": 1,
        "EgSignIn.EgAccount.EgForgot.EgEmail": 2,
        "EgSignIn.EgAccount.EgForgot.EgCode": 1,
        "EgSignIn.EgDone": 0,
    }
    # EgLoopA always re-enters itself: the end is out of reach, so there is no count.
    assert remaining(EgLoop) == {"EgLoop.EgLoopA": None, "EgLoop.EgLoopB": None}


# -- diagram and paths ---------------------------------------------------------------


def _diagram_edges_from_table(compiled: CompiledFlow) -> set[tuple[str, str, str, str]]:
    """(source, target, kind, trigger) of every complete, choice and jump edge the table implies."""
    table = compiled.edges

    def exit_of(scaffold: Place) -> str:
        return f"{scaffold.name}.__final__" if scaffold.parent is None else f"{scaffold.name}.__exit__"

    found = set()
    for outcome in (table.outcome(p) for p in compiled.places.values() if p.parent is not None):
        source = outcome.child.name if outcome.child.is_action else exit_of(outcome.child)
        kind = "choice" if outcome.chosen else "complete"
        for target in outcome.choices:
            found.add((source, exit_of(outcome.scaffold) if target is None else target.name, kind, COMPLETE_TRIGGER))
    # Jumps: from each action, to the child of the nearest enclosing scaffold that defines the trigger,
    # for each jump the path graph has (declared, or assumed of a branch scaffold's first child).
    for edge in (e for e in PathGraph(compiled).edges if e.is_jump):
        owner = next(
            s for s in reversed(compiled.places[edge.source].lineage()[:-1]) if edge.trigger in table.entries(s)
        )
        found.add((edge.source, table.entries(owner)[edge.trigger].name, "jump", edge.trigger))
    return found


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.__name__)
def test_the_diagram_draws_the_tables_edges(flow):
    compiled = _compiled(flow)
    graph = flow_graph(compiled)
    drawn = [(e.source, e.target, e.kind, e.trigger) for e in graph.edges if e.kind != "entry"]
    assert len(drawn) == len(set(drawn))
    assert set(drawn) == _diagram_edges_from_table(compiled)
    for source, target, kind, trigger in drawn:
        if kind == "jump":
            assert compiled.fire(source, trigger, {}) == graph.anchor(target)


@pytest.mark.parametrize("flow", [f for f in FLOWS if f is not EgNarrow], ids=lambda f: f.__name__)
def test_following_the_diagram_from_an_action_reaches_what_complete_can(flow):
    """Where no possible_next narrows a choice, the drawn COMPLETE edges reach exactly the table's moves."""
    compiled = _compiled(flow)
    graph = flow_graph(compiled)
    out: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.kind in ("complete", "choice"):
            out.setdefault(edge.source, []).append(edge.target)
    for action in _actions_of(compiled):
        reached, todo = set(), list(out.get(action.name, []))
        while todo:
            node = todo.pop()
            if graph.nodes.get(node) is not None and graph.nodes[node].kind == "exit":
                todo.extend(out.get(node, []))
            else:
                reached.add(FINAL if node == graph.final else graph.anchor(node))
        assert reached == {m.target for m in compiled.edges.complete(action.name)}, action.name


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.__name__)
def test_the_path_graph_has_the_tables_edges(flow):
    compiled = _compiled(flow)
    table, graph = compiled.edges, PathGraph(compiled)
    for action in _actions_of(compiled):
        completes = [(e.target, e.assumed) for e in graph.out[action.name] if not e.is_jump]
        assert completes == [(m.target, m.assumed) for m in table.complete(action.name)]
        for edge in (e for e in graph.out[action.name] if e.is_jump):
            assert edge.target == table.jump(action.name, edge.jump_target)
            assert table.jumps(action.name)[edge.trigger] == edge.target
    assert graph.bad_jumps == [
        (a.name, name)
        for a in _actions_of(compiled)
        for name in getattr(a.component, "jumps", None) or ()
        if table.jump(a.name, name) is None
    ]


def test_the_path_graph_assumes_branch_entries_and_keeps_declared_jumps():
    signin = PathGraph(_compiled(EgSignIn))
    a = "EgSignIn.EgAccount."
    jumps = {(e.trigger, e.target, e.assumed) for e in signin.out[a + "EgLogin"] if e.is_jump}
    assert jumps == {("goto:EgRegister", a + "EgRegister", True), ("goto:EgForgot", a + "EgForgot.EgEmail", True)}
    assert [e for e in signin.out[a + "EgRegister"] if e.is_jump] == []

    deep = PathGraph(_compiled(EgDeep))
    leaf_d = "EgDeep.EgL1.EgLeafD"
    jumps = {(e.trigger, e.target, e.assumed) for e in deep.out[leaf_d] if e.is_jump}
    assert jumps == {("goto:EgL2", "EgDeep.EgL1.EgL2.EgL3.EgLeafA", False)}
    assert deep.bad_jumps == [(leaf_d, "EgNowhere")]


def test_diagram_edges_enter_a_scaffold_as_its_cluster():
    graph = flow_graph(_compiled(EgSignIn))
    assert ("EgSignIn.EgWelcome", "EgSignIn.EgAccount") in {(e.source, e.target) for e in graph.edges_of("complete")}
    jumps = {(e.source, e.target) for e in graph.edges_of("jump")}
    assert ("EgSignIn.EgAccount.EgLogin", "EgSignIn.EgAccount.EgForgot") in jumps  # a scaffold, entered as such
    assert graph.anchor("EgSignIn.EgAccount.EgForgot") == "EgSignIn.EgAccount.EgForgot.EgEmail"


def test_declared_jumps_are_drawn_from_the_action_that_declares_them():
    graph = flow_graph(_compiled(EgDeep))
    jumps = {(e.source, e.target, e.trigger, e.assumed) for e in graph.edges_of("jump")}
    # EgLeafD declares ("EgL2", "EgNowhere"): the one the machine can make is drawn, not assumed;
    # EgLeafA, first child of the transition-None EgL3, is assumed to jump to EgLeafB.
    assert jumps == {
        ("EgDeep.EgL1.EgLeafD", "EgDeep.EgL1.EgL2", "goto:EgL2", False),
        ("EgDeep.EgL1.EgL2.EgL3.EgLeafA", "EgDeep.EgL1.EgL2.EgL3.EgLeafB", "goto:EgLeafB", True),
    }


def test_possible_next_narrows_paths_but_not_the_diagram():
    compiled = _compiled(EgNarrow)
    n = "EgNarrow.EgOnwards."
    paths = PathGraph(compiled)
    assert {e.target for e in paths.out[n + "EgN1"] if not e.is_jump} == {n + "EgN2", "EgNarrow.EgNEnd"}
    choices = {e.target for e in flow_graph(compiled).edges_of("choice") if e.source == n + "EgN1"}
    assert choices == {n + "EgN1", n + "EgN2", n + "EgN3", n + "__exit__"}


# -- transitions -----------------------------------------------------------------------


def test_possible_next_is_declared_on_every_transition():
    siblings = ["A", "B", "C"]
    assert "possible_next" in vars(Transition)
    assert list(Transition().possible_next("B", siblings)) == ["A", "B", "C", None]
    assert list(EgPick().possible_next("B", siblings)) == ["A", "B", "C", None]
    assert list(Linear().possible_next("B", siblings)) == ["C"]
    assert list(Linear().possible_next("C", siblings)) == [None]
    assert list(_ActionsDecide().possible_next("A", siblings)) == [None]
    assert list(EgOnward().possible_next("A", siblings)) == ["B", None]


def test_each_scaffold_builds_its_transition_once():
    EgCounted.built = 0
    counted = _scaffold("EgCountedFlow", EgCounted, _actions("EgCountA", "EgCountB"))
    compiled = _compiled(counted)
    PathGraph(compiled)
    flow_graph(compiled)
    assert compiled.fire("EgCountedFlow.EgCountA", COMPLETE_TRIGGER, {}) == "EgCountedFlow.EgCountB"
    assert EgCounted.built == 1
    assert compiled.edges.transition(compiled.root) is compiled.root.transition


def test_a_flow_with_definition_problems_has_no_table():
    broken = _scaffold("EgBroken", Linear, [])
    compiled = CompiledFlow(broken)
    assert [p.id for p in compiled.problems] == ["flowmachine.E001"]
    with pytest.raises(FlowDefinitionError):
        compiled.edges  # noqa: B018
