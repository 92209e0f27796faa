"""The Redis state store: one key per task, expiring after the idle timeout.

Each step costs one round trip per operation: a read is one Lua script (``GET``,
and ``EXPIRE`` when the requester's binding is the record's own, so a stranger
holding a task's URL cannot keep it alive) and a write is one Lua script doing
compare-and-set on the record's version. The stored value is
``b"<version> <binding>\\n" + msgpack bytes`` (``b"<version>\\n"`` without a
binding), so the scripts check both without decoding msgpack.

Each operation touches one key, so the store also runs on Redis Cluster
(``FLOWS_REDIS_CLUSTER_URL``) and behind Redis Sentinel
(``FLOWS_REDIS_SENTINELS`` and ``FLOWS_REDIS_SENTINEL_SERVICE``).

Needs redis-py: ``pip install "django-flowmachine[redis]"``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from flowmachine.backends.base import (
    BaseStateStore,
    ConflictError,
    CorruptStateError,
    StoreUnavailable,
)
from flowmachine.conf import flow_settings
from flowmachine.record import Record

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError:  # pragma: no cover - exercised by monkeypatching in tests
    redis = None  # type: ignore[assignment]

__all__ = ["StateStore", "get_client", "installed", "translate_errors"]

#: Seconds to wait for a connection or a reply before calling Redis unavailable.
SOCKET_TIMEOUT = 2.0

#: Compare-and-set on the version prefix of the stored value. KEYS[1] is the
#: task key; ARGV is the new version, the value and the expiry in seconds.
#: Returns 1 when written, 0 on a version conflict and -1 when the stored value
#: has no version prefix. Only the first bytes are read (GETRANGE), so the cost
#: does not grow with the record.
_CAS_SCRIPT = """
local version = tonumber(ARGV[1])
local head = redis.call('GETRANGE', KEYS[1], 0, 20)
if version <= 1 then
  if head ~= '' then return 0 end
else
  if head == '' then return 0 end
  local stop = string.find(head, '[ \\n]')
  if not stop then return -1 end
  local stored = tonumber(string.sub(head, 1, stop - 1))
  if stored == nil then return -1 end
  if stored ~= version - 1 then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

#: Read for a requester: KEYS[1] is the task key; ARGV is the requester's binding hash and
#: the expiry in seconds. Returns the value (false when missing); refreshes the expiry only
#: when the binding on the value's first line is the requester's.
_READ_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if not value then return false end
local line = string.sub(value, 1, 100)
local space = string.find(line, ' ', 1, true)
local newline = string.find(line, '\\n', 1, true)
if space and newline and space < newline and string.sub(line, space + 1, newline - 1) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return value
"""

#: A binding hash as the engine writes it (hex), safe on the value's first line.
_BINDING = re.compile(r"[0-9a-f]{1,64}")

_pools: dict[str, Any] = {}
_pools_lock = threading.Lock()


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    """Forget the pools and clients when a Redis setting changes: the next use connects anew."""
    if setting.startswith("FLOWS_REDIS_"):
        with _pools_lock:
            _pools.clear()


setting_changed.connect(_settings_changed)


def redis_url() -> str:
    """The URL of the configured Redis: FLOWS_REDIS_URL, else built from the host settings."""
    url = flow_settings.FLOWS_REDIS_URL
    if url:
        return str(url)
    user = quote(str(flow_settings.FLOWS_REDIS_STATE_STORE_USER or ""), safe="")
    password = quote(str(flow_settings.FLOWS_REDIS_STATE_STORE_PASSWORD or ""), safe="")
    auth = ""
    if user or password:
        auth = f"{user}:{password}@" if password else f"{user}@"
    host = str(flow_settings.FLOWS_REDIS_STATE_STORE_HOST)
    if ":" in host and not host.startswith("["):  # an IPv6 address
        host = f"[{host}]"
    port = int(flow_settings.FLOWS_REDIS_STATE_STORE_PORT)
    db = int(flow_settings.FLOWS_REDIS_STATE_STORE_DB)
    return f"redis://{auth}{host}:{port}/{db}"


def get_pool(url: str) -> Any:
    """Return this process's connection pool for *url*, creating it once."""
    try:
        return _pools[url]
    except KeyError:
        pass
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            try:
                pool = redis.ConnectionPool.from_url(
                    url,
                    socket_connect_timeout=SOCKET_TIMEOUT,
                    socket_timeout=SOCKET_TIMEOUT,
                    # One immediate retry on a dropped connection (say, Redis
                    # restarted); a timeout is not retried so an outage fails fast.
                    retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
                )
            except ValueError as exc:
                raise ImproperlyConfigured(f"The Redis URL of the flowmachine state store is invalid: {exc}") from exc
            _pools[url] = pool
    return pool


