"""A fresh embedded-default installation for tests that run LB Lab's own commands against it:
a new SQLite file, no REDIS_URL (in-memory layer, database tail), as `make run` gives a newcomer."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import PYTHON, REPO


def embedded_env(directory: Path, **extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=f"sqlite:///{directory / 'lblab.sqlite3'}", PYTHONUNBUFFERED="1", **extra)
    return env


def manage(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
