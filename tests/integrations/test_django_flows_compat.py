"""What a project ported from django-flows meets: one deprecated tag that still works, loud errors for the rest.

Each django-flows name that flowmachine does not keep fails with a message
naming its replacement (docs/migrating.md lists them).
"""

from __future__ import annotations

import re
import types
import warnings

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseRedirect
from django.template import Context, Template
from django.urls import include, path

from flowmachine import Action, FlowDefinitionError, FlowHandler, Linear, Scaffold, registry
from flowmachine.backends import get_store
from flowmachine.checks import check_django_flows_leftovers, check_settings
from flowmachine.conf import flow_settings
from tests.walker import Walker

TEMPLATE = "shop/step.html"
CSRF_VALUE = re.compile(r'(?<=name="csrfmiddlewaretoken" value=")[^"]+')


def open_first_step(client):
    response = client.get("/buy/")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    return page


# -- {% render_form_header %} ---------------------------------------------------------


@pytest.mark.django_db
def test_render_form_header_renders_what_flow_form_header_renders_and_warns(client):
    page = open_first_step(client)
    context = {"flow": page.context["flow"], "request": page.wsgi_request}
    new = Template("{% load flowmachine %}{% flow_form_header %}").render(Context(context))
    with pytest.warns(DeprecationWarning, match=r"flow_form_header") as caught:
        old = Template("{% load flowmachine %}{% render_form_header %}").render(Context(context))
    # The CSRF token is masked afresh at each rendering: compare the rest, and that there is one.
    assert CSRF_VALUE.sub("", old) == CSRF_VALUE.sub("", new)
    assert len(CSRF_VALUE.findall(old)) == 1
    bare = {"flow": page.context["flow"]}  # no request, no CSRF field: the fields compare exactly
    with pytest.warns(DeprecationWarning):
        assert Template("{% load flowmachine %}{% render_form_header %}").render(Context(bare)) == Template(
            "{% load flowmachine %}{% flow_form_header %}"
        ).render(Context(bare))
    assert 'name="_t"' in new and 'name="_v"' in new and 'name="csrfmiddlewaretoken"' in new
    assert [w.category for w in caught] == [DeprecationWarning]


@pytest.mark.django_db
def test_flow_form_header_does_not_warn(client):
    page = open_first_step(client)
    context = Context({"flow": page.context["flow"], "request": page.wsgi_request})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Template("{% load flowmachine %}{% flow_form_header %}").render(context)


# -- settings ---------------------------------------------------------------------


def w024(messages):
    return [m for m in messages if m.id == "flowmachine.W024"]


def test_a_django_flows_setting_flowmachine_does_not_read_is_reported(settings):
    settings.FLOWS_SITE_ROOT = "/shop"
    found = w024(check_django_flows_leftovers())
    assert len(found) == 1
    assert "FLOWS_SITE_ROOT" in found[0].msg and "FORCE_SCRIPT_NAME" in found[0].hint


def test_without_django_flows_settings_nothing_is_reported():
    assert w024(check_django_flows_leftovers()) == []


@pytest.mark.parametrize(
    "old, new",
    [
        ("flows.statestore.django_store", "flowmachine.backends.db"),
        ("flows.statestore.redis_store", "flowmachine.backends.redis"),
        ("flows.statestore.tmpfile_store", "flowmachine.backends.tmpfile"),
    ],
)
def test_a_django_flows_store_path_names_its_replacement(settings, old, new):
    settings.FLOWS_STATE_STORE = old
    with pytest.raises(ImproperlyConfigured, match=rf"FLOWS_STATE_STORE = '{new}'"):
        get_store()
    errors = [m for m in check_settings() if m.id == "flowmachine.E012"]
    assert len(errors) == 1 and new in errors[0].msg


def test_the_django_flows_binder_path_names_its_replacement(settings):
    settings.FLOWS_TASK_BINDER = "flows.binder.session_binder"
    with pytest.raises(ImproperlyConfigured, match=r"'flowmachine\.binding\.session_binder'"):
        flow_settings.FLOWS_TASK_BINDER  # noqa: B018 - the access raises


