"""Real processes for the reliability tests: redis-server, a Redis Cluster, a
Sentinel, PostgreSQL databases and app servers, plus a small HTTP client.

Every helper is a context manager (or has ``stop()``) that kills what it
started, by process id, even when the test fails; and each process gets
SIGTERM from the kernel if the test process itself dies.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"

PG = {
    "host": os.environ.get("FLOWMACHINE_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("FLOWMACHINE_TEST_PG_PORT", "5432")),
    "user": os.environ.get("FLOWMACHINE_TEST_PG_USER", "postgres"),
    "password": os.environ.get("FLOWMACHINE_TEST_PG_PASSWORD", ""),
}


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too; both below 65536."""
    import random

    while True:
        port = random.randint(20000, 45000)
        if not (_port_open(port) or _port_open(port + 10000)) and _bindable(port) and _bindable(port + 10000):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(check: Any, what: str, timeout: float = 30.0) -> None:
    """Poll *check* until it returns true; fail naming *what* after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _die_with_us() -> None:
    """In a child, before exec: get SIGTERM when the test process dies (Linux), even if killed."""
    with suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(args: list[str], **options: Any) -> subprocess.Popen[Any]:
    """Start a service process in its own process group, tied to this process's life."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_us, **options)  # noqa: PLW1509


def _kill(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM) -> None:
    """Stop a process we started (and its process group), waiting for it."""
    if proc is None or proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# -- Redis ------------------------------------------------------------------------


