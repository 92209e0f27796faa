"""Real-browser behaviour of the demo checkout: tabs, logging in mid-flow, double clicks, expiry, screenshots."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser._browser import artifact_path
from tests.browser._shop import USERS, Shopper, task_id

pytestmark = pytest.mark.slow

DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "img" / "demo-checkout.png"


def test_two_tabs_run_two_purchases_without_mixing(demo, context):
    user = USERS["two-tabs"]
    lamp, notebook = Shopper(context.new_page(), demo), Shopper(context.new_page(), demo)
    lamp.start("Desk lamp")
    lamp.log_in(user)
    notebook.start("Field notebook")
    notebook.continue_as(user)  # same browser, so already logged in by the other tab
    lamp.choose_payment("A new card")
    notebook.choose_payment("PayPal")
    lamp.enter_card()
    notebook.pay_with_paypal("tabs@paypal.example")
    assert task_id(lamp.page) != task_id(notebook.page)

    lamp_summary, notebook_summary = lamp.summary(), notebook.summary()
    assert (lamp_summary["Product"], lamp_summary["Pay with"]) == ("Desk lamp (€39.00)", "New card")
    assert (notebook_summary["Product"], notebook_summary["Pay with"]) == ("Field notebook (€12.00)", "PayPal")
    assert "PayPal account" not in lamp_summary and "Card number" not in notebook_summary

    notebook.confirm()
    expect(notebook.page.locator(".order")).to_contain_text("Field notebook")
    lamp.confirm()
    expect(lamp.page.locator(".order")).to_contain_text("Desk lamp")
    orders = demo.db.orders(user.name)
    assert [(o["product"], o["kind"]) for o in orders] == [("Field notebook", "paypal"), ("Desk lamp", "card")]
    assert len({o["task_id"] for o in orders}) == 2


def test_logging_in_mid_flow_keeps_the_task_and_its_data(demo, page):
    user = USERS["mid-login"]
    shop = Shopper(page, demo)
    shop.start("Field notebook")
    shop.expect_step("Log in")
    tid = task_id(page)
    # Log in through the site's own login page (the header link), not the checkout's form.
    page.locator("header").get_by_role("link", name="Log in").click()
    expect(page.locator("main h1")).to_have_text("Log in")
    assert "_t=" not in page.url.split("?next=")[0]
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Log in").click()
    # Back in the same task, at the same step, with the product kept.
    shop.expect_step("Log in")
    assert task_id(page) == tid
    expect(page.locator(".buying")).to_contain_text("Field notebook")
    shop.continue_as(user)
    shop.choose_payment("A new card")
    shop.enter_card()
    assert shop.summary()["Product"] == "Field notebook (€12.00)"
    shop.confirm()
    assert [(o["product"], o["task_id"]) for o in demo.db.orders(user.name)] == [("Field notebook", tid)]


def _reach_summary(shop: Shopper, user) -> None:
    shop.start("Desk lamp")
    shop.log_in(user)
    shop.choose_payment("A new card")
    shop.enter_card()
    shop.expect_step("Confirm and pay")


def test_double_click_on_confirm_and_pay_creates_one_order(demo, page):
    user = USERS["double-click"]
    shop = Shopper(page, demo)
    _reach_summary(shop, user)
    page.get_by_role("button", name=re.compile("^Confirm and pay")).dblclick()
    shop.expect_step("Thank you!")
    assert len(demo.db.orders(user.name)) == 1

    # Back to the summary and pay again: the finished task refuses, kindly.
    page.go_back()
    if page.locator("main h1").inner_text() == "Confirm and pay":  # shown from the browser's cache
        page.get_by_role("button", name=re.compile("^Confirm and pay")).click()
    expect(page.locator("main h1")).to_have_text("This checkout is complete")
    expect(page.get_by_role("link", name="Start again")).to_be_visible()
    page.get_by_role("link", name="See your order").click()
    shop.expect_step("Thank you!")
    assert len(demo.db.orders(user.name)) == 1


def test_two_simultaneous_posts_of_confirm_create_one_order(demo, page):
    """The page's guard against a second click aside, the server keeps it to one order."""
    user = USERS["double-post"]
    shop = Shopper(page, demo)
    _reach_summary(shop, user)
    statuses = page.evaluate(
        """async () => {
            const form = document.querySelector("main form");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form), redirect: "manual"})
                .then(r => r.status);
            return Promise.all([send(), send(), send()]);
        }"""
    )
    assert len(demo.db.orders(user.name)) == 1
    # One was served (a redirect, opaque to fetch as status 0); the others got the finished or conflict page.
    assert min(statuses) == 0 and sorted(statuses)[1:] in ([409, 410], [410, 410], [409, 409]), statuses


