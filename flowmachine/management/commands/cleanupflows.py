"""``manage.py cleanupflows``: delete expired tasks of the state store."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowmachine.backends import get_store
from flowmachine.conf import flow_settings
from flowmachine.engine.cleanup import cleanup


class Command(BaseCommand):
    help = (
        "Delete tasks left unused for longer than FLOWS_TASK_IDLE_TIMEOUT. The database store "
        "is cleaned in batches, each in its own short transaction; Redis expires keys by itself."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count the expired tasks, delete nothing.")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Rows deleted per transaction (default FLOWS_CLEANUP_BATCH_SIZE, 1000).",
        )
        parser.add_argument(
            "--store",
            default=None,
            help="Store module to clean (default FLOWS_STATE_STORE), e.g. flowmachine.backends.tmpfile.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = options["batch_size"]
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        store = get_store(options["store"])
        started = time.monotonic()
        result = cleanup(store, batch_size=batch_size, dry_run=options["dry_run"])
        elapsed = time.monotonic() - started
        timeout = flow_settings.FLOWS_TASK_IDLE_TIMEOUT
        if result.note:
            self.stdout.write(result.note)
        elif result.dry_run:
            self.stdout.write(
                f"{result.removed} expired task(s) (idle over {timeout}s) would be deleted from {result.store}."
            )
        else:
            self.stdout.write(
                f"Deleted {result.removed} expired task(s) from {result.store} in {result.batches} batch(es), "
                f"{elapsed:.2f}s; {result.abandoned} had not finished."
            )
        if result.files:
            done = "would be deleted" if result.dry_run else "deleted"
            self.stdout.write(f"{result.files} kept file(s) of tasks that are gone {done}.")
