"""The suite's URL-and-status view of :class:`flowmachine.testing.FlowClient`.

Many tests speak the view layer's language: a task's URL, the status code of
each answer (``post(data, expect=409)``), a link on the page by its CSS class.
``Walker`` gives them that language over the shipped driver: the task, its URL
and the last response are the FlowClient's own, and every move goes through
it, so one driver walks every task of the suite.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from flowmachine.conf import flow_settings
from flowmachine.testing import FlowClient


class Walker:
    """Start a task at *entry* and post each step's data, asserting each answer's status."""

    def __init__(self, client: Any, entry: str = "/buy/") -> None:
        self.flow = FlowClient(client)
        self.entry = entry

    # -- the FlowClient's state, by the names the tests use ---------------------------

    @property
    def client(self) -> Any:
        return self.flow.client

    @property
    def url(self) -> str:
        return self.flow.url

    @url.setter
    def url(self, url: str) -> None:
        """Point the task at *url* (an earlier step, a hand-made link): its task id comes with it."""
        self.flow.url = url
        task_ids = parse_qs(urlsplit(url).query).get(flow_settings.FLOWS_TASK_ID_PARAM)
        if task_ids:
            self.flow.task_id = task_ids[0]

    @property
    def response(self) -> Any:
        return self.flow.response

    @response.setter
    def response(self, response: Any) -> None:
        self.flow.response = response

    @property
    def task_id(self) -> str:
        assert self.flow.task_id, "call start() first"
        return self.flow.task_id

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    # -- moving -----------------------------------------------------------------------

    def start(self, query: str = "") -> Walker:
        """GET the entry URL (plus *query*, ``"?name=value"``) and follow it into the new task."""
        self.flow.start(self.entry + query)
        return self

    def post(self, data: dict[str, Any] | None = None, url: str | None = None, expect: int = 302) -> Any:
        """POST *data* to the current step (or to *url*), assert the status, follow a redirect into the task."""
        if url is None:
            return self.flow.step(data or {}, status=expect)
        # FlowClient posts to the current step only: post to *url* and let it follow the answer.
        payload = {flow_settings.FLOWS_TASK_ID_PARAM: self.task_id, **(data or {})}
        response = self.client.post(url, payload)
        assert response.status_code == expect, (response.status_code, response.content[:500])
        self.flow.follow(response)
        return response

    def get(self, url: str, expect: int = 200) -> Any:
        """GET *url* and assert the status; the task stays where it is."""
        response = self.client.get(url)
        assert response.status_code == expect, (response.status_code, response.content[:500])
        return response

    def follow_link(self, css_class: str) -> None:
        """Follow the ``<a class="...">`` link rendered on the current page (a ``link_to`` jump)."""
        html = self.response.content.decode()
        marker = f'class="{css_class}" href="'
        start = html.index(marker) + len(marker)
        href = html[start : html.index('"', start)].replace("&amp;", "&")
        response = self.client.get(href)
        assert response.status_code == 302, response
        self.flow.follow(response)
