"""Loading the configured state store: one instance per module path and process."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

from flowmachine.conf import flow_settings

if TYPE_CHECKING:
    from flowmachine.backends.base import BaseStateStore

_instances: dict[str, BaseStateStore] = {}


def get_store(path: str | None = None) -> BaseStateStore:
    """Return the store named by *path* (default ``FLOWS_STATE_STORE``)."""
    path = path or flow_settings.FLOWS_STATE_STORE
    try:
        return _instances[path]
    except KeyError:
        pass
    try:
        module = import_module(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"FLOWS_STATE_STORE names {path!r}, which cannot be imported: {exc}") from exc
    store_cls = getattr(module, "StateStore", None)
    if store_cls is None:
        raise ImproperlyConfigured(f"The state store module {path!r} has no class named StateStore.")
    store: BaseStateStore = store_cls()
    _instances[path] = store
    return store


def reset() -> None:
    """Forget the store instances (settings changed)."""
    _instances.clear()
