"""No Locust process outlives its launcher: after close(), and after the launcher's own
process is SIGKILLed (parent-death signal)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests.procs import alive
from tests_app.engine.launcher import LocustProcess
from tests_app.engine.testing import base_config

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys, time
from tests_app.engine.launcher import LocustProcess
run = LocustProcess(json.loads(sys.argv[1]), workers=2)
run.start()
while not run.poll(0.5):
    pass
print(json.dumps(run.pids), flush=True)
time.sleep(600)
"""


def wait_gone(pids, timeout=15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


@pytest.fixture(scope="module")
def cluster():
    with SandboxCluster(SandboxConfig(pods=2)) as sandbox:
        yield sandbox


@pytest.mark.timeout(90)
def test_close_mid_run_leaves_no_process(cluster):
    run = LocustProcess(base_config(cluster.endpoint, users=2, duration_s=60), workers=2)
    with run:
        run.start()
        lines = []
        while not lines:
            lines = run.poll(1.0)
        pids = run.pids
        assert len(pids) == 3 and all(alive(pid) for pid in pids)
    assert wait_gone(pids) == []
    run.close()  # idempotent


@pytest.mark.timeout(90)
def test_launcher_killed_takes_locust_down(cluster):
    config = base_config(cluster.endpoint, users=2, duration_s=60)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    parent = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(config)], stdout=subprocess.PIPE, env=env)
    try:
        pids = json.loads(parent.stdout.readline())
        assert len(pids) == 3 and all(alive(pid) for pid in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert wait_gone(pids) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()
