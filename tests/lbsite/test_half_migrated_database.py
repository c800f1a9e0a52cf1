"""A `migrate` interrupted half-way is caught by every command that needs the database: one line
naming `make migrate`, exit 2, and no load sent (before this, `loadtest` sent its whole load and
then crashed on a missing table)."""

import os
import signal
import subprocess

import pytest

from tests.conftest import PYTHON, REPO
from tests.lbsite.embedded import embedded_env, manage
from tests_app.engine.testing import PodEchoServer

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def half_migrated(tmp_path) -> dict:
    """The environment of a SQLite database whose `migrate` was SIGKILLed after its first app migration."""
    env = embedded_env(tmp_path)
    process = subprocess.Popen([PYTHON, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for line in process.stdout:
            if "Applying tests_app.0001_initial... OK" in line:
                os.killpg(process.pid, signal.SIGKILL)
                break
    finally:
        process.stdout.close()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "migrate ended before it could be interrupted"
    assert manage(env, "migrate", "--check").returncode != 0  # Django agrees: migrations are pending
    return env


def test_loadtest_on_a_half_migrated_database_says_make_migrate_and_sends_nothing(half_migrated):
    with PodEchoServer(["pod-a", "pod-b"]) as target:
        result = manage(half_migrated, "loadtest", "--target", target.url, "--duration", "3s", "--users", "2")
        assert target.served == {}
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "make migrate" in lines[0] and "not fully migrated" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_ensure_admin_and_the_runner_refuse_a_half_migrated_database(half_migrated):
    admin = manage(half_migrated, "ensure_admin")
    assert admin.returncode == 2 and "make migrate" in admin.stderr and "Traceback" not in admin.stderr
    runner = subprocess.run([PYTHON, "-m", "lbsite.runner"], cwd=REPO, env={**half_migrated, "PORT": "0"},
                            capture_output=True, text=True, timeout=120)
    assert runner.returncode == 2
    assert "make migrate" in runner.stderr and "is running at" not in runner.stdout


def test_after_make_migrate_the_same_database_works(half_migrated):
    assert manage(half_migrated, "migrate", "--noinput").returncode == 0
    assert manage(half_migrated, "migrate", "--check").returncode == 0
    assert manage(half_migrated, "ensure_admin").returncode == 0
