"""Throughput: the demo checkout behind gunicorn (2 workers, Redis store) under a bounded load.

The load generator is a small multi-threaded HTTP client on loopback. Each
thread logs in once (the password hash is not what is measured) and then walks
complete checkouts: choose a product, continue as the logged-in user, pay with
a new card, confirm, see the done page. The run stops at a fixed time or
request budget, whichever comes first. Before the load, a few single walks
through the longest branches read the task's record from Redis after every
step, to find the demo record at its largest.
"""

from __future__ import annotations

import html
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flowmachine.backends.base import COMPRESSED_MARK

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo"


class WalkError(RuntimeError):
    """The demo answered something a correct checkout does not expect."""


@dataclass
class Answer:
    status: int
    location: str
    body: str
    latency_ns: int


class Browser:
    """A cookie-keeping HTTP client for one user, one connection per request."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.latencies: list[int] = []

    def request(self, method: str, url: str, data: dict[str, Any] | None = None) -> Answer:
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if method == "POST":
            payload = dict(data or {})
            if "csrftoken" in self.cookies:
                payload.setdefault("csrfmiddlewaretoken", self.cookies["csrftoken"])
            body = urlencode(payload, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            t0 = time.perf_counter_ns()
            conn.request(method, url, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
            latency = time.perf_counter_ns() - t0
            for raw in response.headers.get_all("Set-Cookie") or []:
                cookie: SimpleCookie = SimpleCookie()
                cookie.load(raw)
                for name, morsel in cookie.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
        finally:
            conn.close()
        self.latencies.append(latency)
        return Answer(response.status, response.getheader("Location", ""), content.decode("utf-8", "replace"), latency)

    def expect(self, method: str, url: str, status: int, data: dict[str, Any] | None = None) -> Answer:
        answer = self.request(method, url, data)
        if answer.status != status:
            errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', answer.body, re.DOTALL)
            detail = "; ".join(re.sub(r"<[^>]+>", " ", e).strip() for e in errors) or answer.body[:300]
            raise WalkError(f"{method} {url}: expected {status}, got {answer.status}: {detail!r}")
        return answer

    def log_in(self, username: str, password: str) -> None:
        self.expect("GET", "/login/", 200)
        self.expect("POST", "/login/", 302, {"username": username, "password": password})


@dataclass
class _Form:
    action: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)
    checkboxes: set[str] = field(default_factory=set)
    fields: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    """The POST forms of a page: hidden values, radio and select options, other field names."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._form: _Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        form = self._form
        if tag == "form" and a.get("method", "").lower() == "post":
            self._form = _Form(action=a.get("action", ""))
            self.forms.append(self._form)
        elif form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind == "hidden":
                form.hidden[a["name"]] = a.get("value", "")
            elif kind == "radio":
                form.options.setdefault(a["name"], []).append(a.get("value", ""))
            elif kind == "checkbox":
                form.checkboxes.add(a["name"])
            elif kind not in ("submit", "button"):
                form.fields.append(a["name"])
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            form.options[a["name"]] = []
        elif tag == "option" and self._select is not None:
            form.options[self._select].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            form.fields.append(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def fill_form(page: str, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The flow's form on *page* (the one carrying the task id): its action and the data to post.

    Hidden fields are posted back as they are; the others come from *values*
    by field name (a callable is called), radio buttons and selects default to
    their first option, checkboxes to unchecked.
    """
    parser = _FormParser()
    parser.feed(page)
    forms = [f for f in parser.forms if "_t" in f.hidden]
    if not forms:
        raise WalkError(f"no form with a task id on the page: {page[:300]!r}")
    form = forms[0]
    data: dict[str, Any] = dict(form.hidden)
    for name, options in form.options.items():
        value = values.get(name)
        data[name] = value if value is not None else options[0]
    for name in form.checkboxes:
        if values.get(name):
            data[name] = "on"
    for name in form.fields:
        value = values.get(name)
        data[name] = value() if callable(value) else (value if value is not None else "")
    return html.unescape(form.action), data


Step = tuple[str, Any]  # ("form", {field: value}) | ("link", label)


def walk(
    browser: Browser,
    product: int,
    plan: list[Step],
    values: dict[str, Any],
    on_step: Callable[[str], None] | None = None,
) -> None:
    """One checkout from the entry URL to the done page, following *plan*.

    Each page's form is filled from the step's own values, then *values*
    (by field name); hidden fields are posted back as they are.
    """
    url = browser.expect("GET", f"/buy/?product={product}", 302).location
    page = browser.expect("GET", url, 200).body
    task_id = parse_qs(urlsplit(url).query)["_t"][0]
    if on_step:
        on_step(task_id)
    for kind, arg in plan:
        if kind == "form":
            action, data = fill_form(page, {**values, **arg})
            location = browser.expect("POST", action or url, 302, data).location
        else:
            match = re.search(r'<a [^>]*href="([^"]+)"[^>]*>\s*' + re.escape(arg) + r"\s*</a>", page)
            if not match:
                raise WalkError(f"no link {arg!r} on {url}")
            location = browser.expect("GET", html.unescape(match.group(1)), 302).location
        if "_t=" not in location:
            browser.expect("GET", location, 200)
            return
        url = location
        page = browser.expect("GET", url, 200).body
        if on_step:
            on_step(task_id)
    raise WalkError(f"the checkout did not finish after {len(plan)} steps (at {url})")


#: The checkout every load thread repeats, logged in: 12 requests.
CHECKOUT: list[Step] = [
    ("form", {}),  # the product (from the entry URL's ?product=)
    ("form", {}),  # continue as the logged-in user
    ("form", {"method": "card"}),
    ("form", {}),  # the card
    ("form", {}),  # confirm and pay
]

#: Answers by field name, for every form of the demo.
VALUES: dict[str, Any] = {
    "number": "4242 4242 4242 4242",
    "expiry": "12/35",
    "holder": "Ada Lovelace",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "street": "12 Analytical Row",
    "postcode": "EC1A 1BB",
    "city": "London",
}


@dataclass
class Server:
    """gunicorn serving the demo, with its own SQLite file and Redis key prefix."""

    workdir: Path
    redis_url: str
    workers: int = 2
    prefix: str = field(default_factory=lambda: f"flowmachine-bench-demo-{secrets.token_hex(6)}:task:")
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    username: str = "demo"
    password: str = ""

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.benchmarks.demo_settings",
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(DEMO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                "FLOWS_DEMO_STORE": "redis",
                "FLOWS_DEMO_REDIS_URL": self.redis_url,
                "FLOWS_DEMO_DB": str(self.workdir / "demo.sqlite3"),
                "FLOWMACHINE_BENCH_REDIS_PREFIX": self.prefix,
                "FLOWS_DEMO_REDIS_PREFIX": self.prefix,
                # The demo's switch for a fast password hash: logging in is not what is measured.
                "FLOWS_DEMO_FAST_PASSWORDS": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    @property
    def stdout_path(self) -> Path:
        return self.workdir / "gunicorn.out"

    def start(self) -> None:
        manage = [sys.executable, str(DEMO / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=self.env, check=True, timeout=120)
        seeded = subprocess.run(
            [*manage, "seed_demo"], env=self.env, check=True, timeout=60, capture_output=True, text=True
        ).stdout
        self.username = re.search(r"user:\s*(\S+)", seeded).group(1)  # type: ignore[union-attr]
        self.password = re.search(r"Password:\s*(\S+)", seeded).group(1)  # type: ignore[union-attr]
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        with open(self.stdout_path, "wb") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--workers",
                    str(self.workers),
                    "--worker-class",
                    "sync",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--chdir",
                    str(DEMO),
                    "--log-level",
                    "warning",
                    "--timeout",
                    "30",
                    "demo_site.wsgi:application",
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.stdout_path.read_text()[-2000:]}")
            try:
                if Browser(self.port, timeout=2).request("GET", "/").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._remove_keys()

    def _remove_keys(self) -> None:
        import redis

        with redis.Redis.from_url(self.redis_url) as client:
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])

    def last_code(self) -> str:
        codes = re.findall(r"Your code is (\d{6})", self.stdout_path.read_text(errors="replace"))
        if not codes:
            raise WalkError("no password-reset code in the demo's email output")
        return codes[-1]


def _product(server: Server) -> int:
    browser = Browser(server.port)
    url = browser.expect("GET", "/buy/", 302).location
    page = browser.expect("GET", url, 200).body
    match = re.search(r'name="product" value="(\d+)"', page)
    if not match:
        raise WalkError("no product on the demo's first step")
    return int(match.group(1))


def largest_records(server: Server, product: int) -> tuple[dict[str, int], dict[str, int]]:
    """Walk the longest branches once each: the largest record seen on each, as stored and as plain msgpack."""
    import redis

    client = redis.Redis.from_url(server.redis_url)
    largest: dict[str, int] = {}
    uncompressed: dict[str, int] = {}

    def measure(path: str) -> Callable[[str], None]:
        def on_step(task_id: str) -> None:
            raw = client.get(f"{server.prefix}{task_id}")
            if raw is not None:
                body = raw.partition(b"\n")[2]  # the store's "<version>\n" prefix is not the record
                largest[path] = max(largest.get(path, 0), len(body))
                plain = len(zlib.decompress(body[1:])) if body[:1] == COMPRESSED_MARK else len(body)
                uncompressed[path] = max(uncompressed.get(path, 0), plain)

        return on_step

    suffix = secrets.token_hex(4)
    email, password = f"shopper{suffix}@example.com", f"Tq8!{secrets.token_urlsafe(12)}"
    account = {
        "username": f"shopper{suffix}",
        "email": email,
        "password1": password,
        "password2": password,
        "new_password1": password + "2",
        "new_password2": password + "2",
        "code": server.last_code,
    }
    bank = [("form", {"method": "bank"}), ("form", {}), ("form", {}), ("form", {})]
    plans: dict[str, list[Step]] = {
        "logged in, new card": CHECKOUT,
        "log in, bank account": [
            ("form", {}),
            ("form", {"username": server.username, "password": server.password}),
            *bank,
        ],
        "register, bank account": [("form", {}), ("link", "Create an account"), ("form", account), *bank],
        "forgot password, bank account": [
            ("form", {}),
            ("link", "Forgot your password?"),
            ("form", {"email": email}),
            ("form", account),
            ("form", account),
            *bank,
        ],
    }
    logged_in = Browser(server.port)
    logged_in.log_in(server.username, server.password)
    try:
        for name, plan in plans.items():
            browser = logged_in if name.startswith("logged in") else Browser(server.port)
            walk(browser, product, plan, VALUES, measure(name))
    finally:
        client.close()
    return largest, uncompressed


@dataclass
class _Budget:
    requests: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, count: int) -> bool:
        with self.lock:
            if self.requests < count:
                return False
            self.requests -= count
            return True


def run_load(server: Server, product: int, duration: float, threads: int, max_requests: int) -> dict[str, Any]:
    """Walk checkouts from *threads* logged-in clients for *duration* seconds (or *max_requests*)."""
    plan = CHECKOUT
    per_checkout = 2 + 2 * len(plan)
    budget = _Budget(max_requests)
    browsers = [Browser(server.port) for _ in range(threads)]
    for browser in browsers:
        browser.log_in(server.username, server.password)
        browser.latencies.clear()
    completed = [0] * threads
    errors: list[str] = []
    start_line = threading.Barrier(threads + 1)
    deadline = 0.0

    def worker(index: int) -> None:
        browser = browsers[index]
        start_line.wait()
        while time.monotonic() < deadline and budget.take(per_checkout):
            try:
                walk(browser, product, plan, VALUES)
                completed[index] += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
                errors.append(f"{type(exc).__name__}: {exc}"[:300])

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    deadline = time.monotonic() + duration
    t0 = time.perf_counter()
    start_line.wait()
    for thread in pool:
        thread.join(duration + 60)
    elapsed = time.perf_counter() - t0
    latencies = sorted(ns / 1e6 for b in browsers for ns in b.latencies)

    def pct(q: float) -> float | None:
        return latencies[max(0, int(q * len(latencies) + 0.999999) - 1)] if latencies else None

    return {
        "duration_s": elapsed,
        "threads": threads,
        "workers": server.workers,
        "checkouts": sum(completed),
        "checkouts_per_s": sum(completed) / elapsed,
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "requests_per_checkout": per_checkout,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "errors": len(errors),
        "error_samples": errors[:5],
    }


def run(workdir: Path, redis_url: str, duration: float, threads: int, max_requests: int) -> dict[str, Any]:
    """Start the demo under gunicorn, find its largest record, load it, stop it."""
    server = Server(workdir=workdir, redis_url=redis_url)
    try:
        server.start()
        product = _product(server)
        records, plain = largest_records(server, product)
        result = run_load(server, product, duration, threads, max_requests)
    finally:
        server.stop()
    result["demo_record_bytes"] = records
    result["demo_record_bytes_uncompressed"] = plain
    result["demo_record_bytes_max"] = max(records.values()) if records else None
    return result