# -- components, handler and imports ------------------------------------------------


class OldStyleUrls(Action):
    template_name = TEMPLATE
    urls = ["^one/$", "^two/$"]


class OldStyleUrlArgs(Action):
    template_name = TEMPLATE

    def get_url_args(self):
        return [], {}


class OldStyleFlow(Scaffold):
    transition = Linear
    action_set = [OldStyleUrls, OldStyleUrlArgs]


def test_django_flows_attributes_of_components_are_reported():
    with registry.isolated():
        handler = FlowHandler(on_complete_url="/done/")
        handler.register_entry_point(OldStyleFlow)
        found = w024(check_django_flows_leftovers())
    by_object = {m.obj: m for m in found}
    assert set(by_object) == {OldStyleUrls, OldStyleUrlArgs}
    assert "urls" in by_object[OldStyleUrls].msg and "url" in by_object[OldStyleUrls].hint
    assert "get_url_args" in by_object[OldStyleUrlArgs].msg and "path converters" in by_object[OldStyleUrlArgs].hint


def test_the_old_precondition_name_names_the_new_one():
    with pytest.raises(ImportError, match="LoginRequired"):
        from flowmachine.preconditions import EnsureAuthenticated  # noqa: F401


def test_get_urls_names_handler_urls():
    with registry.isolated(), pytest.raises(FlowDefinitionError, match=r"include\(handler\.urls\)"):
        FlowHandler().get_urls()


@pytest.mark.django_db
def test_flow_entry_link_refuses_a_name_and_with_state(rf):
    from tests.flows import Purchase, handler

    request = rf.get("/")
    request.session = {}
    with pytest.raises(FlowDefinitionError, match="not its name"):
        handler.flow_entry_link(request, "Purchase", "/done/")
    with pytest.raises(TypeError, match="with_state"):
        handler.flow_entry_link(request, Purchase, "/done/", True)


class ReturnsTheString(Action):
    template_name = TEMPLATE

    def form_valid(self, form):
        return "complete"


class LinksTheOldWay(Action):
    template_name = TEMPLATE

    def get_context_data(self, **kwargs):
        kwargs["other"] = self.link_to(ReturnsTheString, additional_url_params={"a": 1})
        return super().get_context_data(**kwargs)


class PreparesAResponse(Scaffold):
    action_set = [ReturnsTheString]

    def prepare(self, request):
        return HttpResponseRedirect("/elsewhere/")


class StringFlow(Scaffold):
    url = "string/"
    action_set = [ReturnsTheString]


class LinkFlow(Scaffold):
    url = "link/"
    action_set = [LinksTheOldWay, ReturnsTheString]


class PrepareFlow(Scaffold):
    url = "prepare/"
    action_set = [PreparesAResponse]


@pytest.fixture
def old_style_urls(settings):
    settings.DEBUG = True  # the developer sees the exception
    with registry.isolated():
        handler = FlowHandler(on_complete_url="/done/")
        for flow in (StringFlow, LinkFlow, PrepareFlow):
            handler.register_entry_point(flow)
        urlconf = types.ModuleType("old_style_urls")
        urlconf.urlpatterns = [path("old/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield


@pytest.mark.django_db
def test_returning_the_string_complete_names_the_constant(client, old_style_urls):
    walker = Walker(client, entry="/old/string/").start()
    with pytest.raises(FlowDefinitionError, match=r"return flowmachine\.COMPLETE"):
        client.post(walker.url, {"_t": walker.task_id})


@pytest.mark.django_db
def test_link_to_with_additional_url_params_names_the_keywords(client, old_style_urls):
    response = client.get("/old/link/")
    assert response.status_code == 302
    with pytest.raises(TypeError, match=r"link_to\(target, key=value\)"):
        client.get(response["Location"])


@pytest.mark.django_db
def test_a_prepare_that_returns_a_response_names_preconditions(client, old_style_urls):
    response = client.get("/old/prepare/")
    assert response.status_code == 302
    with pytest.raises(FlowDefinitionError, match="precondition"):
        client.get(response["Location"])
