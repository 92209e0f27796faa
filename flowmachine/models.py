"""Models of django-flowmachine: the database state store's task record."""

from flowmachine.backends.db import TaskRecord
from flowmachine._funnel import FunnelCount

__all__ = ["TaskRecord", "FunnelCount"]
