"""Every model of django-flowmachine: the database store's task records, the funnel's counters, and
the index of files kept for tasks."""

from __future__ import annotations

from django.db import models

__all__ = ["TaskRecord", "FunnelCount", "TaskFile"]


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


class TaskFile(models.Model):
    """A file kept for a task (:class:`flowmachine.files.KeptFile`): found and deleted by cleanup
    once its task is finished, expired or gone, whatever store the task is in."""

    task_id = models.CharField(max_length=64, db_index=True)
    storage = models.CharField(max_length=100)
    path = models.CharField(max_length=255)
    kept_at = models.DateTimeField(db_index=True)

    class Meta:
        app_label = "flowmachine"
        db_table = "flowmachine_taskfile"
        verbose_name = "kept file"
        constraints = [models.UniqueConstraint(fields=["storage", "path"], name="flowmachine_taskfile_path")]

    def __str__(self) -> str:
        return f"{self.task_id[:8]}… {self.path}"
