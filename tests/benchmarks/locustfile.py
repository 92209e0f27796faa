"""The throughput run's load, for locust: logged-in shoppers walking complete checkouts of the demo.

``tests.benchmarks.throughput`` runs it headless (``locust -f ... --headless``)
against the demo under gunicorn. Each simulated user logs in once (the
password hash is not what is measured), then repeats the checkout of
:data:`tests.benchmarks.shopping.CHECKOUT` with no pause. A completed checkout
is reported as a request of type ``CHECKOUT``, so locust counts them; at the
end the summary (checkouts, requests, failures, p50/p99 of the requests) is
written as JSON to ``FLOWMACHINE_BENCH_LOCUST_OUT``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from locust import HttpUser, constant, events, task
from locust.stats import StatsEntry

from tests.benchmarks.shopping import CHECKOUT, VALUES, Answer, WalkError, unexpected, walk

CHECKOUT_TYPE = "CHECKOUT"
LOGIN = "login"


class LocustBrowser:
    """The shopping browser over locust's HTTP client: each answer is checked and counted by locust."""

    def __init__(self, user: HttpUser) -> None:
        self.client = user.client

    def expect(self, method: str, url: str, status: int, data: dict[str, Any] | None = None) -> Answer:
        name = LOGIN if url.startswith("/login/") else url.split("?", 1)[0]
        with self.client.request(
            method, url, data=data, allow_redirects=False, catch_response=True, name=name
        ) as response:
            ok = response.status_code == status
            if not ok:
                response.failure(f"expected {status}, got {response.status_code}")
            answer = Answer(response.status_code, response.headers.get("Location", ""), response.text)
        if not ok:
            raise unexpected(method, url, status, answer.status, answer.body)
        return answer


class Shopper(HttpUser):
    """A logged-in user buying the same product again and again."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.browser = LocustBrowser(self)
        self.product = int(os.environ["FLOWMACHINE_BENCH_PRODUCT"])
        self.browser.expect("GET", "/login/", 200)
        credentials = {
            "username": os.environ["FLOWMACHINE_BENCH_USERNAME"],
            "password": os.environ["FLOWMACHINE_BENCH_PASSWORD"],
            "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
        }
        self.browser.expect("POST", "/login/", 302, credentials)

    @task
    def checkout(self) -> None:
        started = time.perf_counter()
        error: Exception | None = None
        try:
            walk(self.browser, self.product, CHECKOUT, VALUES)
        except WalkError as exc:
            error = exc
        events.request.fire(
            request_type=CHECKOUT_TYPE,
            name="checkout",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )


@events.quitting.add_listener
def write_summary(environment: Any, **kwargs: Any) -> None:
    """The run's figures as JSON: checkouts, and the requests' count, failures and percentiles."""
    path = os.environ.get("FLOWMACHINE_BENCH_LOCUST_OUT")
    if not path or environment.stats is None:
        return
    stats = environment.stats
    requests = StatsEntry(stats, "requests", "", use_response_times_cache=False)
    checkouts = stats.entries.get(("checkout", CHECKOUT_TYPE))
    for entry in stats.entries.values():
        if entry.method != CHECKOUT_TYPE and entry.name != LOGIN:
            requests.extend(entry)
    total = stats.total
    summary = {
        "checkouts": checkouts.num_requests - checkouts.num_failures if checkouts else 0,
        "failed_checkouts": checkouts.num_failures if checkouts else 0,
        "requests": requests.num_requests,
        "failures": sum(e.num_failures for e in stats.entries.values() if e.method != CHECKOUT_TYPE),
        "p50_ms": requests.get_response_time_percentile(0.5) if requests.num_requests else None,
        "p99_ms": requests.get_response_time_percentile(0.99) if requests.num_requests else None,
        "elapsed_s": max(0.0, total.last_request_timestamp - total.start_time) if total.num_requests else 0.0,
        "error_samples": [f"{e.method} {e.name}: {e.error}"[:300] for e in list(stats.errors.values())[:5]],
    }
    with open(path, "w") as out:
        json.dump(summary, out)
