"""Testing flows: replay them in memory, generate their paths, walk them over HTTP.

The pytest plugin (``flowmachine.testing.plugin``, registered through the
``pytest11`` entry point) adds the ``flow_client`` fixture; everything else
here works in any test runner. Names are imported lazily, so pytest can load
the plugin before Django is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowmachine._lazy import lazy_attributes

__all__ = [
    "FINISHED",
    "LINK",
    "Coverage",
    "Edge",
    "FlowClient",
    "FlowPath",
    "FlowReplay",
    "PathGraph",
    "PreconditionRefused",
    "ReplayError",
    "ReplayMismatch",
    "coverage",
    "replay",
    "shortest_paths",
    "simple_paths",
]

_LAZY = {
    **dict.fromkeys(
        ["FlowReplay", "PreconditionRefused", "ReplayError", "ReplayMismatch", "replay"],
        "flowmachine.testing._replay",
    ),
    **dict.fromkeys(
        ["shortest_paths", "simple_paths", "coverage", "Coverage", "Edge", "PathGraph", "FlowPath"],
        "flowmachine.machine.paths",
    ),
    **dict.fromkeys(["FlowClient", "FINISHED", "LINK"], "flowmachine.testing._client"),
}


__getattr__ = lazy_attributes("flowmachine.testing", _LAZY, globals())

if TYPE_CHECKING:
    from flowmachine.machine.paths import (
        Coverage,
        Edge,
        FlowPath,
        PathGraph,
        coverage,
        shortest_paths,
        simple_paths,
    )
    from flowmachine.testing._client import FINISHED, LINK, FlowClient
    from flowmachine.testing._replay import (
        FlowReplay,
        PreconditionRefused,
        ReplayError,
        ReplayMismatch,
        replay,
    )
