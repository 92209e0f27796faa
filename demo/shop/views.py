"""The pages of the demo shop outside the checkout flow."""

import secrets

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils.http import url_has_allowed_host_and_scheme

from shop.management.commands.seed_demo import PASSWORD, USERNAME
from shop.models import DevMail, Order, Product

PAYPAL_SALT = "shop.paypal-sandbox"


def home(request):
    context = {"products": Product.objects.all()}
    if settings.DEBUG:
        context["demo_login"] = (USERNAME, PASSWORD)
    return render(request, "shop/home.html", context)


@login_required
def done(request, order_id=None):
    """The order a checkout made (``order_id``, the buyer's own only), and the buyer's recent orders."""
    mine = Order.objects.filter(user=request.user).select_related("product")
    order = get_object_or_404(mine, pk=order_id) if order_id is not None else None
    others = mine.exclude(pk=order.pk) if order is not None else mine
    return render(request, "shop/done.html", {"order": order, "orders": others[:5]})


def mailbox(request):
    """The dev mailbox: every email the demo has sent, newest first (DEBUG only)."""
    if not settings.DEBUG:
        raise Http404("The dev mailbox exists only when DEBUG is on.")
    return render(request, "shop/mailbox.html", {"messages": DevMail.objects.all()[:20]})


def paypal_sandbox(request):
    """A stand-in for PayPal: approve or cancel, then go back to the shop's return URL."""
    return_url = request.GET.get("return") or request.POST.get("return", "")
    nonce = request.GET.get("nonce") or request.POST.get("nonce", "")
    if not nonce or not url_has_allowed_host_and_scheme(return_url, allowed_hosts={request.get_host()}):
        return HttpResponseBadRequest("This PayPal hand-off has no valid return address.")
    email = request.POST.get("email", "").strip()
    error = ""
    if request.method == "POST":
        if "cancel" in request.POST:
            return HttpResponseRedirect(f"{return_url}&paypal_cancelled=1")
        if "@" in email:
            token = signing.dumps({"nonce": nonce, "email": email}, salt=PAYPAL_SALT)
            return HttpResponseRedirect(f"{return_url}&paypal_token={token}")
        error = "Enter the email address of your PayPal account."
    context = {
        "return_url": return_url,
        "nonce": nonce,
        "email": email or request.GET.get("email", ""),
        "amount": request.GET.get("amount") or request.POST.get("amount", ""),
        "error": error,
        "reference": secrets.token_hex(4).upper(),
    }
    return render(request, "shop/paypal_sandbox.html", context)
