"""The back button: earlier steps rewind the task, later ones are out of reach."""

from __future__ import annotations

import pytest

from flowmachine.backends import get_store
from flowmachine.models import TaskRecord
from tests.models import Order
from tests.walker import Walker

pytestmark = pytest.mark.django_db

LOGIN = {"choice": "login", "username": "alice", "password": "s3cret-pass"}

ITEM = "Purchase.ChooseItem"
ACCOUNT = "Purchase.GetUserAccount.LoginOrRegister"
REGISTER = "Purchase.GetUserAccount.Register"
SAVED = "Purchase.ChoosePayment.SavedMethod"
CONFIRM = "Purchase.Confirm"


def stored(task_id: str) -> dict:
    return get_store().get_state(task_id)


def walk_to_payment(walker: Walker, item: str = "lamp") -> None:
    walker.post({"item": item})
    walker.post(LOGIN)
    assert walker.path == "/buy/pay/saved/"


def test_get_of_an_earlier_step_rewinds_and_a_new_answer_continues_from_there(client, shopper):
    walker = Walker(client).start()
    walk_to_payment(walker, "lamp")
    record = stored(walker.task_id)
    assert (record["pos"], record["hist"]) == (SAVED, [ITEM, ACCOUNT])

    response = client.get(f"/buy/item/?_t={walker.task_id}")
    assert response.status_code == 200
    record = stored(walker.task_id)
    assert record["pos"] == ITEM
    assert record["hist"] == []

    walker.url = f"/buy/item/?_t={walker.task_id}"
    walker.post({"item": "mug"})
    assert walker.path == "/buy/account/login/"
    record = stored(walker.task_id)
    assert record["data"]["item"] == "mug"
    assert (record["pos"], record["hist"]) == (ACCOUNT, [ITEM])

    walker.post(LOGIN)
    walker.post({"method": "saved"})
    assert b"Buying: mug" in walker.response.content
    assert walker.post({})["Location"] == "/done/"
    assert Order.objects.get().item == "mug"


def test_back_url_points_to_the_previous_step_and_following_it_rewinds(client, shopper):
    walker = Walker(client).start()
    assert walker.response.context["flows_back_url"] is None
    assert b'class="back"' not in walker.response.content
    walk_to_payment(walker)

    back = walker.response.context["flows_back_url"]
    assert back == f"/buy/account/login/?_t={walker.task_id}"
    assert f'class="back" href="{back}"'.replace("&", "&amp;") in walker.response.content.decode()

    response = client.get(back)
    assert response.status_code == 200
    record = stored(walker.task_id)
    assert (record["pos"], record["hist"]) == (ACCOUNT, [ITEM])
    assert response.context["flows_back_url"] == f"/buy/item/?_t={walker.task_id}"

    response = client.get(response.context["flows_back_url"])
    assert response.status_code == 200
    assert (stored(walker.task_id)["pos"], stored(walker.task_id)["hist"]) == (ITEM, [])
    assert response.context["flows_back_url"] is None


def test_back_url_after_a_jump_goes_to_the_page_jumped_from(client, shopper):
    walker = Walker(client).start()
    walker.post({"item": "book"})
    walker.post({"choice": "register"})
    assert walker.path == "/buy/account/register/"
    assert walker.response.context["flows_back_url"] == f"/buy/account/login/?_t={walker.task_id}"


@pytest.mark.parametrize("later", ["/buy/confirm/", "/buy/pay/saved/", "/buy/pay/new/card/", "/buy/account/register/"])
def test_get_of_a_later_step_never_visited_redirects_to_the_current_one(client, shopper, later):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    before = stored(walker.task_id)
    response = client.get(later, {"_t": walker.task_id})
    assert response.status_code == 302
    assert response["Location"] == f"/buy/account/login/?_t={walker.task_id}"
    assert stored(walker.task_id) == before


