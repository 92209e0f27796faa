"""Models of django-flowmachine: the database state store's task record."""

from flowmachine._funnel import FunnelCount
from flowmachine.backends.db import TaskRecord

__all__ = ["TaskRecord", "FunnelCount"]
