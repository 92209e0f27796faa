"""URLs of the benchmark: the floor, the wizard, flowmachine on each store, the scaling flows."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import include, path

from flowmachine import FlowHandler
from flowmachine.backends.db import StateStore as DbStore
from tests.benchmarks.flows import CHECKOUTS, LINEAR_FLOWS, NESTED_FLOWS, Checkout
from tests.benchmarks.views import DONE_URL, BenchWizard, FloorStep, done, production_views


def _redis_store(alias: str | None = None) -> Any:
    """The Redis store; with *alias*, a POST's transaction (for the action's own writes) is on that database."""
    from flowmachine.backends.redis import StateStore as RedisStore

    class Store(RedisStore):
        @property
        def db_alias(self) -> str | None:
            return alias

    return Store()


#: flowmachine variants of the N-step form: name -> (handler, URL prefix).
STORES: dict[str, Any] = {"db-sqlite": lambda: DbStore(using="default")}
if "pg" in settings.DATABASES:
    STORES["db-postgresql"] = lambda: DbStore(using="pg")
if getattr(settings, "BENCH_REDIS", True):
    STORES["redis"] = _redis_store

HANDLERS: dict[str, FlowHandler] = {}
urlpatterns: list[Any] = [
    path("floor/<int:step>/", FloorStep.as_view()),
    path("wizard/", BenchWizard.as_view()),
    path(DONE_URL.strip("/") + "/", done),
]
for _name, _factory in STORES.items():
    _handler = HANDLERS[_name] = FlowHandler(
        app_namespace=f"fm_{_name.replace('-', '_')}", state_store=_factory(), on_complete_url=DONE_URL
    )
    _handler.register_entry_point(Checkout)
    urlpatterns.append(path(f"fm/{_name}/", include(_handler.urls)))

#: Scaling flows on the SQLite db store, each under its own handler and prefix so
#: that Django's URL resolver reaches every flow's first actions equally fast.
SCALE_STORE = DbStore(using="default")
SCALE_FLOWS: dict[str, tuple[str, Any, FlowHandler]] = {}
for _key, _label, _flow in [
    *((f"linear-{n}", f"{n} actions, one scaffold", f) for n, f in LINEAR_FLOWS.items()),
    *((f"nested-{d}", f"10 actions, {d} scaffold{'s' if d > 1 else ''} deep", f) for d, f in NESTED_FLOWS.items()),
]:
    _handler = FlowHandler(
        app_namespace=f"scale_{_key.replace('-', '_')}", state_store=SCALE_STORE, on_complete_url=DONE_URL
    )
    _handler.register_entry_point(_flow)
    SCALE_FLOWS[_key] = (_label, _flow, _handler)
    urlpatterns.append(path(f"scale/{_key}/", include(_handler.urls)))

#: The production setup: sessions in the database the tasks use, per database and form size.
#: (database name, alias, fields) -> {variant: URL of its first page}; the session router
#: (tests.benchmarks.config.SessionRouter) sends each variant's sessions to its alias.
PRODUCTION_DATABASES = {"sqlite": "default", **({"postgresql": "pg"} if "pg" in settings.DATABASES else {})}
PRODUCTION: dict[tuple[str, int], dict[str, Any]] = {}
for _db, _alias in PRODUCTION_DATABASES.items():
    for _fields, _flow in CHECKOUTS.items():
        _prefix = f"/p/{_db}/{_fields}/"
        _floor, _wizard = production_views(_prefix, _fields)
        urlpatterns += [path(f"{_prefix[1:]}floor/<int:step>/", _floor), path(f"{_prefix[1:]}wizard/", _wizard)]
        _variants: dict[str, Any] = {"alias": _alias, "prefix": _prefix, "stores": {}}
        _stores = {"db": DbStore(using=_alias)}
        if getattr(settings, "BENCH_REDIS", True):
            _stores["redis"] = _redis_store(_alias)
        for _kind, _store in _stores.items():
            _handler = FlowHandler(
                app_namespace=f"p_{_db}_{_fields}_{_kind}", state_store=_store, on_complete_url=DONE_URL
            )
            _handler.register_entry_point(_flow)
            urlpatterns.append(path(f"{_prefix[1:]}fm-{_kind}/", include(_handler.urls)))
            _variants["stores"][_kind] = _store
        PRODUCTION[(_db, _fields)] = _variants