def _connection_options() -> dict[str, Any]:
    return {
        "socket_connect_timeout": SOCKET_TIMEOUT,
        "socket_timeout": SOCKET_TIMEOUT,
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
    }


def get_client() -> Any:
    """This process's client of the configured Redis: a cluster, a Sentinel's master, or one server."""
    cluster_url = flow_settings.FLOWS_REDIS_CLUSTER_URL
    sentinels = flow_settings.FLOWS_REDIS_SENTINELS
    if cluster_url:
        key = f"cluster:{cluster_url}"
    elif sentinels:
        key = f"sentinel:{flow_settings.FLOWS_REDIS_SENTINEL_SERVICE}:{sentinels!r}"
    else:
        return redis.Redis(connection_pool=get_pool(redis_url()))
    client = _pools.get(key)
    if client is None:
        with _pools_lock:
            client = _pools.get(key)
            if client is None:
                client = _pools[key] = _cluster_client(str(cluster_url)) if cluster_url else _sentinel_client()
    return client


def _cluster_client(url: str) -> Any:
    from redis.cluster import RedisCluster

    try:
        return RedisCluster.from_url(url, **_connection_options())
    except ValueError as exc:
        raise ImproperlyConfigured(f"FLOWS_REDIS_CLUSTER_URL is invalid: {exc}") from exc
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as exc:
        raise StoreUnavailable(f"The Redis Cluster at {url} cannot be reached: {exc}") from exc


def _sentinel_client() -> Any:
    from redis.sentinel import Sentinel

    service = flow_settings.FLOWS_REDIS_SENTINEL_SERVICE
    if not service:
        raise ImproperlyConfigured(
            "FLOWS_REDIS_SENTINELS is set but FLOWS_REDIS_SENTINEL_SERVICE is not: name the "
            "master the Sentinels monitor (the name in their 'sentinel monitor' line)."
        )
    addresses = []
    for entry in flow_settings.FLOWS_REDIS_SENTINELS:
        host, port = entry.rsplit(":", 1) if isinstance(entry, str) else entry
        addresses.append((str(host).strip("[]"), int(port)))
    options = _connection_options()
    sentinel = Sentinel(
        addresses,
        sentinel_kwargs={k: v for k, v in options.items() if k != "retry"},
        username=flow_settings.FLOWS_REDIS_STATE_STORE_USER or None,
        password=flow_settings.FLOWS_REDIS_STATE_STORE_PASSWORD or None,
        db=int(flow_settings.FLOWS_REDIS_STATE_STORE_DB),
        **options,
    )
    return sentinel.master_for(str(service))


def installed() -> bool:
    """Whether redis-py can be imported (the ``redis`` extra)."""
    return redis is not None


