"""Compiling scaffolds into machines: places, transitions, jumps, reuse."""

import pytest

from flowmachine import COMPLETE, Action, FlowDefinitionError, InvalidJump, Linear, Scaffold, Transition
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import FINAL, SEPARATOR


class A(Action):
    pass


class B(Action):
    pass


class C(Action):
    pass


class D(Action):
    pass


class Address(Scaffold):
    transition = Linear
    action_set = [C, D]


class Shipping(Scaffold):
    transition = Linear
    action_set = [A, Address]


class Billing(Scaffold):
    transition = Linear
    action_set = [B, Address]


class Order_(Scaffold):
    transition = Linear
    action_set = [Shipping, Billing]


def test_states_mirror_the_scaffold_tree():
    flow = CompiledFlow(Shipping)
    assert flow.problems == []
    assert list(flow.places) == [
        "Shipping",
        "Shipping.A",
        "Shipping.Address",
        "Shipping.Address.C",
        "Shipping.Address.D",
    ]
    assert flow.places["Shipping.Address.C"].route == "shipping/address/c/"
    assert flow.machine.get_state("Shipping.Address.D").name == "D"


def test_linear_goes_in_order_then_completes_upward():
    flow = CompiledFlow(Order_)
    position = flow.root.first_leaf().name
    visited = [position]
    while position != FINAL:
        position = flow.fire(position, "complete", {})
        visited.append(position)
    assert visited == [
        "Order_.Shipping.A",
        "Order_.Shipping.Address.C",
        "Order_.Shipping.Address.D",
        "Order_.Billing.B",
        "Order_.Billing.Address.C",
        "Order_.Billing.Address.D",
        FINAL,
    ]


def test_reused_scaffold_has_its_own_states_and_urls_in_each_place():
    flow = CompiledFlow(Order_)
    ship, bill = flow.places["Order_.Shipping.Address.C"], flow.places["Order_.Billing.Address.C"]
    assert ship is not bill
    assert ship.route == "order_/shipping/address/c/" and bill.route == "order_/billing/address/c/"
    # completing D in the shipping address leads on to billing, not back into shipping
    assert flow.fire("Order_.Shipping.Address.D", "complete", {}) == "Order_.Billing.B"
    assert flow.fire("Order_.Billing.Address.D", "complete", {}) == FINAL


def test_one_scaffold_in_two_flows_does_not_leak():
    one, two = CompiledFlow(Shipping), CompiledFlow(Order_)
    assert one.fire("Shipping.Address.D", "complete", {}) == FINAL
    assert two.fire("Order_.Shipping.Address.D", "complete", {}) == "Order_.Billing.B"


def test_jumps_reach_siblings_and_siblings_of_ancestors_only():
    flow = CompiledFlow(Order_)
    assert flow.fire("Order_.Shipping.Address.D", "goto:C", {}) == "Order_.Shipping.Address.C"
    assert flow.fire("Order_.Shipping.Address.D", "goto:A", {}) == "Order_.Shipping.A"
    assert flow.fire("Order_.Shipping.Address.D", "goto:Billing", {}) == "Order_.Billing.B"
    with pytest.raises(InvalidJump) as excinfo:
        flow.fire("Order_.Shipping.A", "goto:B", {})  # B is a nephew, not a sibling
    assert "Order_.Shipping.A" in str(excinfo.value) and "'B'" in str(excinfo.value)


def test_state_names_use_a_separator_that_cannot_occur_in_names():
    assert SEPARATOR == "."

    class snake_case_step(Action):
        pass

    class snake_flow(Scaffold):
        action_set = [snake_case_step]

    flow = CompiledFlow(snake_flow)
    assert flow.problems == []
    assert "snake_flow.snake_case_step" in flow.places
    assert flow.fire("snake_flow.snake_case_step", "complete", {}) == FINAL


class Ask(Action):
    pass


class Adult(Action):
    pass


class Child(Action):
    pass


class ByAge(Transition):
    def choose_next(self, current, siblings, state):
        if current == "Ask":
            return "Adult" if state["age"] >= 18 else "Child"
        return None


class AgeCheck(Scaffold):
    transition = ByAge
    action_set = [Ask, Adult, Child]


def test_custom_transition_chooses_with_state():
    flow = CompiledFlow(AgeCheck)
    assert flow.fire("AgeCheck.Ask", "complete", {"age": 30}) == "AgeCheck.Adult"
    assert flow.fire("AgeCheck.Ask", "complete", {"age": 9}) == "AgeCheck.Child"
    assert flow.fire("AgeCheck.Child", "complete", {"age": 9}) == FINAL
    # the fewest steps left: ByAge says nothing of what it may choose (possible_next), so
    # completing the scaffold at once is possible as far as the table knows
    assert flow.places["AgeCheck.Ask"].remaining == 0


class Misnamed(Transition):
    def choose_next(self, current, siblings, state):
        return "Adulthood"


class MisnamedCheck(Scaffold):
    transition = Misnamed
    action_set = [Ask, Adult]


def test_a_custom_transition_naming_no_child_is_refused_with_the_fix():
    flow = CompiledFlow(MisnamedCheck)
    with pytest.raises(FlowDefinitionError) as excinfo:
        flow.fire("MisnamedCheck.Ask", "complete", {})
    message = str(excinfo.value)
    assert "Misnamed.choose_next()" in message
    assert "'Adulthood'" in message
    assert "Ask, Adult" in message


def test_remaining_steps_follow_linear_transitions():
    flow = CompiledFlow(Order_)
    assert flow.places["Order_.Shipping.A"].remaining == 5
    assert flow.places["Order_.Billing.Address.D"].remaining == 0


def test_a_request_only_triggers_the_built_machine():
    """Firing never adds models or states: the machine is built once."""
    flow = CompiledFlow(Order_)
    machine = flow.machine
    states_before = len(machine.get_nested_state_names())
    for _ in range(50):
        flow.fire("Order_.Shipping.A", "complete", {})
    assert machine.models == []
    assert len(machine.get_nested_state_names()) == states_before


def test_large_flat_flow_compiles():
    actions = [type(f"Big{i}", (Action,), {}) for i in range(1000)]
    big = type("BigFlow", (Scaffold,), {"transition": Linear, "action_set": actions})
    flow = CompiledFlow(big)
    assert flow.problems == []
    assert flow.fire("BigFlow.Big500", "complete", {}) == "BigFlow.Big501"
    assert flow.places["BigFlow.Big0"].remaining == 999


def test_complete_is_a_singleton_with_a_readable_repr():
    from flowmachine.components import _Complete

    assert _Complete() is COMPLETE
    assert repr(COMPLETE) == "COMPLETE"


def test_static_moves_are_remembered_and_state_dependent_ones_never(monkeypatch):
    flow = CompiledFlow(Order_)
    fired = []
    original = flow.machine.trigger_event
    monkeypatch.setattr(flow.machine, "trigger_event", lambda *a, **k: fired.append(a[1]) or original(*a, **k))
    for _ in range(3):
        assert flow.fire("Order_.Shipping.A", "complete", {}) == "Order_.Shipping.Address.C"
        assert flow.fire("Order_.Shipping.A", "goto:Billing", {}) == "Order_.Billing.B"
    assert fired == ["complete", "goto:Billing"]  # each once: the answers never change them

    ages = CompiledFlow(AgeCheck)
    for age, expected in [(30, "AgeCheck.Adult"), (9, "AgeCheck.Child")] * 3:
        assert ages.fire("AgeCheck.Ask", "complete", {"age": age}) == expected
