"""`make run`'s runner: daphne serves pages, the API schema and static files; Ctrl-C or
a SIGKILL of the runner leaves no process behind."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import psutil
import pytest

from tests.conftest import PYTHON, REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str) -> tuple[int, dict, bytes]:
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def runner(child_env):
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "lbsite.runner"], cwd=REPO, env={**child_env, "PORT": str(port)},
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            fetch(base + "/accounts/login/")
            break
        except OSError:
            time.sleep(0.3)
    children = psutil.Process(process.pid).children(recursive=True)
    try:
        yield process, base, children
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for child in children:  # never leave anything behind, even if the test failed
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass


def gone(processes, deadline_s=30.0) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=deadline_s)
    return not alive


@pytest.mark.timeout(180)
def test_serves_pages_schema_and_static_then_ctrl_c_stops_everything(runner):
    process, base, children = runner
    assert len(children) >= 2  # daphne and qcluster (and qcluster's own workers)
    status, headers, _ = fetch(base + "/")
    assert status == 302 and headers["Location"].startswith("/accounts/login/")
    assert fetch(base + "/admin/login/")[0] == 200
    status, _, body = fetch(base + "/api/schema/")
    assert status == 401 or (status == 200 and b"openapi" in body)
    status, headers, body = fetch(base + "/static/favicon.svg")
    assert status == 200 and body.startswith(b"<svg")
    assert fetch(base + "/favicon.ico")[0] == 301

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert gone(children)


@pytest.mark.timeout(180)
def test_sigkill_of_the_runner_takes_its_children_down(runner):
    process, base, children = runner
    assert fetch(base + "/accounts/login/")[0] == 200
    process.kill()
    process.wait()
    assert gone(children)