@contextmanager
def translate_errors(task_id: str) -> Iterator[None]:
    """Turn redis-py exceptions into flowmachine's, so callers never see redis-py."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        # ConnectionError covers BusyLoadingError and authentication failures.
        raise StoreUnavailable(f"The Redis task store is unavailable: {exc}") from exc
    except redis.exceptions.ResponseError as exc:
        if str(exc).startswith("WRONGTYPE"):
            raise CorruptStateError(f"Task {task_id[:8]}… is stored under a Redis key of the wrong type.") from exc
        raise StoreUnavailable(f"The Redis task store refused the command: {exc}") from exc
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as exc:
        # RedisClusterException (no node covers the slot, say) is not a RedisError.
        raise StoreUnavailable(f"The Redis task store failed: {exc}") from exc


class StateStore(BaseStateStore):
    """Task records in Redis, one key per task, expiring after the idle timeout."""

    atomic_versions = True
    #: Each key's TTL is the idle timeout: Redis drops expired tasks itself.
    expires_by_itself = True
    #: The read script extends the owner's TTL: page views need no touch().
    owner_reads_refresh = True

    def __init__(self) -> None:
        if redis is None:
            raise ImproperlyConfigured('The Redis state store needs redis-py: pip install "django-flowmachine[redis]"')
        self.client = get_client()
        self._cas: Callable[..., Any] = self.client.register_script(_CAS_SCRIPT)
        self._read: Callable[..., Any] = self.client.register_script(_READ_SCRIPT)

    def key(self, task_id: str) -> str:
        """The Redis key holding *task_id*'s record."""
        return f"{flow_settings.FLOWS_REDIS_KEY_PREFIX}{task_id}"

    def _ttl(self) -> int:
        return max(1, self.idle_timeout)  # Redis rejects an expiry below one second

    def get_state(self, task_id: str) -> dict[str, Any] | None:
        """The record, read without refreshing its expiry (the requester is not known to own it)."""
        with translate_errors(task_id):
            raw = self.client.get(self.key(task_id))
        return None if raw is None else self._parse(task_id, raw)

    def get_state_for(self, task_id: str, binding: str) -> dict[str, Any] | None:
        """The record, its expiry refreshed if *binding* is its own: one round trip."""
        with translate_errors(task_id):
            raw = self._read(keys=[self.key(task_id)], args=[binding, self._ttl()])
        return None if raw is None else self._parse(task_id, raw)

    def _parse(self, task_id: str, raw: bytes) -> dict[str, Any]:
        first, sep, body = bytes(raw).partition(b"\n")
        head = first.split(b" ", 1)[0]
        if not sep or not head.isdigit():
            raise CorruptStateError(f"Task {task_id[:8]}… has no version prefix: it was not written by flowmachine.")
        record = self.decode(body)
        if record["version"] != int(head):
            raise CorruptStateError(f"Task {task_id[:8]}… has a version prefix that does not match its record.")
        return record

    def iter_task_ids(self) -> Iterator[str]:
        """The ids under this store's key prefix, found with SCAN (never KEYS): Redis drops expired keys."""
        prefix = flow_settings.FLOWS_REDIS_KEY_PREFIX
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
        with translate_errors("scan"):
            for key in self.client.scan_iter(match=pattern, count=1000):
                yield (key.decode() if isinstance(key, bytes) else str(key))[len(prefix) :]

    def iter_states(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Records read in pipelined batches with GET, which leaves their expiry alone."""
        batch: list[str] = []
        for task_id in self.iter_task_ids():
            batch.append(task_id)
            if len(batch) == 200:
                yield from self._read_batch(batch)
                batch = []
        if batch:
            yield from self._read_batch(batch)

    def _read_batch(self, ids: list[str]) -> Iterator[tuple[str, dict[str, Any] | None]]:
        with translate_errors("batch"):
            pipe = self.client.pipeline(transaction=False)
            for task_id in ids:
                pipe.get(self.key(task_id))
            values = pipe.execute()
        for task_id, raw in zip(ids, values, strict=True):
            if raw is None:
                continue  # expired since the scan
            try:
                yield task_id, self._parse(task_id, raw)
            except CorruptStateError:
                yield task_id, None

    def put_state(self, task_id: str, state: dict[str, Any]) -> None:
        version = int(state["version"])
        binding = Record(state).binding
        line = (
            b"%d %s\n" % (version, binding.encode()) if binding and _BINDING.fullmatch(binding) else b"%d\n" % version
        )
        value = line + self.encode(state)
        with translate_errors(task_id):
            result = self._cas(keys=[self.key(task_id)], args=[version, value, self._ttl()])
        if result == 1:
            return
        if result == -1:
            raise CorruptStateError(f"Task {task_id[:8]}… has no version prefix: it was not written by flowmachine.")
        if version <= 1:
            raise ConflictError(f"Task {task_id[:8]}… already exists.")
        raise ConflictError(f"Task {task_id[:8]}… changed since it was read (version {version - 1}).")

    def touch(self, task_id: str) -> None:
        """Keep the task alive: its expiry starts again (the engine calls it only for the owner)."""
        with translate_errors(task_id):
            self.client.expire(self.key(task_id), self._ttl())

    def delete_state(self, task_id: str) -> None:
        with translate_errors(task_id):
            self.client.delete(self.key(task_id))
