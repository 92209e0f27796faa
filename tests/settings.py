"""Django settings for the test suite.

The database is SQLite unless ``FLOWMACHINE_TEST_DB=postgres``; service
addresses come from environment variables so the suite runs anywhere.
"""

import os

SECRET_KEY = "flowmachine-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "flowmachine",
    "tests",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

if os.environ.get("FLOWMACHINE_TEST_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("FLOWMACHINE_TEST_PG_NAME", "flowmachine"),
            "HOST": os.environ.get("FLOWMACHINE_TEST_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("FLOWMACHINE_TEST_PG_PORT", "5432"),
            "USER": os.environ.get("FLOWMACHINE_TEST_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("FLOWMACHINE_TEST_PG_PASSWORD", ""),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("FLOWMACHINE_TEST_SQLITE_NAME", ":memory:"),
        }
    }

REDIS_URL = os.environ.get("FLOWMACHINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

LOGIN_URL = "/login/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
