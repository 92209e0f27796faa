"""Typed state: every value Django's form fields produce is kept in ``self.state`` and read back with its type.

A flow whose first form has every built-in field type keeps its cleaned data,
and the next action checks each value, on the database and the Redis store.
Hypothesis checks that the codec and each store give back exactly what they
were given. Model instances are references: reading a task costs no query
until one is used, the journal never loads one, and a deleted row is
:class:`~flowmachine.exceptions.StateReferenceGone`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import django
import msgpack
import pytest
import redis
from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from flowmachine import COMPLETE, Action, FlowHandler, Linear, Scaffold
from flowmachine.backends import get_store
from flowmachine.backends.base import decode_record, encode_record
from flowmachine.codec import EXT, StoredInstance, is_loaded, json_default, packb, reference_of, unpackb
from flowmachine.engine.task import Task
from flowmachine.exceptions import StateEncodingError, StateReferenceGone
from flowmachine.testing import FlowReplay
from tests.models import Order
from tests.stores.test_store_contract import open_store
from tests.walker import Walker

pytestmark = pytest.mark.django_db

TEMPLATE = "shop/step.html"
KATHMANDU = dt.timezone(dt.timedelta(hours=5, minutes=45))
BIG = 12345678901234567890123456789  # beyond 64 bits


# -- a flow whose first form has every built-in field type -------------------------------------------


class EveryField(forms.Form):
    text = forms.CharField()
    count = forms.IntegerField()
    ratio = forms.FloatField()
    price = forms.DecimalField(max_digits=6, decimal_places=2)
    agreed = forms.BooleanField()
    maybe = forms.NullBooleanField(required=False)
    day = forms.DateField()
    moment = forms.DateTimeField()
    clock = forms.TimeField()
    length = forms.DurationField()
    ident = forms.UUIDField()
    email = forms.EmailField()
    # assume_scheme exists from Django 5.0 on (it silences 5.x's warning about the coming default).
    site = forms.URLField(**({"assume_scheme": "https"} if django.VERSION >= (5, 0) else {}))
    colour = forms.ChoiceField(choices=[("red", "Red"), ("blue", "Blue")])
    sizes = forms.MultipleChoiceField(choices=[("s", "S"), ("m", "M"), ("l", "L")])
    level = forms.TypedChoiceField(choices=[("1", "One"), ("2", "Two")], coerce=int)
    extra = forms.JSONField()
    order = forms.ModelChoiceField(queryset=Order.objects.all())
    orders = forms.ModelMultipleChoiceField(queryset=Order.objects.all())
    user = forms.ModelChoiceField(queryset=User.objects.all())


#: What the check step compares the state with; the test fills it in before walking.
EXPECTED: dict[str, Any] = {}


class EnterEverything(Action):
    url = "enter/"
    template_name = TEMPLATE
    form_class = EveryField

    def form_valid(self, form: forms.Form) -> Any:
        self.state.update(form.cleaned_data)
        self.state["pair"] = (1, "a", (Decimal("2.50"), None))
        self.state["tags"] = {"x", ("y", 1)}
        self.state["frozen"] = frozenset({dt.date(2024, 1, 1), uuid.UUID(int=7)})
        self.state["naive"] = dt.datetime(2024, 5, 6, 7, 8, 9, 10)
        self.state["away"] = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=KATHMANDU)
        self.state["nested"] = {"deep": [{"amount": Decimal("-0.001")}, [dt.timedelta(seconds=-1)]]}
        return COMPLETE


class CheckEverything(Action):
    """Asserts, in the action, that each value came back equal and with its type."""

    url = "check/"
    template_name = TEMPLATE

    def form_valid(self, form: forms.Form) -> Any:
        for key, expected in EXPECTED.items():
            assert_same(self.state[key], expected, key)
        self.state["checked"] = sorted(EXPECTED)
        return COMPLETE


class Done(Action):
    url = "done/"
    template_name = TEMPLATE


class TypedFlow(Scaffold):
    url = "typed/"
    transition = Linear
    action_set = [EnterEverything, CheckEverything, Done]


class PickOrder(Action):
    url = "pick/"
    template_name = TEMPLATE

    class form_class(forms.Form):  # noqa: N801 - the Action attribute's name
        order = forms.ModelChoiceField(queryset=Order.objects.all())

    def form_valid(self, form: forms.Form) -> Any:
        self.state["order"] = form.cleaned_data["order"]
        return COMPLETE


class UseOrder(Action):
    url = "use/"
    template_name = TEMPLATE

    def form_valid(self, form: forms.Form) -> Any:
        self.state["item"] = self.state["order"].item
        return COMPLETE


class OrderFlow(Scaffold):
    url = "order/"
    transition = Linear
    action_set = [PickOrder, UseOrder, Done]


typed_handler = FlowHandler(app_namespace="typed", on_complete_url="/typed-done/")
typed_handler.register_entry_point(TypedFlow)
typed_handler.register_entry_point(OrderFlow)

urlpatterns = [path("", include(typed_handler.urls))]


# -- exact comparison: value and type, all the way down -----------------------------------------------


def assert_same(got: Any, expected: Any, where: str = "value") -> None:
    """*got* equals *expected* and has its type, recursively (a model instance: a reference to the same row)."""
    if isinstance(expected, Order | User):
        assert type(got) in (StoredInstance, type(expected)), (where, type(got))
        assert isinstance(got, type(expected)), where
        assert got == expected and got.pk == expected.pk, where
        assert str(got) == str(expected), where  # loads the row
        return
    assert type(got) is type(expected), (where, type(got), type(expected))
    if isinstance(expected, dict):
        assert len(got) == len(expected), where
        for key, value in expected.items():
            (got_key,) = [k for k in got if k == key and type(k) is type(key)]
            assert_same(got_key, key, f"{where} key {key!r}")
            assert_same(got[got_key], value, f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected), where
        for index, (one, other) in enumerate(zip(got, expected, strict=True)):
            assert_same(one, other, f"{where}[{index}]")
    elif isinstance(expected, set | frozenset):
        assert got == expected, where
        for item in expected:
            (match,) = [g for g in got if g == item]
            assert_same(match, item, f"{where} item {item!r}")
    elif isinstance(expected, float):
        assert got == expected and math.copysign(1, got) == math.copysign(1, expected), where
    elif isinstance(expected, Decimal):
        assert got.as_tuple() == expected.as_tuple(), where  # digits and exponent: 2.50 is not 2.5
    elif isinstance(expected, dt.datetime | dt.time):
        assert got == expected and got.utcoffset() == expected.utcoffset(), where
        assert (got.tzinfo is None) == (expected.tzinfo is None), where
    else:
        assert got == expected, where


# -- the stores the flow runs on ------------------------------------------------------------------------


@pytest.fixture(params=["db", "redis"])
def flow_store(request: pytest.FixtureRequest, settings: Any) -> Any:
    """The flow's URLconf, on the database store or on the Redis store (its keys removed after)."""
    settings.ROOT_URLCONF = __name__
    settings.TIME_ZONE = "Asia/Kathmandu"  # a DateTimeField's value is aware, at +05:45
    EXPECTED.clear()
    if request.param == "db":
        settings.FLOWS_STATE_STORE = "flowmachine.backends.db"
        yield get_store()
        return
    prefix = f"fm-typed-{uuid.uuid4().hex}:"
    settings.FLOWS_STATE_STORE = "flowmachine.backends.redis"
    settings.FLOWS_REDIS_URL = settings.REDIS_URL
    settings.FLOWS_REDIS_KEY_PREFIX = prefix
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        yield get_store()
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def orders() -> list[Order]:
    return [Order.objects.create(item=f"item {n}", payment="card", task_id="-") for n in range(3)]


