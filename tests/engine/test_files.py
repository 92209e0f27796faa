"""Files a journey keeps: one assignment keeps an upload, and no file outlives what needs it, on every store."""

from __future__ import annotations

import types
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.urls import include, path
from django.utils import timezone

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold, registry
from flowmachine.backends import get_store
from flowmachine.engine.cleanup import cleanup
from flowmachine.engine.files import folder
from flowmachine.files import KeptFile
from flowmachine.models import TaskFile, TaskRecord
from tests.models import Evidence
from tests.walker import Walker

PHOTO = b"\x89PNG\r\n\x1a\n" + b"damage" * 100


class UploadForm(forms.Form):
    document = forms.FileField(label="Photo of the damage")
    note = forms.CharField(required=False)


class Upload(Action):
    template_name = "claim/step.html"
    form_class = UploadForm
    max_upload_bytes = 4096
    #: What form_valid does after keeping the file: None, "raise" (the database fails) or "race".
    then: str | None = None

    def form_valid(self, form):
        self.state["document"] = form.cleaned_data["document"]
        if Upload.then == "raise":
            raise OperationalError("the database went away")
        if Upload.then == "bug":
            raise ValueError("a bug in the action")
        if Upload.then == "race":  # another tab saves first: this request is refused (409)
            store = get_store()
            raw = store.get_state(self.task.id)
            store.put_state(self.task.id, {**raw, "version": raw["version"] + 1})
        return COMPLETE


class Details(Action):
    template_name = "claim/step.html"


class File(Action):
    """The last step: the claim's own FileField gets a copy of the kept file."""

    template_name = "claim/step.html"

    def form_valid(self, form):
        Evidence.objects.create(document=self.state["document"], task_id=self.task.id)
        return COMPLETE


class Documents(Scaffold):
    transition = Linear
    action_set = [Upload, Details, File]


class ListForm(forms.Form):
    name = forms.CharField()


class Listed(Action):
    """A formset step before the upload: its remembered answers are a list of rows."""

    template_name = "claim/step.html"
    form_class = forms.formset_factory(ListForm, extra=1)

    def form_valid(self, form):
        self.state["names"] = [row["name"] for row in form.cleaned_data if row]
        return COMPLETE


class ListThenUpload(Scaffold):
    transition = Linear
    action_set = [Listed, Upload, File]


@pytest.fixture(params=["db", "redis"])
def documents(request, settings, tmp_path):
    """The flow at /docs/, files kept in a temporary folder, on the database store or the Redis store."""
    if request.param == "redis":
        settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
        settings.FLOWS_REDIS_URL = settings.REDIS_URL
        settings.FLOWS_REDIS_KEY_PREFIX = f"fm-files-{uuid.uuid4().hex[:8]}:"
    else:
        settings.FLOWS_STATE_STORE = "flowmachine.backends.db"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
        "journeys": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "kept"},
        },
    }
    # Django 4.2 drops the default storage's OPTIONS when STORAGES is overridden: MEDIA_ROOT is its location there.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FLOWS_FILE_STORAGE = "journeys"
    Upload.then = None
    with registry.isolated():
        handler = FlowHandler(app_namespace="docs", on_complete_url="/sent/")
        handler.register_entry_point(Documents)
        listed = FlowHandler(app_namespace="listed", on_complete_url="/sent/")
        listed.register_entry_point(ListThenUpload)
        urlconf = types.ModuleType("docs_urls")
        urlconf.urlpatterns = [  # type: ignore[attr-defined]
            path("docs/", include(handler.urls)),
            path("listed/", include(listed.urls)),
        ]
        settings.ROOT_URLCONF = urlconf
        yield tmp_path / "kept"


def kept_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(walker: Walker, content: bytes = PHOTO, name: str = "damage.png", expect: int = 302):
    photo = SimpleUploadedFile(name, content, content_type="image/png")
    return walker.post({"document": photo, "note": "front door"}, expect=expect)


