"""What a page shows of its task: the ``flow`` template variable, progress and the trail."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Protocol

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils.html import format_html
from django.utils.safestring import SafeString

from flowmachine.conf import flow_settings
from flowmachine.engine.urls import VERSION_PARAM, TaskUrls
from flowmachine.machine.places import Place

__all__ = ["FlowContext", "Progress", "TrailStep"]


@dataclass(frozen=True)
class TrailStep:
    """A step walked, for progress trails: its dotted name, title, URL in this task and component class.

    ``url`` is None for a ``skip_on_back`` step: walked, but not one to go back to.
    """

    name: str
    title: str
    url: str | None
    component: type | None = None


@dataclass(frozen=True)
class Progress:
    """Step n of m: n counts the steps of the trail, m adds the fewest steps left to the end.

    ``step`` is ``len(trail) + 1``. ``total`` is ``step`` plus the fewest actions
    after this one on any way to the end (None when the end cannot be reached
    from here): the length of the shortest journey still possible, which only
    grows when the user takes a longer branch.
    """

    step: int
    total: int | None
    trail: tuple[TrailStep, ...]


class ShownTask(Protocol):
    """What a page reads of its task (:class:`flowmachine.engine.task.Task` is one)."""

    id: str
    urls: TaskUrls

    @property
    def moved_at(self) -> int: ...

    def back_place(self) -> Place | None: ...

    def walked_places(self) -> list[tuple[Place, bool]]: ...


class FlowContext:
    """The ``flow`` template variable: the task field, back link and progress."""

    def __init__(self, task: ShownTask, place: Place, request: HttpRequest | None = None) -> None:
        self.task = task
        self._request = request
        self.task_id = task.id
        self.param = flow_settings.FLOWS_TASK_ID_PARAM
        self.place = place
        self.title = place.component.display_title()

    @property
    def version(self) -> int:
        """The change of the task this page shows; a POST carrying an older one is refused."""
        return self.task.moved_at

    @property
    def hidden_field(self) -> SafeString:
        return format_html(
            '<input type="hidden" name="{}" value="{}"><input type="hidden" name="{}" value="{}">',
            self.param,
            self.task_id,
            VERSION_PARAM,
            self.version,
        )

    @property
    def render_form_header(self) -> SafeString:
        """django-flows' ``{{ flow.render_form_header }}``: the CSRF and task fields. Deprecated."""
        warnings.warn(
            "{{ flow.render_form_header }} is django-flows' spelling: use {% load flowmachine %}"
            "{% flow_form_header %} inside the form.",
            DeprecationWarning,
            stacklevel=2,
        )
        csrf = ""
        if self._request is not None:
            csrf = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(self._request))
        return SafeString(csrf + self.hidden_field)

    @property
    def back_url(self) -> str | None:
        back = self.task.back_place()
        return self.task.urls.url_for(back) if back else None

    @property
    def trail(self) -> tuple[TrailStep, ...]:
        """The steps walked to reach this one, oldest first (see ``Task.walked_places``)."""
        urls = self.task.urls
        return tuple(
            TrailStep(p.name, p.component.display_title(), urls.url_for(p) if back else None, p.component)
            for p, back in self.task.walked_places()
        )

    @property
    def progress(self) -> Progress:
        """Step n of m, and the trail n counts."""
        trail = self.trail
        step = len(trail) + 1
        remaining = self.place.remaining
        return Progress(step, None if remaining is None else step + remaining, trail)

    @property
    def action_url(self) -> str:
        return self.task.urls.url_for(self.place)
