"""Models of django-flowmachine: the database state store's task record."""

from flowmachine.backends.db import TaskRecord

__all__ = ["TaskRecord"]