class RedisServer:
    """A private redis-server on a free loopback port, persisted to its own directory.

    The append-only file is synced on every write, so a killed and restarted
    server still holds every acknowledged write.
    """

    def __init__(self, directory: str | Path, port: int | None = None, *extra: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.extra = list(extra)
        self.proc: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--logfile",
            str(self.directory / "redis.log"),
            "--protected-mode",
            "no",
            *self.extra,
        ]
        self.proc = _spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self.ping, f"redis-server on port {self.port} answering")
        return self

    def ping(self) -> bool:
        out = subprocess.run([REDIS_CLI, "-p", str(self.port), "ping"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() == "PONG"

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Kill the server (SIGKILL by default: a crash, not a clean shutdown)."""
        _kill(self.proc, sig)
        self.proc = None
        wait_until(lambda: not _port_open(self.port), f"port {self.port} closed", timeout=10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@contextmanager
def redis_cluster(masters: int = 3) -> Iterator[list[RedisServer]]:
    """A real Redis Cluster of *masters* masters on loopback, no replicas."""
    directory = Path(tempfile.mkdtemp(prefix="fm-cluster-"))
    nodes = [
        RedisServer(
            directory / str(i),
            free_cluster_port(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(directory / str(i) / "nodes.conf"),
            "--cluster-node-timeout",
            "2000",
        )
        for i in range(masters)
    ]
    try:
        for node in nodes:
            node.start()
        subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

        def ready() -> bool:
            info = subprocess.run(
                [REDIS_CLI, "-p", str(nodes[0].port), "cluster", "info"], capture_output=True, text=True, timeout=5
            ).stdout
            return "cluster_state:ok" in info and f"cluster_known_nodes:{masters}" in info

        wait_until(ready, "the Redis Cluster reporting cluster_state:ok")
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def redis_sentinel(service: str = "fm-primary") -> Iterator[tuple[RedisServer, int]]:
    """One master and one Sentinel watching it as *service*; yields (master, sentinel port)."""
    directory = Path(tempfile.mkdtemp(prefix="fm-sentinel-"))
    master = RedisServer(directory / "master")
    port = free_port()
    config = directory / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {directory}\nlogfile {directory / 'sentinel.log'}\n"
    )
    proc = None
    try:
        master.start()
        with config.open("a") as fh:
            fh.write(f"sentinel monitor {service} 127.0.0.1 {master.port} 1\n")
        proc = _spawn([REDIS_SERVER, str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

        def knows_master() -> bool:
            out = subprocess.run(
                [REDIS_CLI, "-p", str(port), "sentinel", "get-master-addr-by-name", service],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.split()
            return out == ["127.0.0.1", str(master.port)]

        wait_until(knows_master, "the Sentinel naming its master")
        yield master, port
    finally:
        _kill(proc)
        master.stop()
        shutil.rmtree(directory, ignore_errors=True)


# -- PostgreSQL ---------------------------------------------------------------------


def pg_connect(dbname: str = "postgres", autocommit: bool = True) -> Any:
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=autocommit, connect_timeout=5, **PG)


def pg_available() -> bool:
    try:
        with pg_connect():
            return True
    except Exception:
        return False


@contextmanager
def pg_database(env: dict[str, str]) -> Iterator[str]:
    """A fresh PostgreSQL database with the test project migrated into it and user alice."""
    name = f"flowmachine_live_{os.getpid()}_{free_port()}"
    with pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        server_env = {**env, **database_env(name)}
        django_admin(server_env, "migrate", "--run-syncdb", "-v", "0")
        django_admin(
            server_env,
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "User.objects.create_user('alice', 'alice@example.com', 's3cret-pass')",
        )
        yield name
    finally:
        with pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_env(name: str) -> dict[str, str]:
    return {
        "FLOWMACHINE_TEST_DB": "postgres",
        "FLOWMACHINE_TEST_PG_NAME": name,
        "FLOWMACHINE_TEST_PG_HOST": PG["host"],
        "FLOWMACHINE_TEST_PG_PORT": str(PG["port"]),
        "FLOWMACHINE_TEST_PG_USER": PG["user"],
        "FLOWMACHINE_TEST_PG_PASSWORD": PG["password"],
    }


def settings_env(**settings: Any) -> dict[str, str]:
    """Environment variables tests/settings.py turns into Django settings (JSON values)."""
    return {f"FLOWMACHINE_TEST_SETTING_{name}": json.dumps(value) for name, value in settings.items()}


def _base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMACHINE_TEST_SETTING_")}
    env.update(extra)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def django_admin(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=_base_env(env),
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )


# -- app servers ------------------------------------------------------------------------


class AppServer:
    """The test project served by gunicorn (threaded workers) on a free port."""

    def __init__(self, env: dict[str, str], workers: int = 1, threads: int = 8) -> None:
        self.env = env
        self.workers, self.threads = workers, threads
        self.port = free_port()
        self.proc: subprocess.Popen[Any] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="fm-gunicorn-", suffix=".log", delete=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "django.core.wsgi:get_wsgi_application()",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(self.threads),
            "--timeout",
            "60",
            "--graceful-timeout",
            "2",
            "--log-level",
            "warning",
        ]
        self.proc = _spawn(args, env=_base_env(self.env), cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.proc.poll() is None and _port_open(self.port), f"gunicorn on port {self.port}")
        return self

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        _kill(self.proc)
        self.proc = None
        with suppress(OSError):
            self.log.close()
            os.unlink(self.log.name)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# -- an HTTP client with a cookie jar -------------------------------------------------------


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.location or self.text[:200]!r}>"


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_TASK = re.compile(r"[?&]_t=([A-Za-z0-9_-]+)")


class Browser:
    """One browser: a cookie jar shared by every server it talks to; no redirects followed."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(self, method: str, url: str, data: dict[str, Any] | None = None, timeout: float = 60) -> Response:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        headers = {"Host": f"{parts.hostname}:{parts.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode({"csrfmiddlewaretoken": self.csrf, **data}, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.csrf
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            content = raw.read()
            response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, content)
            for header, value in raw.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
        finally:
            conn.close()
        match = _CSRF.search(response.text)
        if match:
            self.csrf = unescape(match.group(1))
        return response

    def get(self, url: str) -> Response:
        return self.request("GET", url)

    def post(self, url: str, data: dict[str, Any]) -> Response:
        return self.request("POST", url, data)


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden fields of a rendered flow form (task id, page version), CSRF token left out."""
    return {k: unescape(v) for k, v in _HIDDEN.findall(html) if k != "csrfmiddlewaretoken"}


def task_id_of(url: str) -> str:
    match = _TASK.search(url)
    assert match, url
    return match.group(1)


# -- walking a task ---------------------------------------------------------------------------


class Tab:
    """A task walked through the Django test client, posting the page's hidden fields like a browser."""

    def __init__(self, client: Any, entry: str) -> None:
        response = client.get(entry)
        assert response.status_code == 302, response
        self.client, self.url = client, response["Location"]
        self.id = task_id_of(self.url)
        self.page = client.get(self.url)
        assert self.page.status_code == 200, self.page

    def post(self, data: dict[str, str], expect: int = 302) -> Any:
        body = {**hidden_fields(self.page.content.decode()), **data}
        response = self.client.post(self.url, body)
        assert response.status_code == expect, (response.status_code, response.content[:300])
        if response.status_code == 302 and "_t=" in response["Location"]:
            self.url = response["Location"]
            self.page = self.client.get(self.url)
        return response

    def reload(self, expect: int = 200) -> Any:
        response = self.client.get(self.url)
        assert response.status_code == expect, (response.status_code, response.content[:300])
        if expect == 200:
            self.page = response
        return response


class LiveTab:
    """A task walked over HTTP against an app server."""

    def __init__(self, browser: Browser, base: str, entry: str) -> None:
        response = browser.get(base + entry)
        assert response.status == 302, response
        self.browser, self.base = browser, base
        self.url = base + response.location
        self.id = task_id_of(self.url)
        self.page = browser.get(self.url)
        assert self.page.status == 200, self.page

    def post(self, data: dict[str, str], expect: int = 302) -> Any:
        response = self.browser.post(self.url, {**hidden_fields(self.page.text), **data})
        assert response.status == expect, response
        if response.status == 302 and "_t=" in response.location:
            self.url = self.base + response.location
            self.page = self.browser.get(self.url)
        return response

    def reload(self) -> None:
        self.page = self.browser.get(self.url)
        assert self.page.status == 200, self.page


class TcpProxy:
    """A loopback TCP proxy in front of a service (PostgreSQL), which a test can take away and bring back.

    ``forward()`` passes bytes both ways; ``refuse()`` closes the listening port and
    every connection through it (the server is gone); ``blackhole()`` accepts
    connections and swallows whatever arrives, answering nothing (a server that hangs).
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode = "forward"
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def forward(self) -> TcpProxy:
        """Pass traffic to the service again, listening on the same port."""
        self.mode = "forward"
        self._listen()
        return self

    def blackhole(self) -> None:
        """Accept new connections and stop answering on every connection, old and new."""
        self.mode = "blackhole"
        self._listen()

    def refuse(self) -> None:
        """Refuse new connections and drop every open one."""
        self.mode = "refuse"
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        for sock in [s for s in (listener,) if s is not None] + list(sockets):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked on it
            sock.close()

    def _listen(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # refuse() closed the port
            if self.mode != "forward":
                self._track(client)
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            self._track(client, upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _track(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._open.update(sockets)

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        """Copy *source* to *sink* while forwarding; swallow it otherwise; close both at the end."""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if sink is not None and self.mode == "forward":
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                if sock is not None:
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                    with self._lock:
                        self._open.discard(sock)

    def __enter__(self) -> TcpProxy:
        return self.forward()

    def __exit__(self, *exc: Any) -> None:
        self.refuse()


def read_record(dbname: str, task_id: str) -> dict[str, Any] | None:
    """The decoded record of *task_id* in the database store of *dbname*, read behind the server's back."""
    with pg_connect(dbname) as conn:
        row = conn.execute("SELECT data FROM flowmachine_taskrecord WHERE task_id = %s", [task_id]).fetchone()
    from flowmachine.backends.base import decode_record

    return None if row is None else decode_record(bytes(row[0]))


# -- fixtures (imported by tests/conftest.py) -----------------------------------------------------


@pytest.fixture(scope="session")
def live_pg() -> Iterator[str]:
    """A migrated PostgreSQL database with user alice, for app server processes; one per session."""
    if not pg_available():
        pytest.skip(f"PostgreSQL is not reachable at {PG['host']}:{PG['port']}")
    with pg_database({}) as name:
        yield name


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """The URL of one node of a real local three-master Redis Cluster, torn down after the session."""
    with redis_cluster() as nodes:
        yield f"redis://127.0.0.1:{nodes[0].port}/0"
