"""The demo's settings as the throughput run serves them: DEBUG off, its own Redis key prefix and database.

Everything else is ``demo_site.settings`` unchanged (``FLOWS_DEMO_STORE=redis``
selects the Redis store there). ``FLOWMACHINE_BENCH_DEMO_PG`` (a JSON object:
NAME, HOST, PORT, USER, PASSWORD) puts the demo on PostgreSQL, sessions and
tasks alike, with persistent connections as a production site keeps them.
"""

import json
import os

from demo_site.settings import *

DEBUG = False
FLOWS_REDIS_KEY_PREFIX = os.environ.get("FLOWMACHINE_BENCH_REDIS_PREFIX", "flowmachine-demo:task:")
LOGGING = {"version": 1, "disable_existing_loggers": False, "loggers": {"flowmachine": {"level": "WARNING"}}}

if os.environ.get("FLOWMACHINE_BENCH_DEMO_PG"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            **json.loads(os.environ["FLOWMACHINE_BENCH_DEMO_PG"]),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {"connect_timeout": 5},
        }
    }
