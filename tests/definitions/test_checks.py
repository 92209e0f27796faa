"""System checks: each definition mistake is reported with its id and a hint."""

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from flowmachine import Action, FlowHandler, Linear, Scaffold, registry
from flowmachine.checks import check_actions_can_render, check_flow_definitions, check_settings
from flowmachine.machine.compiler import CompiledFlow


@pytest.fixture
def make_handler():
    created = []

    def make(*flows, build_urls=True):
        handler = FlowHandler(app_namespace=f"checks{len(created)}")
        for flow in flows:
            handler.register_entry_point(flow)
        if build_urls:
            handler.urls  # noqa: B018
        created.append(handler)
        return handler

    yield make
    for handler in created:
        registry.unregister_handler(handler)


def ids(messages):
    return sorted(m.id for m in messages)


class Fine(Action):
    template_name = "shop/step.html"


class Other(Action):
    template_name = "shop/step.html"


class Empty(Scaffold):
    action_set = []


class Misspelt(Scaffold):
    action_set = [Fine, "NoSuchAction"]


class Twice(Scaffold):
    action_set = [Fine, Fine]


class SameUrlA(Action):
    url = "same/"
    template_name = "shop/step.html"


class SameUrlB(Action):
    url = "same/"
    template_name = "shop/step.html"


class Clash(Scaffold):
    action_set = [SameUrlA, SameUrlB]


class LoopOne(Scaffold):
    action_set = [Fine, "LoopTwo"]


class LoopTwo(Scaffold):
    action_set = [Other, LoopOne]


class NoTemplate(Action):
    pass


class WantsNoTemplate(Scaffold):
    action_set = [NoTemplate]


class MissingTemplate(Action):
    template_name = "shop/does-not-exist.html"


class WantsMissingTemplate(Scaffold):
    action_set = [MissingTemplate]


class NotAComponent:
    pass


class HoldsJunk(Scaffold):
    action_set = [Fine, NotAComponent, 42]


class BadTransition(Scaffold):
    transition = "linear"
    action_set = [Fine]


@pytest.mark.parametrize(
    "flow, expected",
    [
        (Empty, "flowmachine.E001"),
        (Misspelt, "flowmachine.E002"),
        (Twice, "flowmachine.E003"),
        (LoopOne, "flowmachine.E005"),
        (HoldsJunk, "flowmachine.E008"),
        (BadTransition, "flowmachine.E009"),
    ],
)
def test_definition_mistakes_are_errors_with_hints(make_handler, flow, expected):
    handler = make_handler(flow)
    mine = [m for m in check_flow_definitions() if m.msg.startswith(f"Flow {flow.__name__!r}")]
    assert expected in ids(mine)
    for message in mine:
        assert isinstance(message, checks.Error)
        assert message.hint
    assert handler.flows[flow].machine is None


def test_cycle_message_names_the_cycle(make_handler):
    make_handler(LoopOne)
    [message] = [m for m in check_flow_definitions() if m.id == "flowmachine.E005"]
    assert "LoopOne -> LoopTwo -> LoopOne" in message.msg


def test_misspelt_name_is_quoted_in_the_message(make_handler):
    make_handler(Misspelt)
    [message] = [m for m in check_flow_definitions() if m.id == "flowmachine.E002"]
    assert "'NoSuchAction'" in message.msg and "Misspelt" in message.msg


def test_clashing_urls(make_handler):
    make_handler(Clash)
    [message] = [m for m in check_flow_definitions() if m.id == "flowmachine.E004"]
    assert "Clash.SameUrlB" in message.msg and "Clash.SameUrlA" in message.msg


def test_two_entry_points_at_the_same_url_clash(make_handler):
    class First(Scaffold):
        url = ""
        action_set = [Fine]

    class Second(Scaffold):
        url = ""
        action_set = [Other]

    class FirstFine(Scaffold):
        url = "x/"
        action_set = [Fine]

    handler = make_handler(First, Second)
    assert ["flowmachine.E004"] == ids(handler.problems)
    assert make_handler(First, FirstFine).problems == []


def test_ambiguous_names_are_reported():
    from tests.definitions import test_checks as here

    twin_a = type("Twin", (Action,), {"__module__": "somewhere.a", "template_name": "x.html"})
    twin_b = type("Twin", (Action,), {"__module__": "somewhere.b", "template_name": "x.html"})
    holder = type("HoldsTwin", (Scaffold,), {"action_set": ["Twin"], "__module__": here.__name__})
    from flowmachine.machine.compiler import CompiledFlow

    try:
        assert "flowmachine.E010" in ids(CompiledFlow(holder).problems)
        dotted = type("HoldsDotted", (Scaffold,), {"action_set": ["tests.definitions.test_checks.Fine"]})
        assert CompiledFlow(dotted).problems == []
    finally:
        for twin in (twin_a, twin_b):
            registry.unregister_component(twin)


def test_names_must_be_identifiers():
    from flowmachine.machine.compiler import CompiledFlow

    weird = type("__Weird", (Action,), {})
    holder = type("HoldsWeird", (Scaffold,), {"action_set": [weird]})
    assert "flowmachine.E013" in ids(CompiledFlow(holder).problems)


def test_actions_that_cannot_render(make_handler):
    make_handler(WantsNoTemplate, WantsMissingTemplate)
    found = {m.id: m for m in check_actions_can_render() if m.obj in (NoTemplate, MissingTemplate)}
    assert set(found) == {"flowmachine.E006", "flowmachine.E007"}
    assert "does-not-exist.html" in found["flowmachine.E007"].msg


