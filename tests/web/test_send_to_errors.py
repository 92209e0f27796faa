"""``send_to(target, with_errors=...)``: a list shows as non-field errors, a dict on its fields."""

from __future__ import annotations

import types

import pytest
from django import forms
from django.urls import include, path

from flowmachine import Action, FlowHandler, Linear, Scaffold, registry
from tests.walker import Walker


class NoteForm(forms.Form):
    note = forms.CharField(required=False)
    other = forms.CharField(required=False)


class Note(Action):
    template_name = "shop/step.html"
    form_class = NoteForm


class Check(Action):
    template_name = "shop/step.html"
    errors: object = None

    def form_valid(self, form):
        return self.send_to(Note, with_errors=self.errors)  # type: ignore[arg-type]


class SendBack(Scaffold):
    transition = Linear
    action_set = [Note, Check]


@pytest.fixture
def send_back(settings):
    with registry.isolated():
        handler = FlowHandler(app_namespace="sendback", on_complete_url="/done/")
        handler.register_entry_point(SendBack)
        urlconf = types.ModuleType("sendback_urls")
        urlconf.urlpatterns = [path("back/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield


def sent_back_page(client, errors) -> str:
    Check.errors = errors
    walker = Walker(client, entry="/back/").start()
    walker.post({"note": "n"})
    walker.post({})
    assert walker.path == "/back/note/"
    return walker.response.content.decode()


@pytest.mark.django_db
def test_a_dict_shows_each_message_on_its_field(client, send_back):
    page = sent_back_page(client, {"note": ["Too short."], "other": "Say more.", "nosuchfield": ["Elsewhere."]})
    assert 'class="errorlist"' in page
    note_at, other_at = page.index('name="note"'), page.index('name="other"')
    assert page.index("Too short.") < note_at < page.index("Say more.") < other_at
    assert "Elsewhere." in page and "nonfield" in page
    assert "note</li>" not in page  # never the key shown instead of the message


@pytest.mark.django_db
def test_a_list_shows_as_non_field_errors(client, send_back):
    page = sent_back_page(client, ["Check your note."])
    assert "Check your note." in page and "nonfield" in page


@pytest.mark.parametrize("errors", ["just a string", 5, {1: ["x"]}])
def test_anything_else_is_a_type_error_saying_what_is_accepted(errors):
    with pytest.raises(TypeError, match="a list of messages or a dict of field name to messages"):
        Action().send_to(Note, with_errors=errors)
