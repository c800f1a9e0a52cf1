"""Fixtures shared by every app's tests: users, clients, subprocess environments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def admin_user(db):
    user = UserFactory(username="root-admin", is_staff=True, is_superuser=True)
    return user


@pytest.fixture
def api_for():
    """An API client authenticated with the user's token, as automation would be."""

    def make(user) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL that points a child process at the database the test uses."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = f":{quote(settings_dict['PASSWORD'])}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture
def child_env(transactional_db):
    """Environment for a child process (daphne, qcluster) that uses the test database."""
    from django.db import connection

    env = dict(os.environ)
    env["DATABASE_URL"] = database_url(connection.settings_dict)
    env["LBLAB_WORKERS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_for(predicate, what: str, deadline_s: float = 90.0):
    """Poll until `predicate()` is true; fail naming `what` after a generous deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def qcluster(child_env):
    """A real `manage.py qcluster` on the test database, in its own process group."""
    process = subprocess.Popen(
        [PYTHON, "manage.py", "qcluster"], cwd=REPO, env=child_env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
