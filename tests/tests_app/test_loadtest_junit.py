"""`manage.py loadtest --junit PATH`: JUnit XML written when the run ends, passed or failed; a
path that cannot be written is exit 2 before anything starts."""

import xml.etree.ElementTree as ET

import pytest
from django.core.management import CommandError, call_command

from metrics_app.summary import summarise
from tests_app import services
from tests_app.models import LoadTestRun, Target

pytestmark = pytest.mark.django_db

KILL = {"step": 0, "kind": "pod_kill", "target": "pod-1", "severity": "medium", "started_at_s": 1.0,
        "ended_at_s": 1.0, "rto_s": 40.0, "passed": False, "reason": "pod_kill recovered in 40.0 s, over the 30 s limit"}


def finishing_with(status, passed, reasons, chaos=()):
    def finish(run_id, **kwargs):  # the run itself is not what these tests are about
        run = LoadTestRun.objects.get(pk=run_id)
        pods = {"pod-0": {"requests": 50, "failures": 0, "p95_ms": 2.0},
                "pod-1": {"requests": 50, "failures": 0, "p95_ms": 2.0}}
        final = {"duration_s": 3.0, "requests": 100, "failures": 0, "pods": pods,
                 "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0}}
        summary = summarise(run_id=run.pk, final=final, per_second_pods=[{"pod-0": 50, "pod-1": 50}],
                            expected_pods=list(pods), shares=None, threshold=95.0)
        summary["chaos"] = list(chaos)
        return services.finish_run(run, status=status, summary=summary, passed=passed, reasons=reasons)
    return finish


def test_a_passed_run_writes_a_suite_of_passing_cases(monkeypatch, tmp_path):
    monkeypatch.setattr(services, "execute_run", finishing_with(LoadTestRun.Status.PASSED, True, []))
    out = tmp_path / "results.xml"
    call_command("loadtest", "--sandbox", "--pods", "2", "--users", "2", "--duration", "3s", "--name", "smoke",
                 "--junit", str(out))
    suite = ET.parse(out).getroot()
    assert suite.get("name") == "LB Lab: smoke" and suite.get("failures") == "0"
    assert [case.get("name") for case in suite.iter("testcase")] == ["balance score", "error rate", "p95 latency"]


def test_a_failed_run_still_writes_its_failures_and_exits_1(monkeypatch, tmp_path):
    monkeypatch.setattr(services, "execute_run", finishing_with(
        LoadTestRun.Status.FAILED, False, [KILL["reason"]], chaos=[KILL]))
    out = tmp_path / "results.xml"
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--sandbox", "--pods", "2", "--users", "2", "--duration", "3s", "--junit", str(out))
    assert caught.value.returncode == 1
    suite = ET.parse(out).getroot()
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed == ["step 0: pod_kill on pod-1 (medium)"]


@pytest.mark.parametrize(("path", "reason"), [
    ("/no/such/dir/results.xml", "--junit: no such directory: /no/such/dir"),
    ("{tmp}", "--junit: is a directory"),
    ("/proc/version", "--junit: cannot write /proc/version"),
])
def test_an_unwritable_path_is_exit_2_before_anything_starts(monkeypatch, tmp_path, path, reason):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(services, "execute_run", must_not_run)
    with pytest.raises(CommandError) as caught:
        call_command("loadtest", "--sandbox", "--junit", path.replace("{tmp}", str(tmp_path)))
    assert caught.value.returncode == 2
    assert str(caught.value).startswith(reason) and "\n" not in str(caught.value)
    assert not LoadTestRun.objects.exists() and not Target.objects.exists()
    assert list(tmp_path.iterdir()) == []  # the check left nothing behind