def model_queries(captured: CaptureQueriesContext) -> list[str]:
    """The queries of the models the state refers to (not the store's own)."""
    return [q["sql"] for q in captured.captured_queries if '"tests_order"' in q["sql"] or '"auth_user"' in q["sql"]]


def enter_everything(client: Any, orders: list[Order], shopper: User) -> Walker:
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    EXPECTED.update(
        text="hello",
        count=BIG,
        ratio=2.5,
        price=Decimal("9.90"),
        agreed=True,
        maybe=None,
        day=dt.date(2024, 2, 29),
        moment=dt.datetime(2024, 3, 31, 1, 30, tzinfo=KATHMANDU),
        clock=dt.time(13, 45, 30, 250000),
        length=dt.timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=5),
        ident=ident,
        email="a@example.com",
        site="https://example.com/x",
        colour="blue",
        sizes=["s", "l"],
        level=2,
        extra={"a": [1, 2.5, None, True], "b": {"c": "d"}},
        order=orders[1],
        orders=[orders[0], orders[2]],
        user=shopper,
        pair=(1, "a", (Decimal("2.50"), None)),
        tags={"x", ("y", 1)},
        frozen=frozenset({dt.date(2024, 1, 1), uuid.UUID(int=7)}),
        naive=dt.datetime(2024, 5, 6, 7, 8, 9, 10),
        away=dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=KATHMANDU),
        nested={"deep": [{"amount": Decimal("-0.001")}, [dt.timedelta(seconds=-1)]]},
    )
    walker = Walker(client, entry="/typed/").start()
    walker.post(
        {
            "text": "hello",
            "count": str(BIG),
            "ratio": "2.5",
            "price": "9.90",
            "agreed": "on",
            "maybe": "unknown",
            "day": "2024-02-29",
            "moment": "2024-03-31 01:30:00",
            "clock": "13:45:30.250000",
            "length": "1 02:03:04.000005",
            "ident": str(ident),
            "email": "a@example.com",
            "site": "https://example.com/x",
            "colour": "blue",
            "sizes": ["s", "l"],
            "level": "2",
            "extra": '{"a": [1, 2.5, null, true], "b": {"c": "d"}}',
            "order": str(orders[1].pk),
            "orders": [str(orders[0].pk), str(orders[2].pk)],
            "user": str(shopper.pk),
        }
    )
    assert walker.path == "/typed/check/"
    return walker