def test_a_step_left_behind_by_going_back_is_out_of_reach_again(client, shopper):
    walker = Walker(client).start()
    walk_to_payment(walker)
    client.get(f"/buy/item/?_t={walker.task_id}")  # back to the start: login is no longer in the history
    response = client.get(f"/buy/account/login/?_t={walker.task_id}")
    assert response.status_code == 302
    assert response["Location"] == f"/buy/item/?_t={walker.task_id}"


@pytest.mark.urls("tests.web.urls_extra")
def test_skip_on_back_actions_are_left_out_of_the_back_trail(client):
    walker = Walker(client, entry="/extra/trail/").start()
    assert walker.path == "/extra/trail/first/"
    walker.post({})
    assert walker.path == "/extra/trail/bounce/"
    assert walker.response.context["flows_back_url"] == f"/extra/trail/first/?_t={walker.task_id}"
    walker.post({})
    assert walker.path == "/extra/trail/last/"

    record = stored(walker.task_id)
    assert record["hist"] == ["TrailFlow.TrailFirst"]
    assert walker.response.context["flows_back_url"] == f"/extra/trail/first/?_t={walker.task_id}"
    # The progress trail shows the skipped page, walked, with no URL to go back to
    trail = [(step.name, step.url) for step in walker.response.context["flow"].progress.trail]
    assert trail == [
        ("TrailFlow.TrailFirst", f"/extra/trail/first/?_t={walker.task_id}"),
        ("TrailFlow.TrailBounce", None),
    ]
    # and the skipped page cannot be gone back to
    response = client.get(f"/extra/trail/bounce/?_t={walker.task_id}")
    assert response.status_code == 302
    assert response["Location"] == walker.url


def test_answers_are_shown_again_when_going_back(client, shopper):
    fresh = Walker(client).start()
    assert b'<option value="mug" selected>' not in fresh.response.content

    walker = Walker(client).start()
    walk_to_payment(walker, "mug")
    response = client.get(f"/buy/item/?_t={walker.task_id}")
    html = response.content.decode()
    assert '<option value="mug" selected>' in html
    assert '<option value="lamp" selected>' not in html

    walker.url = f"/buy/item/?_t={walker.task_id}"
    walker.post({"item": "mug"})
    html = walker.response.content.decode()
    assert walker.path == "/buy/account/login/"
    assert 'value="alice"' in html
    assert "s3cret-pass" not in html


@pytest.mark.parametrize("account", ["login", "register"])
def test_passwords_are_never_stored(client, shopper, account):
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    if account == "login":
        walker.post(LOGIN)
        password = LOGIN["password"]
    else:
        walker.post({"choice": "register", "username": "", "password": "typed-on-the-choice-page"})
        walker.post({"username": "bob", "password": "pw-of-bob"})
        password = "pw-of-bob"
    assert walker.path == "/buy/pay/saved/"
    raw = bytes(TaskRecord.objects.get(task_id=walker.task_id).data)
    assert password.encode() not in raw
    assert b"typed-on-the-choice-page" not in raw
    answers = stored(walker.task_id)["ans"]
    assert all("password" not in fields for fields in answers.values()), answers


def test_a_post_from_an_old_page_changes_that_step_only(client, shopper):
    walker = Walker(client).start()
    walk_to_payment(walker, "lamp")
    walker.post({"method": "saved"})
    assert walker.path == "/buy/confirm/"
    before = stored(walker.task_id)

    # The item page, still open in another tab, is submitted. Confirm would
    # accept any POST and create an order: the data must go to ChooseItem only.
    response = client.post("/buy/item/", {"_t": walker.task_id, "item": "book"})
    assert response.status_code == 302
    assert response["Location"] == f"/buy/account/login/?_t={walker.task_id}"
    assert Order.objects.count() == 0

    record = stored(walker.task_id)
    assert (record["pos"], record["hist"]) == (ACCOUNT, [ITEM])
    assert record["data"] == {**before["data"], "item": "book"}
    assert record["ans"][ITEM] == {"item": "book"}
    for step, fields in record["ans"].items():
        if step != ITEM:
            assert "item" not in fields and fields == before["ans"].get(step), step


