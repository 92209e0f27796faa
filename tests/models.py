from django.db import models


class Order(models.Model):
    """What the test checkout's last step creates."""

    item = models.CharField(max_length=50)
    payment = models.CharField(max_length=50)
    task_id = models.CharField(max_length=64)

    class Meta:
        app_label = "tests"


class Evidence(models.Model):
    """What the file-keeping test flow's last step creates: a document copied into its own field."""

    document = models.FileField(upload_to="evidence/")
    task_id = models.CharField(max_length=64)

    class Meta:
        app_label = "tests"


class Witness(models.Model):
    """A row of the formset tests' model formsets (an order's witnesses, inline)."""

    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="witnesses")
    name = models.CharField(max_length=50)
    phone = models.CharField(max_length=20, blank=True)

    class Meta:
        app_label = "tests"
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name
