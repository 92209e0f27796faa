"""Telling a store's reads from its writes in captured SQL."""

from __future__ import annotations

import re

#: The database store's locked read on SQLite: a no-op write that takes the write lock and returns the row.
_LOCKED_READ = re.compile(
    r'^UPDATE\s+"FLOWMACHINE_TASKRECORD"\s+SET\s+"VERSION"\s*=\s*"VERSION"\s.*\sRETURNING\s', re.S
)


def is_read(sql: str) -> bool:
    """Whether *sql* only reads: a SELECT, or the database store's locked read on SQLite."""
    text = sql.lstrip().upper()
    return text.startswith("SELECT") or bool(_LOCKED_READ.match(text))
