"""Driving the demo shop like a buyer does, and reading what it stored.

The helpers find things by what a user sees (labels, button texts, headings),
so a test fails when the page stops saying what a buyer needs.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from flowmachine.backends.base import decode_record

PASSWORD = "Browser-pass-77"
SAVED_LABEL = "Visa ending 1111 (saved in tests)"
GOOD_CARD = "4242 4242 4242 4242"
OTHER_CARD = "5555 5555 5555 4444"
IBAN = "GB82 WEST 1234 5698 7654 32"


@dataclass(frozen=True)
class User:
    name: str
    password: str = PASSWORD
    saved: str = ""

    @property
    def email(self) -> str:
        return f"{self.name}@example.com"


_SAVED = {"path-login-saved", "path-forgot-saved", "redis-saved"}
USERS = {
    name: User(name, saved=SAVED_LABEL if name in _SAVED else "")
    for name in [
        "path-login-saved",
        "path-login-card",
        "path-login-bank",
        "path-login-paypal",
        "path-forgot-saved",
        "path-forgot-card",
        "path-forgot-bank",
        "path-forgot-paypal",
        "change-one",
        "change-branch",
        "back-button",
        "two-tabs",
        "mid-login",
        "double-click",
        "double-post",
        "expiry",
        "sam",
        "left-reset",
        "redis-saved",
        "redis-tabs",
        "redis-expiry",
        "sign-out",
        "claim-replace",
        "claim-injury",
        "claim-redis",
    ]
}


class DemoDatabase:
    """The demo's SQLite file, read with the standard library while the server runs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path, timeout=10) as connection:
            return list(connection.execute(sql, params))

    def orders(self, username: str) -> list[dict[str, Any]]:
        """The user's orders, oldest first."""
        rows = self.rows(
            "SELECT p.name, o.price, o.payment, o.payment_kind, o.task_id FROM shop_order o"
            " JOIN shop_product p ON p.id = o.product_id JOIN auth_user u ON u.id = o.user_id"
            " WHERE u.username = ? ORDER BY o.id",
            username,
        )
        keys = ("product", "price", "payment", "kind", "task_id")
        return [dict(zip(keys, row)) for row in rows]

    def saved_methods(self, username: str) -> list[str]:
        return [
            row[0]
            for row in self.rows(
                "SELECT m.label FROM shop_savedpaymentmethod m JOIN auth_user u ON u.id = m.user_id"
                " WHERE u.username = ? ORDER BY m.id",
                username,
            )
        ]

    def claims(self, username: str) -> list[dict[str, Any]]:
        """The user's claims, oldest first, each with its witnesses' names."""
        rows = self.rows(
            "SELECT c.id, c.incident_date, c.description, c.injured, c.injury, c.document, c.document_name,"
            " c.document_kind, c.task_id FROM claims_claim c JOIN auth_user u ON u.id = c.user_id"
            " WHERE u.username = ? ORDER BY c.id",
            username,
        )
        keys = ("id", "day", "what", "injured", "injury", "document", "document_name", "kind", "task_id")
        claims = [dict(zip(keys, row)) for row in rows]
        for claim in claims:
            claim["witnesses"] = [
                name
                for (name,) in self.rows("SELECT name FROM claims_witness WHERE claim_id = ? ORDER BY id", claim["id"])
            ]
        return claims

    def task_state(self, task_id: str) -> dict[str, Any] | None:
        """The ``state`` of a task kept by the database store (None when there is no record)."""
        rows = self.rows("SELECT data FROM flowmachine_taskrecord WHERE task_id = ?", task_id)
        if not rows:
            return None
        record = decode_record(bytes(rows[0][0]))
        return dict(record.get("data") or {})

    def age_task(self, task_id: str, seconds: int) -> None:
        """Pretend the task was last used *seconds* ago."""
        with sqlite3.connect(self.path, timeout=10) as connection:
            (accessed,) = connection.execute("SELECT datetime('now', ?)", (f"-{seconds} seconds",)).fetchone()
            updated = connection.execute(
                "UPDATE flowmachine_taskrecord SET accessed = ? WHERE task_id = ?", (accessed, task_id)
            ).rowcount
        assert updated == 1, f"no task record {task_id}"


@dataclass
class DemoServer:
    url: str
    db: DemoDatabase
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    #: The demo's FLOWS_DEMO_FILES folder: ``media/`` (MEDIA_ROOT) and ``journeys/`` (the kept uploads).
    files: Path = Path()
    redis: Any = None


def task_id(page: Page) -> str:
    match = re.search(r"[?&]_t=([A-Za-z0-9_-]{32})", page.url)
    assert match, f"no task id in {page.url}"
    return match[1]


