"""Fixtures of the browser tests: the real demo (shop and claim) served from a subprocess, and Chromium.

The demo runs with its own settings (``demo_site.settings``) on a fresh SQLite
file per test session, migrated and seeded, whatever database the rest of the
suite uses, and a fresh files folder (``FLOWS_DEMO_FILES``: the claims'
documents in ``media/``, the journeys' kept uploads in ``journeys/``). Tests
read results straight from that file (:class:`DemoDatabase`) and that folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser._browser import (  # noqa: F401
    ARTIFACTS,
    browser,
    context,
    page,
    pytest_runtest_makereport,
)
from tests.browser._shop import USERS, DemoDatabase, DemoServer

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo"

#: Run once in the demo's settings: migrate, seed, and create the tests' users.
_SETUP = """
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from shop.models import SavedPaymentMethod
call_command("migrate", interactive=False, verbosity=0)
call_command("seed_demo", verbosity=0)
User = get_user_model()
for name, password, saved in {users!r}:
    user = User.objects.create_user(name, f"{{name}}@example.com", password)
    if saved:
        SavedPaymentMethod.objects.create(user=user, kind="card", label=saved)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _demo_env(db_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWS_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        FLOWS_DEMO_DB=str(db_path),
        FLOWS_DEMO_FILES=str(db_path.parent / "files"),
        # Cheap password hashing: the tests log in often; the demo's own default is Django's.
        FLOWS_DEMO_FAST_PASSWORDS="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def start_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A function that starts a demo server (``store="db"`` or ``"redis"``) for this session."""
    servers: list[DemoServer] = []
    logs: list[object] = []
    template = tmp_path_factory.mktemp("demo-template") / "demo.sqlite3"

    def start(store: str = "db", **extra_env: str) -> DemoServer:
        workdir = tmp_path_factory.mktemp(f"demo-{store}")
        db_path = workdir / "demo.sqlite3"
        extra = {"FLOWS_DEMO_STORE": store, **extra_env}
        env = _demo_env(db_path, extra)
        if not template.exists():  # migrate and seed once; each server gets a copy
            setup = _SETUP.format(users=[(u.name, u.password, u.saved) for u in USERS.values()])
            subprocess.run(
                [sys.executable, "-c", setup], cwd=DEMO, env=_demo_env(template, {}), check=True, timeout=120
            )
        shutil.copyfile(template, db_path)
        port = _free_port()
        log = open(workdir / "server.log", "w")  # noqa: SIM115 - the server writes to it until the session ends
        logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            cwd=DEMO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = DemoServer(
            f"http://127.0.0.1:{port}", DemoDatabase(db_path), process, workdir / "server.log", extra, workdir / "files"
        )
        servers.append(server)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(server.url + "/", timeout=2).close()
                break
            except OSError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the demo server did not start:\n{server.log_path.read_text()}") from exc
                time.sleep(0.2)
        return server

    yield start
    for server in servers:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
    for log in logs:
        log.close()


@pytest.fixture(scope="session", autouse=True)
def _fresh_failure_screenshots() -> None:
    """Screenshots of failures are those of this run only."""
    shutil.rmtree(ARTIFACTS / "failures", ignore_errors=True)


@pytest.fixture(scope="session")
def demo(start_demo) -> DemoServer:
    """The demo on its default store: task records in the demo's SQLite database."""
    return start_demo("db")


@pytest.fixture(scope="session")
def redis_demo(start_demo) -> Iterator[DemoServer]:
    """The demo on the Redis store, under a key prefix of its own (removed afterwards)."""
    redis = pytest.importorskip("redis")
    url = os.environ.get("FLOWMACHINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {url}: {exc}")
    prefix = f"flowmachine-browser-{uuid.uuid4().hex[:12]}:"
    server = start_demo("redis", FLOWS_DEMO_REDIS_URL=url, FLOWS_DEMO_REDIS_PREFIX=prefix)
    server.redis = client
    yield server
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
