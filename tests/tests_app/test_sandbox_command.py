"""`manage.py sandbox` as a user runs it: endpoints printed, real pods answer, Ctrl-C
stops every process; bad flags exit 2 with one line and start nothing."""

import signal
import subprocess
import urllib.request

import psutil
import pytest

from tests.conftest import PYTHON, REPO
from tests.foreground import FAULTHANDLER, exit_code, sigint_as_in_a_terminal


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--pods", "0"], "--pods"),
        (["--algorithm", "fastest"], "unknown algorithm 'fastest'"),
        (["--balancer", "envoy"], "unknown balancer 'envoy'"),
        (["--balancer", "haproxy", "--algorithm", "ewma"], "ewma has no haproxy equivalent"),
        (["--service-time", "gamma:3"], "--service-time"),
        (["--port", "5432"], "--port"),
    ],
)
def test_bad_flags_exit_2_with_one_line(flags, message):
    result = subprocess.run([PYTHON, "manage.py", "sandbox", *flags], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(120)
def test_serves_until_ctrl_c_and_leaves_nothing(tmp_path):
    stderr = tmp_path / "stderr"
    with stderr.open("w") as errors, sigint_as_in_a_terminal():
        process = subprocess.Popen(
            [PYTHON, *FAULTHANDLER, "manage.py", "sandbox", "--pods", "2", "--algorithm", "round_robin",
             "--service-time", "fixed:0"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=errors, text=True, start_new_session=True,
        )
    descendants: list[psutil.Process] = []
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C to stop" in line:
                break
        endpoint = next(line.split()[1] for line in lines if line.startswith("balancer"))
        assert sum(line.startswith("pod ") for line in lines) == 2
        descendants = psutil.Process(process.pid).children(recursive=True)
        assert len(descendants) >= 3  # controller + two pods at least
        pods_seen = set()
        for _ in range(4):
            with urllib.request.urlopen(endpoint + "/", timeout=10) as response:
                pods_seen.add(response.headers["X-Pod"])
        assert len(pods_seen) == 2  # round robin reached both pods
        process.send_signal(signal.SIGINT)
        assert exit_code(process, 60, stderr) == 0
        _, alive = psutil.wait_procs(descendants, timeout=30)
        assert not alive
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for child in descendants:
            if child.is_running():
                child.kill()