# -- through the test client, on the database and the Redis store ---------------------------------------


def test_every_form_field_value_comes_back_with_its_type(client, flow_store, orders, shopper):
    walker = enter_everything(client, orders, shopper)
    # As stored: decoded from the store's bytes.
    stored = walker.flow.state
    for key, expected in EXPECTED.items():
        assert_same(stored[key], expected, key)
    assert type(stored["orders"]) is list  # the QuerySet is kept as a list of instances
    # As the next action sees it: it asserts each value in its own code.
    walker.post({})
    assert walker.path == "/typed/done/"
    assert walker.flow.state["checked"] == sorted(EXPECTED)


def test_reading_a_task_loads_no_reference_and_using_them_loads_each_model_once(client, flow_store, orders, shopper):
    walker = enter_everything(client, orders, shopper)
    with CaptureQueriesContext(connection) as captured:
        walker.get(walker.url)  # a page view: the state is read, no reference used
    assert model_queries(captured) == []
    with CaptureQueriesContext(connection) as captured:
        walker.post({})  # the action compares three orders and a user: one query per model
    assert walker.path == "/typed/done/"
    queries = model_queries(captured)
    assert len([q for q in queries if '"tests_order"' in q]) == 1, queries
    assert len([q for q in queries if '"auth_user"' in q]) == 1, queries
    with CaptureQueriesContext(connection) as captured:
        walker.get(walker.url)  # the finished check's references were copied to the journal: none loads
    assert model_queries(captured) == []


def test_a_deleted_instance_ends_the_task_with_the_410_page_and_changes_nothing(client, flow_store, orders):
    walker = Walker(client, entry="/order/").start()
    walker.post({"order": str(orders[0].pk)})
    assert walker.path == "/order/use/"
    before = walker.flow.record
    orders[0].delete()
    response = walker.post({}, expect=410)
    assert b"start" in response.content.lower()
    assert walker.flow.record == before


def test_an_instance_still_there_is_loaded_by_the_next_action(client, flow_store, orders):
    walker = Walker(client, entry="/order/").start()
    walker.post({"order": str(orders[2].pk)})
    walker.post({})
    assert walker.path == "/order/done/"
    assert walker.flow.state["item"] == "item 2"


# -- the codec, and each store's put_state / get_state ------------------------------------------------------

