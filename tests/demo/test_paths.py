"""Every path through the demo's checkout, generated from its compiled machine, walked over HTTP.

This is the example of docs/testing.md. It runs in the demo's own settings,
with demo/ on the path::

    PYTHONPATH=demo pytest tests/demo/test_paths.py --ds=demo_site.settings

and the suite runs it that way from tests/demo/test_paths_in_demo_settings.py. Nothing here
names a path: they come from ``simple_paths(Purchase)``, so a new branch of the
demo is walked as soon as it exists (and fails until it has data below).
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps

if not apps.is_installed("shop"):
    pytest.skip("runs in the demo's settings: see tests/demo/test_paths_in_demo_settings.py", allow_module_level=True)

from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from shop.flows import Purchase
from shop.management.commands.seed_demo import EMAIL, PASSWORD, USERNAME
from shop.models import Order, SavedPaymentMethod

from flowmachine.backends.base import encode_record
from flowmachine.testing import FlowClient, coverage, simple_paths

pytestmark = [pytest.mark.django_db, pytest.mark.urls("demo_site.urls")]

PATHS = simple_paths(Purchase)
NEW_PASSWORD = "a-fresh-passphrase-2026"
#: The encoded task record stays this small at every step (the stores keep it whole).
RECORD_LIMIT = 1024


@pytest.fixture(autouse=True)
def seeded(settings):
    """The demo's products, its user (with a saved card), fast password hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", verbosity=0)


# -- what a buyer types on each page -----------------------------------------------------


def first_product(client: FlowClient) -> dict:
    return {"product": client.form.fields["product"].queryset.first().pk}


def code_from_the_email(client: FlowClient) -> dict:
    return {"code": re.search(r"\b\d{6}\b", mail.outbox[-1].body)[0]}


def a_saved_method(client: FlowClient) -> dict:
    """Pick the buyer's saved method; a buyer who just registered saves one first."""
    user = get_user_model().objects.get(pk=client.client.session["_auth_user_id"])
    saved, _ = SavedPaymentMethod.objects.get_or_create(user=user, kind="card", label="Card ending 1111")
    return {"method": f"saved:{saved.pk}"}


def approve_at_paypal(client: FlowClient) -> None:
    """Continue to the PayPal sandbox, approve, and come back into the task."""
    hand_off = client.step({})
    query = parse_qs(urlsplit(hand_off["Location"]).query)
    approved = client.client.post(
        hand_off["Location"].split("?")[0],
        {"return": query["return"][0], "nonce": query["nonce"][0], "email": "ada@paypal.example"},
    )
    client.follow(approved)


EXPIRY = f"12/{(date.today().year + 2) % 100:02d}"

DATA = {
    "ChooseItem": first_product,
    "LoginOrRegister": {"username": USERNAME, "password": PASSWORD},
    "Register": {
        "username": "newbuyer",
        "email": "new@example.com",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    },
    "EnterEmail": {"email": EMAIL},
    "EnterCode": code_from_the_email,
    "ResetPassword": {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    "PaymentChoice": a_saved_method,
    # jumps answered on the form (without an entry, a jump follows its link_to link)
    "PaymentChoice~CardNumber": {"method": "card"},
    "PaymentChoice~BankDetails": {"method": "bank"},
    "PaymentChoice~PayPal": {"method": "paypal"},
    "CardNumber": {"number": "4242 4242 4242 4242", "expiry": EXPIRY},
    "BankDetails": {"holder": "Ada Lovelace", "iban": "GB82 WEST 1234 5698 7654 32"},
    "AccountAddress": {"street": "12 St James's Square", "postcode": "SW1Y 4JH", "city": "London"},
    "PayPal": approve_at_paypal,
    "Confirm": {},
}


def test_the_paths_cover_every_state_and_transition():
    report = coverage(Purchase, PATHS)
    assert report.complete, str(report)


@pytest.mark.parametrize("flow_path", PATHS, ids=[p.id for p in PATHS])
def test_every_path_of_the_checkout_ends_in_an_order(flow_client, flow_path):
    sizes = []

    def record_size(client, edge):
        record = client.record
        if record is not None:
            sizes.append(len(encode_record(record)))

    flow_client.walk(flow_path, DATA, after_each=record_size)
    assert flow_client.finished
    order = Order.objects.get(task_id=flow_client.task_id)
    assert order.product.pk is not None
    assert max(sizes) <= RECORD_LIMIT, sizes
