"""What the README promises a newcomer, tried from this clean clone with nothing set: `make run`
serves the app on the embedded default (SQLite, in-memory layer), a `loadtest` against the same
database while it runs shows up in the API for the admin, and stopping `make run` by its process
group leaves no process behind. Exit 0 when all of it holds; otherwise one line says what did not.

    .venv/bin/python .ci/smoke_make_run.py
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
START_TIMEOUT_S = 600  # `make run` may still install into .venv on a machine that never ran `make test`


def fail(message: str) -> None:
    raise SystemExit(f"smoke: {message}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """A browser's session: cookies kept, redirects followed, CSRF token sent back."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def request(self, path: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, str, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path,
                                                                               **(headers or {})})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.url, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.url, error.read()

    def csrf(self) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")


def main() -> int:
    port, password = free_port(), secrets.token_urlsafe(12)
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PORT=str(port), DJANGO_SUPERUSER_PASSWORD=password, PYTHONUNBUFFERED="1")
    if (REPO / "lblab.sqlite3").exists():
        fail("lblab.sqlite3 exists already: run this from a clean clone")
    before = {process.pid for process in psutil.process_iter()}
    log = open(REPO / ".ci-make-run.log", "w")  # noqa: SIM115 - closed in finally
    make = subprocess.Popen(["make", "run"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    seen: dict[int, psutil.Process] = {}
    base = f"http://127.0.0.1:{port}"
    try:
        client = Client(base)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            remember(make.pid, seen)
            if make.poll() is not None:
                fail(f"`make run` exited with {make.returncode}: {tail(log.name)}")
            try:
                if client.request("/accounts/login/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                fail(f"`make run` did not answer on {base} in {START_TIMEOUT_S} s: {tail(log.name)}")
            time.sleep(1)
        output = Path(log.name).read_text()
        if f"is running at http://localhost:{port}/" not in output or "Admin account created: admin" not in output:
            fail(f"`make run` did not print its URL and the admin login: {tail(log.name)}")

        for path in ("/accounts/login/", "/admin/login/"):
            check_200(client, path)
        status, _, _ = client.request("/accounts/login/", {"username": "admin", "password": password,
                                                           "csrfmiddlewaretoken": client.csrf()})
        for path in ("/", "/api/schema/"):
            check_200(client, path)
        status, url, _ = client.request("/")
        if url.rstrip("/") != base:
            fail(f"/ after logging in ended at {url}, not the runs list")

        remember(make.pid, seen)
        loadtest = subprocess.run(
            [PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", "3", "--duration", "10s", "--users", "6",
             "--user", "admin"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        if loadtest.returncode not in (0, 1):
            fail(f"loadtest exited with {loadtest.returncode}: {loadtest.stderr.strip()[-500:]}")
        run_id = int(re.search(r"/runs/(\d+)/", loadtest.stdout + loadtest.stderr).group(1))

        automation = Client(base)  # as a CI job would: a token, no session
        token = json.loads(automation.request("/api/auth/token/", {"username": "admin", "password": password})[2])
        status, _, body = automation.request(f"/api/runs/{run_id}/", headers={"Authorization": f"Token {token['token']}"})
        run = json.loads(body) if status == 200 else {}
        if status != 200 or run.get("status") not in ("passed", "failed") or not run["summary"].get("requests"):
            fail(f"run {run_id} is not in the API as a finished run with requests: {status} {body[:300]!r}")
        print(f"smoke: make run answered on {base}; loadtest run {run_id} {run['status']} with "
              f"{run['summary']['requests']} requests, seen in the API by the admin")
    finally:
        remember(make.pid, seen)
        stop_group(make)
        log.close()
    time.sleep(1)
    left = [p for p in seen.values() if alive(p)] + strays(before)
    if left:
        fail(f"processes left after stopping `make run`: {[(p.pid, ' '.join(p.cmdline())[:80]) for p in left]}")
    print(f"smoke: `make run` stopped by its process group; none of its {len(seen)} processes is left")
    return 0


def check_200(client: Client, path: str) -> None:
    status, _, body = client.request(path)
    if status != 200:
        fail(f"{path} answered {status}: {body[:200]!r}")


def remember(pid: int, seen: dict) -> None:
    """Every process `make run` started, so each can be checked once it is stopped."""
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            seen.setdefault(process.pid, process)
    except psutil.NoSuchProcess:
        pass


def stop_group(make: subprocess.Popen) -> None:
    """As Ctrl-C in a terminal: SIGINT to `make run`'s process group, SIGKILL after a grace period."""
    try:
        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(make.pid, signal.SIGKILL)
        make.wait()


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def strays(before: set[int]) -> list[psutil.Process]:
    """Processes started since the smoke began, still running from this clone (a sandbox pod,
    Locust), that `remember` may have missed."""
    found = []
    for process in psutil.process_iter(["pid", "cwd", "cmdline"]):
        if process.pid in before or process.pid == os.getpid():
            continue
        try:
            if process.info["cwd"] == str(REPO) and alive(process):
                found.append(process)
        except psutil.Error:
            pass
    return found


def tail(path: str, lines: int = 8) -> str:
    return " | ".join(Path(path).read_text(errors="replace").strip().splitlines()[-lines:])


if __name__ == "__main__":
    sys.exit(main())
