"""LB Lab settings: every value from the environment, with safe local defaults.

Nothing set: SQLite file, in-memory channel layer, ORM task broker, DEBUG on.
Production (DEBUG=off) refuses to start without SECRET_KEY and ALLOWED_HOSTS.
ARCHITECTURE.md section 7 lists the variables; README.md says what each does.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from lbsite.env import (
    allowlist,
    database_config,
    locust_worker_job,
    locustfiles_dir,
    redis_url,
    secret_key,
    split_list,
)

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)

# With DEBUG off: set, not a known default, long and varied enough, or LB Lab refuses to start.
SECRET_KEY = secret_key(os.environ.get("SECRET_KEY"), debug=DEBUG)

ALLOWED_HOSTS = split_list(
    os.environ.get("ALLOWED_HOSTS"), default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = split_list(os.environ.get("CSRF_TRUSTED_ORIGINS"), default=[])

# Behind TLS (an ingress that terminates HTTPS) these make cookies and redirects
# HTTPS-only; off by default so `make run` works over plain http://localhost.
HTTPS = env.bool("LBLAB_HTTPS", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
# Kubernetes' probes and Prometheus ask the pod itself over plain HTTP, past the TLS: redirected, a
# probe would take the 301 as health and a scrape would follow it to a port with no TLS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Every page's policy (lbsite.middleware.ContentSecurityPolicy): LB Lab's own scripts only, never
# inline ones; 'self' covers the live pages' WebSocket too.
LBLAB_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

INSTALLED_APPS = [
    "daphne",  # first: its runserver serves ASGI (HTTP + WebSockets)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_q",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "lbsite",
    "tests_app",
    "metrics_app",
    "chaos_app",
]

MIDDLEWARE = [
    "lbsite.prometheus.RequestLatency",  # first: it times everything below
    "django.middleware.security.SecurityMiddleware",
    "lbsite.middleware.ContentSecurityPolicy",  # on every response, static files' too
    "lbsite.middleware.RequestBodyLimit",  # before anything reads a body
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "lbsite.login_limits.LoginLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The largest request body accepted (the API's JSON, a form): a larger one is refused with 413
# before it is read (lbsite.middleware.RequestBodyLimit).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("LBLAB_MAX_REQUEST_BYTES", default=1024 * 1024)

ROOT_URLCONF = "lbsite.urls"
ASGI_APPLICATION = "lbsite.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(
        os.environ.get("DATABASE_URL"), default_sqlite_path=str(BASE_DIR / "lblab.sqlite3")
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a qcluster worker started by a test sees the test database; one per
    # test session (the children are pointed at it by DATABASE_URL), so two sessions in one
    # checkout never delete each other's.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-lblab-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = redis_url(os.environ.get("REDIS_URL"))
# This installation's name in a shared Redis: the task queue's name and the prefix of the channel
# groups and cache keys, so two installations (or `make test` beside `make run`) never see each
# other's `run-1`. Each pytest-xdist worker has a test database of its own, numbering runs from 1
# too, so it adds its id (as pytest-django does to the database's name); its children inherit it.
REDIS_NAMESPACE = env.str("LBLAB_Q_NAME", default="lblab") + (
    f"-{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # socket_timeout None: with redis-py 8 the default dropped idle sockets (ARCHITECTURE.md s9).
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "prefix": REDIS_NAMESPACE},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": REDIS_NAMESPACE}}
else:
    # Per process: the worker's group_send never reaches daphne, so consumers tail the database.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The longest run LB Lab accepts; the task timeout sits above it and the retry above that,
# so django-q2 never hands a live run to a second worker (ARCHITECTURE.md s9).
LBLAB_MAX_RUN_SECONDS = env.int("LBLAB_MAX_RUN_SECONDS", default=4 * 3600)
# Budgets (tests_app.budgets): what one run may ask of this machine and how many runs a user may
# have queued or going; a run past one is refused with the field before anything is queued.
LBLAB_MAX_USERS = env.int("LBLAB_MAX_USERS", default=1000)
LBLAB_MAX_SPAWN_RATE = env.float("LBLAB_MAX_SPAWN_RATE", default=500.0)
LBLAB_MAX_ARRIVAL_RATE = env.float("LBLAB_MAX_ARRIVAL_RATE", default=5000.0)
LBLAB_MAX_WORKERS = env.int("LBLAB_MAX_WORKERS", default=4)
LBLAB_MAX_PODS = env.int("LBLAB_MAX_PODS", default=32)
LBLAB_MAX_ACTIVE_RUNS_PER_USER = env.int("LBLAB_MAX_ACTIVE_RUNS_PER_USER", default=5)
# The run queue (tests_app.run_queue): runs going at once (two runs on a small machine skew each
# other's numbers), and at once on one target; waiting runs of different users take turns.
LBLAB_MAX_CONCURRENT_RUNS = env.int("LBLAB_MAX_CONCURRENT_RUNS", default=1)
LBLAB_MAX_RUNS_PER_TARGET = env.int("LBLAB_MAX_RUNS_PER_TARGET", default=1)
Q_CLUSTER = {
    "name": REDIS_NAMESPACE,
    "workers": env.int("LBLAB_WORKERS", default=2),
    "timeout": LBLAB_MAX_RUN_SECONDS + 300,
    "retry": LBLAB_MAX_RUN_SECONDS + 600,
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "poll": 0.5,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# LB Lab contacts only these hosts (host, address or CIDR, each optionally with :port or
# :low-high): the load, a target's Prometheus, every redirect it follows. Loopback by default:
# the sandbox and a service run beside LB Lab for a try, nothing on the network (README, Security).
LBLAB_ALLOWED_TARGETS = allowlist(
    os.environ.get("LBLAB_ALLOWED_TARGETS"), default=["127.0.0.0/8", "::1", "localhost"]
)
# Where LB Lab's pages are reached, for links printed outside a browser (`loadtest` prints its run's page).
LBLAB_BASE_URL = env.str("LBLAB_BASE_URL", default=f"http://localhost:{env.int('PORT', default=8000)}")
LBLAB_ALLOWED_NAMESPACES = split_list(os.environ.get("LBLAB_ALLOWED_NAMESPACES"), default=[])
KUBECONFIG = os.environ.get("KUBECONFIG") or None
# The locustfiles users may run from the web app and the API, by name (README, "Your own
# locustfile"): a locustfile is code run on this server, so users choose among the operator's
# files instead of uploading one. Unset: none.
LBLAB_LOCUSTFILES_DIR = locustfiles_dir(os.environ.get("LBLAB_LOCUSTFILES_DIR"))
# In a cluster: a run's Locust workers as the pods of a Job beside this pod's master (README,
# "Distributed load in the cluster"). None: local processes.
LBLAB_LOCUST_WORKER_JOB = locust_worker_job(os.environ)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins are limited per username and per address, on the login pages and the token
# endpoint (lbsite.login_limits): past these within the window, a login answers 429.
AUTHENTICATION_BACKENDS = ["lbsite.login_limits.LoginLimitBackend"]
LBLAB_LOGIN_FAILURES_PER_USERNAME = env.int("LBLAB_LOGIN_FAILURES_PER_USERNAME", default=5)
LBLAB_LOGIN_FAILURES_PER_ADDRESS = env.int("LBLAB_LOGIN_FAILURES_PER_ADDRESS", default=20)
LBLAB_LOGIN_WINDOW_S = env.int("LBLAB_LOGIN_WINDOW_S", default=15 * 60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "runs"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "lbsite.staticfiles.PlotlyJsFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "lbsite.tokens.ApiTokenAuthentication",  # several per user, revocable, stored as digests
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "lbsite.pagination.PageNumberPagination",  # page_size up to 200
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "lbsite.parsers.JSONParser",  # DRF's, with a 400 for JSON nested too deep
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "lbsite.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env.str("LBLAB_API_RATE", default="6000/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LB Lab API",
    "DESCRIPTION": "Load tests, per-pod balance, chaos and tuning of Kubernetes load balancers.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the sidecar package: the docs work with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django_q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")}},
}
