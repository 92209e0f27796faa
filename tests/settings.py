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
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "crispy_forms",
    "crispy_bootstrap5",
    "formtools",  # the wizard that examples/from_formtools ports (tests/project/test_from_formtools.py)
    "flowmachine",
    "tests",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
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
            "OPTIONS": {"connect_timeout": 5},
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
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# App servers started by the reliability tests (tests/_servers.py) take extra
# settings from FLOWMACHINE_TEST_SETTING_<NAME>=<JSON value>.
import json as _json

for _name, _value in os.environ.items():
    if _name.startswith("FLOWMACHINE_TEST_SETTING_"):
        globals()[_name[len("FLOWMACHINE_TEST_SETTING_") :]] = _json.loads(_value)
