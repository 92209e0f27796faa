"""Walking the demo's checkout over HTTP: its forms, the answers to them, the walk.

Shared by the throughput run's single walks (``requests``) and by the load
(``locustfile.py``, run by locust): a *browser* is anything with
``expect(method, url, status, data=None) -> Answer`` that keeps the cookies.
It imports nothing of Django or flowmachine, so locust can load it as it is.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit


class WalkError(RuntimeError):
    """The demo answered something a correct checkout does not expect."""


@dataclass
class Answer:
    status: int
    location: str
    body: str


class Browser(Protocol):
    def expect(self, method: str, url: str, status: int, data: dict[str, Any] | None = None) -> Answer: ...


def unexpected(method: str, url: str, status: int, got: int, body: str) -> WalkError:
    """The error of an answer with another status, with the form errors the page shows."""
    errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.DOTALL)
    detail = "; ".join(re.sub(r"<[^>]+>", " ", e).strip() for e in errors) or body[:300]
    return WalkError(f"{method} {url}: expected {status}, got {got}: {detail!r}")


@dataclass
class _Form:
    action: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)
    checkboxes: set[str] = field(default_factory=set)
    fields: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    """The POST forms of a page: hidden values, radio and select options, other field names."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._form: _Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        form = self._form
        if tag == "form" and a.get("method", "").lower() == "post":
            self._form = _Form(action=a.get("action", ""))
            self.forms.append(self._form)
        elif form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind == "hidden":
                form.hidden[a["name"]] = a.get("value", "")
            elif kind == "radio":
                form.options.setdefault(a["name"], []).append(a.get("value", ""))
            elif kind == "checkbox":
                form.checkboxes.add(a["name"])
            elif kind not in ("submit", "button"):
                form.fields.append(a["name"])
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            form.options[a["name"]] = []
        elif tag == "option" and self._select is not None:
            form.options[self._select].append(a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            form.fields.append(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def fill_form(page: str, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The flow's form on *page* (the one carrying the task id): its action and the data to post.

    Hidden fields are posted back as they are; the others come from *values*
    by field name (a callable is called), radio buttons and selects default to
    their first option, checkboxes to unchecked.
    """
    parser = _FormParser()
    parser.feed(page)
    forms = [f for f in parser.forms if "_t" in f.hidden]
    if not forms:
        raise WalkError(f"no form with a task id on the page: {page[:300]!r}")
    form = forms[0]
    data: dict[str, Any] = dict(form.hidden)
    for name, options in form.options.items():
        value = values.get(name)
        data[name] = value if value is not None else options[0]
    for name in form.checkboxes:
        if values.get(name):
            data[name] = "on"
    for name in form.fields:
        value = values.get(name)
        data[name] = value() if callable(value) else (value if value is not None else "")
    return html.unescape(form.action), data


Step = tuple[str, Any]  # ("form", {field: value}) | ("link", label)


def walk(
    browser: Browser,
    product: int,
    plan: list[Step],
    values: dict[str, Any],
    on_step: Callable[[str], None] | None = None,
) -> None:
    """One checkout from the entry URL to the done page, following *plan*.

    Each page's form is filled from the step's own values, then *values*
    (by field name); hidden fields are posted back as they are.
    """
    url = browser.expect("GET", f"/buy/?product={product}", 302).location
    page = browser.expect("GET", url, 200).body
    task_id = parse_qs(urlsplit(url).query)["_t"][0]
    if on_step:
        on_step(task_id)
    for kind, arg in plan:
        if kind == "form":
            action, data = fill_form(page, {**values, **arg})
            location = browser.expect("POST", action or url, 302, data).location
        else:
            match = re.search(r'<a [^>]*href="([^"]+)"[^>]*>\s*' + re.escape(arg) + r"\s*</a>", page)
            if not match:
                raise WalkError(f"no link {arg!r} on {url}")
            location = browser.expect("GET", html.unescape(match.group(1)), 302).location
        if "_t=" not in location:
            browser.expect("GET", location, 200)
            return
        url = location
        page = browser.expect("GET", url, 200).body
        if on_step:
            on_step(task_id)
    raise WalkError(f"the checkout did not finish after {len(plan)} steps (at {url})")


#: The checkout every load thread repeats, logged in: 12 requests.
CHECKOUT: list[Step] = [
    ("form", {}),  # the product (from the entry URL's ?product=)
    ("form", {}),  # continue as the logged-in user
    ("form", {"method": "card"}),
    ("form", {}),  # the card
    ("form", {}),  # confirm and pay
]

#: Answers by field name, for every form of the demo.
VALUES: dict[str, Any] = {
    "number": "4242 4242 4242 4242",
    "expiry": "12/35",
    "holder": "Ada Lovelace",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "street": "12 Analytical Row",
    "postcode": "EC1A 1BB",
    "city": "London",
}
