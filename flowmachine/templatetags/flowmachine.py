"""Template tags: ``{% load flowmachine %}`` then ``{% flow_form_header %}``."""

from __future__ import annotations

import warnings
from typing import Any

from django import template
from django.middleware.csrf import get_token
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag(takes_context=True)
def flow_task_field(context: Any) -> SafeString:
    """The hidden input that carries the task id in a form."""
    flow = context.get("flow")
    return flow.hidden_field if flow is not None else SafeString("")


@register.simple_tag(takes_context=True)
def flow_form_header(context: Any) -> SafeString:
    """What every flow form needs inside ``<form method="post">``: CSRF and task fields."""
    request = context.get("request")
    parts = []
    if request is not None:
        parts.append(format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request)))
    parts.append(flow_task_field(context))
    return SafeString("".join(parts))


@register.simple_tag(takes_context=True)
def render_form_header(context: Any) -> SafeString:
    """Deprecated name of :func:`flow_form_header`, kept for templates ported from django-flows."""
    warnings.warn(
        "{% render_form_header %} is deprecated: use {% flow_form_header %}, which renders the same fields.",
        DeprecationWarning,
        stacklevel=2,
    )
    return flow_form_header(context)


@register.simple_tag(takes_context=True)
def flow_action_url(context: Any) -> str:
    """The URL a flow form posts to (this step, in this task)."""
    flow = context.get("flow")
    return flow.action_url if flow is not None else ""


@register.inclusion_tag("flowmachine/summary.html", takes_context=True)
def flow_summary(context: Any, summary: Any = None) -> dict[str, Any]:
    """The answers of the path taken, step by step, with Change links (``Action.summary()``).

    ``{% flow_summary %}`` on a step's page; ``{% flow_summary steps %}`` renders a list
    from :meth:`flowmachine.Action.summary` given explicitly.
    """
    if summary is None:
        view = context.get("view")
        summary = view.summary() if view is not None and hasattr(view, "summary") else []
    return {"summary": summary}
