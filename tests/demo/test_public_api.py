"""The demo teaches only the public API: no private module, no library internals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo"

#: Modules an application may import (docs/api.md).
PUBLIC_MODULES = {
    "flowmachine",
    "flowmachine.preconditions",
    "flowmachine.signals",
    "flowmachine.exceptions",
    "flowmachine.testing",
    "flowmachine.diagrams",
    "flowmachine.backends",
    "flowmachine.binding",
    "flowmachine.contrib.crispy",
    "flowmachine.contrib.celery",
}
#: What an action may read of ``self.task`` (the task's id, for a unique order per journey).
TASK_ATTRIBUTES = {"id"}


def demo_sources() -> list[Path]:
    return sorted(p for p in DEMO.rglob("*.py") if "migrations" not in p.parts)


def private_uses(source: str) -> list[str]:
    """Each place *source* imports a private flowmachine module or name, or reaches into a task or place."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "flowmachine":
            if node.module not in PUBLIC_MODULES:
                found.append(f"line {node.lineno}: imports the private module {node.module}")
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if a.name.startswith("flowmachine.")]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            owner = node.value.attr
            if owner == "task" and node.attr not in TASK_ATTRIBUTES:
                found.append(f"line {node.lineno}: reads task.{node.attr}")
            elif owner == "place":
                found.append(f"line {node.lineno}: reads place.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if isinstance(node.value, ast.Attribute) and node.value.attr in {"task", "place", "flow", "handler"}:
                found.append(f"line {node.lineno}: reads the private {node.value.attr}.{node.attr}")
    return found


@pytest.mark.parametrize("path", demo_sources(), ids=lambda p: str(p.relative_to(DEMO)))
def test_the_demo_uses_only_the_public_api(path):
    assert private_uses(path.read_text()) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "from flowmachine.engine.task import Task",
        "from flowmachine import _lazy",
        "import flowmachine.web.step",
        "self.task.history[:] = trail",
        "self.task.modified = True",
        "url = self.task.url_for(self.request, self.place)",
        "names = [p.name for p in self.place.lineage()]",
        "x = self.task._baseline",
    ],
)
def test_the_check_catches_each_kind_of_private_use(snippet):
    assert private_uses(snippet)
