"""URLconf of the test suite (flows in tests/flows.py)."""

from django.contrib import admin
from django.urls import include, path

from tests.flows import handler, plain_handler, second_handler

urlpatterns = [
    path("buy/", include(handler.urls)),
    path("again/", include(second_handler.urls)),
    path("plain/", include(plain_handler.urls)),
    path("admin/", admin.site.urls),
]