offsets = st.builds(
    dt.timezone,
    st.timedeltas(min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)),
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.decimals(allow_nan=False)
    | st.dates()
    | st.datetimes()
    | st.datetimes(timezones=offsets)
    | st.times()
    | st.times(timezones=offsets)
    | st.timedeltas()
    | st.uuids()
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers() | hashables, inner, max_size=4)
    ),
    max_leaves=20,
)
states = st.dictionaries(st.text(max_size=10), values, max_size=5)


def typed_record(data: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "flow": "TypedFlow", "pos": "TypedFlow.EnterEverything", "data": data}


@hsettings(max_examples=150, deadline=None)
@given(states)
def test_the_codec_gives_back_exactly_what_it_was_given(data):
    record = typed_record(data)
    assert_same(decode_record(encode_record(record)), record)


@pytest.fixture(params=[pytest.param("db", marks=pytest.mark.django_db), "redis", "tmpfile"])
def any_store(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    with open_store(request.param, tmp_path) as (store, _):
        yield store


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=states, model=st.integers(min_value=0, max_value=2), wrap=st.sampled_from([list, tuple, set, dict]))
def test_each_store_gives_back_exactly_what_it_was_given(any_store, orders, data, model, wrap):
    chosen = orders[model]
    data = {**data, "instance": chosen, "wrapped": {"k": chosen} if wrap is dict else wrap([chosen])}
    task_id = uuid.uuid4().hex
    any_store.put_state(task_id, typed_record(data))
    assert_same(any_store.get_state(task_id), typed_record(data))
    any_store.delete_state(task_id)


def test_the_largest_integers_kept_read_back():
    for value in (-(10**1000 - 1), 10**1000 - 1, 2**64, -(2**63) - 1):
        assert_same(unpackb(packb(value)), value)


def test_each_kind_has_its_own_extension_code():
    assert len(set(EXT.values())) == len(EXT)
    assert all(0 <= code <= 127 for code in EXT.values())
    assert msgpack.unpackb(packb(Decimal("1.5")), ext_hook=lambda code, data: (code, data)) == (EXT["Decimal"], b"1.5")


def test_records_with_msgpack_timestamps_still_read_as_aware_utc_datetimes():
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)
    old = msgpack.packb({"version": 1, "flow": "F", "data": {"when": when}}, use_bin_type=True, datetime=True)
    assert_same(decode_record(old)["data"]["when"], when)


def test_equal_sets_encode_alike_whatever_their_insertion_order():
    words = [f"w{n}" for n in range(50)]
    assert packb(set(words)) == packb(set(reversed(words)))


@pytest.mark.parametrize(
    "payload",
    [
        msgpack.packb(msgpack.ExtType(EXT["model"], msgpack.packb([1, "order", 3]))),
        msgpack.packb(msgpack.ExtType(EXT["model"], msgpack.packb(["tests", "order", [3]]))),
        msgpack.packb(msgpack.ExtType(EXT["date"], b"yesterday")),
        msgpack.packb(msgpack.ExtType(EXT["tuple"], b"\x01")),
        msgpack.packb(msgpack.ExtType(42, b"x")),
    ],
    ids=["label-not-text", "unhashable-pk", "bad-date", "tuple-not-an-array", "unknown-code"],
)
def test_extension_values_flowmachine_did_not_write_are_refused(payload):
    with pytest.raises(ValueError):
        unpackb(payload)


def test_extension_values_nested_too_deep_are_refused():
    payload = msgpack.packb(None)
    for _ in range(100):
        payload = msgpack.packb(msgpack.ExtType(EXT["tuple"], b"\x91" + payload))
    with pytest.raises(ValueError, match="nest"):
        unpackb(payload)


# -- model references -----------------------------------------------------------------------------------


