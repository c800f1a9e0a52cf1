"""Fixtures shared by every app's tests: users, clients, subprocess environments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil
import pytest
from rest_framework.test import APIClient

from clusters import procs
from lbsite.models import ApiToken
from tests.factories import UserFactory

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def pytest_collection_modifyitems(config, items):
    """Tests that need Redis or PostgreSQL by nature run when those are configured, and are the
    only ones skipped on the embedded default (SQLite, in-memory layer)."""
    from django.conf import settings

    missing = {
        "needs_redis": None if settings.REDIS_URL else "needs Redis: set REDIS_URL",
        "needs_postgresql": None if settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        else "needs PostgreSQL: set DATABASE_URL",
    }
    for item in items:
        for marker, reason in missing.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


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
        _, key = ApiToken.issue(owner=user, name="tests")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
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


def wait_for(predicate, what: str, deadline_s: float = 90.0, poll_s: float = 0.3):
    """Poll until `predicate()` is true and return what it returned; fail naming `what` after a
    generous deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"gave up waiting for {what}")


def assert_loadtest_refused(*flags: str, reason: str) -> None:
    """`manage.py loadtest FLAGS` exits 2 with one line starting with `reason`, and creates nothing."""
    from django.core.management import CommandError, call_command

    from tests_app.models import LoadTestRun, Target

    with pytest.raises(CommandError) as caught:
        call_command("loadtest", *flags)
    assert caught.value.returncode == 2
    assert str(caught.value).startswith(reason), str(caught.value)
    assert "\n" not in str(caught.value)
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()


def assert_run_form_takes_then_refuses(client, capture_on_commit, form: dict, *, bad: dict, says: str):
    """The new-run form creates a run from `form` (queued, not run), and refuses `form | bad` with
    `says` on the page and nothing more created; returns the run it created."""
    from django.urls import reverse

    from tests_app.models import LoadTestRun

    with capture_on_commit(execute=False):
        answer = client.post(reverse("run-new"), form)
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    run = LoadTestRun.objects.get()
    refused = client.post(reverse("run-new"), form | bad)
    assert refused.status_code == 200
    assert says in refused.content.decode()
    assert LoadTestRun.objects.count() == 1
    return run


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


free_port = procs.free_port  # one way to find a port, the product's


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str) -> tuple[int, dict, bytes]:
    """GET without following redirects: (status, headers, body)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@dataclass
class Site:
    process: subprocess.Popen
    url: str
    children: list


@pytest.fixture
def start_site(child_env):
    """Start what `make run` starts (`python -m lbsite.runner`: daphne and a qcluster) on the test
    database. `start_site(REDIS_URL=None)` drops a variable, e.g. for the embedded default."""
    sites: list[Site] = []

    def start(**env_changes) -> Site:
        port = free_port()
        env = {**child_env, "PORT": str(port)}
        for key, value in env_changes.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        process = subprocess.Popen(
            [PYTHON, "-m", "lbsite.runner"], cwd=REPO, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        site = Site(process=process, url=f"http://127.0.0.1:{port}", children=[])
        sites.append(site)

        def answers() -> bool:
            try:
                return fetch(site.url + "/accounts/login/")[0] == 200
            except OSError:
                return process.poll() is not None  # it died: stop waiting, the test will see it

        wait_for(answers, "the site to answer", deadline_s=60)
        assert process.poll() is None, f"the runner exited with {process.returncode}"
        site.children = psutil.Process(process.pid).children(recursive=True)
        return site

    yield start
    for site in sites:
        if site.process.poll() is None:  # as Ctrl-C would: the children close their database sessions
            site.process.send_signal(signal.SIGINT)
            try:
                site.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(site.process.pid, signal.SIGKILL)
        site.process.wait()
        for child in site.children:  # never leave anything behind, even if the test failed
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(site.children, timeout=10)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [  # ARCHITECTURE.md s9: Debian's Chromium on a machine without internet
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]


def log_in(page, site_url: str, username: str, *, password: str, via: str = "/accounts/login/") -> None:
    """Sign in through the login form, as a user does; `via`: the page opened first (`/` shows the
    form to a visitor too)."""
    page.goto(site_url + via)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(site_url + "/")


@dataclass
class Browser:
    page: object
    console_problems: list  # console errors and warnings, and uncaught page errors


@pytest.fixture
def browser(monkeypatch):
    """A headless Debian Chromium driven by Playwright (`make test` installs it; no downloads)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code, so Django's async-safety guard would refuse them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context()
            context.set_default_timeout(30_000)
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda message: message.type in ("error", "warning")
                    and problems.append(f"{message.type}: {message.text} ({page.url})"))
            page.on("pageerror", lambda error: problems.append(f"page error: {error} ({page.url})"))
            yield Browser(page=page, console_problems=problems)
        finally:
            chromium.close()
            # With Playwright's loop running in this thread, the test's ORM calls got
            # connections of their own; close them while they can still be reached (after
            # the loop stops, they would stay open and keep the test database from being
            # dropped at the end of the session).
            from django.db import connections

            connections.close_all()
