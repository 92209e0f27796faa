"""Settings for django-flowmachine, read lazily from ``django.conf.settings``.

Every ``FLOWS_*`` name is looked up on first use and cached; the cache is
cleared when Django's ``setting_changed`` signal fires, so ``override_settings``
works in tests. Other caches built from settings (the store instances, Redis
clients) listen to the same signal for the settings they depend on.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    "FLOWS_STATE_STORE": "flowmachine.backends.db",
    "FLOWS_TASK_IDLE_TIMEOUT": 20 * 60,
    "FLOWS_TASK_ID_PARAM": "_t",
    "FLOWS_TASK_BINDER": "flowmachine.binding.session_binder",
    "FLOWS_BINDER_COOKIE_AGE": 300,
    "FLOWS_REDIS_URL": None,
    "FLOWS_REDIS_STATE_STORE_HOST": "localhost",
    "FLOWS_REDIS_STATE_STORE_PORT": 6379,
    "FLOWS_REDIS_STATE_STORE_DB": 0,
    "FLOWS_REDIS_STATE_STORE_USER": "",
    "FLOWS_REDIS_STATE_STORE_PASSWORD": "",
    "FLOWS_REDIS_KEY_PREFIX": "flowmachine:task:",
    "FLOWS_REDIS_CLUSTER_URL": None,
    "FLOWS_REDIS_SENTINELS": None,
    "FLOWS_REDIS_SENTINEL_SERVICE": None,
    "FLOWS_TMPFILE_DIR": None,
    "FLOWS_JOURNAL_LENGTH": 50,
    "FLOWS_MAX_STATE_BYTES": 64 * 1024,
    "FLOWS_FILE_STORAGE": "default",
    "FLOWS_MAX_UPLOAD_BYTES": 10 * 1024 * 1024,
    "FLOWS_EXPORT_REDACT": True,
    "FLOWS_FUNNEL": None,
    "FLOWS_FUNNEL_KEY_PREFIX": "flowmachine:funnel:",
    "FLOWS_CLEANUP_BATCH_SIZE": 1000,
    "FLOWS_MAX_TASKS_PER_SESSION": 20,
}

#: Settings holding a dotted path that is imported on access.
IMPORT_STRINGS = {"FLOWS_TASK_BINDER"}

#: django-flows settings that flowmachine does not read, with what to do instead (check W024).
REMOVED_SETTINGS: dict[str, str] = {
    "FLOWS_SITE_ROOT": "URLs are reversed by Django: set FORCE_SCRIPT_NAME, or let your server pass SCRIPT_NAME",
}

#: django-flows values of FLOWS_STATE_STORE and FLOWS_TASK_BINDER, with their flowmachine replacements.
RENAMED_PATHS: dict[str, str] = {
    "flows.statestore.django_store": "flowmachine.backends.db",
    "flows.statestore.django": "flowmachine.backends.db",
    "flows.statestore.redis_store": "flowmachine.backends.redis",
    "flows.statestore.redis": "flowmachine.backends.redis",
    "flows.statestore.tmpfile_store": "flowmachine.backends.tmpfile",
    "flows.binder.session_binder": "flowmachine.binding.session_binder",
}


def renamed_path_error(setting: str, value: str) -> ImproperlyConfigured | None:
    """The error for a django-flows dotted path left in *setting*, naming its replacement; None if it is not one."""
    new = RENAMED_PATHS.get(value)
    if new is None:
        return None
    return ImproperlyConfigured(f"{setting} = {value!r} is the django-flows name: set {setting} = {new!r}.")


class FlowSettings:
    """Attribute access to the ``FLOWS_*`` settings with their defaults."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown django-flowmachine setting: {name!r}")
        try:
            return self._cache[name]
        except KeyError:
            pass
        value = getattr(django_settings, name, DEFAULTS[name])
        if name in IMPORT_STRINGS and isinstance(value, str):
            renamed = renamed_path_error(name, value)
            if renamed is not None:
                raise renamed
            try:
                value = import_string(value)
            except ImportError as exc:
                raise ImproperlyConfigured(f"Could not import {value!r} for the setting {name}: {exc}") from exc
        self._cache[name] = value
        return value

    def reload(self) -> None:
        self._cache.clear()


flow_settings = FlowSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("FLOWS_"):
        flow_settings.reload()


setting_changed.connect(_reload)
