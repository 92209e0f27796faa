import pytest


@pytest.fixture
def shopper(django_user_model):
    """A user with a known password and email."""
    return django_user_model.objects.create_user("alice", "alice@example.com", "s3cret-pass")
