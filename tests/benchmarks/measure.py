"""Walking the variants through the Django test client: timed walks and counted walks.

A *step* is what takes a user from one page to the next: the POST of a form
and, where the view answers with a redirect, the GET that follows (the floor
and flowmachine redirect after a POST; the wizard renders the next form in the
POST's response). The last step includes the done page.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flowmachine.backends.base import encode_record
from tests._sql import RoundTrips
from tests.benchmarks.config import SESSION_DB
from tests.benchmarks.flows import FORM_DATA, STEPS


class BenchmarkError(RuntimeError):
    """A variant answered something other than what a correct walk expects."""


def _expect(response: Any, status: int, what: str) -> Any:
    if response.status_code != status:
        raise BenchmarkError(f"{what}: expected HTTP {status}, got {response.status_code}: {response.content[:300]!r}")
    return response


@dataclass
class RequestCount:
    """What one request cost in counted work."""

    method: str
    store_sql: int = 0
    sql: int = 0
    redis: int = 0


Hook = Callable[[str, Callable[[], Any]], Any]


def _plain(method: str, send: Callable[[], Any]) -> Any:
    return send()


class Variant:
    """One way of serving the N-step form, walked by its own client (its own session)."""

    key = ""
    label = ""
    store: Any = None
    #: The database of this variant's sessions (see tests.benchmarks.config.SessionRouter).
    alias = "default"
    #: What is posted on each step.
    data: dict[str, str] = FORM_DATA

    def __init__(self) -> None:
        self.client = Client()
        self.hook: Hook = _plain

    def _send(self, send: Callable[[], Any]) -> Any:
        token = SESSION_DB.set(self.alias)
        try:
            return send()
        finally:
            SESSION_DB.reset(token)

    def get(self, url: str) -> Any:
        return self.hook("GET", lambda: self._send(lambda: self.client.get(url)))

    def post(self, url: str, data: dict[str, Any]) -> Any:
        return self.hook("POST", lambda: self._send(lambda: self.client.post(url, data)))

    def start(self) -> None:
        raise NotImplementedError

    def step(self, index: int) -> None:
        """Submit step *index* (0-based) and load whatever page comes next."""
        raise NotImplementedError

    def steps(self) -> int:
        return STEPS

    def record_size(self) -> int | None:
        return None


class Floor(Variant):
    key, label = "floor", "(a) FormView + session (floor)"

    def start(self) -> None:
        _expect(self.get("/floor/1/"), 200, "floor start")

    def step(self, index: int) -> None:
        response = _expect(self.post(f"/floor/{index + 1}/", self.data), 302, f"floor step {index + 1}")
        _expect(self.get(response["Location"]), 200, f"floor page after step {index + 1}")


class Wizard(Variant):
    key, label = "wizard", "(b) formtools SessionWizardView"
    url = "/wizard/"

    def start(self) -> None:
        _expect(self.get(self.url), 200, "wizard start")

    def step(self, index: int) -> None:
        data = {"bench_wizard-current_step": str(index), **{f"{index}-{k}": v for k, v in self.data.items()}}
        if index < STEPS - 1:
            response = _expect(self.post(self.url, data), 200, f"wizard step {index + 1}")
            if f'value="{index + 1}"' not in response.content.decode():
                raise BenchmarkError(f"wizard step {index + 1} did not move on: {response.content[:500]!r}")
        else:
            response = _expect(self.post(self.url, data), 302, "wizard last step")
            _expect(self.get(response["Location"]), 200, "done page")


class Flow(Variant):
    """A flowmachine flow served at *entry*; a walk may stop after some steps."""

    def __init__(self, key: str, label: str, entry: str, store: Any, steps: int = STEPS) -> None:
        super().__init__()
        self.key, self.label, self.entry, self.store = key, label, entry, store
        self._steps = steps
        self.url = ""

    @property
    def task_id(self) -> str:
        return parse_qs(urlsplit(self.url).query)["_t"][0]

    def steps(self) -> int:
        return self._steps

    def start(self) -> None:
        response = _expect(self.get(self.entry), 302, f"{self.key} entry")
        self.url = response["Location"]
        _expect(self.get(self.url), 200, f"{self.key} first page")

    def step(self, index: int) -> None:
        response = _expect(self.post(self.url, {"_t": self.task_id, **self.data}), 302, f"{self.key} step {index + 1}")
        location = response["Location"]
        _expect(self.get(location), 200, f"{self.key} page after step {index + 1}")
        if "_t=" in location:
            self.url = location

    def record_size(self) -> int | None:
        """Bytes of the task's record as the store writes it (msgpack, compressed when large)."""
        record = self.store.get_state(self.task_id)
        return None if record is None else len(encode_record(record))


