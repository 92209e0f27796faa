"""URLs of the benchmark: the floor, the wizard, flowmachine on each store, the scaling flows."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import include, path
from flowmachine.backends.db import StateStore as DbStore

from flowmachine import FlowHandler
from tests.benchmarks.flows import LINEAR_FLOWS, NESTED_FLOWS, Checkout
from tests.benchmarks.views import DONE_URL, BenchWizard, FloorStep, done


def _redis_store() -> Any:
    from flowmachine.backends.redis import StateStore as RedisStore

    return RedisStore()


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
    _handler = HANDLERS[_name] = FlowHandler(app_namespace=f"fm_{_name.replace('-', '_')}",
                                             state_store=_factory(), on_complete_url=DONE_URL)
    _handler.register_entry_point(Checkout)
    urlpatterns.append(path(f"fm/{_name}/", include(_handler.urls)))

#: Scaling flows, all on the SQLite db store.
SCALE_HANDLER = FlowHandler(app_namespace="scale", state_store=DbStore(using="default"), on_complete_url=DONE_URL)
for _flow in [*LINEAR_FLOWS.values(), *NESTED_FLOWS.values()]:
    SCALE_HANDLER.register_entry_point(_flow)
urlpatterns.append(path("scale/", include(SCALE_HANDLER.urls)))
