"""URLs: path converters, several handlers and namespaces in one site."""

import pytest
from django.urls import reverse

from tests.walker import Walker

pytestmark = pytest.mark.django_db


def test_path_converters_are_carried_through_the_flow(client):
    walker = Walker(client, entry="/plain/product/7/").start()
    assert walker.path == "/plain/product/7/size/"
    walker.post({})
    assert walker.path == "/plain/product/7/check/"
    from flowmachine.backends import get_store

    assert get_store().get_state(walker.task_id)["data"]["product"] == 7


def test_converter_rejects_what_it_does_not_match(client):
    assert client.get("/plain/product/seven/").status_code == 404


def test_the_same_flow_under_two_namespaces_keeps_its_own_urls(client, shopper):
    assert reverse("shop:Purchase.ChooseItem") == "/buy/item/"
    assert reverse("again:Purchase.ChooseItem") == "/again/item/"
    first = Walker(client, entry="/buy/").start()
    second = Walker(client, entry="/again/").start()
    second.post({"item": "book"})
    assert second.path == "/again/account/login/"
    first.post({"item": "mug"})
    assert first.path == "/buy/account/login/"
    assert first.task_id != second.task_id


def test_a_task_of_one_handler_is_not_served_by_another(client):
    first = Walker(client, entry="/buy/").start()
    first.post({"item": "book"})  # the first change writes the record (lazy creation)
    # same flow, other mount point: the task belongs to where it was started only by its URLs,
    # but a task of another flow is refused
    response = client.get(f"/plain/greet/?_t={first.task_id}")
    assert response.status_code == 404


def test_two_tabs_of_one_user_stay_isolated(client, shopper):
    tab1 = Walker(client).start()
    tab2 = Walker(client).start()
    tab1.post({"item": "book"})
    tab2.post({"item": "lamp"})
    assert b"Buying: book" in client.get(tab1.url).content
    assert b"Buying: lamp" in client.get(tab2.url).content
