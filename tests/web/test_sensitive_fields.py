"""Sensitive fields: never kept as answers, journalled, shown or sent in error reports."""

from __future__ import annotations

import json
import types
import uuid

import pytest
from django import forms
from django.test import RequestFactory
from django.urls import include, path
from django.views.debug import ExceptionReporter

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold, registry
from flowmachine.admin import TaskRecordAdmin
from flowmachine.management.commands.flowtask import export_record
from tests.walker import Walker

IBAN = "GB82WEST12345698765432"
PASSWORD = "correct horse battery staple"


class BankForm(forms.Form):
    holder = forms.CharField()
    iban = forms.CharField()
    password = forms.CharField(widget=forms.PasswordInput)


class Bank(Action):
    template_name = "claim/step.html"
    form_class = BankForm
    sensitive_fields = ("iban",)
    #: Set by a test: the step fails after its form was accepted (a 500 with an error report).
    crash = False

    def form_valid(self, form):
        self.state["holder"] = form.cleaned_data["holder"]
        self.state["iban"] = form.cleaned_data["iban"]  # kept, but journalled and shown masked
        self.state["iban_end"] = form.cleaned_data["iban"][-4:]
        if Bank.crash:
            raise RuntimeError("the payment provider is down")
        return COMPLETE


class Review(Action):
    template_name = "claim/step.html"
    revalidate = True


class Payout(Scaffold):
    transition = Linear
    action_set = [Bank, Review]


@pytest.fixture(params=["db", "redis"])
def payout(request, settings):
    if request.param == "redis":
        settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
        settings.FLOWS_REDIS_URL = settings.REDIS_URL
        settings.FLOWS_REDIS_KEY_PREFIX = f"fm-sensitive-{uuid.uuid4().hex[:8]}:"
    else:
        settings.FLOWS_STATE_STORE = "flowmachine.backends.db"
    Bank.crash = False
    with registry.isolated():
        handler = FlowHandler(app_namespace="payout", on_complete_url="/paid/")
        handler.register_entry_point(Payout)
        urlconf = types.ModuleType("payout_urls")
        urlconf.urlpatterns = [path("payout/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield request.param


def answered(client) -> Walker:
    walker = Walker(client, entry="/payout/").start()
    walker.post({"holder": "Sam Saver", "iban": IBAN, "password": PASSWORD})
    return walker


@pytest.mark.django_db
def test_sensitive_and_password_answers_are_not_remembered(client, payout):
    walker = answered(client)
    record = walker.flow.record
    assert record["ans"]["Payout.Bank"] == {"holder": "Sam Saver"}
    page = walker.get(walker.url.replace("/review/", "/bank/")).content.decode()
    assert "Sam Saver" in page and IBAN not in page and PASSWORD not in page


@pytest.mark.django_db
def test_a_sensitive_state_key_is_journalled_masked(client, payout):
    walker = answered(client)
    record = walker.flow.record
    text = repr(record["jrnl"])
    assert IBAN not in text and "••••••" in text
    assert record["data"]["iban_end"] == "5432"


@pytest.mark.django_db
def test_export_and_the_admin_mask_sensitive_values(client, payout, admin_user):
    walker = answered(client)
    record = walker.flow.record
    exported = json.dumps(export_record(walker.task_id, record, redact=False))
    assert IBAN not in exported and PASSWORD not in exported and "Sam Saver" in exported
    if payout == "db":
        from django.contrib.admin import site

        from flowmachine.models import TaskRecord

        shown = TaskRecordAdmin(TaskRecord, site).decoded(TaskRecord.objects.get(task_id=walker.task_id))
        assert IBAN not in shown and "Sam Saver" in shown


@pytest.mark.django_db
def test_the_summary_masks_sensitive_fields(client, payout):
    walker = answered(client)
    page = walker.response.content.decode()
    assert "Sam Saver" in page and IBAN not in page
    assert page.count("••••••") == 2  # the IBAN and the password


@pytest.mark.django_db
def test_an_error_report_hides_sensitive_post_data(client, payout, caplog):
    Bank.crash = True
    client.raise_request_exception = False
    walker = Walker(client, entry="/payout/").start()
    response = client.post(walker.url, {"_t": walker.task_id, "holder": "Sam", "iban": IBAN, "password": PASSWORD})
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.exc_info and r.name == "django.request"]
    request = record.request  # type: ignore[attr-defined]
    report = ExceptionReporter(request, *record.exc_info).get_traceback_text()
    assert "Sam" in report  # the rest of the POST data is there
    assert IBAN not in report and PASSWORD not in report


def test_without_flowmachine_the_report_would_show_it():
    """The check above can fail: Django's report shows POST data not marked sensitive."""
    request = RequestFactory().post("/", {"iban": IBAN})
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        report = ExceptionReporter(request, type(exc), exc, exc.__traceback__).get_traceback_text()
    assert IBAN in report


# -- sizes: what the user typed never fails a step --------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea)


class Note(Action):
    template_name = "claim/step.html"
    form_class = NoteForm
    #: What form_valid keeps: the note's length (small) or, set by a test, the whole note.
    keep_all = False

    def form_valid(self, form):
        note = form.cleaned_data["note"]
        self.state["note"] = note if Note.keep_all else len(note)
        return COMPLETE


class Letter(Scaffold):
    transition = Linear
    action_set = [Note, Review]


@pytest.fixture
def letter(payout, settings):
    Note.keep_all = False
    with registry.isolated():
        handler = FlowHandler(app_namespace="letter", on_complete_url="/sent/")
        handler.register_entry_point(Letter)
        urlconf = types.ModuleType("letter_urls")
        urlconf.urlpatterns = [path("letter/", include(handler.urls))]  # type: ignore[attr-defined]
        settings.ROOT_URLCONF = urlconf
        yield


@pytest.mark.django_db
def test_a_long_answer_the_action_does_not_keep_never_fails_the_step(client, letter):
    walker = Walker(client, entry="/letter/").start()
    walker.post({"note": "x" * 70_000})
    assert walker.path.endswith("/review/")
    assert walker.flow.state["note"] == 70_000
    assert "Letter.Note" not in walker.flow.record["ans"]  # too large to remember: not shown again


@pytest.mark.django_db
def test_a_record_too_large_because_of_the_state_shows_the_step_again(client, letter, caplog):
    walker = Walker(client, entry="/letter/").start()
    walker.post({"note": "short"})
    walker.url = walker.url.replace("/review/", "/note/")
    walker.get(walker.url)
    before = walker.flow.record
    Note.keep_all = True
    response = client.post(walker.url, {"_t": walker.task_id, "note": "y" * 70_000, "_v": str(before["at"])})
    assert response.status_code == 413
    page = response.content.decode()
    assert "Your answers were too long to keep" in page and 'name="note"' in page  # the step, not an error page
    assert walker.flow.record["version"] == before["version"]  # unchanged
    assert any("'note'" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
