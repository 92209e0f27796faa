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
