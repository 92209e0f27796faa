"""System checks: definition mistakes found by ``manage.py check`` at start-up.

Flows are checked as compiled by the handlers in the URLconf, so the checks
see exactly what will be served.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import InvalidStorageError, storages
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from flowmachine import registry
from flowmachine.backends import get_store
from flowmachine.backends import redis as redis_store
from flowmachine.backends.base import BaseStateStore
from flowmachine.binding import session_binder
from flowmachine.components import Action
from flowmachine.conf import REMOVED_SETTINGS, flow_settings
from flowmachine.engine import funnel
from flowmachine.machine.dataflow import ERROR, data_flow_findings
from flowmachine.machine.places import Place


def _each_component(*, actions: bool = False) -> Iterator[Place]:
    """Each place of every served flow whose component was not seen yet (a component checked once)."""
    _load_urls()
    seen: set[type] = set()
    for _, compiled in registry.compiled_flows():
        for place in compiled.places.values():
            if place.component in seen or (actions and not place.is_action):
                continue
            seen.add(place.component)
            yield place


def _load_urls() -> None:
    try:
        registry.load_urlconf()
    except Exception:  # noqa: S110  (Django's own URL check reports a broken URLconf)
        pass


@checks.register("flowmachine")
def check_flow_definitions(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report each compile problem of every registered flow, and URL clashes."""
    _load_urls()
    messages: list[checks.CheckMessage] = []
    for _, compiled in registry.compiled_flows():
        for problem in compiled.problems:
            messages.append(checks.Error(problem.msg, hint=problem.hint, obj=problem.obj, id=problem.id))
    for handler in registry.handlers():
        for problem in handler.problems:
            messages.append(checks.Error(problem.msg, hint=problem.hint, obj=problem.obj, id=problem.id))
    return messages


