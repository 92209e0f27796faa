"""The demo's insurance claim over HTTP: the injury branch, witnesses, the document kept and copied.

Runs in the demo's own settings, with demo/ on the path::

    PYTHONPATH=demo pytest tests/demo/test_claim.py --ds=demo_site.settings

and the suite runs it that way, on the database store and on Redis, from
tests/demo/test_claim_in_demo_settings.py. Each test keeps its files in a
folder of its own: the claims' documents in ``media/``, the journeys' kept
uploads in ``journeys/`` (the demo's private ``FLOWS_FILE_STORAGE``).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.apps import apps

if not apps.is_installed("claims"):
    pytest.skip("runs in the demo's settings: see tests/demo/test_claim_in_demo_settings.py", allow_module_level=True)

from claims.flows import MAX_DOCUMENT_BYTES, InsuranceClaim
from claims.models import Claim
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from flowmachine.testing import FINISHED, FlowClient, coverage, simple_paths

#: Transactions really commit: kept files are deleted once the step's transaction commits.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("demo_site.urls")]

PATHS = simple_paths(InsuranceClaim)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"pixels" * 50
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
INCIDENT = {"day": "2026-03-14", "what": "A pipe burst in the kitchen."}


@pytest.fixture
def files(settings, tmp_path: Path) -> Path:
    """The demo's storages, in a folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "journeys": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "journeys", "base_url": None},
        },
    }
    return tmp_path


@pytest.fixture
def claimant(client, settings, files):
    """The demo user, logged in."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", verbosity=0)
    user = get_user_model().objects.get(username="demo")
    client.force_login(user)
    return user


def kept(files: Path) -> list[Path]:
    """The files the journeys keep now, in the private storage."""
    return sorted(p for p in (files / "journeys").rglob("*") if p.is_file())


def photo(name: str = "damage.png", content: bytes = PNG, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def page(claim: FlowClient) -> str:
    return claim.response.content.decode()


def change_link(html: str, title: str) -> str:
    """The Change link of the summary's step titled *title*."""
    section = html[html.index(f"<h3>{title}</h3>") :]
    match = re.search(r'class="flow-summary-change" href="([^"]+)"', section)
    assert match, section[:500]
    return match[1].replace("&amp;", "&")


def follow_link(claim: FlowClient, url: str) -> None:
    claim.response = claim.client.get(url, follow=True)
    assert claim.response.status_code == 200
    claim.url = claim.response.request["PATH_INFO"] + "?" + claim.response.request["QUERY_STRING"]


def to_review(flow_client: FlowClient, *, injured: bool, witnesses: list[tuple[str, str]] = ()) -> FlowClient:
    claim = flow_client.start(InsuranceClaim, expect="Incident")
    claim.step(INCIDENT, expect="Injured")
    if injured:
        claim.step({"injured": "yes"}, expect="InjuryDetails")
        claim.step({"person": "Ann Smith", "injury": "A cut hand"}, expect="Witnesses")
    else:
        claim.step({"injured": "no"}, expect="Witnesses")
    claim.step(witness_rows(witnesses), expect="Document")
    claim.step({"document": photo()}, expect="Review")
    return claim


def witness_rows(witnesses: list[tuple[str, str]] | tuple = ()) -> dict[str, str]:
    """The witnesses formset's POST data: *witnesses* and one extra row left empty."""
    data = {"form-TOTAL_FORMS": str(len(witnesses) + 1), "form-INITIAL_FORMS": "0"}
    for number, (name, phone) in enumerate(witnesses):
        data[f"form-{number}-name"] = name
        data[f"form-{number}-phone"] = phone
    return data


DATA = {
    "Incident": INCIDENT,
    "Injured": {"injured": "no"},
    "Injured~InjuryDetails": {"injured": "yes"},  # the jump, answered on the form
    "InjuryDetails": {"person": "Ann Smith", "injury": "A cut hand"},
    "Witnesses": lambda client: witness_rows([("Bob Jones", "0123 456")]),
    "Document": lambda client: {"document": photo()},
    "Review": {},
}


