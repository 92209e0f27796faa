from django.apps import AppConfig, apps


class FlowmachineConfig(AppConfig):
    name = "flowmachine"
    verbose_name = "Flows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from flowmachine import checks  # noqa: F401  (registers the system checks)

        if apps.is_installed("django.contrib.auth"):
            from django.contrib.auth.signals import user_logged_out

            from flowmachine.handler import end_tasks_at_logout

            user_logged_out.connect(end_tasks_at_logout, dispatch_uid="flowmachine.end_tasks_at_logout")
