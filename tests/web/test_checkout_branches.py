"""Every branch of the checkout tree, walked end to end through the test client."""

import pytest

from tests.models import Order
from tests.walker import Walker

pytestmark = pytest.mark.django_db


def login(walker):
    walker.post({"choice": "login", "username": "alice", "password": "s3cret-pass"})


def register(walker):
    walker.post({"choice": "register"})
    assert walker.path == "/buy/account/register/"
    walker.post({"username": "bob", "password": "pw-of-bob"})


def forgot_password(walker):
    walker.post({"choice": "forgot"})
    assert walker.path == "/buy/account/forgot/enter-email/"
    walker.post({"email": "alice@example.com"})
    assert walker.path == "/buy/account/forgot/enter-code/"
    walker.post({"code": "000000"}, expect=200)  # wrong code: shown again with an error
    assert b"That code is not right." in walker.response.content
    walker.post({"code": "123456"})
    assert walker.path == "/buy/account/forgot/reset-password/"
    walker.post({"password": "brand-new-pass"})


def pay_saved(walker):
    walker.post({"method": "saved"})
    return "saved"


def pay_card(walker):
    walker.post({"method": "new"})
    assert walker.path == "/buy/pay/new/card/"
    walker.post({"number": "4111111111111111"})
    return "card:1111"


def pay_bank(walker):
    walker.post({"method": "new"})
    walker.follow_link("link-bank")
    assert walker.path == "/buy/pay/new/bank/details/"
    walker.post({"iban": "DE89370400440532013000"})
    assert walker.path == "/buy/pay/new/bank/address/"
    walker.post({"street": "1 Main St"})
    return "bank:DE89370400440532013000:1 Main St"


def pay_paypal(walker):
    walker.post({"method": "new"})
    walker.follow_link("link-paypal")
    assert walker.path == "/buy/pay/new/paypal/"
    walker.post({})
    return "paypal"


ACCOUNTS = {"login": login, "register": register, "forgot": forgot_password}
PAYMENTS = {"saved": pay_saved, "card": pay_card, "bank": pay_bank, "paypal": pay_paypal}


@pytest.mark.parametrize("payment", PAYMENTS)
@pytest.mark.parametrize("account", ACCOUNTS)
def test_every_branch_completes_once(client, shopper, account, payment):
    walker = Walker(client).start()
    assert walker.path == "/buy/item/"
    walker.post({"item": "lamp"})
    assert walker.path == "/buy/account/login/"
    ACCOUNTS[account](walker)
    assert walker.path == "/buy/pay/saved/"
    expected_payment = PAYMENTS[payment](walker)
    assert walker.path == "/buy/confirm/"
    assert b"Buying: lamp" in walker.response.content
    response = walker.post({})
    assert response["Location"] == "/done/"
    order = Order.objects.get()
    assert (order.item, order.payment, order.task_id) == ("lamp", expected_payment, walker.task_id)


def test_progress_counts_steps_along_the_path(client, shopper):
    walker = Walker(client).start()
    assert b"Step 1 of 4" in walker.response.content
    walker.post({"item": "book"})
    assert b"Step 2 of 4" in walker.response.content
    walker.post({"choice": "forgot"})
    # Jumped into the three-step reset: item, login, then email/code/reset, pay, confirm.
    assert b"Step 3 of 7" in walker.response.content
    trail = walker.response.content.decode().split('<ol class="trail">')[1].split("</ol>")[0]
    assert "Choose item" in trail and "Login or register" in trail


def test_on_complete_param_is_followed_when_safe(client, shopper):
    walker = Walker(client).start("?_on_complete=/thanks/")
    walker.post({"item": "mug"})
    login(walker)
    pay_saved(walker)
    assert walker.post({})["Location"] == "/thanks/"


def test_flow_entry_link_starts_task_with_initial_state(rf, client, shopper):
    from tests.flows import Purchase, handler

    client.get("/buy/")  # gives the client a session
    request = rf.get("/")
    request.session = client.session
    url = handler.flow_entry_link(request, Purchase, on_complete_url="/after/", initial_state={"item": "book"})
    request.session.save()
    assert url.startswith("/buy/item/?_t=")
    response = client.get(url)
    assert response.status_code == 200
    assert b"Buying: book" in response.content


def test_action_can_answer_with_its_own_response(client):
    walker = Walker(client, entry="/plain/greet/").start()
    assert walker.path == "/plain/greet/"  # first action shares the entry URL
    walker.post({})
    assert walker.path == "/plain/greet/bye/"
    response = walker.post({}, expect=200)
    assert response.content == b"said bye"
