"""What the demo shop sells, the payment methods buyers save, the orders the checkout creates."""

from django.conf import settings
from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=8, decimal_places=2)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SavedPaymentMethod(models.Model):
    """A payment method a buyer chose to keep for next time: a label only, never card data."""

    KINDS = [("card", "Card"), ("bank", "Bank account"), ("paypal", "PayPal")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_methods")
    kind = models.CharField(max_length=10, choices=KINDS)
    label = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [models.UniqueConstraint(fields=["user", "label"], name="shop_unique_saved_method")]

    def __str__(self) -> str:
        return self.label


class Order(models.Model):
    """One finished checkout; ``payment`` is a display label, never card data."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="orders")
    price = models.DecimalField(max_digits=8, decimal_places=2)
    payment = models.CharField(max_length=100)
    payment_kind = models.CharField(max_length=10, default="")
    #: The checkout task that created the order: one order per task, however often "Pay" is clicked.
    task_id = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"Order #{self.pk}: {self.product} for {self.user}"


class DevMail(models.Model):
    """An email the demo sent, kept for the dev mailbox page (the demo sends no real mail)."""

    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    sent = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent", "-pk"]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"
