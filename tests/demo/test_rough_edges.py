"""The demo checkout as a new user meets it: progress, the trail, signing out, the done page, starting again.

It runs in the demo's settings, with demo/ on the path::

    PYTHONPATH=demo:. pytest tests/demo/test_rough_edges.py --ds=demo_site.settings

and the suite runs it that way, on the db and the Redis store, from
tests/demo/test_rough_edges_in_demo_settings.py.
"""

from __future__ import annotations

import pytest
from django.apps import apps

if not apps.is_installed("shop"):
    pytest.skip(
        "runs in the demo's settings: see tests/demo/test_rough_edges_in_demo_settings.py", allow_module_level=True
    )

from django.contrib.auth import get_user_model
from django.test import Client
from shop.management.commands.seed_demo import PASSWORD, USERNAME
from shop.models import Order, Product

from flowmachine.backends import get_store
from flowmachine.testing import FlowClient
from tests.demo.test_paths import DATA, NEW_PASSWORD, PATHS, seeded  # noqa: F401  (seeded: autouse)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("demo_site.urls")]

LOG_IN = {"username": USERNAME, "password": PASSWORD}


def progress(client: FlowClient) -> tuple[int, int | None, list[str]]:
    """The page's "Step n of m" and its trail's titles (a title without a link in brackets)."""
    shown = client.response.context["flow"].progress
    titles = [step.title if step.url else f"({step.title})" for step in shown.trail]
    return shown.step, shown.total, titles


def lamp() -> Product:
    return Product.objects.get(slug="desk-lamp")


def start(client: FlowClient, product: Product | None = None) -> FlowClient:
    return client.start(f"/buy/?product={(product or lamp()).pk}", expect="ChooseItem")


# -- 1. progress: the count and the trail agree, the total only grows with a longer branch ----------


@pytest.mark.parametrize("flow_path", PATHS, ids=[p.id for p in PATHS])
def test_on_every_page_of_every_path_step_n_counts_the_trail_and_the_total_never_shrinks(flow_client, flow_path):
    seen: list[tuple[int, int | None, list[str]]] = []

    def check(client: FlowClient, edge) -> None:
        if client.finished or client.response.status_code != 200:
            return
        step, total, trail = progress(client)
        assert step == len(trail) + 1, (flow_path.id, step, trail)
        assert total is not None and total >= step, (flow_path.id, step, total)
        if seen:
            assert total >= seen[-1][1], (flow_path.id, seen[-1], (step, total, trail))
        seen.append((step, total, trail))

    flow_client.walk(flow_path, DATA, after_each=check)
    assert flow_client.finished
    # A buyer who did not log in never sees "Log in" among the steps done.
    if "~Register" in flow_path.id or "~EnterEmail" in flow_path.id:
        assert all("Log in" not in trail for _, _, trail in seen), (flow_path.id, seen)


def test_registering_the_trail_names_the_step_taken_and_the_count_follows_it(flow_client):
    start(flow_client)
    assert progress(flow_client) == (1, 4, [])
    flow_client.step({"product": lamp().pk}, expect="LoginOrRegister")
    assert progress(flow_client) == (2, 4, ["Choose a product"])
    flow_client.jump("Register", expect="Register")
    # "Create an account" stands in for the login page it was reached from: still step 2 of 4.
    assert progress(flow_client) == (2, 4, ["Choose a product"])
    assert "/buy/account/login/" in flow_client.response.context["flows_back_url"]
    flow_client.step(DATA["Register"], expect="PaymentChoice")
    assert progress(flow_client) == (3, 4, ["Choose a product", "Create an account"])
    flow_client.step({"method": "card"}, expect="CardNumber")
    assert progress(flow_client) == (4, 5, ["Choose a product", "Create an account", "How to pay"])
    flow_client.step(DATA["CardNumber"], expect="Confirm")
    assert progress(flow_client) == (5, 5, ["Choose a product", "Create an account", "How to pay", "Card"])


def test_a_password_reset_shows_its_used_pages_on_the_trail_without_a_link(flow_client):
    start(flow_client)
    flow_client.step({"product": lamp().pk}, expect="LoginOrRegister")
    flow_client.jump("ForgotPassword", expect="EnterEmail")
    assert progress(flow_client) == (2, 6, ["Choose a product"])
    flow_client.step(DATA["EnterEmail"], expect="EnterCode")
    assert progress(flow_client) == (3, 6, ["Choose a product", "Your email address"])
    flow_client.step(DATA["EnterCode"], expect="ResetPassword")
    flow_client.step(DATA["ResetPassword"], expect="PaymentChoice")
    trail = ["Choose a product", "Your email address", "(Confirmation code)", "(New password)"]
    assert progress(flow_client) == (5, 6, trail)