def test_the_test_suite_flows_are_clean():
    assert [m for m in check_flow_definitions() + check_actions_can_render() + check_settings()] == []


def test_manage_py_check_fails_on_a_broken_flow(make_handler):
    make_handler(Misspelt)
    with pytest.raises(SystemCheckError) as excinfo:
        call_command("check")
    assert "flowmachine.E002" in str(excinfo.value)


@override_settings(MIDDLEWARE=[])
def test_session_middleware_is_required_by_the_default_binder():
    assert "flowmachine.E011" in ids(check_settings())


@override_settings(FLOWS_STATE_STORE="flowmachine.backends.nothing_here")
def test_unknown_store_is_reported():
    assert "flowmachine.E012" in ids(check_settings())


@pytest.mark.django_db
def test_a_broken_flow_answers_with_its_problems(make_handler, client, settings):
    from django.urls import include, path

    from flowmachine.exceptions import FlowDefinitionError

    handler = make_handler(Misspelt, build_urls=False)
    urlconf = type("urlconf", (), {"urlpatterns": [path("broken/", include(handler.urls))]})
    settings.ROOT_URLCONF = urlconf
    with pytest.raises(FlowDefinitionError, match="NoSuchAction"):
        client.get("/broken/")


def test_linear_is_accepted_as_class_or_instance():
    from flowmachine.machine.compiler import CompiledFlow

    as_instance = type("LinearInstance", (Scaffold,), {"transition": Linear(), "action_set": [Fine, Other]})
    assert CompiledFlow(as_instance).problems == []


@pytest.mark.parametrize(
    ("database", "environ", "warned"),
    [
        ({"ENGINE": "django.db.backends.postgresql"}, {}, True),
        ({"ENGINE": "django.db.backends.postgresql", "OPTIONS": {"connect_timeout": 5}}, {}, False),
        ({"ENGINE": "django.db.backends.postgresql"}, {"PGCONNECT_TIMEOUT": "5"}, False),
        ({"ENGINE": "django.db.backends.sqlite3"}, {}, False),
    ],
)
def test_a_postgresql_task_database_without_connect_timeout_is_warned_about(monkeypatch, database, environ, warned):
    from django.conf import settings

    from flowmachine.backends.db import StateStore
    from flowmachine.checks import _check_connect_timeout

    monkeypatch.setitem(settings.DATABASES, "tasks", database)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    messages = _check_connect_timeout(StateStore(using="tasks"))
    assert ids(messages) == (["flowmachine.W019"] if warned else [])
    if warned:
        assert "'tasks'" in messages[0].msg and "connect_timeout" in messages[0].hint


def test_a_dotted_path_whose_import_fails_reports_the_import_error(make_handler):
    class HoldsBrokenImport(Scaffold):
        action_set = ["tests.definitions.broken_import.Anything"]

    problems = CompiledFlow(HoldsBrokenImport).problems
    assert [p.id for p in problems] == ["flowmachine.E020"]
    assert "flowmachine_no_such_dependency" in problems[0].msg
    assert "tests.definitions.broken_import" in problems[0].hint


def test_a_dotted_path_to_a_missing_name_still_matches_nothing():
    class HoldsMissingName(Scaffold):
        action_set = ["tests.definitions.test_checks.NoSuchAction"]

    assert [p.id for p in CompiledFlow(HoldsMissingName).problems] == ["flowmachine.E002"]


@pytest.mark.parametrize("value", ["redsi", "Redis", 1, True])
def test_an_unknown_funnel_backend_is_a_check_error(value):
    with override_settings(FLOWS_FUNNEL=value):
        messages = [m for m in check_settings() if m.id == "flowmachine.E021"]
        assert len(messages) == 1 and repr(value) in messages[0].msg
        with pytest.raises(SystemCheckError, match="flowmachine.E021"):
            call_command("check")


@pytest.mark.parametrize("value", [None, "db", "redis"])
def test_the_funnel_backends_pass_the_check(value):
    with override_settings(FLOWS_FUNNEL=value):
        assert not [m for m in check_settings() if m.id == "flowmachine.E021"]


def test_a_handler_without_on_complete_url_is_warned_about(make_handler):
    from flowmachine.checks import check_handlers_know_where_to_finish

    class NoWhereToGo(Scaffold):
        transition = Linear
        action_set = [Fine]

    lone = make_handler(NoWhereToGo)
    warned = [m for m in check_handlers_know_where_to_finish() if m.obj is lone]
    assert [m.id for m in warned] == ["flowmachine.W023"] and "NoWhereToGo" in warned[0].msg
    lone.on_complete_url = "/done/"
    assert not [m for m in check_handlers_know_where_to_finish() if m.obj is lone]


def test_a_precondition_listed_as_a_class_is_an_error(make_handler):
    from flowmachine.checks import check_preconditions_are_objects
    from flowmachine.preconditions import LoginRequired

    class GuardedByAClass(Action):
        template_name = "shop/step.html"
        preconditions = [LoginRequired]

    class GuardedByNothing(Action):
        template_name = "shop/step.html"
        preconditions = ["login please"]

    class Guarded(Scaffold):
        transition = Linear
        action_set = [GuardedByAClass, GuardedByNothing]

    make_handler(Guarded)
    found = [m for m in check_preconditions_are_objects() if m.id == "flowmachine.E025"]
    assert len(found) == 2
    assert (
        "class LoginRequired, not an instance" in found[0].msg
        and found[0].hint == "Write LoginRequired(...) in preconditions."
    )
    assert "no process(request, component)" in found[1].msg
