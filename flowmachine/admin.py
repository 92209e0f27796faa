"""Django admin for the database state store: live tasks, read-only, with an expire action.

Registered only when ``django.contrib.admin`` is installed. Records are shown
decoded (pretty JSON); with the ``diagrams`` extra a task's page also draws
its flow with the task's position highlighted.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from flowmachine import diagrams, registry
from flowmachine.backends.base import decode_record
from flowmachine.codec import json_default
from flowmachine.conf import flow_settings
from flowmachine.engine.sensitive import masked_record
from flowmachine.exceptions import CorruptStateError
from flowmachine.models import TaskRecord
from flowmachine.record import Record


def _cutoff() -> Any:
    return timezone.now() - timedelta(seconds=int(flow_settings.FLOWS_TASK_IDLE_TIMEOUT))


class StatusFilter(admin.SimpleListFilter):
    """Live (usable), finished (only the marker is left) or expired (awaiting cleanup)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "live"), ("finished", "finished"), ("expired", "expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[TaskRecord]) -> QuerySet[TaskRecord]:
        value = self.value()
        if value == "live":
            return queryset.filter(accessed__gte=_cutoff()).exclude(position="")
        if value == "finished":
            return queryset.filter(accessed__gte=_cutoff(), position="")
        if value == "expired":
            return queryset.filter(accessed__lt=_cutoff())
        return queryset


@admin.register(TaskRecord)
class TaskRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Flow tasks of the database store, for inspection; nothing can be edited here."""

    list_display = ("short_id", "flow", "position", "status", "age", "accessed", "user_id")
    list_filter = (StatusFilter, "flow", "position", "accessed")
    search_fields = ("=task_id", "=user_id")
    date_hierarchy = "accessed"
    ordering = ("-accessed",)
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) on millions of rows at each page view is costly
    actions = ["expire_tasks"]
    fields = (
        "task_id",
        "flow",
        "position",
        "status",
        "user_id",
        "version",
        "created",
        "accessed",
        "diagram",
        "decoded",
    )
    readonly_fields = fields

    # -- read-only -------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_expire_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("flowmachine.delete_taskrecord"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[TaskRecord]:
        return super().get_queryset(request).defer("data")

    # -- columns ----------------------------------------------------------------

    @admin.display(description="task", ordering="task_id")
    def short_id(self, obj: TaskRecord) -> str:
        return f"{obj.task_id[:8]}…"

    @admin.display(description="age", ordering="created")
    def age(self, obj: TaskRecord) -> str:
        return timesince(obj.created)

    @admin.display(description="status")
    def status(self, obj: TaskRecord) -> str:
        if obj.accessed < _cutoff():
            return "expired"
        return "finished" if not obj.position else "live"

    def _record(self, obj: TaskRecord) -> dict[str, Any] | None:
        try:
            return decode_record(bytes(obj.data))
        except CorruptStateError:
            return None

    @admin.display(description="record")
    def decoded(self, obj: TaskRecord) -> SafeString:
        record = self._record(obj)
        if record is None:
            return format_html("<p>{}</p>", "The record cannot be decoded.")
        shown = masked_record(record)  # sensitive values never appear here
        text = json.dumps(shown, indent=2, sort_keys=True, default=json_default, ensure_ascii=False)
        return format_html('<pre class="flowmachine-record">{}</pre>', text)

    @admin.display(description="diagram")
    def diagram(self, obj: TaskRecord) -> SafeString:
        record = self._record(obj)
        if record is None or not obj.position:
            return SafeString("-")
        return task_diagram(obj.flow, record)

    # -- actions ------------------------------------------------------------------

    @admin.action(description="Expire selected tasks", permissions=["expire"])
    def expire_tasks(self, request: HttpRequest, queryset: QuerySet[TaskRecord]) -> None:
        """Make the tasks expired now: their next request gets the expired page; cleanup removes them."""
        past = _cutoff() - timedelta(seconds=1)
        count = queryset.filter(accessed__gte=past).update(accessed=past)
        self.message_user(request, f"{count} task(s) expired.", messages.SUCCESS)


def task_diagram(flow_name: str, raw: dict[str, Any]) -> SafeString:
    """The task's flow drawn as SVG with its position highlighted, or a note why not."""
    compiled = registry.find_flow(flow_name)
    if compiled is None:
        return format_html("<p>{}</p>", f"No loaded handler serves the flow {flow_name!r}.")
    record = Record(raw)
    if not record.running or record.problems():
        return SafeString("-")
    try:
        graph = diagrams.flow_graph(compiled)
        highlight = diagrams.trace(graph, record.history, record.position)
        svg = diagrams.render(graph, "svg", highlight=highlight).decode()
    except diagrams.DiagramsUnavailable:
        return format_html("<p>{}</p>", f"Install the diagrams extra to see the flow: {diagrams.INSTALL_HINT}")
    except Exception as exc:  # a diagram must never break the admin page
        return format_html("<p>{}</p>", f"The diagram could not be drawn: {exc}")
    svg = svg[svg.find("<svg") :] if "<svg" in svg else svg
    return mark_safe(f'<div class="flowmachine-diagram">{svg}</div>')  # noqa: S308 - Graphviz output
