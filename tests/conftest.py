from typing import Any

import pytest

from tests import _figures as figures


@pytest.fixture
def shopper(django_user_model):
    """A user with a known password and email."""
    return django_user_model.objects.create_user("alice", "alice@example.com", "s3cret-pass")


# Session-wide services of the reliability tests: a migrated PostgreSQL database
# for the app servers they start, and a local Redis Cluster.
from tests._servers import live_pg, redis_cluster_url  # noqa: E402,F401


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures the reliability tests counted (tests/_figures.py), for docs/reliability.md."""
    for title, line in figures.lines():
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(line)