# -- 3. signing out mid-checkout ------------------------------------------------------------------


def test_signing_out_mid_checkout_says_so_and_starts_again_with_the_product(flow_client, client):
    start(flow_client)
    flow_client.step({"product": lamp().pk}, expect="LoginOrRegister")
    flow_client.step(LOG_IN, expect="PaymentChoice")
    here = flow_client.url
    client.post("/logout/")
    response = client.get(here)
    assert response.status_code == 404
    html = response.content.decode()
    assert "You are signed out, so this checkout has ended." in html
    assert "not started in this browser" not in html
    assert response.context["restart_url"] == f"/buy/?product={lamp().pk}"
    # Someone signed in, holding the link, is told it is not theirs (nothing of the task is shown).
    stranger = Client()
    get_user_model().objects.create_user("nosy", "nosy@example.com", NEW_PASSWORD)
    stranger.login(username="nosy", password=NEW_PASSWORD)
    response = stranger.get(here)
    assert response.status_code == 404
    assert "It was started in another browser" in response.content.decode()


# -- 4. the done page shows this checkout's order ---------------------------------------------------


def buy(product: Product, *, logged_in: Client) -> tuple[FlowClient, str]:
    """One checkout to its Confirm page in *logged_in*'s browser; returns it and its Confirm URL."""
    checkout = FlowClient(logged_in)
    start(checkout, product)
    checkout.step({"product": product.pk}, expect="LoginOrRegister")
    checkout.step({}, expect="PaymentChoice")  # "Continue as demo"
    checkout.step(DATA["PaymentChoice"](checkout), expect="Confirm")
    return checkout, checkout.url


def test_the_done_page_shows_the_order_this_checkout_made_to_its_buyer_only(client):
    client.login(**LOG_IN)
    first, first_confirm = buy(lamp(), logged_in=client)
    notebook = Product.objects.get(slug="field-notebook")
    second, _ = buy(notebook, logged_in=client)
    paid = first.step({})
    mine = Order.objects.get(task_id=first.task_id)
    assert paid["Location"] == f"/done/{mine.pk}/"
    second.step({})  # the buyer's latest order is now the notebook's
    page = client.get(paid["Location"])
    assert page.context["order"] == mine and "Desk lamp" in page.content.decode()
    # The finished checkout's "See your order" goes to the same order, not to the latest.
    again = client.post(first_confirm, {"_t": first.task_id})
    assert again.status_code == 410
    assert again.context["continue_url"] == f"/done/{mine.pk}/"
    # Someone else's order is not shown.
    other = Client()
    get_user_model().objects.create_user("nosy", "nosy@example.com", NEW_PASSWORD)
    other.login(username="nosy", password=NEW_PASSWORD)
    assert other.get(f"/done/{mine.pk}/").status_code == 404
    assert client.get("/done/").status_code == 200  # the buyer's orders


# -- 5. "Start again" keeps the product -------------------------------------------------------------


def test_start_again_after_expiry_starts_a_checkout_for_the_same_product(flow_client, client):
    notebook = Product.objects.get(slug="field-notebook")
    start(flow_client, lamp())
    flow_client.step({"product": notebook.pk}, expect="LoginOrRegister")  # changed their mind
    assert f"product={notebook.pk}" in flow_client.url
    get_store().delete_state(flow_client.task_id)  # expired
    response = client.get(flow_client.url)
    assert response.status_code == 410
    assert response.context["restart_url"] == f"/buy/?product={notebook.pk}"
    again = FlowClient(client).start(response.context["restart_url"], expect="ChooseItem")
    assert again.form.initial["product"] == notebook.pk


# -- 6. a PayPal hand-off cancelled at PayPal is a notice, not an error -------------------------------


def test_a_cancelled_paypal_hand_off_is_a_neutral_notice(flow_client, client):
    start(flow_client)
    flow_client.step({"product": lamp().pk}, expect="LoginOrRegister")
    flow_client.step(LOG_IN, expect="PaymentChoice")
    flow_client.step({"method": "paypal"}, expect="PayPal")
    page = client.get(flow_client.url + "&paypal_cancelled=1")
    html = page.content.decode()
    assert page.context["notice"].startswith("You cancelled at PayPal")
    assert '<p class="info" role="status">You cancelled at PayPal' in html
    assert not page.context["form"].errors and 'class="errorlist' not in html
    forged = client.get(flow_client.url + "&paypal_token=forged")
    assert forged.context["form"].non_field_errors() == ["PayPal did not confirm this payment. Please try again."]
