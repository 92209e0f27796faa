"""Every leaf path of the demo's checkout tree, in Chromium: each completes and creates one Order.

The tree: who are you (log in | create an account | forgot password: email ->
code -> new password) x how to pay (a saved method | new card | new bank
account then its address | PayPal). A new account has no saved method, so
"create an account" is combined with the three new methods only.
"""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect

from tests.browser._shop import PASSWORD, SAVED_LABEL, USERS, Shopper

pytestmark = pytest.mark.slow

ACCOUNTS = ["login", "register", "forgot"]
PAYMENTS = ["saved", "card", "bank", "paypal"]
PATHS = [(a, p) for a, p in itertools.product(ACCOUNTS, PAYMENTS) if (a, p) != ("register", "saved")]

#: "How to pay": step, total, and the trail, for each way in ("Log in" only for a buyer who logged in).
TRAIL_AT_PAYMENT = {
    "login": (3, 4, ["Choose a product", "Log in"]),
    "register": (3, 4, ["Choose a product", "Create an account"]),
    "forgot": (5, 6, ["Choose a product", "Your email address", "Confirmation code", "New password"]),
}

EXPECTED_PAYMENT = {
    "saved": SAVED_LABEL,
    "card": "Card ending 4242 (expires 12/30)",
    "bank": "Bank account ending 5432 (Pat Payer)",
}


@pytest.mark.parametrize(("account", "payment"), PATHS, ids=[f"{a}-{p}" for a, p in PATHS])
def test_leaf_path_completes_with_one_order(demo, page, account, payment):
    shop = Shopper(page, demo)
    shop.start("Desk lamp")
    name = f"path-{account}-{payment}"
    if account == "login":
        user = USERS[name]
        shop.log_in(user)
    elif account == "register":
        user = shop.register(name)
    else:
        user = shop.forgot_password(USERS[name], new_password="Fresh-pass-2468")

    shop.expect_step("How to pay")
    # The trail names the way in actually taken, and the count follows it.
    shop.expect_progress(*TRAIL_AT_PAYMENT[account])
    saved_option = page.get_by_label(f"{SAVED_LABEL} (saved)")
    # "A method I already saved" is offered only to a buyer who has one.
    expect(saved_option).to_have_count(1 if user.saved else 0)
    if payment == "saved":
        shop.pay_saved(SAVED_LABEL)
    elif payment == "card":
        shop.choose_payment("A new card")
        shop.enter_card()
    elif payment == "bank":
        shop.choose_payment("A bank account")
        shop.enter_bank("Pat Payer")
        shop.enter_address()
    else:
        shop.choose_payment("PayPal")
        shop.pay_with_paypal(f"{name}@paypal.example", cancel_first=account == "login")

    answers = shop.summary()
    assert answers["Product"] == "Desk lamp (€39.00)"
    assert answers["Buyer"] == f"{user.name} ({user.email})"
    assert (
        answers["Signed in by"]
        == {
            "login": "Logged in",
            "register": "Created a new account",
            "forgot": "Reset the password by email code",
        }[account]
    )
    shop.confirm()

    orders = demo.db.orders(user.name)
    expected = EXPECTED_PAYMENT.get(payment, f"PayPal ({name}@paypal.example)")
    assert [(o["product"], o["payment"], o["kind"]) for o in orders] == [("Desk lamp", expected, payment)]
    expect(page.locator(".order")).to_contain_text("Order #")
    expect(page.locator(".order")).to_contain_text(expected)
    if account == "forgot":
        # The new password works and the old one no longer does.
        assert user.password != PASSWORD
