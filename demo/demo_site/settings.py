"""Settings of the django-flowmachine demo shop. For local use only: never deploy these.

Environment variables:

``FLOWS_DEMO_STORE``
    Where task state is kept: ``db`` (default; the ``flowmachine_taskrecord``
    table in the demo's SQLite database) or ``redis`` (the
    ``flowmachine.backends.redis`` store; needs ``pip install
    "django-flowmachine[redis]"`` and a running Redis server).
    ``FLOWS_DEMO_STORE=redis make demo`` runs the demo on Redis.
``FLOWS_DEMO_REDIS_URL``
    The Redis server used when ``FLOWS_DEMO_STORE=redis``; default
    ``redis://127.0.0.1:6379/0``.
``FLOWS_DEMO_REDIS_PREFIX``
    Prefix of the demo's task keys in Redis; default ``flowmachine-demo:task:``.
``FLOWS_DEMO_DB``
    Path of the SQLite database file; default ``demo/db.sqlite3``.
``FLOWS_DEMO_FILES``
    Folder of the demo's files; default ``demo/files``. ``media/`` in it is
    MEDIA_ROOT (the claims' own documents); ``journeys/`` is the private
    storage where a claim journey keeps its upload until it ends
    (``FLOWS_FILE_STORAGE``), outside MEDIA_ROOT and never served.
``FLOWS_DEMO_IDLE_TIMEOUT``
    Seconds a checkout or a claim may stay unused before it expires; default 1800.
"""

import os
from pathlib import Path

import django
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "django-flowmachine-demo-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "shop",  # before flowmachine: its flowmachine/error.html overrides the library's
    "claims",
    "flowmachine",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "shop.context_processors.developer_links",
            ],
        },
    }
]

_sqlite_options = {}
if django.VERSION >= (5, 1):
    # Concurrent writers queue instead of failing with "database is locked".
    _sqlite_options["transaction_mode"] = "IMMEDIATE"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("FLOWS_DEMO_DB", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": _sqlite_options,
    }
}

# The claims' documents (Claim.document) go to MEDIA_ROOT; the files a claim journey keeps
# until it ends go to the private "journeys" storage beside it, which nothing serves.
FILES_DIR = Path(os.environ.get("FLOWS_DEMO_FILES") or BASE_DIR / "files")
MEDIA_ROOT = FILES_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "journeys": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": FILES_DIR / "journeys", "base_url": None},
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

if os.environ.get("FLOWS_DEMO_FAST_PASSWORDS") == "1":
    # Set by the browser tests, which log in often: a fast, weak hash. Never elsewhere.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The password-reset code of the checkout is sent by email: printed in the
# terminal running the demo and shown on the dev mailbox page (/mailbox/).
EMAIL_BACKEND = "shop.mail.DevMailboxBackend"
DEFAULT_FROM_EMAIL = "shop@demo.invalid"

# -- django-flowmachine -------------------------------------------------------

FLOWS_DEMO_STORE = os.environ.get("FLOWS_DEMO_STORE", "db").strip().lower() or "db"
if FLOWS_DEMO_STORE == "db":
    FLOWS_STATE_STORE = "flowmachine.backends.db"
elif FLOWS_DEMO_STORE == "redis":
    FLOWS_STATE_STORE = "flowmachine.backends.redis"
    FLOWS_REDIS_URL = os.environ.get("FLOWS_DEMO_REDIS_URL", "redis://127.0.0.1:6379/0")
    FLOWS_REDIS_KEY_PREFIX = os.environ.get("FLOWS_DEMO_REDIS_PREFIX", "flowmachine-demo:task:")
else:
    raise ImproperlyConfigured(f"FLOWS_DEMO_STORE must be 'db' or 'redis', not {FLOWS_DEMO_STORE!r}.")

# Uploads a journey keeps (the claim's document) live in the private storage until it ends.
FLOWS_FILE_STORAGE = "journeys"

FLOWS_TASK_IDLE_TIMEOUT = int(os.environ.get("FLOWS_DEMO_IDLE_TIMEOUT", "1800"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"flowmachine": {"handlers": ["console"], "level": "INFO"}},
}
