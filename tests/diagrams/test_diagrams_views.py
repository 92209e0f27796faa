"""The DEBUG-only diagram views: ``<handler root>/.flowgraph`` and the site-wide page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.urls import include, path, reverse

from flowmachine import all_flowgraphs
from flowmachine.diagrams import render
from tests.diagrams.test_diagrams_support import dot_facts
from tests.flows import Purchase, handler, plain_handler, second_handler
from tests.walker import Walker

pytestmark = pytest.mark.django_db

# This module is also a URLconf: the test suite's URLs plus the site-wide page.
urlpatterns = [
    path("buy/", include(handler.urls)),
    path("again/", include(second_handler.urls)),
    path("plain/", include(plain_handler.urls)),
    path("dev/flowgraphs/", all_flowgraphs, name="flowgraphs"),
]

GUA = "Purchase.GetUserAccount."


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_the_handler_url_has_a_stable_name_in_its_namespace():
    assert reverse("shop:flowgraph") == "/buy/.flowgraph"
    assert reverse("again:flowgraph") == "/again/.flowgraph"


@pytest.mark.parametrize(
    ("query", "content_type", "magic"),
    [
        ("", "image/svg+xml", b"<?xml"),
        ("?format=svg", "image/svg+xml", b"<?xml"),
        ("?format=png", "image/png", b"\x89PNG\r\n\x1a\n"),
        ("?format=pdf", "application/pdf", b"%PDF-"),
        ("?format=dot", "text/vnd.graphviz; charset=utf-8", b"digraph"),
        ("?format=mermaid", "text/plain; charset=utf-8", b"flowchart TB"),
    ],
)
def test_debug_serves_the_handler_diagram_in_each_format(client, debug, query, content_type, magic):
    response = client.get("/buy/.flowgraph" + query)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response.content.startswith(magic)
    assert "no-cache" in response["Cache-Control"]


def test_the_svg_is_valid_and_draws_the_handlers_flows(client, debug):
    root = ET.fromstring(client.get("/buy/.flowgraph").content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert {"cluster_Purchase", "cluster_Purchase.GetUserAccount.ForgotPassword", "Purchase.Confirm"} <= titles
    # the handler without a namespace serves both of its flows in one diagram
    dot = client.get("/plain/.flowgraph?format=dot").content.decode()
    assert {"cluster_Greeting", "cluster_ProductFlow"} <= set(dot_facts(dot)["clusters"])
    only = client.get("/plain/.flowgraph?format=dot&flow=Greeting").content.decode()
    assert set(dot_facts(only)["clusters"]) == {"cluster_Greeting"}
    assert client.get("/plain/.flowgraph?flow=Nothing").status_code == 404


def test_jumps_can_be_left_out(client, debug):
    full = dot_facts(client.get("/buy/.flowgraph?format=dot").content.decode())
    lean = dot_facts(client.get("/buy/.flowgraph?format=dot&jumps=0").content.decode())
    assert len(full["edges"]) == 23 and len(lean["edges"]) == 18
    # jump edges start at the action that jumps
    assert (GUA + "LoginOrRegister", GUA + "Register", "goto:Register", "", "dashed") in full["edges"]
    # without them, what only a jump enters says so
    assert "entered by a jump from LoginOrRegister" in lean["nodes"][GUA + "Register"]["label"]
    assert "entered by a jump" not in full["nodes"][GUA + "Register"]["label"]
    mermaid = client.get("/buy/.flowgraph?format=mermaid&jumps=0").content.decode()
    assert "-.->" not in mermaid and "entered by a jump from CardNumber" in mermaid


def _scales(svg_text: str) -> ET.Element:
    """The root of *svg_text*, checked to scale to the window: width 100%, no fixed height, a viewBox."""
    root = ET.fromstring(svg_text[svg_text.find("<svg") :])
    assert root.get("width") == "100%"
    assert root.get("height") is None
    assert len(root.get("viewBox", "").split()) == 4
    assert "height:auto" in root.get("style", "")
    assert root.get("style", "").startswith("max-width:") and "pt" in root.get("style", "")
    return root


def test_the_svg_scales_to_the_window(client, debug):
    _scales(client.get("/buy/.flowgraph").content.decode())
    _scales(client.get("/buy/.flowgraph?jumps=0").content.decode())
    # what the command writes keeps Graphviz's natural size (a file, or an <img> in the docs)
    drawn = ET.fromstring(render(Purchase, "svg"))
    assert drawn.get("width", "").endswith("pt") and drawn.get("height", "").endswith("pt")


def test_an_unknown_format_is_a_400(client, debug):
    response = client.get("/buy/.flowgraph?format=gif")
    assert response.status_code == 400
    assert b"svg, png, pdf, dot, mermaid" in response.content


def test_outside_debug_every_diagram_url_is_a_404(client, settings):
    settings.DEBUG = False
    for url in ["/buy/.flowgraph", "/buy/.flowgraph?format=png", "/plain/.flowgraph", "/again/.flowgraph?format=dot"]:
        assert client.get(url).status_code == 404, url


@pytest.mark.urls(__name__)
def test_outside_debug_the_site_wide_page_is_a_404(client, settings):
    settings.DEBUG = False
    assert client.get("/dev/flowgraphs/").status_code == 404


def _walk_to_register(client):
    walker = Walker(client).start()
    walker.post({"item": "book"})
    walker.post({"choice": "register"})
    assert walker.path == "/buy/account/register/"
    return walker


def test_a_bound_task_is_highlighted(client, debug):
    walker = _walk_to_register(client)
    response = client.get(f"/buy/.flowgraph?format=dot&_t={walker.task_id}")
    nodes = dot_facts(response.content.decode())["nodes"]
    assert nodes[GUA + "Register"]["class"] == "fm_current"
    assert nodes[GUA + "LoginOrRegister"]["class"] == "fm_visited"
    assert nodes["Purchase.ChooseItem"]["class"] == "fm_visited"
    assert "class" not in nodes["Purchase.Confirm"]
    svg = client.get(f"/buy/.flowgraph?_t={walker.task_id}").content.decode()
    assert svg.count('class="node fm_current"') == 1
    assert svg.count('class="edge fm_path"') == 2  # ChooseItem -> GetUserAccount, the jump to Register
    assert "no-cache" in response["Cache-Control"]


def test_another_sessions_task_is_not_highlighted(client, debug):
    walker = _walk_to_register(client)
    stranger = Client()
    for query in [f"?_t={walker.task_id}", f"?format=dot&_t={walker.task_id}"]:
        response = stranger.get("/buy/.flowgraph" + query)
        assert response.status_code == 200
        assert b"fm_current" not in response.content and b"fm_visited" not in response.content
    plain = stranger.get("/buy/.flowgraph?format=dot").content
    assert stranger.get(f"/buy/.flowgraph?format=dot&_t={walker.task_id}").content == plain


def test_unknown_malformed_and_foreign_flow_task_ids_draw_the_plain_diagram(client, debug):
    plain = client.get("/buy/.flowgraph?format=dot").content
    for task_id in ["nope", "A" * 32, "../../etc/passwd"]:
        assert client.get(f"/buy/.flowgraph?format=dot&_t={task_id}").content == plain
    walker = _walk_to_register(client)
    # the task belongs to the "shop" handler's Purchase; the plain handler has no such flow
    response = client.get(f"/plain/.flowgraph?format=dot&_t={walker.task_id}")
    assert b"fm_current" not in response.content


@pytest.mark.urls(__name__)
def test_the_site_wide_page_shows_every_handlers_flows(client, debug):
    response = client.get("/dev/flowgraphs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert html.count("<svg") == 3  # the three handlers routed in this URLconf
    for url in ["/buy/.flowgraph", "/again/.flowgraph", "/plain/.flowgraph"]:
        assert f'href="{url}?format=png"' in html
    assert "namespace <code>shop</code>" in html and "namespace <code>again</code>" in html
    assert "Greeting, ProductFlow" in html
    assert "<title>cluster_Purchase.ChoosePayment.NewPaymentMethod</title>" in html
    svgs = [html[i : html.index("</svg>", i) + len("</svg>")] for i in range(len(html)) if html.startswith("<svg", i)]
    assert len(svgs) == 3
    for svg in svgs:
        _scales(svg)


def test_the_site_wide_page_lists_the_problems_of_a_broken_flow(client, debug, settings):
    import types

    from flowmachine import FlowHandler, Scaffold, registry

    class DiagramPageBrokenFlow(Scaffold):
        action_set = ["NoSuchStepForTheDiagramPage"]

    broken = FlowHandler(app_namespace="broken_diagrams")
    try:
        broken.register_entry_point(DiagramPageBrokenFlow)
        urlconf = types.ModuleType("diagram_page_urls")
        urlconf.urlpatterns = [  # type: ignore[attr-defined]
            path("buy/", include(handler.urls)),
            path("broken/", include(broken.urls)),
            path("dev/flowgraphs/", all_flowgraphs),
        ]
        settings.ROOT_URLCONF = urlconf
        html = client.get("/dev/flowgraphs/").content.decode()
        assert html.count("<svg") == 1
        assert "flowmachine.E002" in html and "NoSuchStepForTheDiagramPage" in html
    finally:
        registry.unregister_handler(broken)