# -- statistics ------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank *q*-quantile (0 < q <= 1) of *values*."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(samples_ns: list[int], cpu_ns: list[int] | None = None) -> dict[str, Any]:
    """Median, p90, min and mean of wall-time samples (and the median CPU time), in ms."""
    ms = [s / 1e6 for s in samples_ns]
    result = {
        "n": len(ms),
        "median_ms": percentile(ms, 0.5),
        "p90_ms": percentile(ms, 0.9),
        "min_ms": min(ms),
        "mean_ms": sum(ms) / len(ms),
    }
    if cpu_ns:
        result["cpu_median_ms"] = percentile([s / 1e6 for s in cpu_ns], 0.5)
    return result


# -- timed walks ----------------------------------------------------------------


@dataclass
class Timings:
    start: list[int] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    #: CPU time of this process per step: less sensitive to a busy machine than wall time.
    step_cpu: list[int] = field(default_factory=list)


def time_walks(
    variants: list[Variant], walks: int, warmup: int, step_range: Iterable[int] | None = None
) -> dict[str, Timings]:
    """Walk every variant *warmup* + *walks* times, interleaved, keeping the last *walks*.

    The variants take turns walk by walk (in a rotating order), so machine
    noise falls on all of them alike.
    """
    results = {v.key: Timings() for v in variants}
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    gc.collect()
    for walk in range(warmup + walks):
        shift = walk % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            keep = walk >= warmup
            timings = results[variant.key]
            t0 = clock()
            variant.start()
            if keep:
                timings.start.append(clock() - t0)
            indexes = step_range if step_range is not None else range(variant.steps())
            for index in indexes:
                c0 = cpu()
                t0 = clock()
                variant.step(index)
                if keep:
                    timings.step.append(clock() - t0)
                    timings.step_cpu.append(cpu() - c0)
    return results


# -- counted walks ----------------------------------------------------------------


def _counting_redis(store: Any, counter: list[int]) -> Callable[[], None]:
    """Count every command the store's redis client sends; return the undo."""
    client = getattr(store, "client", None)
    if client is None:
        return lambda: None
    original = client.execute_command

    def counting(*args: Any, **options: Any) -> Any:
        counter[0] += 1
        return original(*args, **options)

    client.execute_command = counting
    return lambda: delattr(client, "execute_command")


def counted_walk(variant: Variant, step_range: Iterable[int] | None = None) -> dict[str, Any]:
    """Walk once in a new browser, counting SQL queries (all databases) and Redis commands per request.

    A new browser: after the timed walks, the variant's own session holds more
    than ``FLOWS_MAX_TASKS_PER_SESSION`` tasks, and each new one removes the
    oldest (one statement or command more, on that request only).
    """
    requests: list[RequestCount] = []
    per_step: list[list[RequestCount]] = []
    sizes: list[int] = []
    redis_counter = [0]
    undo = _counting_redis(variant.store, redis_counter)
    variant.client = Client()

    def hook(method: str, send: Callable[[], Any]) -> Any:
        with ExitStack() as stack:
            captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections]
            before = redis_counter[0]
            response = send()
        sql = [q["sql"] for c in captured for q in c.captured_queries]
        count = RequestCount(
            method, sum("flowmachine_taskrecord" in s for s in sql), len(sql), redis_counter[0] - before
        )
        requests.append(count)
        per_step[-1].append(count)
        return response

    variant.hook = hook
    try:
        per_step.append([])
        variant.start()
        size = variant.record_size()
        if size is not None:
            sizes.append(size)
        indexes = step_range if step_range is not None else range(variant.steps())
        for index in indexes:
            per_step.append([])
            variant.step(index)
            size = variant.record_size()
            if size is not None:
                sizes.append(size)
    finally:
        variant.hook = _plain
        undo()
    steps = per_step[1:]
    return {
        "store_sql_per_request_max": max(r.store_sql for r in requests),
        "store_sql_per_step": max(sum(r.store_sql for r in s) for s in steps),
        "sql_per_step": max(sum(r.sql for r in s) for s in steps),
        "redis_per_request_max": max(r.redis for r in requests),
        "redis_per_step": max(sum(r.redis for r in s) for s in steps),
        "record_bytes_max": max(sizes) if sizes else None,
        "requests_per_step": sum(len(s) for s in steps) / len(steps),
        "requests": [r.__dict__ for r in requests],
    }


