"""``manage.py flowtask export TASK_ID``: print a task's journal as JSON, for replay() in a test."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowmachine.backends import get_store
from flowmachine.codec import json_default
from flowmachine.conf import flow_settings
from flowmachine.engine.ids import is_valid_task_id
from flowmachine.engine.sensitive import masked_record
from flowmachine.exceptions import TaskError

#: What a redacted value becomes in an export.
REDACTED = "<redacted>"


def redactor(setting: Any) -> Any:
    """A function deciding from a key whether its value is redacted, per ``FLOWS_EXPORT_REDACT``."""
    if setting is True:
        return lambda key: True
    if not setting:
        return lambda key: False
    if isinstance(setting, str):
        setting = [setting]
    keys = set(setting)
    return lambda key: key in keys


def _redact(values: dict[str, Any], hide: Any) -> dict[str, Any]:
    return {k: (REDACTED if hide(k) else v) for k, v in values.items()}


def export_record(task_id: str, record: dict[str, Any], redact: Any = None) -> dict[str, Any]:
    """The JSON-ready export of a stored task record, values redacted per *redact* (default: the setting)."""
    hide = redactor(flow_settings.FLOWS_EXPORT_REDACT if redact is None else redact)
    record = masked_record(record)  # sensitive values stay masked whatever FLOWS_EXPORT_REDACT says
    journal = []
    for entry in record.get("jrnl", []):
        item: dict[str, Any] = {"at": entry[0], "event": entry[1], "to": entry[2]}
        if len(entry) > 3 and isinstance(entry[3], dict):
            item["set"] = _redact(entry[3], hide)
        if len(entry) > 4:
            item["unset"] = list(entry[4])
        journal.append(item)
    finished = "done" in record
    return {
        "task": task_id,
        "flow": record.get("flow"),
        "version": record.get("version"),
        "finished": finished,
        "position": None if finished else record.get("pos"),
        "state": {} if finished else _redact(dict(record.get("data") or {}), hide),
        "journal": journal,
    }


class Command(BaseCommand):
    help = "Work with stored flow tasks. 'export TASK_ID' prints a task's journal as JSON for replay()."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Print a task's position, state and journal as JSON.")
        export.add_argument(
            "task_id", help="The task id (the _t query parameter of its URLs); put -- before an id starting with -."
        )
        export.add_argument(
            "--store",
            default=None,
            help="Dotted path of the store module (default: FLOWS_STATE_STORE).",
        )
        export.add_argument("--indent", type=int, default=2, help="JSON indent (default 2).")

    def handle(self, *args: Any, **options: Any) -> None:
        task_id = options["task_id"]
        if not is_valid_task_id(task_id):
            raise CommandError(f"{task_id!r} is not a task id: ids are 32 url-safe base64 characters.")
        try:
            record = get_store(options["store"]).get_state(task_id)
        except TaskError as exc:
            raise CommandError(f"Task {task_id} cannot be read: {exc}") from exc
        if record is None:
            raise CommandError(f"No task {task_id} in the store: it finished long ago, expired, or never existed.")
        data = export_record(task_id, record)
        self.stdout.write(json.dumps(data, indent=options["indent"] or None, default=json_default, ensure_ascii=False))
