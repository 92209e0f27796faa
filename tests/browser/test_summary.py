"""The "Confirm and pay" summary: Change links, abandoned branches, and the browser's back button."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser._shop import OTHER_CARD, USERS, Shopper, task_id

pytestmark = pytest.mark.slow


def test_change_link_changes_one_answer_and_returns_to_the_summary(demo, page):
    user = USERS["change-one"]
    shop = Shopper(page, demo)
    shop.start("Field notebook")
    shop.log_in(user)
    shop.choose_payment("A new card")
    shop.enter_card(expiry="11/29")
    before = shop.summary()
    trail_before = page.locator("ol.trail li").all_inner_texts()
    assert before["Product"] == "Field notebook (€12.00)"
    assert before["Card number"] == "•••• 4242"

    # Change the product: back on its step, then straight back to the summary.
    shop.change("Product")
    shop.expect_step("Choose a product")
    expect(page.locator(".notice")).to_contain_text("you will come back to the summary")
    expect(page.get_by_label("Field notebook")).to_be_checked()
    shop.choose_item("Desk lamp")
    after = shop.summary()
    assert after == {**before, "Product": "Desk lamp (€39.00)", "Total": "€39.00"}
    # The trail still shows the whole path, so every step stays reachable.
    assert page.locator("ol.trail li").all_inner_texts() == trail_before

    # Change the expiry date: the card step, then the summary again.
    shop.change("Expiry date")
    shop.expect_step("Card")
    expect(page.get_by_label("Expiry date (MM/YY)")).to_have_value("11/29")
    shop.enter_card(number=OTHER_CARD, expiry="01/31")
    after_card = shop.summary()
    assert after_card == {**after, "Card number": "•••• 4444", "Expiry date": "01/31"}

    # "Back to the summary without changing" changes nothing.
    shop.change("Pay with")
    shop.expect_step("How to pay")
    page.get_by_role("link", name="Back to the summary without changing").click()
    assert shop.summary() == after_card
    # Who is buying is shown, not offered for a change: to buy as someone else, log out.
    buyer = page.locator("table.summary tr", has=page.locator("th", has_text=re.compile("^Buyer$")))
    expect(buyer.get_by_role("link")).to_have_count(0)

    shop.confirm()
    orders = demo.db.orders(user.name)
    assert [(o["product"], o["payment"]) for o in orders] == [("Desk lamp", "Card ending 4444 (expires 01/31)")]


def test_switching_payment_branch_drops_the_old_branch(demo, page):
    user = USERS["change-branch"]
    shop = Shopper(page, demo)
    shop.start("Desk lamp")
    shop.log_in(user)
    shop.choose_payment("A bank account")
    shop.enter_bank("Sam Saver", save=True)
    shop.enter_address(street="9 Old Road")
    before = shop.summary()
    assert before["Account holder"] == "Sam Saver"
    assert before["Save for next time"] == "Yes"
    tid = task_id(page)
    assert {"bank_holder", "bank_iban_end", "bank_address"} <= set(demo.db.task_state(tid))

    # Switch to a card from the summary: the bank answers are gone from the
    # summary, from the task's state and from the order.
    shop.change("Pay with")
    shop.choose_payment("A new card")
    shop.enter_card()
    after = shop.summary()
    assert after["Pay with"] == "New card"
    assert not {"Account holder", "IBAN", "Account address"} & set(after)
    assert after["Save for next time"] == "No"
    assert "Sam Saver" not in page.locator("main").inner_text()
    state = demo.db.task_state(tid)
    assert not {key for key in state if key.startswith("bank_")}, state

    # The bank pages are off the path: not in the trail, and their old answers are not offered again.
    assert "Bank account" not in page.locator("ol.trail").inner_text()
    shop.change("Pay with")
    shop.choose_payment("A bank account")
    shop.expect_step("Bank account")
    expect(page.get_by_label("Account holder")).to_have_value("")
    page.get_by_role("link", name="Pay with PayPal instead").click()
    shop.pay_with_paypal("sam@paypal.example")
    final = shop.summary()
    assert final["Pay with"] == "PayPal"
    assert final["PayPal account"] == "sam@paypal.example"
    assert not {"Card number", "Expiry date", "Account holder"} & set(final)
    state = demo.db.task_state(tid)
    assert not {key for key in state if key.startswith(("bank_", "card_"))}, state

    shop.confirm()
    orders = demo.db.orders(user.name)
    assert [(o["payment"], o["kind"]) for o in orders] == [("PayPal (sam@paypal.example)", "paypal")]
    assert demo.db.saved_methods(user.name) == []  # "save" was ticked on the abandoned bank branch only


def test_browser_back_then_a_changed_answer_changes_only_that_answer(demo, page):
    user = USERS["back-button"]
    shop = Shopper(page, demo)
    shop.start("Field notebook")
    shop.log_in(user)
    shop.choose_payment("A new card")
    shop.enter_card(expiry="10/30", save=True)
    before = shop.summary()

    page.go_back()
    shop.expect_step("Card")
    shop.enter_card(number=OTHER_CARD, expiry="10/30", save=True)
    after = shop.summary()
    assert after == {**before, "Card number": "•••• 4444"}

    # Further back, to the product: the answers after it are still there, offered again.
    while "/item/" not in page.url:
        page.go_back()
    shop.choose_item("Desk lamp")
    shop.continue_as(user)
    shop.expect_step("How to pay")
    expect(page.get_by_label("A new card")).to_be_checked()
    page.get_by_role("link", name=re.compile("Back")).first.click()
    shop.expect_step("Log in")
    shop.continue_as(user)
    shop.choose_payment("A new card")
    expect(page.get_by_label("Expiry date (MM/YY)")).to_have_value("10/30")
    shop.enter_card(number=OTHER_CARD, expiry="10/30", save=True)
    assert shop.summary() == {**after, "Product": "Desk lamp (€39.00)", "Total": "€39.00"}

    shop.confirm()
    orders = demo.db.orders(user.name)
    assert [(o["product"], o["payment"]) for o in orders] == [("Desk lamp", "Card ending 4444 (expires 10/30)")]
    assert demo.db.saved_methods(user.name) == ["Card ending 4444 (expires 10/30)"]


def test_leaving_a_password_reset_for_a_login_drops_the_reset(demo, page):
    user = USERS["left-reset"]
    shop = Shopper(page, demo)
    shop.start("Field notebook")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill(user.email)
    shop.press("Send the code")
    shop.expect_step("Confirmation code")
    assert "reset_email" in demo.db.task_state(task_id(page))
    # The login page was left by its link, so it is not a step done on the trail; Back leads to it.
    expect(page.locator("ol.trail")).not_to_contain_text("Log in")
    page.get_by_role("link", name="← Back").click()
    shop.expect_step("Your email address")
    page.get_by_role("link", name="← Back").click()
    shop.log_in(user)
    shop.choose_payment("A new card")
    shop.enter_card()
    answers = shop.summary()
    assert answers["Signed in by"] == "Logged in"
    assert "Your email address" not in page.locator("ol.trail").inner_text()
    assert not {key for key in demo.db.task_state(task_id(page)) if key.startswith("reset_")}
    shop.confirm()
    assert len(demo.db.orders(user.name)) == 1
