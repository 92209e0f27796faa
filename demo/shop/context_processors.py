"""Template variables every page of the demo uses: the footer's developer links."""

from django.conf import settings
from django.urls import NoReverseMatch, Resolver404, resolve, reverse


def _flowgraph_url() -> str | None:
    """``<checkout root>/.flowgraph`` when the library serves flow diagrams there, else None."""
    try:
        url = reverse("checkout:Purchase") + ".flowgraph"
        resolve(url)
    except (NoReverseMatch, Resolver404):
        return None
    return url


def developer_links(request):
    if not settings.DEBUG:
        return {}
    return {"flowgraph_url": _flowgraph_url(), "mailbox_url": reverse("mailbox")}
