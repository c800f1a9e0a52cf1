"""Fixtures shared by every app's tests: users, clients, subprocess environments."""

from __future__ import annotations

import os
import sys
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