def test_the_paths_cover_every_state_and_transition():
    report = coverage(InsuranceClaim, PATHS)
    assert report.complete, str(report)


@pytest.mark.parametrize("flow_path", PATHS, ids=[p.id for p in PATHS])
def test_every_path_of_the_claim_ends_in_a_claim_with_its_document(claimant, flow_client, files, flow_path):
    flow_client.walk(flow_path, DATA)
    assert flow_client.finished
    claim = Claim.objects.get(task_id=flow_client.task_id)
    assert claim.user == claimant
    assert claim.document.name.startswith("claims/")
    assert claim.document.read() == PNG
    assert (files / "media" / claim.document.name).is_file()
    assert claim.document_name == "damage.png" and claim.document_kind == "PNG image"
    assert [w.name for w in claim.witnesses.all()] == ["Bob Jones"]
    assert claim.injured == ("InjuryDetails" in flow_path.id)
    assert kept(files) == []  # the journey's own copy is gone


def test_the_claim_asks_to_log_in_first(client, files):
    response = client.get("/claim/")
    while response.status_code == 302 and not response["Location"].startswith("/login/"):
        response = client.get(response["Location"])
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_the_document_is_kept_in_the_private_storage_until_the_claim_is_made(claimant, flow_client, files):
    claim = to_review(flow_client, injured=False)
    (copy,) = kept(files)
    assert copy.read_bytes() == PNG
    assert "damage" not in copy.name  # the stored name never comes from the user's file name
    assert not (files / "media").exists()  # nothing in MEDIA_ROOT until the claim is made
    assert "damage.png (" in page(claim)  # the summary shows the file's name and size
    claim.step({}, expect=FINISHED)
    assert kept(files) == []
    (made,) = Claim.objects.all()
    assert made.document.read() == PNG


def test_back_to_the_upload_shows_the_kept_file_and_a_new_one_replaces_it(claimant, flow_client, files):
    claim = to_review(flow_client, injured=False)
    (first,) = kept(files)
    follow_link(claim, change_link(page(claim), "Photo or PDF of the damage"))
    html = page(claim)
    assert "Kept: damage.png" in html and 'enctype="multipart/form-data"' in html
    claim.step({}, expect="Review")  # no new file: the kept one stays, though the field is required
    assert kept(files) == [first]
    follow_link(claim, change_link(page(claim), "Photo or PDF of the damage"))
    claim.step({"document": photo("report.pdf", PDF, "application/pdf")}, expect="Review")
    (second,) = kept(files)
    assert second != first and not first.exists()  # the old copy is deleted
    assert "report.pdf (" in page(claim) and "damage.png" not in page(claim)
    claim.step({}, expect=FINISHED)
    made = Claim.objects.get()
    assert made.document.read() == PDF
    assert (made.document_name, made.document_kind) == ("report.pdf", "PDF")
    assert kept(files) == []


def test_a_file_that_is_not_a_photo_or_a_pdf_is_refused_whatever_its_declared_type(claimant, flow_client, files):
    claim = to_review(flow_client, injured=False)
    follow_link(claim, change_link(page(claim), "Photo or PDF of the damage"))
    before = kept(files)
    claim.step({"document": photo("damage.png", b"MZ\x90\x00 not an image", "image/png")}, expect="Document")
    assert "This file is not a photo or a PDF" in page(claim)
    assert kept(files) == before


def test_a_document_over_the_limit_is_refused_with_the_limit_said(claimant, flow_client, files):
    claim = flow_client.start(InsuranceClaim)
    claim.step(INCIDENT)
    claim.step({"injured": "no"})
    claim.step(witness_rows(), expect="Document")
    big = PNG + b"\x00" * (MAX_DOCUMENT_BYTES - len(PNG) + 1)
    claim.step({"document": photo("huge.png", big)}, expect="Document")
    assert "This file is too large" in page(claim) and "files up to 2.0\xa0MB are accepted" in page(claim)
    assert kept(files) == []
    claim.step({"document": photo("fine.png", PNG + b"\x00" * (MAX_DOCUMENT_BYTES - len(PNG)))}, expect="Review")


