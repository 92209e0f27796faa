"""Loading the configured state store: one instance per module path and process.

The instances are forgotten when a ``FLOWS_*`` setting changes (stores read
their settings when created), so ``override_settings`` works in tests.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from flowmachine.backends.base import BaseStateStore
from flowmachine.conf import flow_settings, renamed_path_error

_instances: dict[str, BaseStateStore] = {}


def get_store(path: str | None = None) -> BaseStateStore:
    """Return the store named by *path* (default ``FLOWS_STATE_STORE``)."""
    path = path or flow_settings.FLOWS_STATE_STORE
    try:
        return _instances[path]
    except KeyError:
        pass
    renamed = renamed_path_error("FLOWS_STATE_STORE", path)
    if renamed is not None:
        raise renamed
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
    """Forget the store instances: the next :func:`get_store` creates them from the settings of then."""
    _instances.clear()


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("FLOWS_"):
        reset()


setting_changed.connect(_settings_changed)
