"""A small driver that walks a task through the Django test client."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


class Walker:
    """Start a task and post each step's data, following the flow's redirects."""

    def __init__(self, client, entry: str = "/buy/") -> None:
        self.client = client
        self.entry = entry
        self.url = ""
        self.response = None

    def start(self, query: str = "") -> Walker:
        response = self.client.get(self.entry + query)
        assert response.status_code == 302, response
        self.url = response["Location"]
        self.response = self.client.get(self.url)
        return self

    @property
    def task_id(self) -> str:
        return parse_qs(urlsplit(self.url).query)["_t"][0]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def post(self, data: dict | None = None, url: str | None = None, expect: int = 302):
        payload = {"_t": self.task_id, **(data or {})}
        response = self.client.post(url or self.url, payload)
        assert response.status_code == expect, (response.status_code, response.content[:500])
        if response.status_code == 302:
            location = response["Location"]
            if "_t=" in location:
                self.url = location
                self.response = self.client.get(location)
            else:
                self.response = response
        else:
            self.response = response
        return response

    def get(self, url: str, expect: int = 200):
        response = self.client.get(url)
        assert response.status_code == expect, (response.status_code, response.content[:500])
        return response

    def follow_link(self, css_class: str) -> None:
        """Follow an ``<a class="...">`` link on the current page (link_to jumps)."""
        html = self.response.content.decode()
        marker = f'class="{css_class}" href="'
        start = html.index(marker) + len(marker)
        href = html[start : html.index('"', start)].replace("&amp;", "&")
        response = self.client.get(href)
        assert response.status_code == 302, response
        self.url = response["Location"]
        self.response = self.client.get(self.url)
