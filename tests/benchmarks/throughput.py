"""Throughput: the demo checkout behind gunicorn (4 workers) under a load driven by locust.

For each store (the database store, on PostgreSQL where the benchmark has it,
and the Redis store) the demo is served by gunicorn with ``DEBUG`` off and its
own database (PostgreSQL, else a SQLite file), migrated and seeded. Before the
load, single walks through the longest branches read the task's record after
every step, to find the demo record at its largest. Then locust
(``locustfile.py``, headless, for a fixed time) runs logged-in shoppers that
walk complete checkouts with no pause: choose a product, continue as the
logged-in user, pay with a new card, confirm, see the done page (12 requests).
Reported: checkouts per second, p50 and p99 of the requests, and the errors.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowmachine.backends.base import COMPRESSED_MARK
from tests.benchmarks.shopping import CHECKOUT, VALUES, Answer, Step, WalkError, unexpected, walk

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo"
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"

#: gunicorn's sync workers serving the demo.
WORKERS = 4


class Browser:
    """One user for the single walks: a ``requests`` session, redirects not followed."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        import requests

        self.base = f"http://127.0.0.1:{port}"
        self.session = requests.Session()
        self.timeout = timeout

    def expect(self, method: str, url: str, status: int, data: dict[str, Any] | None = None) -> Answer:
        response = self.session.request(method, self.base + url, data=data, allow_redirects=False, timeout=self.timeout)
        answer = Answer(response.status_code, response.headers.get("Location", ""), response.text)
        if answer.status != status:
            raise unexpected(method, url, status, answer.status, answer.body)
        return answer

    def log_in(self, username: str, password: str) -> None:
        self.expect("GET", "/login/", 200)
        token = self.session.cookies.get("csrftoken", "")
        self.expect("POST", "/login/", 302, {"username": username, "password": password, "csrfmiddlewaretoken": token})


@dataclass
class Server:
    """gunicorn serving the demo on one store, with its own database and Redis key prefix."""

    workdir: Path
    store: str
    redis_url: str
    pg: dict[str, Any] | None = None
    workers: int = WORKERS
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
                "FLOWS_DEMO_STORE": self.store,
                "FLOWS_DEMO_REDIS_URL": self.redis_url,
                "FLOWS_DEMO_DB": str(self.workdir / f"demo-{self.store}.sqlite3"),
                "FLOWMACHINE_BENCH_REDIS_PREFIX": self.prefix,
                "FLOWS_DEMO_REDIS_PREFIX": self.prefix,
                # The demo's switch for a fast password hash: logging in is not what is measured.
                "FLOWS_DEMO_FAST_PASSWORDS": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.pg:
            env["FLOWMACHINE_BENCH_DEMO_PG"] = json.dumps(self.pg)
        return env

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"gunicorn-{self.store}.out"

    @property
    def database(self) -> str:
        return "PostgreSQL" if self.pg else "SQLite"

    def start(self) -> None:
        if self.pg:
            from tests.benchmarks.config import _ensure_pg_database

            _ensure_pg_database(self.pg)
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
                Browser(self.port, timeout=2).expect("GET", "/", 200)
                return
            except (OSError, WalkError):
                pass
            except Exception as exc:  # noqa: BLE001 - requests' connection errors: not up yet
                if "Connection" not in type(exc).__name__:
                    raise
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
        if self.store == "redis":
            self._remove_keys()
        if self.pg:
            from tests.benchmarks.config import _drop_pg_database

            _drop_pg_database(self.pg)

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

    def stored(self, task_id: str) -> bytes | None:
        """The task's record as the store keeps it (for Redis, without its first line)."""
        if self.store == "redis":
            import redis

            with redis.Redis.from_url(self.redis_url) as client:
                raw = client.get(f"{self.prefix}{task_id}")
            return None if raw is None else raw.partition(b"\n")[2]
        if self.pg:
            import psycopg

            with psycopg.connect(
                dbname=self.pg["NAME"],
                host=self.pg["HOST"],
                port=self.pg["PORT"],
                user=self.pg["USER"],
                password=self.pg["PASSWORD"] or None,
            ) as conn:
                row = conn.execute("SELECT data FROM flowmachine_taskrecord WHERE task_id = %s", [task_id]).fetchone()
        else:
            import sqlite3

            with sqlite3.connect(self.workdir / f"demo-{self.store}.sqlite3") as conn:
                row = conn.execute("SELECT data FROM flowmachine_taskrecord WHERE task_id = ?", [task_id]).fetchone()
        return None if row is None else bytes(row[0])


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
    largest: dict[str, int] = {}
    uncompressed: dict[str, int] = {}

    def measure(path: str) -> Callable[[str], None]:
        def on_step(task_id: str) -> None:
            body = server.stored(task_id)
            if body is not None:
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
    for name, plan in plans.items():
        browser = logged_in if name.startswith("logged in") else Browser(server.port)
        walk(browser, product, plan, VALUES, measure(name))
    return largest, uncompressed