def test_answering_no_after_yes_leaves_no_injury_in_the_summary_or_the_claim(claimant, flow_client, files):
    claim = to_review(flow_client, injured=True)
    html = page(claim)
    assert "<h3>Injury details</h3>" in html and "A cut hand" in html
    follow_link(claim, change_link(html, "Injuries"))
    claim.step({"injured": "no"}, expect="Review")  # straight back to the summary
    html = page(claim)
    assert "Injury details" not in html and "A cut hand" not in html
    assert "No, nobody was hurt" in html
    assert "injury" not in claim.state and "injured_person" not in claim.state
    claim.step({}, expect=FINISHED)
    made = Claim.objects.get()
    assert made.injured is False and made.injury == ""


def test_answering_yes_from_the_summary_asks_the_injury_then_comes_back(claimant, flow_client, files):
    claim = to_review(flow_client, injured=False)
    follow_link(claim, change_link(page(claim), "Injuries"))
    claim.step({"injured": "yes"}, expect="InjuryDetails")
    claim.step({"person": "Ann Smith", "injury": "A bruised knee"}, expect="Review")
    claim.step({}, expect=FINISHED)
    assert Claim.objects.get().injury == "Ann Smith: A bruised knee"


def test_witnesses_zero_or_more(claimant, flow_client, files):
    claim = to_review(flow_client, injured=False)
    assert re.search(r"<dt>Witnesses</dt>\s*<dd>None</dd>", page(claim))
    follow_link(claim, change_link(page(claim), "Witnesses"))
    claim.step(witness_rows([("Bob Jones", "0123 456"), ("Cy Young", "")]), expect="Review")
    html = page(claim)
    assert "Bob Jones (0123 456)" in html and "<dt>Witness 2</dt>" in html
    claim.step({}, expect=FINISHED)
    made = Claim.objects.get()
    assert [(w.name, w.phone) for w in made.witnesses.all()] == [("Bob Jones", "0123 456"), ("Cy Young", "")]


def test_back_to_the_witnesses_shows_the_rows(claimant, flow_client, files):
    claim = to_review(flow_client, injured=False, witnesses=[("Bob Jones", "0123 456")])
    follow_link(claim, change_link(page(claim), "Witnesses"))
    html = page(claim)
    assert 'value="Bob Jones"' in html and "Add another witness" in html


def test_the_incident_date_cannot_be_in_the_future(claimant, flow_client, files):
    claim = flow_client.start(InsuranceClaim)
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)
    claim.step({**INCIDENT, "day": tomorrow.isoformat()}, expect="Incident")
    assert "cannot be in the future" in page(claim)


def test_the_received_page_shows_the_claim_number(claimant, flow_client, client, files):
    claim = to_review(flow_client, injured=False)
    response = claim.step({})
    assert response.status_code == 302 and response["Location"] == "/claim-received/"
    made = Claim.objects.get()
    html = client.get("/claim-received/").content.decode()
    assert made.number in html and re.fullmatch(r"CLM-\d{6}", made.number)
    assert "damage.png (PNG image," in html


def test_a_second_send_makes_no_second_claim(claimant, flow_client, files):
    claim = to_review(flow_client, injured=False)
    review_url = claim.url
    claim.step({}, expect=FINISHED)
    again = claim.client.post(review_url, {"_t": claim.task_id})  # the page kept open, sent again
    assert again.status_code == 410
    html = again.content.decode()
    assert "This claim is complete" in html and "Your claim was sent once" in html and "See your claim" in html
    assert Claim.objects.count() == 1
    assert kept(files) == []
