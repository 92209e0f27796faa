"""The demo's insurance claim in Chromium: real uploads, the kept file on Back, a replaced file,
the injury branch closed from a Change link, and no file left behind in the private storage."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser._claim import DOCUMENT_STEP, Claimant, kept_files, pdf, png
from tests.browser._shop import USERS, DemoServer, User

pytestmark = pytest.mark.slow


def upload_then_replace(server: DemoServer, claimant: Claimant, user: User, tmp_path) -> None:
    """Upload a photo, go back to it twice (the back link, the browser's back button), replace it with
    a PDF, send: the claim holds the PDF and the journey's copies are gone."""
    photo, report = tmp_path / "damage.png", tmp_path / "repair estimate.pdf"
    photo.write_bytes(png())
    report.write_bytes(pdf())
    claimant.log_in_and_start(user)
    claimant.incident()
    claimant.injured("No, nobody was hurt")
    claimant.witnesses(("Bob Jones", "0123 456"), ("Cy Young", ""))
    claimant.upload(photo)
    summary = claimant.summary()
    assert re.fullmatch(r"damage\.png \(\d+\s+bytes\)", summary["Photo or PDF"]), summary
    assert summary["Witness 1"] == "Bob Jones (0123 456)" and summary["Witness 2"] == "Cy Young"
    (first,) = kept_files(server)
    assert first.read_bytes() == photo.read_bytes()
    assert "damage" not in first.name  # kept under a name of the library's, not the user's
    assert not (server.files / "media" / "claims").exists() or not any((server.files / "media" / "claims").iterdir())

    # Back to the upload step: it shows the kept file and does not ask for it again.
    claimant.page.get_by_role("link", name="← Back").click()
    claimant.expect_step(DOCUMENT_STEP)
    expect(claimant.page.locator(".flow-kept-file")).to_contain_text("Kept: damage.png")
    claimant.upload(None)
    assert claimant.summary()["Photo or PDF"] == summary["Photo or PDF"]
    assert kept_files(server) == [first]

    # The browser's own back button, then another file: it replaces the first.
    claimant.page.go_back()
    claimant.expect_step(DOCUMENT_STEP)
    expect(claimant.page.locator(".flow-kept-file")).to_contain_text("Kept: damage.png")
    claimant.upload(report)
    assert claimant.summary()["Photo or PDF"].startswith("repair estimate.pdf (")
    (second,) = kept_files(server)
    assert second.read_bytes() == report.read_bytes() and not first.exists()

    number = claimant.send()
    expect(claimant.page.locator(".document")).to_contain_text("repair estimate.pdf (PDF,")
    (claim,) = server.db.claims(user.name)
    assert number == f"CLM-{claim['id']:06d}"
    assert claim["document"].startswith("claims/") and claim["kind"] == "PDF"
    assert (server.files / "media" / claim["document"]).read_bytes() == report.read_bytes()
    assert claim["witnesses"] == ["Bob Jones", "Cy Young"] and claim["injured"] == 0
    assert kept_files(server) == []  # the temporary copy is gone once the claim is made


def test_upload_go_back_replace_and_send(demo, page, tmp_path):
    upload_then_replace(demo, Claimant(page, demo), USERS["claim-replace"], tmp_path)


def test_upload_go_back_replace_and_send_on_redis(redis_demo, page, tmp_path):
    upload_then_replace(redis_demo, Claimant(page, redis_demo), USERS["claim-redis"], tmp_path)


def test_a_file_that_is_not_a_photo_or_pdf_is_refused(demo, page, tmp_path):
    fake = tmp_path / "damage.png"
    fake.write_bytes(b"MZ\x90\x00 this is a program, not a photo")
    claimant = Claimant(page, demo)
    claimant.log_in_and_start(USERS["claim-injury"])
    claimant.incident()
    claimant.injured("No, nobody was hurt")
    claimant.witnesses()
    before = kept_files(demo)
    claimant.upload(fake)
    claimant.expect_step(DOCUMENT_STEP)
    expect(page.locator(".errorlist")).to_contain_text("This file is not a photo or a PDF")
    assert kept_files(demo) == before


def test_the_injury_branch_closed_from_a_change_link(demo, page, tmp_path):
    user = USERS["claim-injury"]
    photo = tmp_path / "dent.png"
    photo.write_bytes(png(rgb=(40, 60, 200)))
    claimant = Claimant(page, demo)
    claimant.log_in_and_start(user)
    claimant.incident(what="A van reversed into the garden wall.")
    claimant.injured("Yes, someone was hurt")
    claimant.injury("Ann Smith", "A cut on her arm")
    claimant.witnesses()
    claimant.upload(photo)
    assert claimant.summary_sections() == [
        "What happened",
        "Injuries",
        "Injury details",
        "Witnesses",
        DOCUMENT_STEP,
    ]
    summary = claimant.summary()
    assert summary["Was anyone injured?"] == "Yes, someone was hurt"
    assert summary["Who was injured"] == "Ann Smith" and summary["Witnesses"] == "None"

    # Change "Was anyone injured?" to no: straight back to the summary, the injury gone.
    claimant.change("Injuries")
    claimant.expect_step("Injuries")
    expect(page.locator(".notice")).to_contain_text("you will come back to your answers")
    expect(page.get_by_label("Yes, someone was hurt")).to_be_checked()
    claimant.injured("No, nobody was hurt")
    assert "Injury details" not in claimant.summary_sections()
    summary = claimant.summary()
    assert summary["Was anyone injured?"] == "No, nobody was hurt"
    assert "Who was injured" not in summary and "A cut on her arm" not in page.locator(".flow-summary").inner_text()

    claimant.send()
    expect(page.locator(".injury")).to_have_text("None")
    claims = [c for c in demo.db.claims(user.name) if c["what"] == "A van reversed into the garden wall."]
    (claim,) = claims
    assert claim["injured"] == 0 and claim["injury"] == ""
    assert kept_files(demo) == []