@pytest.mark.django_db(transaction=True)
def test_assigning_an_upload_keeps_it_and_reads_back_as_a_file(client, documents):
    walker = Walker(client, entry="/docs/").start()
    upload(walker, name="../../etc/Damage photo.png")
    document = walker.flow.state["document"]
    assert isinstance(document, KeptFile)
    assert (document.name, document.size, document.content_type) == ("Damage photo.png", len(PHOTO), "image/png")
    (stored,) = kept_files(documents)
    assert stored.read_bytes() == PHOTO
    assert stored.parent.name == folder(walker.task_id).rsplit("/", 1)[-1]  # the task's own folder
    assert "Damage" not in stored.name and "png" not in stored.name  # never the user's name
    assert document.read() == PHOTO
    assert TaskFile.objects.filter(task_id=walker.task_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_back_shows_the_kept_file_and_a_new_upload_replaces_it(client, documents):
    walker = Walker(client, entry="/docs/").start()
    upload(walker)
    (first,) = kept_files(documents)
    back = walker.url.replace("/details/", "/upload/")
    page = walker.get(back).content.decode()
    assert "Kept: damage.png (608\xa0bytes)" in page
    assert "required" not in page.split('name="document"')[1].split(">")[0]
    walker.url = back
    walker.post({"note": "no new file"})  # not demanded again
    assert walker.path.endswith("/details/")
    assert kept_files(documents) == [first]
    walker.url = back
    upload(walker, content=b"a better photo", name="better.png")
    (second,) = kept_files(documents)
    assert second != first and second.read_bytes() == b"a better photo"
    assert walker.flow.state["document"].name == "better.png"


@pytest.mark.django_db(transaction=True)
def test_finishing_copies_the_file_into_the_model_and_deletes_the_kept_copy(client, documents, tmp_path):
    walker = Walker(client, entry="/docs/").start()
    upload(walker)
    walker.post({})
    walker.post({})
    assert walker.flow.finished
    (evidence,) = Evidence.objects.all()
    assert evidence.document.name.startswith("evidence/")
    assert evidence.document.read() == PHOTO
    assert (tmp_path / "media" / evidence.document.name).exists()
    assert kept_files(documents) == []
    assert not TaskFile.objects.exists()
    assert not (documents / folder(walker.task_id)).exists()  # nor its empty folder


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("then, status", [("raise", 503), ("race", 409), ("bug", 500), ("stale", 409)])
def test_a_request_refused_after_the_upload_keeps_no_file(client, documents, then, status):
    walker = Walker(client, entry="/docs/").start()
    upload(walker)
    (first,) = kept_files(documents)
    walker.url = walker.url.replace("/details/", "/upload/")
    walker.get(walker.url)
    Upload.then = then
    client.raise_request_exception = False  # the bug's 500, as a browser sees it
    if then == "stale":  # a page of the upload step kept from before the task last moved
        photo = SimpleUploadedFile("late.png", b"a replacement", content_type="image/png")
        response = client.post(walker.url, {"_t": walker.task_id, "_v": "1", "document": photo})
        assert response.status_code == status
    else:
        upload(walker, content=b"a replacement", expect=status)
    assert kept_files(documents) == [first]  # the new file is gone, the one the task holds is not
    assert walker.flow.state["document"].read() == PHOTO
    assert TaskFile.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_upload_after_a_formset_step_is_kept(client, documents):
    walker = Walker(client, entry="/listed/").start()
    walker.post({"form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "0", "form-0-name": "Ann"})
    upload(walker)  # the formset's remembered rows are a list, not a dict of answers
    (stored,) = kept_files(documents)
    assert walker.flow.state["names"] == ["Ann"]
    assert walker.flow.state["document"].read() == PHOTO == stored.read_bytes()
    walker.post({})
    assert walker.flow.finished and kept_files(documents) == []
    assert Evidence.objects.get().document.read() == PHOTO


@pytest.mark.django_db(transaction=True)
def test_a_file_over_the_limit_is_a_form_error_and_is_not_kept(client, documents):
    walker = Walker(client, entry="/docs/").start()
    response = upload(walker, content=b"x" * 5000, expect=200)
    assert "This file is too large (4.9\xa0KB): files up to 4.0\xa0KB are accepted." in response.content.decode()
    assert kept_files(documents) == []


@pytest.mark.django_db(transaction=True)
def test_cleanup_deletes_the_files_of_expired_tasks_and_keeps_live_ones(client, documents, settings):
    settings.FLOWS_TASK_IDLE_TIMEOUT = 60
    gone, live = Walker(client, entry="/docs/").start(), Walker(client, entry="/docs/").start()
    upload(gone)
    upload(live, content=b"still needed")
    long_ago = timezone.now() - timedelta(seconds=120)
    TaskFile.objects.update(kept_at=long_ago)
    if settings.FLOWS_STATE_STORE.endswith(".db"):
        TaskRecord.objects.filter(task_id=gone.task_id).update(accessed=long_ago)
    else:
        get_store().delete_state(gone.task_id)  # what the key's TTL does
    result = cleanup()
    assert result.files == 1
    (left,) = kept_files(documents)
    assert left.read_bytes() == b"still needed"
    assert list(TaskFile.objects.values_list("task_id", flat=True)) == [live.task_id]


def test_a_dry_run_deletes_nothing(documents, settings, db):
    TaskFile.objects.create(
        task_id="x" * 32, storage="journeys", path="flowmachine/ab/cd", kept_at=timezone.now() - timedelta(days=1)
    )
    assert cleanup(dry_run=True).files == 1
    assert TaskFile.objects.count() == 1


def test_a_file_step_without_a_usable_storage_is_a_system_error(documents, settings):
    from flowmachine.checks import check_file_steps_have_storage

    assert check_file_steps_have_storage() == []
    settings.FLOWS_FILE_STORAGE = "nowhere"
    (error,) = check_file_steps_have_storage()
    assert error.id == "flowmachine.E026" and "Upload take files" in error.msg and "nowhere" in error.msg
    assert "STORAGES" in error.hint
