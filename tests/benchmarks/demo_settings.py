"""The demo's settings as the throughput run serves them: DEBUG off, its own Redis key prefix.

Everything else is ``demo_site.settings`` unchanged (``FLOWS_DEMO_STORE=redis``
selects the Redis store there).
"""

import os

from demo_site.settings import *

DEBUG = False
FLOWS_REDIS_KEY_PREFIX = os.environ.get("FLOWMACHINE_BENCH_REDIS_PREFIX", "flowmachine-demo:task:")
LOGGING = {"version": 1, "disable_existing_loggers": False, "loggers": {"flowmachine": {"level": "WARNING"}}}
