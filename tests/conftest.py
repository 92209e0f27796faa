import os
from typing import Any

import pytest
from django.conf import settings

from tests import _figures as figures
from tests import _services as services

#: Services that do not answer in this run (filled by pytest_configure).
MISSING: list[services.Service] = []
#: The collected tests skipped for want of them (a run that needs none of them can pass).
SKIPPED_FOR_SERVICE: list[str] = []


@pytest.fixture
def shopper(django_user_model):
    """A user with a known password and email."""
    return django_user_model.objects.create_user("alice", "alice@example.com", "s3cret-pass")


# Session-wide services of the reliability tests: a migrated PostgreSQL database
# for the app servers they start, and a local Redis Cluster.
from tests._servers import live_pg, redis_cluster_url  # noqa: E402,F401


def pytest_configure(config: Any) -> None:
    """Check the services once: one line for what is missing, never hundreds of tracebacks."""
    if services.postgres_selected():
        postgres = services.postgres_service()
        if not postgres.answers():
            pytest.exit(
                f"PostgreSQL does not answer at {postgres.address} (FLOWMACHINE_TEST_DB=postgres): start it, "
                f"or {postgres.how}.",
                returncode=3,
            )
    # Demo test files run in the demo's settings, which have no REDIS_URL of their own.
    url = getattr(settings, "REDIS_URL", None) or os.environ.get(
        "FLOWMACHINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"
    )
    redis = services.redis_service(url)
    if not redis.answers():
        MISSING.append(redis)
    if MISSING and os.environ.get("CI") == "true":
        pytest.exit("CI=true needs every service: " + "; ".join(_line(s) for s in MISSING), returncode=3)


def _line(service: services.Service) -> str:
    return f"{service.name} does not answer at {service.address}: its tests are skipped ({service.how})"


def pytest_report_header(config: Any) -> list[str]:
    lines = [f"database: {'PostgreSQL' if services.postgres_selected() else 'SQLite'} (FLOWMACHINE_TEST_DB)"]
    stray = services.stray_postgres_variables()
    if stray:
        lines.append(f"note: {', '.join(stray)} set, but the run uses SQLite: set FLOWMACHINE_TEST_DB=postgres")
    lines += [_line(s) for s in MISSING]
    return lines


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if not MISSING:
        return
    skip = pytest.mark.skip(reason=_line(MISSING[0]))
    for item in items:
        if services.needs_redis(item.nodeid) or item.get_closest_marker("redis"):
            item.add_marker(skip)
            SKIPPED_FOR_SERVICE.append(item.nodeid)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """A run that skipped tests for a missing service fails, so it is never taken for a full pass."""
    if SKIPPED_FOR_SERVICE and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures the reliability tests counted, and what was skipped for want of a service."""
    for title, line in figures.lines():
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(line)
    for service in MISSING:
        terminalreporter.write_sep("!", "missing service")
        if SKIPPED_FOR_SERVICE:
            terminalreporter.write_line(_line(service) + "; the run fails")
        else:
            terminalreporter.write_line(f"{service.name} does not answer at {service.address}: no test here needs it")
