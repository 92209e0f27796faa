"""The pages of the demo shop outside the checkout flow."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from shop.models import Order, Product


def home(request):
    return render(request, "shop/home.html", {"products": Product.objects.all()})


@login_required
def done(request):
    order = Order.objects.filter(user=request.user).select_related("product").first()
    return render(request, "shop/done.html", {"order": order})
