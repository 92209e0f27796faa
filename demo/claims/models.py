"""The claims the demo's claim journey creates: what happened, who saw it, and the document sent."""

from django.conf import settings
from django.db import models


class Claim(models.Model):
    """One finished claim; its document is the claim's own copy, not the journey's kept file."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims")
    incident_date = models.DateField()
    description = models.TextField()
    injured = models.BooleanField(default=False)
    injury = models.TextField(blank=True)
    #: Copied from the journey's kept file when the claim is saved (MEDIA_ROOT/claims/).
    document = models.FileField(upload_to="claims/")
    #: The file name as the claimant's computer called it, for display only.
    document_name = models.CharField(max_length=200)
    #: The kind of document its first bytes showed: "PDF", "PNG image", ...
    document_kind = models.CharField(max_length=20)
    #: The journey that created the claim: one claim per journey, however often "Submit" is clicked.
    task_id = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-pk"]

    @property
    def number(self) -> str:
        """The claim number the claimant is given."""
        return f"CLM-{self.pk:06d}"

    def __str__(self) -> str:
        return f"Claim {self.number} ({self.incident_date})"


class Witness(models.Model):
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="witnesses")
    name = models.CharField(max_length=100)
    phone = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name
