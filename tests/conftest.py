import pytest


@pytest.fixture
def shopper(django_user_model):
    """A user with a known password and email."""
    return django_user_model.objects.create_user("alice", "alice@example.com", "s3cret-pass")


# Session-wide services of the reliability tests: a migrated PostgreSQL database
# for the app servers they start, and a local Redis Cluster.
from tests._servers import live_pg, redis_cluster_url  # noqa: E402,F401
