"""Telling a store's reads from its writes in captured SQL, and counting what PostgreSQL was sent."""

from __future__ import annotations

import re
import tempfile
from typing import Any

#: The database store's locked read on SQLite: a no-op write that takes the write lock and returns the row.
_LOCKED_READ = re.compile(
    r'^UPDATE\s+"FLOWMACHINE_TASKRECORD"\s+SET\s+"VERSION"\s*=\s*"VERSION"\s.*\sRETURNING\s', re.S
)


def is_read(sql: str) -> bool:
    """Whether *sql* only reads: a SELECT, or the database store's locked read on SQLite."""
    text = sql.lstrip().upper()
    return text.startswith("SELECT") or bool(_LOCKED_READ.match(text))


class RoundTrips:
    """Count the round trips libpq makes on a PostgreSQL connection (each ends with ReadyForQuery).

    What Django logs is not quite what is sent: with psycopg, ``BEGIN`` goes out
    only before a transaction's first statement, and ``COMMIT`` only if one ran.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.count = 0
        self.lines: list[str] = []

    def __enter__(self) -> RoundTrips:
        import psycopg

        self.connection.ensure_connection()
        self.pgconn = self.connection.connection.pgconn
        self.file = tempfile.TemporaryFile()
        self.pgconn.trace(self.file.fileno())
        self.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.pgconn.untrace()
        self.file.seek(0)
        self.lines = self.file.read().decode("utf-8", "replace").splitlines()
        self.file.close()
        self.count = sum(1 for line in self.lines if line.startswith("B\t") and "\tReadyForQuery\t" in line)
