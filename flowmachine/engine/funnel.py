"""Funnel analytics: how many tasks entered, completed and abandoned each step.

Turned on by ``FLOWS_FUNNEL``: ``"db"`` keeps one :class:`FunnelCount` row per
flow and step, incremented with ``F()`` in the request's transaction;
``"redis"`` keeps one hash per flow (``FLOWS_FUNNEL_KEY_PREFIX`` + flow name)
incremented with ``HINCRBY``. Each step is counted once per task, however
often the back button revisits it. The step ``__complete__`` counts finished
tasks.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, router, transaction
from django.db.models import F

from flowmachine.backends import redis as redis_store
from flowmachine.conf import flow_settings
from flowmachine.exceptions import TaskError
from flowmachine.models import FunnelCount

logger = logging.getLogger("flowmachine")

COUNTERS = ("entered", "completed", "abandoned")
BACKENDS = ("db", "redis")


def backend() -> str | None:
    """The configured funnel backend (``FLOWS_FUNNEL``), checked."""
    value = flow_settings.FLOWS_FUNNEL
    if value in (None, "", False):
        return None
    if value not in BACKENDS:
        raise ImproperlyConfigured(f"FLOWS_FUNNEL is {value!r}; use None, 'db' or 'redis'.")
    return str(value)


def enabled() -> bool:
    return backend() is not None


def add(flow: str, counts: Iterable[tuple[str, str]]) -> None:
    """Add one to each (action, counter) of *flow*."""
    totals = Counter(counts)
    if not totals:
        return
    kind = backend()
    if kind == "db":
        _add_db(flow, totals)
    elif kind == "redis":
        _add_redis(flow, totals)


def read(flow: str) -> dict[str, dict[str, int]]:
    """The counters of *flow*: {action: {"entered": n, "completed": n, "abandoned": n}}."""
    kind = backend()
    if kind == "db":
        rows = FunnelCount.objects.using(router.db_for_read(FunnelCount)).filter(flow=flow)
        return {row.action: {c: int(getattr(row, c)) for c in COUNTERS} for row in rows}
    if kind == "redis":
        raw = _client().hgetall(_key(flow))
        result: dict[str, dict[str, int]] = {}
        for field, value in raw.items():
            action, _, counter = field.decode().rpartition("|")
            if counter in COUNTERS:
                result.setdefault(action, dict.fromkeys(COUNTERS, 0))[counter] = int(value)
        for counters in result.values():
            for counter in COUNTERS:
                counters.setdefault(counter, 0)
        return result
    raise ImproperlyConfigured("Funnel analytics are off: set FLOWS_FUNNEL to 'db' or 'redis'.")


# -- db ------------------------------------------------------------------------


def _add_db(flow: str, totals: Counter[tuple[str, str]]) -> None:
    db = router.db_for_write(FunnelCount)
    per_action: dict[str, dict[str, int]] = {}
    for (action, counter), n in totals.items():
        per_action.setdefault(action, {})[counter] = n
    for action, increments in per_action.items():
        rows = FunnelCount.objects.using(db).filter(flow=flow, action=action)
        if rows.update(**{c: F(c) + n for c, n in increments.items()}):
            continue
        try:
            with transaction.atomic(using=db):
                FunnelCount.objects.using(db).create(flow=flow, action=action, **increments)
        except IntegrityError:  # created meanwhile by a concurrent request
            rows.update(**{c: F(c) + n for c, n in increments.items()})


# -- redis ---------------------------------------------------------------------


def _key(flow: str) -> str:
    return f"{flow_settings.FLOWS_FUNNEL_KEY_PREFIX}{flow}"


def _client() -> Any:
    """The state store's Redis client: the same server, Cluster or Sentinel master as the tasks."""
    if not redis_store.installed():
        raise ImproperlyConfigured('FLOWS_FUNNEL = "redis" needs redis-py: pip install "django-flowmachine[redis]"')
    return redis_store.get_client()


def _add_redis(flow: str, totals: Counter[tuple[str, str]]) -> None:
    try:
        with redis_store.translate_errors(f"funnel of {flow}"):
            pipe = _client().pipeline(transaction=False)
            for (action, counter), n in totals.items():
                pipe.hincrby(_key(flow), f"{action}|{counter}", n)
            pipe.execute()
    except TaskError as exc:
        # Analytics must never fail the user's step.
        logger.warning("Funnel counts of flow %s were not saved: %s", flow, exc)
