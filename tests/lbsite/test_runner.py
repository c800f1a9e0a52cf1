"""`make run`'s runner: daphne serves pages, the API schema and static files; Ctrl-C or
a SIGKILL of the runner leaves no process behind."""

import signal

import psutil
import pytest

from tests.conftest import fetch


@pytest.fixture
def runner(start_site):
    site = start_site()
    return site.process, site.url, site.children


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
    status, _, body = fetch(base + "/static/plotly/plotly.min.js")  # served locally: no CDN
    assert status == 200 and b"plotly.js" in body[:2000]

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