def test_an_expired_task_shows_the_friendly_page(demo, page):
    user = USERS["expiry"]
    shop = Shopper(page, demo)
    shop.start("Field notebook")
    shop.log_in(user)
    shop.expect_step("How to pay")
    demo.db.age_task(task_id(page), 3 * 3600)
    page.reload()
    expect(page.locator("main h1")).to_have_text("This checkout has expired")
    expect(page.locator("main")).to_contain_text("Nothing was charged")
    page.get_by_role("link", name="Start again").click()
    shop.expect_step("Choose a product")
    expect(page.locator("p.progress")).to_have_text("Step 1 of 4")
    expect(page.get_by_label("Field notebook")).to_be_checked()  # the same product again


def test_signing_out_mid_checkout_says_so_and_starts_again_with_the_product(demo, page):
    user = USERS["sign-out"]
    shop = Shopper(page, demo)
    shop.start("Field notebook")
    shop.log_in(user)
    shop.expect_step("How to pay")
    checkout = page.url
    page.locator("header").get_by_role("button", name="Log out").click()
    page.goto(checkout)
    expect(page.locator("main h1")).to_have_text("This checkout has ended")
    expect(page.locator("main")).to_contain_text("You are signed out, so this checkout has ended.")
    expect(page.locator("main")).not_to_contain_text("browser")
    page.get_by_role("link", name="Start again").click()
    shop.expect_step("Choose a product")
    expect(page.get_by_label("Field notebook")).to_be_checked()


def test_screenshot_of_every_page_of_one_full_path(demo, page):
    """Saves test-artifacts/checkout-path/NN-<page>.png; FLOWMACHINE_DOCS_SCREENSHOT=1 refreshes the README's."""
    folder = artifact_path("checkout-path", "x").parent
    for old in folder.glob("*.png"):
        old.unlink()
    shots: list[Path] = []

    def shot(name: str) -> None:
        path = folder / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    user = USERS["sam"]  # shown in the README's screenshot
    shop = Shopper(page, demo)
    page.goto(demo.url + "/")
    shot("products")
    page.locator("tr", has_text="Desk lamp").get_by_role("link", name="Buy").click()
    shop.expect_step("Choose a product")
    expect(page.locator("p.progress")).to_have_text("Step 1 of 4")
    expect(page.locator("a.back")).to_have_count(0)
    shot("choose-product")
    shop.press("Continue")
    shop.expect_step("Log in")
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill("wrong password")
    shop.press("Log in")
    expect(page.locator(".errorlist")).to_contain_text("Please enter a correct username and password")
    shot("log-in-error")
    shop.log_in(user)
    shop.expect_step("How to pay")
    expect(page.locator("p.progress")).to_have_text("Step 3 of 4")
    expect(page.locator("ol.trail li")).to_have_text(["Choose a product", "Log in"])
    expect(page.locator("a.back")).to_have_attribute("href", re.compile(r"/buy/account/login/\?_t="))
    shot("how-to-pay")
    shop.choose_payment("A new card")
    shop.expect_step("Card")
    shot("card")
    shop.enter_card(number="4242 4242 4242 4241", expiry="01/20")
    expect(page.locator(".errorlist").first).to_contain_text("That is not a valid card number")
    expect(page.locator(".errorlist").nth(1)).to_contain_text("This card has expired")
    shot("card-errors")
    shop.enter_card(save=True)
    shop.summary()
    expect(page.locator("p.progress")).to_have_text("Step 5 of 5")
    shot("confirm-and-pay")
    if os.environ.get("FLOWMACHINE_DOCS_SCREENSHOT") == "1":
        page.screenshot(path=str(DOCS_IMAGE))
    shop.confirm()
    shot("thank-you")
    assert demo.db.saved_methods(user.name) == ["Card ending 4242 (expires 12/30)"]
    assert [path.name for path in shots] == [
        "01-products.png",
        "02-choose-product.png",
        "03-log-in-error.png",
        "04-how-to-pay.png",
        "05-card.png",
        "06-card-errors.png",
        "07-confirm-and-pay.png",
        "08-thank-you.png",
    ]
    assert all(path.stat().st_size > 5000 for path in shots)


def test_debug_footer_links_to_the_flow_diagram(demo, page):
    page.goto(demo.url + "/")
    link = page.locator("footer").get_by_role("link", name="Flow diagram")
    if link.count() == 0:  # the library serves no diagram page here (no diagrams support)
        pytest.skip("no <checkout root>/.flowgraph page in this build")
    assert link.get_attribute("href") == "/buy/.flowgraph"
    response = page.request.get(demo.url + "/buy/.flowgraph")
    assert response.ok, response.status
    assert "ChooseItem" in response.text()
