"""Counted costs of a step: store reads and writes, Redis commands, record bytes, compile work.

These are the counted targets of the performance benchmark (``python -m
tests.benchmarks``), asserted here so they cannot regress silently: a step
reads the task once and writes it once whatever the size or depth of the flow,
records stay small, compiling is linear in the flow's size, and a move of the
machine that no custom transition decides is worked out once per flow.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from django import forms
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from flowmachine.backends import get_store
from flowmachine.backends.base import COMPRESSED_MARK, decode_record, encode_record
from flowmachine.backends.db import StateStore as DbStore
from flowmachine.exceptions import CorruptStateError
from flowmachine.machine.compiler import CompiledFlow
from flowmachine.machine.places import Place
from tests._sql import is_read
from tests.walker import Walker

TEMPLATE = "shop/step.html"


# -- flows of this module: wide and deep ------------------------------------------


class WorkForm(forms.Form):
    name = forms.CharField()
    quantity = forms.IntegerField()


class WorkStep(Action):
    _abstract = True
    template_name = TEMPLATE
    form_class = WorkForm

    def form_valid(self, form: forms.BaseForm) -> Any:
        self.state[self.place.local_name] = form.cleaned_data
        return COMPLETE


def _actions(prefix: str, count: int) -> list[type[Action]]:
    return [type(f"{prefix}{i}", (WorkStep,), {"url": f"s{i}/", "__module__": __name__}) for i in range(count)]


class WideWork(Scaffold):
    url = "wide/"
    transition = Linear
    action_set = _actions("WideWorkStep", 300)


def _deep(depth: int) -> type[Scaffold]:
    inner: Any = type(
        "DeepWork20",
        (Scaffold,),
        {"url": "d20/", "transition": Linear, "action_set": _actions("DeepWorkStep", 5), "__module__": __name__},
    )
    for level in range(depth - 1, 0, -1):
        inner = type(
            f"DeepWork{level}",
            (Scaffold,),
            {"url": f"d{level}/", "transition": Linear, "action_set": [inner], "__module__": __name__},
        )
    return inner  # type: ignore[no-any-return]


DeepWork = _deep(20)

work_handler = FlowHandler(app_namespace="work", on_complete_url="/done/")
work_handler.register_entry_point(WideWork)
work_handler.register_entry_point(DeepWork)
urlpatterns = [path("work/", include(work_handler.urls))]

STEP = {"name": "Ada", "quantity": "2"}


def store_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "flowmachine_taskrecord" in q["sql"]]


def walk_counting_queries(client: Any, entry: str, steps: int) -> list[tuple[str, list[str]]]:
    """Walk *steps* steps from *entry*; the store queries of every request after the start."""
    walker = Walker(client, entry).start()
    counts = []
    for _ in range(steps):
        with CaptureQueriesContext(connection) as posted:
            response = client.post(walker.url, {"_t": walker.task_id, **STEP})
        assert response.status_code == 302, response.content[:300]
        counts.append(("POST", store_queries(posted)))
        walker.url = response["Location"]
        with CaptureQueriesContext(connection) as shown:
            assert client.get(walker.url).status_code == 200
        counts.append(("GET", store_queries(shown)))
    return counts


# -- the db store: one read and one write per request, whatever the flow ----------


@pytest.mark.django_db
@pytest.mark.urls(__name__)
@pytest.mark.parametrize("entry", ["/work/wide/", "/work/d1/"], ids=["300 actions wide", "20 scaffolds deep"])
def test_a_step_reads_once_and_writes_once_however_wide_or_deep_the_flow(client: Any, entry: str) -> None:
    for method, queries in walk_counting_queries(client, entry, 4):
        if method == "POST":
            assert len(queries) == 2, queries
            assert is_read(queries[0])
            assert queries[1].lstrip().upper().startswith(("UPDATE", "INSERT"))  # a task is saved when first used
        else:
            assert len(queries) == 1, queries


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_record_does_not_carry_the_flow_s_size(client: Any) -> None:
    """A task in a 300-action flow keeps only where it went, not what it could do."""
    walker = Walker(client, "/work/wide/").start()
    for _ in range(5):
        walker.post(STEP)
    assert len(encode_record(get_store().get_state(walker.task_id))) <= 1024


def test_the_db_store_uses_the_alias_it_was_given() -> None:
    assert DbStore(using="elsewhere").db_alias == "elsewhere"


class _ElsewhereRouter:
    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "elsewhere" if model._meta.db_table == "flowmachine_taskrecord" else None


def test_the_db_store_follows_the_router_so_the_view_s_transaction_does_too() -> None:
    """The view opens its transaction on ``store.db_alias``: it must be where the rows are."""
    assert DbStore().db_alias == "default"
    with override_settings(DATABASE_ROUTERS=[f"{__name__}._ElsewhereRouter"]):
        assert DbStore().db_alias == "elsewhere"


# -- the redis store: at most two commands per request ------------------------------


@pytest.fixture
def redis_store() -> Iterator[Any]:
    import redis

    prefix = f"fm-test-work-{uuid.uuid4().hex}:"
    with override_settings(
        FLOWS_STATE_STORE="flowmachine.backends.redis",
        FLOWS_REDIS_URL=settings.REDIS_URL,
        FLOWS_REDIS_KEY_PREFIX=prefix,
    ):
        yield get_store()
    with redis.Redis.from_url(settings.REDIS_URL) as client:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
@pytest.mark.parametrize("entry", ["/work/wide/", "/work/d1/"], ids=["300 actions wide", "20 scaffolds deep"])
def test_a_step_on_redis_is_one_read_and_one_compare_and_set(
    client: Any, redis_store: Any, monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    Walker(client, entry).start().post(STEP)  # loads the compare-and-set script, if Redis had not got it
    sent: list[str] = []
    original = redis_store.client.execute_command

    def counting(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]).upper())
        return original(*args, **options)

    monkeypatch.setattr(redis_store.client, "execute_command", counting)
    walker = Walker(client, entry).start()
    for _ in range(4):
        sent.clear()
        response = client.post(walker.url, {"_t": walker.task_id, **STEP})
        assert response.status_code == 302
        assert sent == ["EVALSHA", "EVALSHA"]  # the owner's read (refreshing the expiry), the write
        walker.url = response["Location"]
        sent.clear()
        assert client.get(walker.url).status_code == 200
        assert sent == ["EVALSHA"]


# -- record bytes -------------------------------------------------------------------


def _long_record() -> dict[str, Any]:
    names = [f"Purchase.ChoosePayment.NewPaymentMethod.BankAccount.Step{i}" for i in range(30)]
    return {
        "version": 3,
        "flow": "Purchase",
        "pos": names[-1],
        "data": {"item": "lamp"},
        "hist": names,
        "ans": {n: {"field": "value"} for n in names},
    }


def test_a_large_record_is_stored_compressed_and_reads_back_the_same() -> None:
    record = _long_record()
    plain = msgpack.packb(record, use_bin_type=True, datetime=True)
    encoded = encode_record(record)
    assert encoded[:1] == COMPRESSED_MARK
    assert len(encoded) < len(plain) / 2
    assert decode_record(encoded) == record


def test_a_small_record_stays_plain_msgpack() -> None:
    record = {"version": 1, "flow": "Purchase", "pos": "Purchase.ChooseItem", "data": {}}
    assert encode_record(record) == msgpack.packb(record, use_bin_type=True, datetime=True)


@pytest.mark.parametrize(
    "raw",
    [
        COMPRESSED_MARK + b"not zlib at all",
        (COMPRESSED_MARK + zlib.compress(msgpack.packb(_long_record())))[:-10],
        COMPRESSED_MARK + zlib.compress(msgpack.packb([1, 2, 3])),
        COMPRESSED_MARK + zlib.compress(b"\0" * (17 * 1024 * 1024)),
    ],
    ids=["not zlib", "truncated", "not a record", "over 16 MiB"],
)
def test_a_bad_compressed_record_is_corrupt(raw: bytes) -> None:
    with pytest.raises(CorruptStateError):
        decode_record(raw)


@pytest.mark.django_db
def test_every_step_of_the_longest_checkout_keeps_the_record_within_1_kib(client: Any, shopper: Any) -> None:
    walker = Walker(client).start()
    sizes = []
    for data in [
        {"item": "lamp"},
        {"choice": "login", "username": "alice", "password": "s3cret-pass"},
        {"method": "new"},
    ]:
        walker.post(data)
        sizes.append(len(encode_record(get_store().get_state(walker.task_id))))
    assert max(sizes) <= 1024, sizes


# -- compile work ---------------------------------------------------------------------


def test_compiling_lists_each_scaffold_s_children_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling stays linear in the flow's size (listing siblings per child was quadratic)."""
    calls = [0]
    original = Place.local_name.fget  # type: ignore[attr-defined]

    def counting(self: Place) -> str:
        calls[0] += 1
        return original(self)  # type: ignore[no-any-return]

    monkeypatch.setattr(Place, "local_name", property(counting))
    compiled = CompiledFlow(WideWork, "wide/")
    assert calls[0] <= 10 * len(compiled.places), calls[0]
