"""The Celery app of the worker started by tests/integrations/test_celery.py.

Broker and queue come from the environment so each test run uses its own
queue on the shared broker.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("flowmachine_tests")
app.conf.update(
    broker_url=os.environ.get("FLOWMACHINE_TEST_CELERY_BROKER", "redis://127.0.0.1:6379/0"),
    result_backend=os.environ.get("FLOWMACHINE_TEST_CELERY_BACKEND", "redis://127.0.0.1:6379/0"),
    task_default_queue=os.environ.get("FLOWMACHINE_TEST_CELERY_QUEUE", "flowmachine-tests"),
    result_expires=600,
    imports=["flowmachine.contrib.celery"],
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    # The beat schedule documented in docs/integrations.md.
    beat_schedule={"flowmachine-cleanup": {"task": "flowmachine.cleanup", "schedule": 600.0}},
)
