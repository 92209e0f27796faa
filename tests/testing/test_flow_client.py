"""The flow_client fixture walks real tasks through the test client; the plugin loads once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowmachine.testing import FINISHED, LINK, FlowClient, coverage, simple_paths
from tests.flows import Purchase

ROOT = Path(__file__).resolve().parents[2]

#: Form data for each action of the suite's checkout (tests/flows.py).
CHECKOUT_DATA = {
    "ChooseItem": {"item": "lamp"},
    "LoginOrRegister": {"choice": "login", "username": "alice", "password": "s3cret-pass"},
    "Register": {"username": "bob", "password": "pw-of-bob"},
    "EnterEmail": {"email": "alice@example.com"},
    "EnterCode": {"code": "123456"},
    "ResetPassword": {"password": "brand-new-pass"},
    "SavedMethod": {"method": "saved"},
    "SavedMethod~CardNumber": {"method": "new"},  # this jump is a form answer; other jumps follow links
    "CardNumber": {"number": "4111111111111111"},
    "BankDetails": {"iban": "DE89370400440532013000"},
    "AccountAddress": {"street": "1 Main St"},
}

PATHS = simple_paths(Purchase)


def test_the_generated_paths_cover_the_whole_checkout():
    assert coverage(Purchase, PATHS).complete
    assert len({p.id for p in PATHS}) == len(PATHS) == 12


@pytest.mark.django_db
@pytest.mark.parametrize("flow_path", PATHS, ids=[p.id for p in PATHS])
def test_every_checkout_path_walks_over_http(flow_client, shopper, flow_path):
    flow_client.walk(flow_path, CHECKOUT_DATA)
    assert flow_client.finished
    assert flow_client.response["Location"] == "/done/"


@pytest.mark.django_db
def test_step_asserts_the_position_and_names_the_form_errors(flow_client, shopper):
    flow_client.start(Purchase, expect="ChooseItem")
    flow_client.step({"item": "lamp"}, expect="Purchase.GetUserAccount.LoginOrRegister")
    with pytest.raises(AssertionError) as failed:
        flow_client.step({"choice": "login", "username": "alice", "password": "wrong"}, expect="SavedMethod")
    message = str(failed.value)
    assert "at Purchase.GetUserAccount.LoginOrRegister" in message and "Wrong username or password" in message
    flow_client.jump("Register", expect="Register")
    flow_client.step(CHECKOUT_DATA["Register"], expect="SavedMethod")
    assert flow_client.state == {"item": "lamp", "user": "bob"}
    flow_client.step({"method": "new"}, expect="CardNumber")
    flow_client.jump("PayPal", expect="PayPal")
    flow_client.step({}, expect="Confirm")
    flow_client.step({}, expect=FINISHED)


@pytest.mark.django_db
def test_data_may_be_a_callable_that_sees_the_client(flow_client, shopper):
    seen = []

    def item(client: FlowClient):
        seen.append(client.form.fields["item"].choices[0][0])
        return {"item": seen[0]}

    path = next(p for p in PATHS if p.id == "ChooseItem-LoginOrRegister-SavedMethod-Confirm-END")
    flow_client.walk(path, {**CHECKOUT_DATA, "ChooseItem": item, "SavedMethod": lambda client: {"method": "saved"}})
    assert seen == ["book"] and flow_client.finished


def test_link_is_a_marker():
    assert repr(LINK) == "LINK"


def test_the_plugin_is_registered_once(request):
    manager = request.config.pluginmanager
    plugin = manager.get_plugin("flowmachine.testing.plugin")
    assert plugin is not None
    assert [p for p in manager.get_plugins() if p is plugin] == [plugin]
    # loaded from the pytest11 entry point of the installed distribution, not by a conftest
    assert [dist.project_name for p, dist in manager.list_plugin_distinfo() if p is plugin] == ["django-flowmachine"]


def test_the_fixture_is_a_flow_client(flow_client):
    assert isinstance(flow_client, FlowClient)


@pytest.mark.slow
def test_a_conftest_naming_the_plugin_does_not_load_it_twice(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["flowmachine.testing.plugin"]\n')
    (tmp_path / "test_it.py").write_text(
        textwrap.dedent("""
        def test_fixture(request, flow_client):
            manager = request.config.pluginmanager
            plugin = manager.get_plugin("flowmachine.testing.plugin")
            assert [p for p in manager.get_plugins() if p is plugin] == [plugin]
            assert type(flow_client).__name__ == "FlowClient"
    """)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
