"""The pytest plugin of django-flowmachine: the ``flow_client`` fixture.

Loaded through the ``pytest11`` entry point; with plugin autoloading off,
load it with ``-p flowmachine.testing.plugin``.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def flow_client(client: Any) -> Any:
    """A :class:`~flowmachine.testing.FlowClient` on pytest-django's ``client``; needs database access."""
    # pytest loads this plugin before Django is configured: the client is imported when used.
    from flowmachine.testing import FlowClient

    return FlowClient(client)