def test_a_reference_is_loaded_on_first_use_with_the_others_of_its_model(orders):
    raw = encode_record(typed_record({"one": orders[0], "all": list(Order.objects.order_by("pk"))}))
    with CaptureQueriesContext(connection) as captured:
        data = decode_record(raw)["data"]
        one = data["one"]
        assert type(one) is StoredInstance and not is_loaded(one)
        assert reference_of(one) == ("tests.order", orders[0].pk) and reference_of(orders[0]) is None
        assert one.pk == orders[0].pk and one == orders[0] and hash(one) == hash(orders[0])
        assert orders[0] == one and one in set(orders) and repr(one).endswith("(not loaded)>")
        assert json.loads(json.dumps(data, default=json_default))["one"] == {"model": "tests.order", "pk": one.pk}
        assert decode_record(encode_record({"version": 2, "data": data}))["data"]["one"] == orders[0]
    assert captured.captured_queries == []  # equality, hashing, pk and re-encoding load nothing
    with CaptureQueriesContext(connection) as captured:
        assert [o.item for o in data["all"]] == ["item 0", "item 1", "item 2"]
        assert one.item == "item 0" and isinstance(one, Order)
    assert len(captured.captured_queries) == 1


def test_a_deleted_instance_raises_state_reference_gone_naming_model_and_pk(orders):
    data = decode_record(encode_record(typed_record({"order": orders[1]})))["data"]
    pk = orders[1].pk
    orders[1].delete()
    gone = data["order"]
    assert gone.pk == pk and gone == Order(pk=pk)  # still usable without the row
    with pytest.raises(StateReferenceGone) as info:
        _ = gone.item
    assert isinstance(info.value, ObjectDoesNotExist)
    assert (info.value.model, info.value.pk) == ("tests.order", pk)
    assert "tests.order" in str(info.value) and repr(pk) in str(info.value)
    with CaptureQueriesContext(connection) as captured, pytest.raises(StateReferenceGone):
        str(gone)
    assert captured.captured_queries == []  # known to be gone: not asked again


def test_a_reference_to_a_model_no_longer_installed_is_gone():
    raw = msgpack.packb(msgpack.ExtType(EXT["model"], msgpack.packb(["nowhere", "thing", 1])))
    with pytest.raises(StateReferenceGone, match="nowhere.thing"):
        _ = unpackb(raw).name


# -- what cannot be kept ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (complex(1, 2), "complex"),
        ([1, {"inner": object()}], "object (inside a list)"),
        ((1, {2, frozenset({lambda: 3})}), "function (inside a tuple)"),
        (Order(item="unsaved"), "unsaved instance has no primary key"),
        (Order(pk=object(), item="odd"), "its primary key (object) cannot be encoded"),
        ({"n": -(10**1000)}, "more than 1000 digits"),
    ],
    ids=["complex", "object-in-a-list", "function-deep-in-a-tuple", "unsaved-instance", "unencodable-pk", "huge-int"],
)
def test_an_unsupported_value_names_its_key_and_type(value, named):
    with pytest.raises(StateEncodingError) as info:
        encode_record(typed_record({"fine": Decimal(1), "offending": value}))
    assert info.value.key == "offending"
    assert "'offending'" in str(info.value)
    assert named in str(info.value)
    assert "Decimal, date, datetime" in str(info.value)  # the message says what can be kept


# -- the journal -------------------------------------------------------------------------------------------


def test_the_journal_records_a_decimal_change_and_loads_no_reference(orders):
    initial = {"price": Decimal("1.0"), "order": orders[0]}
    stored = Task.start(FlowReplay(TypedFlow).compiled, None, "", initial_state=initial)
    raw = encode_record(stored.record.raw)
    with CaptureQueriesContext(connection) as captured:
        task = Task.load("t" * 32, decode_record(raw), FlowReplay(TypedFlow).compiled, None)
        assert not task.journal_changes()  # the same Decimal and reference: nothing to journal
        task.state["price"] = Decimal("1.00")  # equal, but not the same value
        assert task.journal_changes()
        assert_same(task.record.raw["jrnl"][-1][3], {"price": Decimal("1.00")})
        task.state["price"] = Decimal("2")
        task.state["orders"] = [task.state["order"]]
        assert task.journal_changes()
        entry = task.record.raw["jrnl"][-1][3]
        assert_same(entry["price"], Decimal("2"))
        assert type(entry["orders"][0]) is StoredInstance and not is_loaded(entry["orders"][0])
        encode_record(task.record.raw)
    assert model_queries(captured) == []
    assert not is_loaded(task.state["order"])
