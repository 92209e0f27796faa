"""The package's only global state: flow components by name, and the handlers serving flows.

Components register themselves when their class is created, so an
``action_set`` can name them; a :class:`~flowmachine.FlowHandler` registers
itself when it is created. Everything that needs "every flow this process
serves" (system checks, signals, management commands, the replay, the test
client, the diagram pages) asks the functions below, never a private list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from django.urls import get_resolver

__all__ = [
    "register_component",
    "components_named",
    "load_urlconf",
    "register_handler",
    "unregister_handler",
    "unregister_component",
    "isolated",
    "handlers",
    "entry_points",
    "compiled_flows",
    "find_flow",
    "find_entry_point",
    "handler_serving",
]


class CompiledLike(Protocol):
    """What the registry reads of a compiled flow."""

    name: str
    component: Any


class HandlerLike(Protocol):
    """What the registry reads of a handler: its entry points and their compiled flows."""

    app_namespace: str | None
    #: Definition problems found while building the handler's URLs (URL clashes).
    problems: list[Any]
    #: Where a finished task goes when it was started without its own on-complete URL (or a callable).
    on_complete_url: Any

    @property
    def entry_points(self) -> Sequence[type]: ...

    @property
    def flows(self) -> Mapping[type, Any]: ...

    def get_store(self) -> Any: ...


#: Short class name -> every component class of that name (several apps may reuse a name).
_components: defaultdict[str, list[type]] = defaultdict(list)
_handlers: list[HandlerLike] = []


def register_component(cls: type) -> None:
    """Record a component class under its class name (called by ``FlowComponent.__init_subclass__``)."""
    _components[cls.__name__].append(cls)


def components_named(name: str) -> list[type]:
    """Every component class whose class name is *name*, in definition order."""
    return list(_components.get(name, ()))


def load_urlconf() -> None:
    """Import the project's URLconf, which creates and registers its handlers (raises what it raises)."""
    get_resolver().url_patterns  # noqa: B018  (building the patterns imports every included urls module)


def register_handler(handler: HandlerLike) -> None:
    """Record a handler (called by ``FlowHandler.__init__``)."""
    _handlers.append(handler)


def unregister_handler(handler: HandlerLike) -> None:
    """Forget a handler (tests that build throw-away handlers call it when done)."""
    if handler in _handlers:
        _handlers.remove(handler)


def unregister_component(cls: type) -> None:
    """Forget a component class, so its name no longer resolves (tests defining throw-away classes)."""
    classes = _components.get(cls.__name__, [])
    if cls in classes:
        classes.remove(cls)


@contextmanager
def isolated(*only: HandlerLike) -> Iterator[None]:
    """Within the block, handlers created are forgotten on exit; with *only*, just those are served.

    For tests that build throw-away handlers or URLconfs (handlers register
    themselves for the life of the process otherwise).
    """
    saved = list(_handlers)
    if only:
        _handlers[:] = list(only)
    try:
        yield
    finally:
        _handlers[:] = saved


def handlers() -> list[HandlerLike]:
    """Every handler created in this process, oldest first."""
    return list(_handlers)


def entry_points() -> Iterator[tuple[HandlerLike, type]]:
    """Every (handler, entry-point Scaffold class) pair, in registration order."""
    for handler in _handlers:
        for scaffold in handler.entry_points:
            yield handler, scaffold


def compiled_flows() -> Iterator[tuple[HandlerLike, Any]]:
    """Every (handler, compiled flow) pair; compiles what has not been compiled yet."""
    for handler in _handlers:
        for compiled in handler.flows.values():
            yield handler, compiled


def find_flow(name: str) -> Any:
    """The compiled flow called *name* from the first handler serving it, else None."""
    return next((compiled for _, compiled in compiled_flows() if compiled.name == name), None)


def find_entry_point(name: str) -> type | None:
    """The entry-point Scaffold class of the flow called *name*, else None."""
    return next((scaffold for _, scaffold in entry_points() if scaffold.__name__ == name), None)


def handler_serving(scaffold: type) -> HandlerLike | None:
    """The first handler that registered *scaffold* as an entry point, else None."""
    return next((handler for handler, entry in entry_points() if entry is scaffold), None)
