"""Lazy public names: a package exports names whose modules load on first use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_attributes(package: str, names: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing each of *names* from its module the first time it is used.

    Packages use it so that importing them (by ``INSTALLED_APPS``, or pytest
    loading a plugin) does not import Django views before Django is ready.
    """

    def __getattr__(name: str) -> Any:
        module_name = names.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module_name), name)
        namespace[name] = value
        return value

    return __getattr__