class Shopper:
    """One browser tab going through the checkout."""

    def __init__(self, page: Page, server: DemoServer) -> None:
        self.page = page
        self.server = server

    # -- where we are -------------------------------------------------------------

    def expect_step(self, title: str) -> None:
        expect(self.page.locator("main h1")).to_have_text(title)

    def expect_progress(self, step: int, total: int, trail: list[str]) -> None:
        """The page's "Step n of m" and the titles of its trail: n counts the trail's steps."""
        assert step == len(trail) + 1, (step, trail)
        expect(self.page.locator("p.progress")).to_have_text(f"Step {step} of {total}")
        expect(self.page.locator("ol.trail li")).to_have_text(trail)

    def press(self, label: str) -> None:
        self.page.get_by_role("button", name=label).click()

    def summary(self) -> dict[str, str]:
        """The Confirm page's answers: question -> answer."""
        self.expect_step("Confirm and pay")
        rows = self.page.locator("table.summary tr")
        result = {}
        for i in range(rows.count()):
            row = rows.nth(i)
            result[row.locator("th").inner_text().strip()] = row.locator("td.answer").inner_text().strip()
        return result

    def change(self, question: str) -> None:
        """Follow the summary's Change link of *question*."""
        row = self.page.locator(
            "table.summary tr", has=self.page.locator("th", has_text=re.compile(f"^{re.escape(question)}$"))
        )
        row.get_by_role("link", name=re.compile("^Change")).click()

    # -- the steps ---------------------------------------------------------------

    def start(self, product: str) -> None:
        """From the home page, the product's Buy link, then its first step."""
        self.page.goto(self.server.url + "/")
        self.page.locator("tr", has_text=product).get_by_role("link", name="Buy").click()
        self.expect_step("Choose a product")
        expect(self.page.get_by_label(product)).to_be_checked()
        self.press("Continue")

    def choose_item(self, product: str) -> None:
        self.expect_step("Choose a product")
        self.page.get_by_label(product).check()
        self.press("Continue")

    def log_in(self, user: User) -> None:
        self.expect_step("Log in")
        self.page.get_by_label("Username").fill(user.name)
        self.page.get_by_label("Password").fill(user.password)
        self.press("Log in")

    def continue_as(self, user: User) -> None:
        self.expect_step("Log in")
        self.press(f"Continue as {user.name}")

    def register(self, name: str, password: str = PASSWORD) -> User:
        self.expect_step("Log in")
        self.page.get_by_role("link", name="Create an account").click()
        self.expect_step("Create an account")
        self.page.locator("#id_username").fill(name)
        self.page.locator("#id_email").fill(f"{name}@example.com")
        self.page.locator("#id_password1").fill(password)
        self.page.locator("#id_password2").fill(password)
        self.press("Create account")
        return User(name, password)

    def forgot_password(self, user: User, new_password: str) -> User:
        """The whole forgotten-password branch, reading the code from the dev mailbox."""
        self.expect_step("Log in")
        self.page.get_by_role("link", name="Forgot your password?").click()
        self.expect_step("Your email address")
        self.page.get_by_label("Email address").fill(user.email)
        self.press("Send the code")
        self.expect_step("Confirmation code")
        with self.page.context.expect_page() as new_tab:
            self.page.get_by_role("link", name="dev mailbox", exact=True).click()
        mailbox = new_tab.value
        mail = mailbox.locator("article.mail", has_text=f"To {user.email}").first
        code = re.search(r"Your code is (\d{6})", mail.inner_text())
        assert code, mail.inner_text()
        mailbox.close()
        self.page.get_by_label("Code").fill("000000" if code[1] != "000000" else "111111")
        self.press("Continue")
        expect(self.page.locator(".errorlist")).to_contain_text("That code is not right.")
        self.page.get_by_label("Code").fill(code[1])
        self.press("Continue")
        self.expect_step("New password")
        self.page.locator("#id_new_password1").fill(new_password)
        self.page.locator("#id_new_password2").fill(new_password)
        self.press("Set password and log in")
        return User(user.name, new_password, user.saved)

    def choose_payment(self, option: str) -> None:
        self.expect_step("How to pay")
        self.page.get_by_label(option).check()
        self.press("Continue")

    def pay_saved(self, label: str) -> None:
        self.choose_payment(f"{label} (saved)")

    def enter_card(self, number: str = GOOD_CARD, expiry: str = "12/30", save: bool = False) -> None:
        self.expect_step("Card")
        self.page.get_by_label("Card number").fill(number)
        self.page.get_by_label("Expiry date (MM/YY)").fill(expiry)
        self.page.get_by_label("Save this payment method for next time").set_checked(save)
        self.press("Continue")

    def enter_bank(self, holder: str, iban: str = IBAN, save: bool = False) -> None:
        self.expect_step("Bank account")
        self.page.get_by_label("Account holder").fill(holder)
        self.page.get_by_label("IBAN").fill(iban)
        self.page.get_by_label("Save this payment method for next time").set_checked(save)
        self.press("Continue")

    def enter_address(self, street: str = "1 High Street", postcode: str = "AB1 2CD", city: str = "Leeds") -> None:
        self.expect_step("Account address")
        self.page.get_by_label("Street").fill(street)
        self.page.get_by_label("Postcode").fill(postcode)
        self.page.get_by_label("City").fill(city)
        self.press("Continue")

    def pay_with_paypal(self, email: str, save: bool = False, cancel_first: bool = False) -> None:
        """From the PayPal step: hand off to the simulated PayPal, approve, come back into the task."""
        self.expect_step("PayPal")
        task = task_id(self.page)
        if cancel_first:
            self.press("Continue to PayPal")
            expect(self.page).to_have_title("PayPal (simulated)")
            self.press("Cancel and return to the shop")
            self.expect_step("PayPal")
            # Cancelling is the buyer's choice: a notice, not an error.
            expect(self.page.get_by_role("status")).to_contain_text("You cancelled at PayPal")
            expect(self.page.locator("main .errorlist")).to_have_count(0)
            self.page.goto(self.page.url.replace("paypal_cancelled=1", "paypal_token=forged"))
            expect(self.page.locator(".errorlist")).to_contain_text("PayPal did not confirm this payment")
        self.page.get_by_label("Save this payment method for next time").set_checked(save)
        self.press("Continue to PayPal")
        expect(self.page).to_have_title("PayPal (simulated)")
        assert "_t=" not in self.page.url.split("?")[0]
        self.page.get_by_label("PayPal email address").fill(email)
        self.press("Agree and pay")
        expect(self.page.locator("main h1")).not_to_have_text("PayPal")
        assert task_id(self.page) == task, "PayPal returned into another task"

    def confirm(self) -> None:
        self.expect_step("Confirm and pay")
        self.page.get_by_role("button", name=re.compile("^Confirm and pay")).click()
        self.expect_step("Thank you!")