def test_an_invalid_post_from_an_old_page_does_not_leak_into_the_current_step(client, shopper):
    walker = Walker(client).start()
    walk_to_payment(walker, "lamp")
    walker.post({"method": "saved"})
    assert walker.path == "/buy/confirm/"
    before = stored(walker.task_id)
    response = client.post("/buy/item/", {"_t": walker.task_id, "item": "piano"})
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert Order.objects.count() == 0
    record = stored(walker.task_id)
    assert record["data"] == before["data"]
    assert record["ans"].get(ITEM) == before["ans"][ITEM]


def test_data_form_valid_refuses_is_not_kept_as_the_steps_answers(client, shopper):
    """A code that form_valid() refuses (form.add_error, form_invalid) is not an accepted answer: the
    page shows the last accepted one, not the refused one (the demo's random walk found this)."""
    walker = Walker(client).start()
    walker.post({"item": "lamp"})
    walker.post({"choice": "forgot", "username": "", "password": ""})
    walker.post({"email": "alice@example.com"})
    code_step = walker.url
    walker.post({"code": "999999"}, expect=200)
    assert b"That code is not right." in walker.response.content
    assert "Purchase.GetUserAccount.ForgotPassword.EnterCode" not in stored(walker.task_id)["ans"]
    assert b'value="999999"' not in client.get(code_step).content


@pytest.mark.urls("tests.web.urls_extra")
def test_a_skip_on_back_step_is_on_the_progress_trail_until_going_back_before_it(client):
    walker = Walker(client, entry="/extra/trail/").start()
    assert walker.response.context["flow"].progress.step == 1
    walker.post({})
    assert walker.response.context["flow"].progress.step == 2
    walker.post({})
    assert walker.path == "/extra/trail/last/"
    progress = walker.response.context["flow"].progress
    assert (progress.step, progress.total) == (3, 3)  # first, bounce (off the back trail), last
    assert [step.name for step in progress.trail] == ["TrailFlow.TrailFirst", "TrailFlow.TrailBounce"]

    page = client.get(f"/extra/trail/first/?_t={walker.task_id}")  # back before the skipped step
    assert page.context["flow"].progress.step == 1
    assert stored(walker.task_id)["off"] == []
    walker.url = f"/extra/trail/first/?_t={walker.task_id}"
    walker.post({})
    assert walker.response.context["flow"].progress.step == 2


def test_a_page_left_by_its_link_stays_on_the_back_trail_but_off_the_progress_trail(client, shopper):
    walker = Walker(client).start()
    walk_to_payment(walker)
    walker.post({"method": "new"})
    assert walker.path == "/buy/pay/new/card/"
    card = walker.url
    assert b"Step 4 of 5" in walker.response.content
    walker.follow_link("link-bank")  # "pay from a bank account instead": the card page was not answered
    assert walker.path == "/buy/pay/new/bank/details/"
    flow = walker.response.context["flow"]
    assert [step.name for step in flow.progress.trail] == [ITEM, ACCOUNT, SAVED]
    assert (flow.progress.step, flow.progress.total) == (4, 6)
    assert walker.response.context["flows_back_url"] == card
    walker.post({"iban": "GB82WEST12345698765432"})
    flow = walker.response.context["flow"]
    assert [step.title for step in flow.progress.trail] == [
        "Choose item",
        "Login or register",
        "Saved method",
        "Bank details",
    ]
    assert (flow.progress.step, flow.progress.total) == (5, 6)
    # Back to the card page: it is current again, and the trail is what was walked before it.
    page = walker.get(card)
    assert [step.name for step in page.context["flow"].progress.trail] == [ITEM, ACCOUNT, SAVED]
    assert stored(walker.task_id)["lnk"] == []
