"""clusters.procs: a child runs in its own process group, is stopped by group (SIGTERM, then
SIGKILL after the grace period) with whatever it started, and dies with its parent."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clusters import procs
from tests.procs import alive

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
SLEEPER = "import time; time.sleep(600)"
# Ignores SIGTERM, then says so: only SIGKILL ends it.
STUBBORN = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(600)")


def test_child_runs_in_a_process_group_of_its_own():
    child = procs.start([sys.executable, "-c", SLEEPER])
    try:
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    finally:
        procs.kill(child)
    assert child.returncode == -signal.SIGKILL


def test_stop_ends_a_child_with_sigterm_first():
    child = procs.start([sys.executable, "-c", SLEEPER])
    procs.stop(child, grace_s=30)
    assert child.returncode == -signal.SIGTERM


def test_grandchild_is_stopped_with_the_child(wait_until):
    # The child leaves on SIGTERM; its grandchild ignores it and is still in the child's group.
    script = textwrap.dedent(f"""
        import subprocess, sys
        grandchild = subprocess.Popen([sys.executable, "-c", {STUBBORN!r}])
        print(grandchild.pid, flush=True)
        grandchild.wait()
    """)
    child = procs.start([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        lines = {child.stdout.readline().strip(), child.stdout.readline().strip()}
        assert "ready" in lines
        grandchild = int((lines - {"ready"}).pop())
        assert os.getpgid(grandchild) == child.pid
    finally:
        procs.stop(child, grace_s=2)
        child.stdout.close()
    wait_until(lambda: not alive(grandchild), timeout=30, message="the grandchild gone with its group")


def test_parent_death_takes_the_child_down(wait_until):
    script = textwrap.dedent(f"""
        import sys, time
        from clusters import procs
        child = procs.start([sys.executable, "-c", {SLEEPER!r}])
        print(child.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=REPO,
                              env=procs.with_project_on_path(dict(os.environ)))
    try:
        child = json.loads(parent.stdout.readline())
        assert alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        wait_until(lambda: not alive(child), timeout=30, message="the child gone after its parent's SIGKILL")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()


def test_child_ignoring_sigterm_gets_sigkill_after_the_grace_period():
    child = procs.start([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        procs.stop(child, grace_s=1)
    finally:
        procs.kill(child)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def test_run_captures_output_like_subprocess_run():
    done = procs.run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_run_kills_the_group_when_it_times_out(tmp_path, wait_until):
    # run() hands output back only when it returns: the grandchild's pid travels through a file.
    pid_file = tmp_path / "grandchild.pid"
    script = textwrap.dedent(f"""
        import pathlib, subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", {SLEEPER!r}])
        pathlib.Path({str(pid_file)!r}).write_text(str(grandchild.pid))
        time.sleep(600)
    """)
    with pytest.raises(subprocess.TimeoutExpired):
        procs.run([sys.executable, "-c", script], timeout=10)
    grandchild = int(pid_file.read_text())
    wait_until(lambda: not alive(grandchild), timeout=30, message="run()'s group gone after its timeout")


def test_log_tail_quotes_the_last_lines_of_the_logs_in_order(tmp_path):
    console, log = tmp_path / "console.log", tmp_path / "server.log"
    console.write_text("starting\n\n")
    log.write_text("ready\n   \nbind: address in use\n")
    assert procs.log_tail(console, log, tmp_path / "never-written.log", lines=2) == "ready | bind: address in use"
    assert procs.log_tail(console, log) == "starting | ready | bind: address in use"
    assert procs.log_tail(tmp_path / "never-written.log") == "(nothing logged)"
