"""Figures the reliability tests count (outages survived, 503 answers, records lost), printed once.

A test module registers a line with :func:`report`; the suite's
``pytest_terminal_summary`` hook (tests/conftest.py) prints every line that
has something to say after the run, for docs/reliability.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

_reports: dict[str, Callable[[], str | None]] = {}


def report(title: str, line: Callable[[], str | None]) -> None:
    """Print ``line()`` under *title* after the run (nothing when it returns None)."""
    _reports[title] = line


def lines() -> Iterator[tuple[str, str]]:
    for title, line in _reports.items():
        text = line()
        if text:
            yield title, text
