"""django-flowmachine: long, branching user journeys for Django.

Actions (one page each) are grouped into Scaffolds; each entry-point scaffold is
compiled into a hierarchical state machine, and each user journey is a task
whose position and data live in a state store.
"""

from __future__ import annotations

from flowmachine._lazy import lazy_attributes

__version__ = "0.1.0.dev0"

__all__ = [
    "COMPLETE",
    "Action",
    "Scaffold",
    "Transition",
    "Linear",
    "FlowHandler",
    "InvalidJump",
    "FlowDefinitionError",
    "flow_graph",
    "to_dot",
    "to_mermaid",
    "all_flowgraphs",
    "csrf_failure",
    "AnswerRow",
    "StepSummary",
]

_LAZY = {
    "COMPLETE": "flowmachine.components",
    "Action": "flowmachine.components",
    "Scaffold": "flowmachine.components",
    "Transition": "flowmachine.transition",
    "Linear": "flowmachine.transition",
    "FlowHandler": "flowmachine.handler",
    "InvalidJump": "flowmachine.exceptions",
    "FlowDefinitionError": "flowmachine.exceptions",
    "flow_graph": "flowmachine.diagrams",
    "to_dot": "flowmachine.diagrams",
    "to_mermaid": "flowmachine.diagrams",
    "all_flowgraphs": "flowmachine.web.diagram_views",
    "csrf_failure": "flowmachine.web.csrf",
    "AnswerRow": "flowmachine.summary",
    "StepSummary": "flowmachine.summary",
}


# Lazy so that ``INSTALLED_APPS = ["flowmachine"]`` does not import Django
# views before the app registry is ready.
__getattr__ = lazy_attributes("flowmachine", _LAZY, globals())

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from flowmachine.components import COMPLETE, Action, Scaffold
    from flowmachine.diagrams import flow_graph, to_dot, to_mermaid
    from flowmachine.exceptions import FlowDefinitionError, InvalidJump
    from flowmachine.handler import FlowHandler
    from flowmachine.summary import AnswerRow, StepSummary
    from flowmachine.transition import Linear, Transition
    from flowmachine.web.csrf import csrf_failure
    from flowmachine.web.diagram_views import all_flowgraphs
