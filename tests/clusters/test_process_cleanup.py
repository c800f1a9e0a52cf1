"""No sandbox process outlives the sandbox: not after close(), not after its parent is
SIGKILLed, not after the controller itself is SIGKILLed."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from clusters.sandbox import SandboxCluster
from tests.clusters.conftest import quick_config
from tests.procs import alive

pytestmark = pytest.mark.timeout(60)


def test_close_stops_every_process(wait_until):
    cluster = SandboxCluster(quick_config(pods=3))
    try:
        pids = cluster.pids()
        assert len(pids) == 4
        assert all(alive(pid) for pid in pids)
        group = os.getpgid(cluster.controller_pid)
        assert group == cluster.controller_pid != os.getpgid(0)  # its own process group
        assert all(os.getpgid(pid) == group for pid in pids)
    finally:
        cluster.close()
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout=15, message="all sandbox processes gone")


def test_sigkilled_parent_takes_the_sandbox_with_it(wait_until):
    script = textwrap.dedent("""
        import json, sys, time
        from clusters.sandbox import SandboxCluster, SandboxConfig, ServiceTime
        cluster = SandboxCluster(SandboxConfig(pods=2, service_time=ServiceTime("fixed", 0.0)))
        print(json.dumps(cluster.pids()), flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        pids = json.loads(parent.stdout.readline())
        assert len(pids) == 3
        assert all(alive(pid) for pid in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_until(lambda: not any(alive(pid) for pid in pids), timeout=15,
                   message="sandbox processes gone after the parent's SIGKILL")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()


def test_sigkilled_controller_takes_its_pods_with_it(wait_until):
    cluster = SandboxCluster(quick_config(pods=2))
    try:
        pids = cluster.pids()
        os.kill(cluster.controller_pid, signal.SIGKILL)
        wait_until(lambda: not any(alive(pid) for pid in pids), timeout=15,
                   message="pods gone after the controller's SIGKILL")
    finally:
        cluster.close()


def test_sandbox_started_from_a_short_lived_thread_survives_the_thread(wait_until, http):
    # The parent-death signal follows the forking thread: SandboxCluster forks from its own.
    import threading

    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("cluster", SandboxCluster(quick_config(pods=1))))
    thread.start()
    thread.join(60)
    cluster = box["cluster"]
    try:
        assert all(alive(pid) for pid in cluster.pids())
        assert sum(http.count(cluster.endpoint, 3).values()) == 3
    finally:
        cluster.close()
