"""Paths generated from the compiled machine: shortest, simple, their ids, and coverage."""

from __future__ import annotations

import pytest

from flowmachine import Action, FlowDefinitionError, Linear, Scaffold, Transition
from flowmachine.machine.places import FINAL
from flowmachine.testing import (
    FlowReplay,
    PathGraph,
    coverage,
    shortest_paths,
    simple_paths,
)
from tests.flows import Purchase


class PtA(Action):
    pass


class PtB(Action):
    pass


class PtC(Action):
    pass


class PtLinear(Scaffold):
    transition = Linear
    action_set = [PtA, PtB, PtC]


class PtBranch(Scaffold):
    """transition None: PtA completes the scaffold; PtB and PtC are entered by jumps from PtA."""

    action_set = [PtA, PtB, PtC]


class PtLoop(Transition):
    """A data-dependent choice: any sibling, or complete."""

    def choose_next(self, current, siblings, state):
        return state.get("next")


class PtCustom(Scaffold):
    transition = PtLoop
    action_set = [PtA, PtB]


class PtNarrow(Transition):
    def choose_next(self, current, siblings, state):
        return "PtB" if current == "PtA" else None

    def possible_next(self, current, siblings):
        return ["PtB"] if current == "PtA" else [None]


class PtNarrowed(Scaffold):
    transition = PtNarrow
    action_set = [PtA, PtB, PtC]


class PtDeclares(Action):
    jumps = ("PtC",)


class PtDeclared(Scaffold):
    action_set = [PtDeclares, PtB, PtC]


class PtShipping(Scaffold):
    transition = Linear
    action_set = [PtA, PtB]


class PtBilling(Scaffold):
    transition = Linear
    action_set = [PtA, PtC]


class PtTwice(Scaffold):
    transition = Linear
    action_set = [PtShipping, PtBilling]


def ids(paths):
    return [p.id for p in paths]


def test_a_linear_flow_has_one_simple_path():
    (only,) = simple_paths(PtLinear)
    assert only.id == "PtA-PtB-PtC-END"
    assert str(only) == "PtA -> PtB -> PtC -> END"
    assert only.steps == ["PtA --complete--> PtB", "PtB --complete--> PtC", "PtC --complete--> END"]
    assert only.actions == ("PtA", "PtB", "PtC") and only.finishes


def test_shortest_paths_reach_each_action_once():
    paths = shortest_paths(PtLinear)
    assert ids(paths) == ["PtA", "PtA-PtB", "PtA-PtB-PtC", "PtA-PtB-PtC-END"]
    assert [p.end for p in paths] == ["PtLinear.PtA", "PtLinear.PtB", "PtLinear.PtC", FINAL]


def test_a_branch_scaffold_is_entered_by_jumps_from_its_first_child():
    assert ids(simple_paths(PtBranch)) == ["PtA-END", "PtA~PtB-END", "PtA~PtC-END"]
    graph = PathGraph(PtBranch)
    assert all(e.assumed for e in graph.edges if e.is_jump)
    assert [e.jump_target for e in graph.out["PtBranch.PtA"] if e.is_jump] == ["PtB", "PtC"]


def test_declared_jumps_replace_the_assumption():
    assert ids(simple_paths(PtDeclared)) == ["PtDeclares-END", "PtDeclares~PtC-END"]
    graph = PathGraph(PtDeclared)
    assert graph.reachable() == {"PtDeclared.PtDeclares", "PtDeclared.PtC", FINAL}
    assert not any(e.assumed for e in graph.edges)


def test_a_custom_transition_may_choose_any_sibling_or_complete():
    graph = PathGraph(PtCustom)
    targets = {(e.source, e.target) for e in graph.edges}
    assert targets == {
        ("PtCustom.PtA", "PtCustom.PtA"),
        ("PtCustom.PtA", "PtCustom.PtB"),
        ("PtCustom.PtA", FINAL),
        ("PtCustom.PtB", "PtCustom.PtA"),
        ("PtCustom.PtB", "PtCustom.PtB"),
        ("PtCustom.PtB", FINAL),
    }
    assert all(e.assumed for e in graph.edges)
    # no state twice: the self-loops and the return to PtA are left out
    assert ids(simple_paths(PtCustom)) == ["PtA-PtB-END", "PtA-END"]


def test_possible_next_narrows_a_custom_transition():
    assert ids(simple_paths(PtNarrowed)) == ["PtA-PtB-END"]
    assert "PtNarrowed.PtC" not in PathGraph(PtNarrowed).reachable()


def test_the_same_class_twice_is_named_by_its_place():
    (only,) = simple_paths(PtTwice)
    assert only.id == "PtShipping.PtA-PtB-PtBilling.PtA-PtC-END"


def test_the_suite_checkout_has_one_path_per_account_and_payment():
    paths = simple_paths(Purchase)
    assert len(paths) == 12
    assert len(set(ids(paths))) == 12
    assert (
        "ChooseItem-LoginOrRegister~EnterEmail-EnterCode-ResetPassword-SavedMethod~CardNumber~PayPal-Confirm-END"
        in ids(paths)
    )
    assert ids(simple_paths(Purchase)) == ids(paths)  # stable from run to run


def test_paths_are_ready_for_parametrize_ids():
    paths = shortest_paths(Purchase)
    assert all(" " not in p.id for p in paths)
    assert len(set(ids(paths))) == len(paths)


@pytest.mark.parametrize("flow_path", simple_paths(PtBranch), ids=lambda p: p.id)
def test_parametrizing_over_paths(flow_path):
    run = FlowReplay(PtBranch).follow(flow_path)
    assert run.finished


def test_coverage_names_what_paths_miss():
    paths = shortest_paths(Purchase)
    report = coverage(Purchase, paths)
    assert not report.missing_states  # every state is reached by some shortest path
    missing = {(e.source.rsplit(".", 1)[1], e.target.rsplit(".", 1)[1]) for e in report.missing_transitions}
    assert ("Register", "SavedMethod") in missing
    assert "transition not taken: Register --complete--> SavedMethod" in str(report)
    assert coverage(Purchase, simple_paths(Purchase)).complete


def test_coverage_counts_scaffolds_and_the_end():
    report = coverage(PtTwice, [])
    assert set(report.states) == {
        "PtTwice",
        "PtTwice.PtShipping",
        "PtTwice.PtShipping.PtA",
        "PtTwice.PtShipping.PtB",
        "PtTwice.PtBilling",
        "PtTwice.PtBilling.PtA",
        "PtTwice.PtBilling.PtC",
        FINAL,
    }
    assert str(report).startswith("Coverage of flow 'PtTwice': 0/8 states, 0/4 transitions.")
    full = coverage(PtTwice, simple_paths(PtTwice))
    assert full.complete and "8/8 states, 4/4 transitions" in str(full)


def test_a_flow_with_too_many_paths_says_so():
    with pytest.raises(FlowDefinitionError, match="more than 1 simple paths"):
        simple_paths(PtBranch, limit=1)


def test_a_broken_flow_cannot_be_walked():
    class PtEmpty(Scaffold):
        action_set = []

    with pytest.raises(FlowDefinitionError, match="E001"):
        simple_paths(PtEmpty)


def test_find_accepts_full_names_labels_and_class_names():
    graph = PathGraph(PtTwice)
    assert graph.find("PtB") == "PtTwice.PtShipping.PtB"
    assert graph.find("PtBilling.PtA") == "PtTwice.PtBilling.PtA"
    with pytest.raises(KeyError, match="several"):
        graph.find("PtA")