# -- the production setup ---------------------------------------------------------


class PlainFloor(Variant):
    """The production setup's floor: an empty form on GET, the data saved in the session on POST."""

    def __init__(self, key: str, label: str, prefix: str) -> None:
        super().__init__()
        self.key, self.label, self.prefix = key, label, prefix

    def start(self) -> None:
        _expect(self.get(f"{self.prefix}floor/1/"), 200, f"{self.key} start")

    def step(self, index: int) -> None:
        response = _expect(self.post(f"{self.prefix}floor/{index + 1}/", self.data), 302, f"{self.key} {index + 1}")
        _expect(self.get(response["Location"]), 200, f"{self.key} page after step {index + 1}")


def production_variants(db: str, fields: int, spec: dict[str, Any], data: dict[str, str]) -> list[Variant]:
    """The floor, the wizard and flowmachine on each store, for one database and form size."""
    prefix, alias = spec["prefix"], spec["alias"]
    variants: list[Variant] = [PlainFloor(f"{db}-{fields}-floor", "FormView + session (floor)", prefix)]
    wizard = Wizard()
    wizard.key, wizard.label, wizard.url = f"{db}-{fields}-wizard", "formtools SessionWizardView", f"{prefix}wizard/"
    variants.append(wizard)
    for kind, store in spec["stores"].items():
        label = f"flowmachine, {kind} store"
        variants.append(Flow(f"{db}-{fields}-fm-{kind}", label, f"{prefix}fm-{kind}/start/", store))
    for variant in variants:
        variant.alias, variant.data = alias, data
    return variants


def time_journeys(variants: list[Variant], walks: int, warmup: int) -> dict[str, Timings]:
    """Walk every variant's whole journey (first page to done page) *warmup* + *walks* times, interleaved.

    ``Timings.step`` holds the time of each journey divided by its steps, so the
    first page, the first step's writes and the done page are all counted.
    """
    results = {v.key: Timings() for v in variants}
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    gc.collect()
    for walk in range(warmup + walks):
        shift = walk % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            c0 = cpu()
            t0 = clock()
            variant.start()
            for index in range(variant.steps()):
                variant.step(index)
            if walk >= warmup:
                results[variant.key].step.append((clock() - t0) // variant.steps())
                results[variant.key].step_cpu.append((cpu() - c0) // variant.steps())
    return results


def counted_journey(variant: Variant) -> dict[str, Any]:
    """One whole journey, counting SQL statements (Django's log, every database) and, on PostgreSQL,
    the round trips libpq made; with each request's statements, for the statement log."""
    requests: list[dict[str, Any]] = []
    redis_counter = [0]
    undo = _counting_redis(variant.store, redis_counter)
    pg = "pg" in connections.settings and variant.alias == "pg"
    phase = [0]  # 0: the first page; n: step n

    def hook(method: str, send: Callable[[], Any]) -> Any:
        with ExitStack() as stack:
            trace = stack.enter_context(RoundTrips(connections["pg"])) if pg else None
            captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections]
            before = redis_counter[0]
            response = send()
        sql = [q["sql"] for c in captured for q in c.captured_queries]
        entry = {
            "method": method,
            "status": response.status_code,
            "step": phase[0],
            "sql": sql,
            "redis": redis_counter[0] - before,
        }
        if trace is not None:
            entry["round_trips"] = trace.count
        requests.append(entry)
        return response

    variant.hook = hook
    try:
        variant.start()
        for index in range(variant.steps()):
            phase[0] = index + 1
            variant.step(index)
    finally:
        variant.hook = _plain
        undo()

    def sent(request: dict[str, Any]) -> int:
        return int(request.get("round_trips", len(request["sql"])))

    result: dict[str, Any] = {
        "statements": sum(len(r["sql"]) for r in requests),
        "redis_commands": sum(r["redis"] for r in requests),
        # What each part of the journey sent: [the first page, step 1, ..., step N].
        "sent_per_step": [sum(sent(r) for r in requests if r["step"] == n) for n in range(variant.steps() + 1)],
        "requests": requests,
    }
    if pg:
        result["round_trips"] = sum(r["round_trips"] for r in requests)
    return result