@checks.register("flowmachine")
def check_handlers_know_where_to_finish(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W023: a handler without ``on_complete_url``: tasks started without one fail at their last step."""
    _load_urls()
    return [
        checks.Warning(
            f"The FlowHandler serving {', '.join(e.__name__ for e in handler.entry_points)} has no "
            "on_complete_url: a journey started from its entry URL without ?_on_complete= has nowhere to go "
            "when it completes, and its last step answers with an error page.",
            hint="Pass FlowHandler(on_complete_url=...), or start every journey with "
            "flow_entry_link(..., on_complete_url=...) and silence this check (SILENCED_SYSTEM_CHECKS).",
            obj=handler,
            id="flowmachine.W023",
        )
        for handler in registry.handlers()
        if handler.entry_points and not handler.on_complete_url
    ]


#: django-flows attributes of flow components that flowmachine ignores, with what to do instead (W024).
_REMOVED_ATTRIBUTES = {
    "urls": "give the component one path() fragment in url",
    "get_url_args": 'use path converters in url ("<int:pk>/"): their values are kept with the task',
}


@checks.register("flowmachine")
def check_django_flows_leftovers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W024: a django-flows setting, or a django-flows attribute of a component, that flowmachine ignores."""
    messages: list[checks.CheckMessage] = [
        checks.Warning(
            f"The setting {name} is a django-flows setting that django-flowmachine does not read.",
            hint=f"Remove it: {instead}.",
            id="flowmachine.W024",
        )
        for name, instead in REMOVED_SETTINGS.items()
        if hasattr(settings, name)
    ]
    _load_urls()
    seen: set[type] = set()
    for _, compiled in registry.compiled_flows():
        for place in compiled.places.values():
            component = place.component
            if component in seen:
                continue
            seen.add(component)
            for attribute, instead in _REMOVED_ATTRIBUTES.items():
                if any(attribute in vars(cls) for cls in component.__mro__):
                    messages.append(
                        checks.Warning(
                            f"{place.name}: {component.__qualname__} defines {attribute}, a django-flows "
                            "attribute that django-flowmachine ignores.",
                            hint=f"Remove {attribute}: {instead}.",
                            obj=component,
                            id="flowmachine.W024",
                        )
                    )
    return messages


@checks.register("flowmachine", checks.Tags.templates)
def check_actions_can_render(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every action of every flow names a template that exists."""
    return [
        message for place in _each_component(actions=True) for message in _check_template(place.name, place.component)
    ]


def _check_template(where: str, action: type) -> list[checks.CheckMessage]:
    overrides_names = action.get_template_names is not Action.get_template_names  # type: ignore[attr-defined]
    template_name = getattr(action, "template_name", None)
    if not template_name:
        if overrides_names:
            return []
        return [
            checks.Error(
                f"{where}: the action {action.__qualname__} has no template_name, so it cannot render.",
                hint="Set template_name on the action, or override get_template_names().",
                obj=action,
                id="flowmachine.E006",
            )
        ]
    try:
        get_template(template_name)
    except TemplateDoesNotExist:
        return [
            checks.Error(
                f"{where}: the template {template_name!r} of {action.__qualname__} does not exist.",
                hint="Check the name, and that TEMPLATES can find it (APP_DIRS or DIRS).",
                obj=action,
                id="flowmachine.E007",
            )
        ]
    return []


@checks.register("flowmachine")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The configured store and binder can be loaded and have what they need."""
    messages: list[checks.CheckMessage] = []
    try:
        binder = flow_settings.FLOWS_TASK_BINDER
    except ImproperlyConfigured as exc:
        messages.append(
            checks.Error(str(exc), hint="Set FLOWS_TASK_BINDER to a dotted path of a callable.", id="flowmachine.E012")
        )
        binder = None
    middleware = "django.contrib.sessions.middleware.SessionMiddleware"
    if binder is session_binder and middleware not in getattr(settings, "MIDDLEWARE", []):
        messages.append(
            checks.Error(
                "The default task binder keeps its secret in the session, but SessionMiddleware is not installed.",
                hint=f"Add {middleware!r} to MIDDLEWARE, or set FLOWS_TASK_BINDER.",
                id="flowmachine.E011",
            )
        )
    try:
        store = get_store()
    except ImproperlyConfigured as exc:
        messages.append(
            checks.Error(
                str(exc), hint="Set FLOWS_STATE_STORE to the dotted path of a store module.", id="flowmachine.E012"
            )
        )
    else:
        messages.extend(_check_connect_timeout(store))
        messages.extend(_check_sqlite_timeout(store))
    messages.extend(_check_funnel())
    return messages


def _check_sqlite_timeout(store: BaseStateStore) -> list[checks.CheckMessage]:
    """W022: the task database is SQLite without a busy timeout, so a double click can fail (503)."""
    alias = store.db_alias
    database: dict[str, Any] = settings.DATABASES.get(alias or "", {})
    if "sqlite3" not in str(database.get("ENGINE", "")):
        return []
    options: dict[str, Any] = database.get("OPTIONS", {})
    timeout = options.get("timeout", 5)  # Python's sqlite3 waits 5 s by default
    if isinstance(timeout, (int, float)) and timeout >= 1:
        return []
    return [
        checks.Warning(
            f"The task database {alias!r} (SQLite) waits {timeout!r} s for a lock: two POSTs on one journey "
            "at once (a double click) make the second fail with 503 instead of running after the first.",
            hint=f'Set DATABASES[{alias!r}]["OPTIONS"]["timeout"] to a few seconds (5 is the default).',
            id="flowmachine.W022",
        )
    ]


def _check_funnel() -> list[checks.CheckMessage]:
    """E021: ``FLOWS_FUNNEL`` names no funnel backend, or the Redis one without redis-py."""
    try:
        kind = funnel.backend()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="Set FLOWS_FUNNEL to None, 'db' or 'redis'.", id="flowmachine.E021")]
    if kind == "redis" and not redis_store.installed():
        return [
            checks.Error(
                'FLOWS_FUNNEL = "redis" needs redis-py, which is not installed.',
                hint='pip install "django-flowmachine[redis]", or set FLOWS_FUNNEL = "db".',
                id="flowmachine.E021",
            )
        ]
    return []


