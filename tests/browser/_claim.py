"""Driving the demo's insurance claim like a claimant does, and the real files it uploads.

As in _shop.py, the helpers find things by what a user sees (labels, headings,
button texts).
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser._shop import DemoServer, User

DOCUMENT_STEP = "Photo or PDF of the damage"


def png(width: int = 24, height: int = 16, rgb: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A real PNG image of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pdf(text: str = "Repair estimate") -> bytes:
    """A real one-page PDF saying *text*."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def kept_files(server: DemoServer) -> list[Path]:
    """The uploads the demo's journeys keep now (its private storage, outside MEDIA_ROOT)."""
    return sorted(p for p in (server.files / "journeys").rglob("*") if p.is_file())


class Claimant:
    """One browser tab making a claim."""

    def __init__(self, page: Page, server: DemoServer) -> None:
        self.page = page
        self.server = server

    def expect_step(self, title: str) -> None:
        expect(self.page.locator("main h1")).to_have_text(title)

    def press(self, label: str) -> None:
        self.page.get_by_role("button", name=label).click()

    def log_in_and_start(self, user: User) -> None:
        """Log in on the site's login page, then the home page's "Make a claim" link."""
        self.page.goto(self.server.url + "/login/")
        self.page.get_by_label("Username").fill(user.name)
        self.page.get_by_label("Password").fill(user.password)
        self.press("Log in")
        expect(self.page.locator(".claim-card h1")).to_have_text("Insurance claim")
        self.page.get_by_role("link", name="Make a claim").click()
        self.expect_step("What happened")

    def incident(self, day: str = "2026-03-14", what: str = "A pipe burst in the kitchen.") -> None:
        self.expect_step("What happened")
        self.page.get_by_label("Date of the incident").fill(day)
        self.page.get_by_label("What happened").fill(what)
        self.press("Continue")

    def injured(self, answer: str) -> None:
        self.expect_step("Injuries")
        self.page.get_by_label(answer).check()
        self.press("Continue")

    def injury(self, person: str, injuries: str) -> None:
        self.expect_step("Injury details")
        self.page.get_by_label("Who was injured").fill(person)
        self.page.get_by_label("The injuries").fill(injuries)
        self.press("Continue")

    def witnesses(self, *people: tuple[str, str]) -> None:
        """Fill one row per person, adding rows with "Add another witness"."""
        self.expect_step("Witnesses")
        for number, (name, phone) in enumerate(people, 1):
            row = self.page.locator("fieldset.witness", has=self.page.locator("legend", has_text=f"Witness {number}"))
            if row.count() == 0:
                self.press("Add another witness")
            row.get_by_label("Full name").fill(name)
            row.get_by_label("Phone").fill(phone)
        self.press("Continue")

    def upload(self, path: Path | None) -> None:
        """Choose *path* on the document step (None: choose nothing) and continue."""
        self.expect_step(DOCUMENT_STEP)
        if path is not None:
            self.page.get_by_label("Photo or PDF").set_input_files(str(path))
        self.press("Continue")

    def summary(self) -> dict[str, str]:
        """The "Check your answers" page: question -> answer."""
        self.expect_step("Check your answers")
        rows = self.page.locator(".flow-summary-row")
        return {
            rows.nth(i).locator("dt").inner_text().strip(): rows.nth(i).locator("dd").inner_text().strip()
            for i in range(rows.count())
        }

    def summary_sections(self) -> list[str]:
        self.expect_step("Check your answers")
        return [title.strip() for title in self.page.locator(".flow-summary-step h3").all_inner_texts()]

    def change(self, section: str) -> None:
        """Follow the Change link of the summary's section titled *section*."""
        step = self.page.locator(
            ".flow-summary-step", has=self.page.locator("h3", has_text=re.compile(f"^{re.escape(section)}$"))
        )
        step.get_by_role("link", name=re.compile("^Change")).click()

    def send(self) -> str:
        """Send the claim; the claim number shown."""
        self.expect_step("Check your answers")
        self.press("Send the claim")
        self.expect_step("Claim received")
        return self.page.locator(".claim-number").inner_text()
