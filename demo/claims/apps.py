from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = "Demo insurance claims"
    default_auto_field = "django.db.models.BigAutoField"
