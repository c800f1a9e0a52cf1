"""Ctrl-C on `loadtest`, as a CI job or a person at a terminal does it: the run ends as
`cancelled` with its seconds kept and the command exits 130 (1 means failed thresholds). A
second Ctrl-C stops at once, still as `cancelled`, with no traceback and nothing left running.
Output to a pipe is not wrapped at 80 columns."""

import os
import signal
import subprocess

import psutil
import pytest

from metrics_app.models import MetricSample
from tests.conftest import PYTHON, REPO, wait_for
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def start_loadtest(child_env) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", "2", "--users", "4", "--duration", "120s"],
        cwd=REPO, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def ctrl_c(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends to its foreground process group


def wait_for_seconds(count: int) -> LoadTestRun:
    wait_for(lambda: MetricSample.objects.count() >= count, f"{count} recorded seconds", deadline_s=120)
    return LoadTestRun.objects.get()


def descendants(process: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(process.pid).children(recursive=True)


def test_ctrl_c_cancels_keeps_the_seconds_and_exits_130(child_env):
    process = start_loadtest(child_env)
    run = wait_for_seconds(2)
    ctrl_c(process)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    run.refresh_from_db()
    assert run.status == LoadTestRun.Status.CANCELLED and run.verdict_passed is None
    assert run.summary["requests"] > 0 and MetricSample.objects.filter(run=run).count() >= 2
    assert f"run {run.pk} cancelled" in err and "Traceback" not in err
    # a pipe is not a terminal: the balance line is whole, not wrapped at 80 columns
    balance = next(line for line in out.splitlines() if line.startswith("balance "))
    assert len(balance) > 80 and "p-value" in balance


def test_a_second_ctrl_c_stops_at_once_as_cancelled_without_a_traceback(child_env):
    process = start_loadtest(child_env)
    run = wait_for_seconds(2)
    children = descendants(process)
    assert children  # the sandbox and Locust
    ctrl_c(process)
    said = []
    while not any("stopping" in line for line in said):  # the first Ctrl-C was taken: signals do not queue
        said.append(process.stderr.readline())
        assert said[-1], "loadtest ended before it said it was stopping"
    ctrl_c(process)
    out, err = process.communicate(timeout=120)
    err = "".join(said) + err
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err + out
    run.refresh_from_db()
    assert run.status == LoadTestRun.Status.CANCELLED and run.error == ""
    assert MetricSample.objects.filter(run=run).count() >= 2  # nothing measured is lost
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []
