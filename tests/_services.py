"""Which services the suite needs, whether they answer, and what it does when one does not.

PostgreSQL is needed when ``FLOWMACHINE_TEST_DB=postgres`` selects it: without
it nothing can run, so the run stops at once with one line saying how to
provide it. Redis is needed by the tests of the Redis store (and the Celery
broker): without it those tests are skipped with one line, the rest run, and
the run fails at the end. Under ``CI=true`` every service is mandatory.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Words in a test's id that mark it as needing the Redis server.
REDIS_WORDS = ("redis", "celery", "sentinel", "cluster")


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int
    how: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                return True
        except OSError:
            return False


def redis_service(url: str) -> Service:
    parts = urlsplit(url)
    return Service("Redis", parts.hostname or "127.0.0.1", parts.port or 6379, "set FLOWMACHINE_TEST_REDIS_URL")


def postgres_service() -> Service:
    return Service(
        "PostgreSQL",
        os.environ.get("FLOWMACHINE_TEST_PG_HOST", "127.0.0.1"),
        int(os.environ.get("FLOWMACHINE_TEST_PG_PORT", "5432")),
        "set FLOWMACHINE_TEST_PG_HOST/_PORT/_USER/_PASSWORD/_NAME, or run without FLOWMACHINE_TEST_DB=postgres",
    )


def postgres_selected() -> bool:
    return os.environ.get("FLOWMACHINE_TEST_DB", "sqlite") == "postgres"


def stray_postgres_variables() -> list[str]:
    """PostgreSQL variables set while the run uses SQLite (they would be silently ignored)."""
    if postgres_selected():
        return []
    return sorted(k for k in os.environ if k.startswith("FLOWMACHINE_TEST_PG_") and k != "FLOWMACHINE_TEST_PG_NAME")


def needs_redis(nodeid: str) -> bool:
    return any(word in nodeid.lower() for word in REDIS_WORDS)