def run_load(server: Server, product: int, duration: float, users: int) -> dict[str, Any]:
    """Run locust headless against *server* for *duration* seconds with *users* shoppers; its summary."""
    out = server.workdir / f"locust-{server.store}.json"
    env = {
        **server.env,
        "FLOWMACHINE_BENCH_LOCUST_OUT": str(out),
        "FLOWMACHINE_BENCH_PRODUCT": str(product),
        "FLOWMACHINE_BENCH_USERNAME": server.username,
        "FLOWMACHINE_BENCH_PASSWORD": server.password,
    }
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{max(1, round(duration))}s",
        "--host",
        f"http://127.0.0.1:{server.port}",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=duration + 120)
    if not out.exists():
        raise RuntimeError(f"locust wrote no summary (exit {done.returncode}): {done.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(out.read_text())
    elapsed = summary["elapsed_s"] or duration
    return {
        "store": server.store,
        "database": server.database,
        "workers": server.workers,
        "users": users,
        "duration_s": elapsed,
        "checkouts": summary["checkouts"],
        "checkouts_per_s": summary["checkouts"] / elapsed,
        "requests": summary["requests"],
        "requests_per_s": summary["requests"] / elapsed,
        "requests_per_checkout": 2 + 2 * len(CHECKOUT),
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "errors": summary["failures"] + summary["failed_checkouts"],
        "error_samples": summary["error_samples"],
        "tool": "locust (headless)",
    }


def run_store(
    workdir: Path, store: str, redis_url: str, pg: dict[str, Any] | None, duration: float, users: int
) -> dict[str, Any]:
    """Start the demo on *store* under gunicorn, find its largest record, load it, stop it."""
    server = Server(workdir=workdir, store=store, redis_url=redis_url, pg=pg)
    try:
        server.start()
        product = _product(server)
        records, plain = largest_records(server, product)
        result = run_load(server, product, duration, users)
    finally:
        server.stop()
    result["demo_record_bytes"] = records
    result["demo_record_bytes_uncompressed"] = plain
    result["demo_record_bytes_max"] = max(records.values()) if records else None
    return result


def run(
    workdir: Path,
    redis_url: str | None,
    pg: dict[str, Any] | None,
    duration: float,
    users: int,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Each store in turn: the database store, then the Redis store (when *redis_url*); results by store."""
    results: dict[str, Any] = {}
    stores = ["db", *(["redis"] if redis_url else [])]
    for store in stores:
        demo_pg = None if pg is None else {**pg, "NAME": f"{pg['NAME']}_demo_{store}"}
        progress(f"throughput: the demo on the {store} store under gunicorn ({WORKERS} workers), {users} users")
        try:
            results[store] = run_store(workdir, store, redis_url or "", demo_pg, duration, users)
        except Exception as exc:  # noqa: BLE001 - any failure is reported in the table and the JSON
            results[store] = {"error": f"{type(exc).__name__}: {exc}"}
    return results
