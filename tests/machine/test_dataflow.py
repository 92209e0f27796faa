"""Data-flow checks: reads written first on every path, no unreachable actions, no dead ends."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from flowmachine import Action, FlowHandler, Linear, Scaffold, Transition, registry
from flowmachine.checks import check_data_flow
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.dataflow import data_flow_findings, reads_of
from flowmachine.preconditions import RequiredState


def findings(flow):
    return data_flow_findings(CompiledFlow(flow))


def ids(found):
    return [f.id for f in found]


@pytest.fixture
def served():
    created = []

    def serve(*flows):
        handler = FlowHandler(app_namespace=f"dataflow{len(created)}")
        for flow in flows:
            handler.register_entry_point(flow)
        created.append(handler)
        return handler

    yield serve
    for handler in created:
        registry.unregister_handler(handler)


class DfStep(Action):
    template_name = "shop/step.html"
    _abstract = True


# -- a fully declared checkout ----------------------------------------------------------


class DfItem(DfStep):
    writes = ("item",)


class DfLogin(DfStep):
    writes = ("user",)


class DfRegister(DfStep):
    writes = ("user",)


class DfAccount(Scaffold):
    action_set = [DfLogin, DfRegister]


class DfChoosePay(DfStep):
    """Jumps to DfCard or DfPayPal, or completes when a saved method is chosen (and forgets the payment)."""

    writes = ()


class DfCard(DfStep):
    writes = ("payment",)


class DfPayPal(DfStep):
    writes = ("payment",)


class DfPay(Scaffold):
    action_set = [DfChoosePay, DfCard, DfPayPal]


class DfConfirm(DfStep):
    reads = ("item", "user")
    preconditions = [RequiredState("payment")]
    writes = ()


class DfCheckout(Scaffold):
    transition = Linear
    action_set = [DfItem, DfAccount, DfPay, DfConfirm]


def test_a_read_missing_on_one_path_is_a_warning_naming_that_path():
    (found,) = findings(DfCheckout)
    assert (found.level, found.id) == ("warning", "flowmachine.W016")
    assert found.obj is DfConfirm
    assert "'payment'" in found.msg and "RequiredState('payment',)" in found.msg
    assert "path DfItem -> DfLogin -> DfChoosePay -> DfConfirm." in found.msg
    assert "writes" in found.hint and "initial_keys" in found.hint


def test_reads_of_counts_own_reads_scaffold_reads_and_required_state():
    flow = CompiledFlow(DfCheckout)
    assert set(reads_of(flow.places["DfCheckout.DfConfirm"])) == {"item", "user", "payment"}


# -- a read nothing writes -------------------------------------------------------------


class DfNeedsCart(DfStep):
    reads = ("cart",)
    writes = ()


class DfStart(DfStep):
    writes = ()


class DfNoCart(Scaffold):
    transition = Linear
    action_set = [DfStart, DfNeedsCart]


class DfGivenCart(Scaffold):
    transition = Linear
    initial_keys = ("cart",)
    action_set = [DfStart, DfNeedsCart]


def test_a_read_no_path_writes_is_an_error():
    (found,) = findings(DfNoCart)
    assert (found.level, found.id) == ("error", "flowmachine.E014")
    assert "no path writes" in found.msg and "DfStart -> DfNeedsCart" in found.msg


def test_initial_keys_count_as_written():
    assert findings(DfGivenCart) == []


class DfUndeclared(DfStep):
    """writes = None: it may set anything, so nothing after it is reported."""


class DfTrusting(Scaffold):
    transition = Linear
    action_set = [DfUndeclared, DfNeedsCart]


def test_an_undeclared_writer_may_write_anything():
    assert findings(DfTrusting) == []


class DfFirstReads(DfStep):
    preconditions = [RequiredState("token")]


class DfFirstNeedsToken(Scaffold):
    action_set = [DfFirstReads]


def test_the_entry_action_needs_its_reads_as_initial_keys():
    (found,) = findings(DfFirstNeedsToken)
    assert found.id == "flowmachine.E014" and "path DfFirstReads" not in found.msg
    assert "e.g. DfFirstReads." in found.msg


# -- unreachable actions and dead ends -----------------------------------------------------


class DfChooser(DfStep):
    jumps = ()  # declares it never jumps


class DfOrphan(DfStep):
    pass


class DfOrphans(Scaffold):
    action_set = [DfChooser, DfOrphan]


def test_an_action_nothing_leads_to_is_unreachable():
    (found,) = findings(DfOrphans)
    assert (found.level, found.id, found.obj) == ("warning", "flowmachine.W017", DfOrphan)
    assert "DfOrphan (DfOrphans.DfOrphan) cannot be reached from DfChooser" in found.msg


class DfSpin(Transition):
    def choose_next(self, current, siblings, state):
        return "DfLoopB" if current == "DfLoopA" else "DfLoopA"

    def possible_next(self, current, siblings):
        return ["DfLoopB"] if current == "DfLoopA" else ["DfLoopA"]


class DfLoopA(DfStep):
    pass


class DfLoopB(DfStep):
    jumps = ()


class DfSpinning(Scaffold):
    transition = DfSpin
    action_set = [DfLoopA, DfLoopB]


def test_a_cycle_without_exit_is_a_dead_end():
    found = findings(DfSpinning)
    assert ids(found) == ["flowmachine.W018", "flowmachine.W018"]
    assert "DfLoopA is a dead end" in found[0].msg
    assert "DfLoopB is a dead end: from the path DfLoopA -> DfLoopB" in found[1].msg


# -- declarations that are not what they should be ------------------------------------------


class DfStringReads(DfStep):
    reads = "item"  # not a tuple: ("item",) was meant


class DfBadJump(DfStep):
    jumps = ("Nowhere",)
    writes = ()


class DfBadDeclarations(Scaffold):
    transition = Linear
    action_set = [DfStringReads]


class DfBadJumps(Scaffold):
    action_set = [DfBadJump]


def test_a_declaration_that_is_not_a_tuple_of_keys_is_an_error():
    (found,) = findings(DfBadDeclarations)
    assert found.id == "flowmachine.E015" and "DfStringReads.reads is 'item'" in found.msg
    assert "trailing comma" in found.hint


def test_a_declared_jump_the_flow_refuses_is_an_error():
    (found,) = findings(DfBadJumps)
    assert found.id == "flowmachine.E015" and "'Nowhere'" in found.msg


# -- as system checks ---------------------------------------------------------------------


def test_the_suite_flows_have_no_data_flow_findings():
    assert check_data_flow() == []


def test_check_reports_errors_and_warnings_once_per_flow(served):
    served(DfCheckout, DfNoCart)
    served(DfCheckout)  # the same flow in a second handler is checked once
    messages = [m for m in check_data_flow() if m.obj in (DfConfirm, DfNeedsCart)]
    assert sorted((m.id, type(m).__name__) for m in messages) == [
        ("flowmachine.E014", checks.Error.__name__),
        ("flowmachine.W016", checks.Warning.__name__),
    ]


def test_manage_py_check_fails_on_a_data_flow_error(served):
    served(DfNoCart)
    with pytest.raises(SystemCheckError, match="flowmachine.E014"):
        call_command("check")


def test_manage_py_check_passes_with_only_warnings(served, capsys):
    served(DfCheckout)
    call_command("check")
    assert "flowmachine.W016" in capsys.readouterr().err
