"""Create the demo user (with a saved card) and products; running it again changes nothing."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from shop.models import Product, SavedPaymentMethod

USERNAME = "demo"
PASSWORD = "demo-pass-123"
EMAIL = "demo@example.com"
SAVED_CARD = "Card ending 4242 (expires 12/30)"

PRODUCTS = [
    ("field-notebook", "Field notebook", "Dot grid, 96 pages, fits a pocket.", Decimal("12.00")),
    ("desk-lamp", "Desk lamp", "Warm LED, dimmable, brushed steel.", Decimal("39.00")),
]


class Command(BaseCommand):
    help = "Create the demo user and products (idempotent) and print the credentials."

    def handle(self, *args, **options):
        user, created = get_user_model().objects.get_or_create(username=USERNAME, defaults={"email": EMAIL})
        if created or not user.check_password(PASSWORD) or not user.is_active:
            user.set_password(PASSWORD)
            user.is_active = True
            user.save()
        SavedPaymentMethod.objects.get_or_create(user=user, label=SAVED_CARD, defaults={"kind": "card"})
        for slug, name, description, price in PRODUCTS:
            Product.objects.update_or_create(
                slug=slug, defaults={"name": name, "description": description, "price": price}
            )
        self.stdout.write(f"Demo user: {USERNAME}")
        self.stdout.write(f"Password:  {PASSWORD}")
        self.stdout.write(f"Saved payment method: {SAVED_CARD}")
