"""URLconf of the test suite: the checkout flow under /buy/ (see tests/flows.py)."""

from django.urls import include, path

from tests.flows import handler, plain_handler

urlpatterns = [
    path("buy/", include(handler.urls)),
    path("plain/", include(plain_handler.urls)),
]
