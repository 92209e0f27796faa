"""A smaller run of the demo on the Redis store (FLOWS_DEMO_STORE=redis), under a key prefix of its own."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser._shop import SAVED_LABEL, USERS, Shopper, task_id

pytestmark = pytest.mark.slow


def test_saved_method_path_on_redis(redis_demo, page):
    user = USERS["redis-saved"]
    shop = Shopper(page, redis_demo)
    shop.start("Field notebook")
    shop.log_in(user)
    prefix = redis_demo.env["FLOWS_DEMO_REDIS_PREFIX"]
    assert redis_demo.redis.exists(prefix + task_id(page)) == 1
    assert redis_demo.db.rows("SELECT count(*) FROM flowmachine_taskrecord") == [(0,)]
    shop.pay_saved(SAVED_LABEL)
    assert shop.summary()["Saved method"] == SAVED_LABEL
    shop.confirm()
    assert [(o["product"], o["payment"]) for o in redis_demo.db.orders(user.name)] == [("Field notebook", SAVED_LABEL)]


def test_two_tabs_on_redis(redis_demo, context):
    user = USERS["redis-tabs"]
    first, second = Shopper(context.new_page(), redis_demo), Shopper(context.new_page(), redis_demo)
    first.start("Desk lamp")
    second.start("Field notebook")
    first.log_in(user)
    second.page.reload()  # the other tab logged this browser in
    second.continue_as(user)
    second.choose_payment("A bank account")
    first.choose_payment("A new card")
    second.enter_bank("Robin Redis")
    first.enter_card()
    second.enter_address()
    assert first.summary()["Pay with"] == "New card"
    assert second.summary()["Account holder"] == "Robin Redis"
    first.confirm()
    second.confirm()
    orders = redis_demo.db.orders(user.name)
    assert [(o["product"], o["kind"]) for o in orders] == [("Desk lamp", "card"), ("Field notebook", "bank")]


def test_expired_task_on_redis(redis_demo, page):
    user = USERS["redis-expiry"]
    shop = Shopper(page, redis_demo)
    shop.start("Desk lamp")
    shop.log_in(user)
    shop.expect_step("How to pay")
    # Redis expires the key when the idle timeout passes; make that happen now.
    key = redis_demo.env["FLOWS_DEMO_REDIS_PREFIX"] + task_id(page)
    assert redis_demo.redis.pexpire(key, 1)
    page.wait_for_timeout(50)
    page.reload()
    expect(page.locator("main h1")).to_have_text("This checkout has expired")
    page.get_by_role("link", name="Start again").click()
    shop.expect_step("Choose a product")
    expect(page.get_by_label("Desk lamp")).to_be_checked()  # the same product again
