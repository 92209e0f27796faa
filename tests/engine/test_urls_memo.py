"""Step URLs are reversed once per resolver and script prefix, and never answered from a stale URLconf."""

from __future__ import annotations

from django.urls import clear_url_caches, path, set_script_prefix

from flowmachine.engine.urls import reverse_path


def view(request):  # pragma: no cover - never called
    raise AssertionError


urlpatterns = [path("first/<slug:key>/", view, name="memo")]


def test_a_path_is_reversed_for_its_values_and_script_prefix(settings):
    settings.ROOT_URLCONF = __name__
    assert reverse_path("memo", {"key": "a"}) == "/first/a/"
    assert reverse_path("memo", {"key": "b"}) == "/first/b/"
    set_script_prefix("/shop/")
    try:
        assert reverse_path("memo", {"key": "a"}) == "/shop/first/a/"
    finally:
        set_script_prefix("/")


def test_a_changed_urlconf_is_never_answered_from_memory(settings):
    settings.ROOT_URLCONF = __name__
    assert reverse_path("memo", {"key": "a"}) == "/first/a/"
    urlpatterns[:] = [path("second/<slug:key>/", view, name="memo")]
    try:
        clear_url_caches()
        assert reverse_path("memo", {"key": "a"}) == "/second/a/"
    finally:
        urlpatterns[:] = [path("first/<slug:key>/", view, name="memo")]
        clear_url_caches()
