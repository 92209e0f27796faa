"""Walking a real task through the Django test client, one step at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.urls import resolve, reverse

from flowmachine import registry
from flowmachine.backends import get_store
from flowmachine.components import Scaffold, Target
from flowmachine.conf import flow_settings
from flowmachine.engine.urls import JUMP_PARAM, SIGNATURE_PARAM, jump_signature
from flowmachine.machine.paths import Edge, FlowPath, PathGraph, compile_flow
from flowmachine.machine.places import FINAL
from flowmachine.record import Record

__all__ = ["FINISHED", "LINK", "FlowClient"]

#: ``expect=FINISHED``: the step finishes the task.
FINISHED = FINAL


class _Link:
    def __repr__(self) -> str:
        return "LINK"


#: Data for a jump in :meth:`FlowClient.walk`: follow a ``link_to`` link (``?_to=Target``).
LINK: Any = _Link()

StepData = Any  # a dict of POST data, LINK, or a callable(FlowClient) returning one


class FlowClient:
    """A task driven through the test client: ``start()``, ``step(data)``, ``jump()``, ``walk(path)``.

    After each step the position is read from the state store (where the view
    layer saved it) and, when *expect* is given, asserted.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.url = ""
        self.response: Any = None
        self.task_id: str | None = None
        self.graph: PathGraph | None = None
        self._handler: Any = None

    # -- starting -----------------------------------------------------------------

    def start(
        self, flow: type[Scaffold] | str, *, query: Mapping[str, Any] | None = None, expect: str | None = None
    ) -> FlowClient:
        """GET the entry URL of *flow* (a registered Scaffold, or a URL) and follow it to the first step."""
        if isinstance(flow, str):
            url = flow
        else:
            self.graph = PathGraph(compile_flow(flow))
            self._handler = registry.handler_serving(flow)
            if self._handler is None:
                raise AssertionError(f"{flow.__name__} is not registered with any FlowHandler.")
            root = self.graph.flow.root
            namespace = self._handler.app_namespace
            url = reverse(f"{namespace}:{root.url_name}" if namespace else root.url_name)
        if query:
            url += "?" + urlencode(query, doseq=True)
        response = self.client.get(url)
        assert response.status_code == 302, f"GET {url} answered {response.status_code}, not a redirect into a task."
        self._arrive(response["Location"])
        if expect is not None:
            self.assert_at(expect)
        return self

    # -- state of the task ----------------------------------------------------------

    @property
    def record(self) -> dict[str, Any] | None:
        """The task's stored record, as the view layer last saved it."""
        assert self.task_id, "call start() first"
        store = self._handler.get_store() if self._handler else _default_store()
        return store.get_state(self.task_id)  # type: ignore[no-any-return]

    @property
    def position(self) -> str:
        """The stored position (an action's full state name, or FINISHED), else the page shown last.

        A task is stored when it first changes, so until then the position is
        that of the step whose page was shown last.
        """
        record = self.record
        if record is not None:
            stored = Record(record)
            return FINISHED if stored.finished else stored.position
        place = getattr(resolve(urlsplit(self.url).path).func, "place", None)
        assert place is not None, f"Task {self.task_id} is not in the store, and {self.url} is not a step."
        return str(place.name)

    @property
    def state(self) -> dict[str, Any]:
        record = self.record or {}
        return dict(record.get("data") or {})

    @property
    def finished(self) -> bool:
        return self.position == FINISHED

    @property
    def form(self) -> Any:
        """The form on the page shown last, or None."""
        context = getattr(self.response, "context", None)
        try:
            return context["form"] if context is not None else None
        except KeyError:
            return None

    def assert_at(self, expect: str) -> None:
        """Assert the task is at *expect*: an action's full name, label, or class name, or FINISHED."""
        position = self.position
        if position == expect or (position != FINISHED and position.rsplit(".", 1)[-1] == expect):
            return
        if self.graph is not None and expect != FINISHED and position != FINISHED:
            try:
                if self.graph.find(expect) == position:
                    return
            except KeyError:
                pass
        errors = getattr(self.form, "errors", None)
        detail = f"; the form says {errors.as_data()!r}" if errors else ""
        raise AssertionError(
            f"Expected the task to be at {expect}, but it is at {position} "
            f"(last response {self.response.status_code}{detail})."
        )

    # -- moving ---------------------------------------------------------------------

    def step(self, data: StepData = None, *, expect: str | None = None, status: int | None = None) -> Any:
        """POST *data* to the current step; follow a redirect to the next step; assert *expect*."""
        if callable(data):
            data = data(self)
        if data is LINK:
            raise AssertionError("LINK follows a jump: use jump(target) for it.")
        payload = {flow_settings.FLOWS_TASK_ID_PARAM: self.task_id, **(data or {})}
        response = self.client.post(self.url, payload)
        self._after(response, status, expect)
        return response

    def jump(self, target: Target, *, expect: str | None = None, status: int | None = None) -> Any:
        """Follow a ``link_to(target)`` link from the current step."""
        name = target if isinstance(target, str) else target.component_name()
        param = flow_settings.FLOWS_TASK_ID_PARAM
        assert self.task_id is not None, "start() the task first"
        signature = jump_signature(self.task_id, self.position, name)  # as the page's link_to() signs it
        query = {param: self.task_id, JUMP_PARAM: name, SIGNATURE_PARAM: signature}
        url = f"{urlsplit(self.url).path}?{urlencode(query)}"
        response = self.client.get(url)
        self._after(response, status, expect)
        return response

    def walk(
        self,
        path: FlowPath,
        data: Mapping[str, StepData] | None = None,
        *,
        after_each: Callable[[FlowClient, Edge], None] | None = None,
    ) -> FlowClient:
        """Take each move of a generated *path* over HTTP, asserting the position after each.

        *data* maps an action's label (``ChooseItem``: used when it completes),
        or a single move as path ids write it (``SavedMethod~CardNumber``;
        a jump may also be named by its target, ``SavedMethod~NewPaymentMethod``),
        to its POST data, to :data:`LINK`, or to a callable taking this client
        and returning either, or None when it took the step itself (a hand-off
        to another site, say). A COMPLETE move without data posts an empty form; a jump
        without data follows the ``link_to`` link. *after_each(client, edge)*
        runs after each move has been checked, for assertions of your own.
        """
        data = data or {}
        graph = path.graph
        if self.task_id is None:
            self.graph = graph
            self.start(graph.flow.component)
        for edge in path.edges:
            self.assert_at(edge.source)
            source, target = graph.label(edge.source), graph.label(edge.target)
            move = f"{source}{'~' if edge.is_jump else '-'}{target}"
            if edge.is_jump:
                given = data.get(move, data.get(f"{source}~{edge.jump_target}", LINK))
            else:
                given = data.get(move, data.get(source))
            if callable(given) and given is not LINK:
                given = given(self)
                if given is None:  # the callable took the step itself
                    pass
                elif given is LINK:
                    self.jump(edge.jump_target or target)
                else:
                    self.step(given)
            elif given is LINK:
                self.jump(edge.jump_target or target)
            else:
                self.step(given)
            try:
                self.assert_at(edge.target)
            except AssertionError as exc:
                raise AssertionError(f"{path.id}: after {move}: {exc}") from None
            if after_each is not None:
                after_each(self, edge)
        return self

    # -- helpers --------------------------------------------------------------------

    def _after(self, response: Any, status: int | None, expect: str | None) -> None:
        if status is not None:
            assert response.status_code == status, (
                f"{self.url} answered {response.status_code}, expected {status}: {response.content[:300]!r}"
            )
        self.follow(response)
        if expect is not None:
            self.assert_at(expect)

    def _task_url(self, url: str) -> bool:
        return flow_settings.FLOWS_TASK_ID_PARAM in parse_qs(urlsplit(url).query)

    def follow(self, response: Any) -> Any:
        """Follow *response* if it redirects into the task (after a hand-off to another site, say)."""
        if response.status_code == 302 and self._task_url(response["Location"]):
            self._arrive(response["Location"])
        else:
            self.response = response
        return self.response

    def _arrive(self, url: str) -> None:
        """GET a step of the task, following redirects to other steps (a GET may complete a step)."""
        for _ in range(10):
            task_ids = parse_qs(urlsplit(url).query).get(flow_settings.FLOWS_TASK_ID_PARAM)
            assert task_ids, f"{url} carries no task id."
            self.task_id = task_ids[0]
            self.url = url
            self.response = self.client.get(url)
            if not (self.response.status_code == 302 and self._task_url(self.response["Location"])):
                return
            url = self.response["Location"]
        raise AssertionError(f"Task {self.task_id} redirects in a loop, last to {url}.")


def _default_store() -> Any:
    return get_store()
