from django.apps import AppConfig


class FlowmachineConfig(AppConfig):
    name = "flowmachine"
    verbose_name = "Flows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from flowmachine import checks  # noqa: F401  (registers the system checks)
