"""`manage.py loadtest` as a CI pipeline runs it: exit 0/1/2, one-line reasons, --json."""

import json
import socket
import subprocess

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import PYTHON, REPO
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with-block ends: nothing listens


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--target", "ftp://127.0.0.1/"], "--target: unknown scheme 'ftp'"),
        (["--target", "http://203.0.113.5:80"], "--target: 203.0.113.5 is not allow-listed"),
        (["--target", "http://127.0.0.1:{closed}"], "--target: cannot connect to 127.0.0.1:"),
        (["--sandbox", "--users", "0"], "--users: must be at least 1"),
        (["--sandbox", "--users", "-3"], "--users: must be at least 1"),
        (["--sandbox", "--duration", "soon"], "--duration: 'soon' is not a duration"),
        (["--sandbox", "--scenario", "nope"], "--scenario: no scenario named 'nope'"),
        (["--sandbox", "--algorithm", "fastest"], "--algorithm: unknown algorithm 'fastest'"),
        (["--sandbox", "--pods", "0"], "--pods: must be from 1 to 64"),
        (["--sandbox", "--chaos", "meteor@1s:5s"], "--chaos: unknown chaos kind 'meteor'"),
        (["--sandbox", "--threshold", "150"], "--threshold:"),
        (["--sandbox", "--workers", "0"], "--workers: must be at least 1"),
        (["--sandbox", "--json", "/no/such/dir/out.json"], "--json: no such directory"),
        (["--sandbox", "--user", "ghost"], "--user: no user named 'ghost'"),
        ([], "--sandbox/--target"),
        # a Kubernetes target's settings on another target: refused, not ignored
        (["--sandbox", "--slow-start", "30s"], "--slow-start: only with --kubernetes"),
        (["--sandbox", "--traffic-distribution", "PreferSameZone"], "--traffic-distribution: only with --kubernetes"),
        (["--target", "http://127.0.0.1:{closed}", "--namespace", "web"], "--namespace: only with --kubernetes"),
    ],
)
def test_bad_input_is_exit_2_with_the_flag_and_nothing_is_created(flags, reason):
    flags = [flag.replace("{closed}", str(closed_port())) for flag in flags]
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", *flags)
    assert caught.value.returncode == 2
    assert str(caught.value).startswith(reason.split("{")[0]), str(caught.value)
    assert "\n" not in str(caught.value)
    assert not LoadTestRun.objects.exists()
    assert not Target.objects.exists()


def test_bad_input_from_the_shell_is_one_line_without_traceback(child_env):
    result = subprocess.run(
        [PYTHON, "manage.py", "loadtest", "--sandbox", "--users", "0"], cwd=REPO, env=child_env,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["CommandError: --users: must be at least 1"]


@pytest.mark.timeout(240)
def test_sandbox_run_passes_writes_json_and_is_recorded(child_env, tmp_path):
    out = tmp_path / "summary.json"
    result = subprocess.run(
        [PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", "3", "--users", "6", "--duration", "4s",
         "--json", str(out)], cwd=REPO, env=child_env, capture_output=True, text=True, timeout=200,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(out.read_text())
    run = LoadTestRun.objects.get()
    assert summary == run.summary
    assert summary["status"] == "passed" and summary["verdict"] == {"passed": True, "reasons": []}
    assert set(summary) >= {"run_id", "duration_s", "requests", "failures", "rps", "latency_ms", "pods",
                            "unattributed", "balance", "chaos", "tuning", "verdict"}
    assert len(summary["pods"]) == 3 and summary["balance"]["grade"] == "A"
    assert "passed" in result.stdout
    assert f"Run {run.pk}: {run.page_url}" in result.stdout and run.page_url.endswith(f"/runs/{run.pk}/")


@pytest.mark.timeout(240)
def test_a_run_that_misses_its_threshold_exits_1(child_env):
    # l4_connection pins each keep-alive connection: two users over four pods leave two pods idle.
    result = subprocess.run(
        [PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", "4", "--algorithm", "l4_connection",
         "--users", "2", "--duration", "3s"], cwd=REPO, env=child_env, capture_output=True, text=True, timeout=200,
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    run = LoadTestRun.objects.get()
    assert run.status == LoadTestRun.Status.FAILED
    assert any("balance score" in reason for reason in run.verdict_reasons)


@pytest.mark.timeout(240)
def test_a_sandbox_running_fewer_pods_than_expected_names_the_one_that_never_answered(child_env, tmp_path):
    out = tmp_path / "summary.json"
    result = subprocess.run(
        [PYTHON, "manage.py", "loadtest", "--sandbox", "--pods", "2", "--expect-pods", "3", "--users", "4",
         "--duration", "3s", "--json", str(out)], cwd=REPO, env=child_env, capture_output=True, text=True, timeout=200,
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(out.read_text())
    assert summary["pods"]["expected-3 (no response)"]["requests"] == 0
    assert summary["balance"]["grade"] == "F"
    assert summary["diagnosis"]["cause"] == "pods_never_answered"
    printed = " ".join(result.stdout.split())
    assert "expected-3 (no response)" in printed
    assert summary["diagnosis"]["explanation"] in printed
