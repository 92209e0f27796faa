"""Tiny flows for edge cases, served by their own URLconf.

Use with ``@pytest.mark.urls("tests.web.urls_extra")``. Everything is mounted
under ``/extra/`` in the ``extra`` namespace; a finished task goes to
``/extra-done/``.
"""

from __future__ import annotations

from fractions import Fraction

from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from tests.models import Order

TEMPLATE = "shop/step.html"


class ExtraStep(Action):
    template_name = TEMPLATE
    _abstract = True


# -- a state value msgpack cannot encode ---------------------------------------


class PriceStep(ExtraStep):
    """Writes to the database, then puts a Fraction (not encodable) in the state."""

    url = "set/"

    def form_valid(self, form):
        Order.objects.create(item="price", payment="-", task_id=self.task.id)
        self.state["note"] = "fine"
        self.state["price"] = Fraction(999, 100)
        return COMPLETE


class AfterPrice(ExtraStep):
    url = "after/"


class PriceFlow(Scaffold):
    url = "price/"
    transition = Linear
    action_set = [PriceStep, AfterPrice]


# -- a jump to a component that is not reachable by a jump -----------------------


class HopAway(ExtraStep):
    """Jumps to FarTarget, a child of a sibling scaffold: not a legal jump target."""

    url = "hop/"

    def form_valid(self, form):
        self.state["hopped"] = True
        return "FarTarget"


class FarTarget(ExtraStep):
    url = "far/"


class FarGroup(Scaffold):
    url = "group/"
    action_set = [FarTarget]


class JumpFlow(Scaffold):
    url = "jump/"
    transition = Linear
    action_set = [HopAway, FarGroup]


# -- a step left out of the back trail -------------------------------------------


class TrailFirst(ExtraStep):
    url = "first/"


class TrailBounce(ExtraStep):
    url = "bounce/"
    skip_on_back = True


class TrailLast(ExtraStep):
    url = "last/"


class TrailFlow(Scaffold):
    url = "trail/"
    transition = Linear
    action_set = [TrailFirst, TrailBounce, TrailLast]


extra_handler = FlowHandler(app_namespace="extra", on_complete_url="/extra-done/")
extra_handler.register_entry_point(PriceFlow)
extra_handler.register_entry_point(JumpFlow)
extra_handler.register_entry_point(TrailFlow)

urlpatterns = [
    path("extra/", include(extra_handler.urls)),
]
