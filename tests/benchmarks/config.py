"""Configuring Django for the benchmark: SQLite as ``default``, PostgreSQL as ``pg``.

The benchmark runs in one process, so both databases are aliases of one
configuration; each flowmachine variant gets a db store pinned to its alias
(``StateStore(using=...)``). Sessions use one backend for every variant.
"""

from __future__ import annotations

import contextvars
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
from django.conf import settings

HERE = Path(__file__).resolve().parent

SESSION_ENGINES = {
    "db": "django.contrib.sessions.backends.db",
    "cache": "django.contrib.sessions.backends.cache",
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
}


#: The database of the sessions of the requests being made: the production setup keeps
#: each variant's sessions in the database its tasks use (SQLite or PostgreSQL).
SESSION_DB: contextvars.ContextVar[str] = contextvars.ContextVar("bench_session_db", default="default")


class SessionRouter:
    """Sessions go to :data:`SESSION_DB`; every other model to the default database."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return SESSION_DB.get() if model._meta.label == "sessions.Session" else None

    db_for_write = db_for_read


@dataclass
class Services:
    """Where the services live and what this run may use of them."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="flowmachine-bench-")))
    pg: dict[str, Any] | None = None
    pg_error: str = ""
    redis_url: str = os.environ.get("FLOWMACHINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    redis_prefix: str = field(default_factory=lambda: f"flowmachine-bench-{uuid.uuid4().hex[:12]}:")
    redis_error: str = ""


def pg_settings() -> dict[str, Any]:
    """The PostgreSQL connection of the benchmark (the test suite's variables, its own database)."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        # A database of this run only (dropped at the end), so runs never share rows.
        "NAME": os.environ.get("FLOWMACHINE_BENCH_PG_NAME", f"flowmachine_bench_{os.getpid()}"),
        "HOST": os.environ.get("FLOWMACHINE_TEST_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("FLOWMACHINE_TEST_PG_PORT", "5432"),
        "USER": os.environ.get("FLOWMACHINE_TEST_PG_USER", "postgres"),
        "PASSWORD": os.environ.get("FLOWMACHINE_TEST_PG_PASSWORD", ""),
    }


def _ensure_pg_database(conf: dict[str, Any]) -> None:
    """Create the benchmark's PostgreSQL database if it does not exist yet."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        dbname="postgres",
        host=conf["HOST"],
        port=conf["PORT"],
        user=conf["USER"],
        password=conf["PASSWORD"] or None,
        autocommit=True,
        connect_timeout=3,
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [conf["NAME"]]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(conf["NAME"])))


def _drop_pg_database(conf: dict[str, Any]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        dbname="postgres",
        host=conf["HOST"],
        port=conf["PORT"],
        user=conf["USER"],
        password=conf["PASSWORD"] or None,
        autocommit=True,
        connect_timeout=3,
    ) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(conf["NAME"])))


def _check_redis(url: str) -> None:
    import redis

    with redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) as client:
        client.ping()


def psycopg_errors() -> type[Exception]:
    try:
        import psycopg
    except ImportError:
        return ImportError
    return psycopg.Error  # type: ignore[no-any-return]


def redis_errors() -> type[Exception]:
    try:
        import redis
    except ImportError:
        return ImportError
    return redis.exceptions.RedisError  # type: ignore[no-any-return]


def configure(session_engine: str = "db", use_pg: bool = True, use_redis: bool = True) -> Services:
    """Configure and set up Django; find out which services can be reached."""
    services = Services()
    if use_pg:
        conf = pg_settings()
        try:
            _ensure_pg_database(conf)
            services.pg = conf
        except (ImportError, OSError, psycopg_errors()) as exc:  # only drops the PostgreSQL variant
            services.pg_error = f"PostgreSQL unavailable: {exc}"
    if use_redis:
        try:
            _check_redis(services.redis_url)
        except (ImportError, OSError, redis_errors()) as exc:
            services.redis_error = f"Redis unavailable: {exc}"
    else:
        services.redis_error = "Redis not requested"
    databases: dict[str, Any] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(services.workdir / "bench.sqlite3"),
            # As the README recommends for SQLite (Django 5.1+).
            "OPTIONS": {"transaction_mode": "IMMEDIATE"} if django.VERSION >= (5, 1) else {},
        }
    }
    if services.pg:
        databases["pg"] = services.pg
    settings.configure(
        DEBUG=False,
        SECRET_KEY="flowmachine-benchmark-only",
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        ROOT_URLCONF="tests.benchmarks.urls",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "flowmachine",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [str(HERE / "templates")],
                "APP_DIRS": True,
                "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
            }
        ],
        DATABASES=databases,
        DATABASE_ROUTERS=["tests.benchmarks.config.SessionRouter"],
        SESSION_ENGINE=SESSION_ENGINES[session_engine],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        FLOWS_STATE_STORE="flowmachine.backends.db",
        FLOWS_REDIS_URL=services.redis_url,
        FLOWS_REDIS_KEY_PREFIX=services.redis_prefix,
        BENCH_REDIS=not services.redis_error,
        # Steps 991-999 of the 1000-action flow keep 990 steps' answers: over the default cap.
        FLOWS_MAX_STATE_BYTES=16 * 1024 * 1024,
        LOGGING={"version": 1, "disable_existing_loggers": False, "loggers": {"flowmachine": {"level": "ERROR"}}},
    )
    django.setup()
    from django.core.management import call_command

    for alias in databases:
        call_command("migrate", database=alias, verbosity=0, interactive=False)
    return services


def cleanup(services: Services) -> None:
    """Remove this run's Redis keys (its own prefix only) and its temporary files."""
    import shutil

    if not services.redis_error:
        import redis

        with redis.Redis.from_url(services.redis_url) as client:
            keys = list(client.scan_iter(match=f"{services.redis_prefix}*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
    if services.pg:
        from django.db import connections

        connections.close_all()
        _drop_pg_database(services.pg)
    shutil.rmtree(services.workdir, ignore_errors=True)
