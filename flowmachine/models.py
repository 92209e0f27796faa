"""Every model of django-flowmachine: the database store's task records and the funnel's counters."""

from __future__ import annotations

from django.db import models

__all__ = ["TaskRecord", "FunnelCount"]


class TaskRecord(models.Model):
    """The stored state of one task."""

    task_id = models.CharField(max_length=64, primary_key=True)
    version = models.PositiveIntegerField()
    data = models.BinaryField()
    created = models.DateTimeField()
    accessed = models.DateTimeField(db_index=True)
    # Copies of record fields, for the admin's list and filters.
    flow = models.CharField(max_length=200, default="", db_index=True)
    position = models.CharField(max_length=255, default="")
    user_id = models.CharField(max_length=64, default="", blank=True)

    class Meta:
        app_label = "flowmachine"
        db_table = "flowmachine_taskrecord"
        verbose_name = "flow task"

    def __str__(self) -> str:
        return self.task_id


class FunnelCount(models.Model):
    """The funnel counters of one step of one flow."""

    flow = models.CharField(max_length=200)
    action = models.CharField(max_length=255)
    entered = models.PositiveBigIntegerField(default=0)
    completed = models.PositiveBigIntegerField(default=0)
    abandoned = models.PositiveBigIntegerField(default=0)

    class Meta:
        app_label = "flowmachine"
        db_table = "flowmachine_funnelcount"
        verbose_name = "funnel count"
        constraints = [models.UniqueConstraint(fields=["flow", "action"], name="flowmachine_funnel_flow_action")]

    def __str__(self) -> str:
        return f"{self.flow} {self.action}"
