"""Reading settings from the environment, failing loudly on bad values.

Kept apart from settings.py so each parser can be tested on its own. Django-free
apart from ImproperlyConfigured, which is what Django shows for a bad setting.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from clusters.allowlist import parse_allowlist

SUPPORTED_DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql", "psql")


def database_config(raw: str | None, *, default_sqlite_path: str) -> dict:
    """Django DATABASES entry for DATABASE_URL, or the SQLite file when unset.

    dj-database-url / django-environ quietly return {} or guess when the variable is
    set but empty or malformed; this says what is wrong instead.
    """
    if raw is None:
        return with_sqlite_options({"ENGINE": "django.db.backends.sqlite3", "NAME": default_sqlite_path})
    raw = raw.strip()
    if not raw:
        raise ImproperlyConfigured(
            "DATABASE_URL is set but empty: unset it for the SQLite default or give a URL "
            "such as postgres://user@127.0.0.1:5432/lblab"
        )
    scheme = urlsplit(raw).scheme
    if scheme not in SUPPORTED_DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL has an unsupported scheme {scheme!r}: use postgres:// or sqlite:///"
        )
    config = environ.Env.db_url_config(raw)
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"DATABASE_URL names no database: {raw!r}")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return with_sqlite_options(config)
    # Connections live across requests of one worker; health checks drop dead ones.
    config.setdefault("CONN_MAX_AGE", 60)
    config.setdefault("CONN_HEALTH_CHECKS", True)
    return config


# How long a writer waits for another's lock before "database is locked" (seconds).
SQLITE_BUSY_TIMEOUT_S = 30


def with_sqlite_options(config: dict) -> dict:
    """SQLite set up for several writers at once: daphne, the task worker, `loadtest` processes.

    WAL lets readers go on while one writes; the busy timeout makes a writer wait its
    turn instead of failing; IMMEDIATE takes the write lock when a transaction begins,
    so two transactions that read then write cannot deadlock on the upgrade (SQLite
    answers that with an immediate "database is locked", busy timeout or not). It also
    gives `select_for_update` (a no-op on SQLite) its meaning: one writer in a
    transaction at a time. synchronous=NORMAL is WAL's documented safe pairing.
    """
    options = config.setdefault("OPTIONS", {})
    options.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    options.setdefault("transaction_mode", "IMMEDIATE")
    options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    return config


def redis_url(raw: str | None) -> str | None:
    """REDIS_URL, validated; None when unset or empty (the embedded defaults apply)."""
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://: {raw!r}")
    return raw


def split_list(raw: str | None, *, default: list[str]) -> list[str]:
    """Comma-separated list, blanks dropped; the default when unset."""
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def allowlist(raw: str | None, *, default: list[str]) -> list[str]:
    """LBLAB_ALLOWED_TARGETS: comma-separated entries (clusters.allowlist), each checked now, so a
    typo fails at start instead of silently allowing nothing (or too much)."""
    entries = split_list(raw, default=default)
    try:
        parse_allowlist(tuple(entries))
    except ValueError as error:
        raise ImproperlyConfigured(f"LBLAB_ALLOWED_TARGETS: {error}") from None
    return entries


def locustfiles_dir(raw: str | None) -> str | None:
    """LBLAB_LOCUSTFILES_DIR: the directory of the locustfiles the web app and the API may run, as an
    absolute path with its symlinks resolved; None when unset or empty (none are registered). A
    directory that does not exist fails at start instead of silently registering nothing."""
    if raw is None or not raw.strip():
        return None
    directory = Path(raw.strip()).expanduser()
    if not directory.is_dir():
        raise ImproperlyConfigured(f"LBLAB_LOCUSTFILES_DIR is not a directory: {raw.strip()!r}")
    return str(directory.resolve())


LOCUST_WORKER_POD_ENV = ("LBLAB_POD_NAME", "LBLAB_POD_NAMESPACE", "LBLAB_POD_IP")


def locust_worker_job(environ_: dict[str, str]) -> dict | None:
    """LBLAB_LOCUST_WORKER_JOB: the Locust worker Job template (k8s/base/locust-worker-job.yaml, as
    the task worker's pod mounts it); set, a run with more than one worker runs its workers as that
    Job's pods, beside this pod's master. This pod's name, namespace and IP come from the Downward
    API (LBLAB_POD_NAME, LBLAB_POD_NAMESPACE, LBLAB_POD_IP). Unset or empty: local processes (None).
    A template that is not a Job, or a missing pod variable, fails at start."""
    raw = (environ_.get("LBLAB_LOCUST_WORKER_JOB") or "").strip()
    if not raw:
        return None
    from clusters.kubernetes.locust_workers import load_template  # the client loads only when it is used

    try:
        load_template(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"LBLAB_LOCUST_WORKER_JOB: {error}") from None
    missing = [name for name in LOCUST_WORKER_POD_ENV if not (environ_.get(name) or "").strip()]
    if missing:
        raise ImproperlyConfigured(f"LBLAB_LOCUST_WORKER_JOB needs {', '.join(missing)} (the Downward API's "
                                   "metadata.name, metadata.namespace and status.podIP of the task worker's pod)")
    return {"template": raw, "pod_name": environ_["LBLAB_POD_NAME"].strip(),
            "namespace": environ_["LBLAB_POD_NAMESPACE"].strip(), "pod_ip": environ_["LBLAB_POD_IP"].strip()}


DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
# Keys found in examples and defaults: whoever knows one can sign sessions and password resets.
KNOWN_SECRET_KEYS = frozenset({DEV_SECRET_KEY, "build-only", "changeme", "change-me", "secret", "secret-key"})
MIN_SECRET_KEY_LENGTH = 50  # as Django's own deployment check (security.W009)
MIN_SECRET_KEY_CHARACTERS = 5


def secret_key(raw: str | None, *, debug: bool) -> str:
    """SECRET_KEY: the development key when DEBUG is on and none is set; with DEBUG off, a key that
    is set, not a known default and long and varied enough, or LB Lab refuses to start."""
    if debug:
        return raw or DEV_SECRET_KEY
    if not raw:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    how = "python -c 'import secrets; print(secrets.token_urlsafe(50))' gives a good one"
    if raw in KNOWN_SECRET_KEYS or raw.startswith("django-insecure-"):
        raise ImproperlyConfigured(f"SECRET_KEY is a known default, so anyone can sign sessions with it: {how}")
    if len(raw) < MIN_SECRET_KEY_LENGTH or len(set(raw)) < MIN_SECRET_KEY_CHARACTERS:
        raise ImproperlyConfigured(f"SECRET_KEY is too short or too plain (at least {MIN_SECRET_KEY_LENGTH} "
                                   f"characters, {MIN_SECRET_KEY_CHARACTERS} different ones): {how}")
    return raw