def _check_connect_timeout(store: BaseStateStore) -> list[checks.CheckMessage]:
    """W019: the db store on PostgreSQL without ``connect_timeout`` waits minutes (or forever) for a lost server."""
    alias = store.db_alias
    database = settings.DATABASES.get(alias or "", {})
    if "postgresql" not in str(database.get("ENGINE", "")):
        return []
    if "connect_timeout" in database.get("OPTIONS", {}) or os.environ.get("PGCONNECT_TIMEOUT"):
        return []
    return [
        checks.Warning(
            f"The task database {alias!r} (PostgreSQL) has no connect_timeout: while the server cannot be "
            "reached, each request of a flow waits 130 s (psycopg 3) or forever (psycopg2) instead of "
            "answering 503.",
            hint=f'Add "connect_timeout": 5 to DATABASES[{alias!r}]["OPTIONS"] (see the deployment docs).',
            id="flowmachine.W019",
        )
    ]


@checks.register("flowmachine")
def check_preconditions_are_objects(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E025: a precondition listed as a class, or an object without ``process(request, component)``."""
    messages: list[checks.CheckMessage] = []
    for place in _each_component():
        component = place.component
        for precondition in component.preconditions:
            if isinstance(precondition, type):
                problem = f"lists the class {precondition.__name__}, not an instance of it"
                hint = f"Write {precondition.__name__}(...) in preconditions."
            elif not callable(getattr(precondition, "process", None)):
                problem = f"lists {precondition!r}, which has no process(request, component) method"
                hint = "A precondition is an object whose process() returns None or a response."
            else:
                continue
            messages.append(
                checks.Error(
                    f"{place.name}: {component.__name__}.preconditions {problem}.",
                    hint=hint,
                    obj=component,
                    id="flowmachine.E025",
                )
            )
    return messages


def _declared_fields(action: type) -> list[Any]:
    form_class = getattr(action, "form_class", None)
    return list(getattr(form_class, "base_fields", {}).values())


@checks.register("flowmachine")
def check_file_steps_have_storage(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E026: a step takes files (a FileField or ImageField) and FLOWS_FILE_STORAGE names no usable storage."""
    steps = [
        place
        for place in _each_component(actions=True)
        if any(isinstance(f, forms.FileField) for f in _declared_fields(place.component))
    ]
    if not steps:
        return []
    alias = flow_settings.FLOWS_FILE_STORAGE
    try:
        storages[alias]
    except (InvalidStorageError, ImproperlyConfigured, ImportError) as exc:
        names = ", ".join(sorted({place.component.__name__ for place in steps}))
        return [
            checks.Error(
                f"{names} take files, and FLOWS_FILE_STORAGE = {alias!r} is not a usable storage: {exc}",
                hint=(
                    "Add it to STORAGES (a storage not served to the public: a FileSystemStorage whose "
                    "location is outside MEDIA_ROOT, or a private bucket), or set FLOWS_FILE_STORAGE to a "
                    "key of STORAGES."
                ),
                obj=steps[0].component,
                id="flowmachine.E026",
            )
        ]
    return []


@checks.register("flowmachine")
def check_data_flow(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Over every path of every flow: reads are written first, and no action is unreachable or a dead end."""
    _load_urls()
    messages: list[checks.CheckMessage] = []
    seen: set[type] = set()
    for _, compiled in registry.compiled_flows():
        if compiled.problems or compiled.component in seen:
            continue
        seen.add(compiled.component)
        for finding in data_flow_findings(compiled):
            kind = checks.Error if finding.level == ERROR else checks.Warning
            messages.append(kind(finding.msg, hint=finding.hint, obj=finding.obj, id=finding.id))
    return messages
