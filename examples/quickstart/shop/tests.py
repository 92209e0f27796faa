"""The quickstart's own tests: python manage.py test shop (run by the library's suite too)."""

from django.test import TestCase

from flowmachine.testing import FINISHED, FlowClient, FlowReplay, simple_paths
from shop.flows import Purchase


class PurchaseTests(TestCase):
    def test_shipping_walk(self):
        flow = FlowClient(self.client).start(Purchase)
        flow.step({"item": "mug"}, expect="Purchase.HowToReceive.Shipping")
        flow.step({"address": "1 Main Street"}, expect="Purchase.Confirm")
        flow.step({}, expect=FINISHED)

    def test_pickup_through_the_link(self):
        flow = FlowClient(self.client).start(Purchase)
        flow.step({"item": "book"})
        flow.jump("Pickup", expect="Purchase.HowToReceive.Pickup")
        flow.step({"store": "north"}, expect="Purchase.Confirm")

    def test_every_path_in_memory(self):
        for path in simple_paths(Purchase):
            FlowReplay(Purchase, {"item": "lamp", "receive": "ship"}).follow(path)
