"""run_foreground (behind `manage.py sandbox` and `python -m clusters.sandbox`) prints the
endpoints, serves until stopped, and leaves nothing behind."""

import os
import re
import signal
import subprocess
import sys
import threading

import psutil
import pytest

from clusters.sandbox import run_foreground
from tests.clusters.conftest import quick_config
from tests.foreground import FAULTHANDLER, exit_code, sigint_as_in_a_terminal
from tests.procs import alive

pytestmark = pytest.mark.timeout(60)


def test_prints_endpoints_serves_and_stops(http, wait_until):
    lines = []
    stop = threading.Event()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "code", run_foreground(quick_config(pods=2), echo=lines.append, stop=stop)))
    thread.start()
    try:
        wait_until(lambda: any("Ctrl-C" in line for line in lines), timeout=30, message="endpoints printed")
        balancer = re.search(r"balancer\s+(http://\S+)", lines[0]).group(1)
        assert re.search(r"control API\s+http://127\.0\.0\.1:\d+", lines[1])
        assert sum(1 for line in lines if line.startswith("pod ")) == 2
        counts = http.count(balancer, 4)
        assert len(counts) == 2
        pids = [p.pid for p in psutil.Process().children(recursive=True)]
        assert pids
    finally:
        stop.set()
        thread.join(30)
    assert result["code"] == 0
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout=15, message="processes gone")


def test_module_command_runs_until_interrupted(wait_until, tmp_path):
    command = [sys.executable, *FAULTHANDLER, "-m", "clusters.sandbox", "--pods", "2", "--service-time", "fixed:0"]
    stderr = tmp_path / "stderr"
    with stderr.open("w") as errors, sigint_as_in_a_terminal():
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("balancer    http://127.0.0.1:")
        while "Ctrl-C" not in proc.stdout.readline():
            pass
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert exit_code(proc, 30, stderr) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
