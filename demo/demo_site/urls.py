"""URLs of the demo: products and the checkout flow, the insurance claim flow, log in/out, done pages,
and the dev helpers."""

from claims import views as claim_views
from claims.flows import handler as claim_handler
from django.contrib.auth import views as auth_views
from django.urls import include, path
from shop import views
from shop.flows import handler

urlpatterns = [
    path("", views.home, name="home"),
    path("buy/", include(handler.urls)),
    path("done/", views.done, name="done"),
    path("done/<int:order_id>/", views.done, name="order_done"),
    path("claim/", include(claim_handler.urls)),
    path("claim-received/", claim_views.received, name="claim_received"),
    path("login/", auth_views.LoginView.as_view(template_name="shop/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("mailbox/", views.mailbox, name="mailbox"),
    path("paypal-sandbox/", views.paypal_sandbox, name="paypal_sandbox"),
]
