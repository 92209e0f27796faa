"""django-crispy-forms support: a form helper that carries the flow's hidden fields.

``{% crispy form %}`` renders its own ``<form>`` and CSRF token but knows
nothing of the task id (and any other hidden field ``{% flow_form_header %}``
emits). Give the form a :class:`FlowFormHelper`, or put :class:`FlowFields`
in your own layout::

    from flowmachine.contrib.crispy import FlowFormHelper

    class Email(Action):
        def get_form(self, form_class=None):
            form = super().get_form(form_class)
            form.helper = FlowFormHelper()
            form.helper.add_input(Submit("next", "Next"))
            return form

Needs django-crispy-forms: ``pip install "django-flowmachine[crispy]"``.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from flowmachine.templatetags.flowmachine import flow_form_header

try:
    from crispy_forms.helper import FormHelper
    from crispy_forms.layout import Layout
    from crispy_forms.utils import TEMPLATE_PACK
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        f'flowmachine.contrib.crispy needs django-crispy-forms: pip install "django-flowmachine[crispy]" ({exc})'
    ) from exc

__all__ = ["FlowFields", "FlowFormHelper", "flow_hidden_fields"]

_CSRF_INPUT = re.compile(r"<input\b[^>]*\bname=\"csrfmiddlewaretoken\"[^>]*>")


def flow_hidden_fields(context: Any) -> SafeString:
    """The hidden inputs of ``{% flow_form_header %}`` without its CSRF input (crispy adds its own)."""
    return mark_safe(_CSRF_INPUT.sub("", str(flow_form_header(context))))  # noqa: S308 - our own tag's HTML


class FlowFields:
    """Layout object rendering the flow's hidden fields (the task id and the like)."""

    def render(self, form: Any, context: Any, template_pack: Any = TEMPLATE_PACK, **kwargs: Any) -> SafeString:
        return flow_hidden_fields(context)


class FlowFormHelper(FormHelper):  # type: ignore[misc]
    """A POST FormHelper whose layout always ends with :class:`FlowFields`.

    With no layout of its own it renders every field of the form, like
    ``FormHelper(form)``; with one, :class:`FlowFields` is appended if missing.
    """

    def __init__(self, form: Any = None) -> None:
        super().__init__(form)
        self.form_method = "post"
        if getattr(self, "layout", None) is None:
            # crispy only calls render_layout() when the helper has a layout.
            self.layout = Layout(FlowFields())

    def render_layout(self, form: Any, context: Any, template_pack: Any = TEMPLATE_PACK) -> Any:
        original = self.layout
        fields = [f for f in (original.fields if original is not None else []) if not isinstance(f, FlowFields)]
        if not fields:
            fields = list(self.build_default_layout(form).fields)
        self.layout = Layout(*fields, FlowFields())
        try:
            return super().render_layout(form, context, template_pack=template_pack)
        finally:
            self.layout = original
