"""Numbers that agree, on real runs (the sandbox, a Locust subprocess, the run driver): the
live score of every second (what the live page and the CLI panel show), the report's replay
and the summary judge the same pods, an expected pod that got nothing included and named so
it cannot be taken for a real one; a pod that fails a share of its requests while it keeps
its share of them is named live, in the summary, the CLI's results and the run page."""

import io

import pytest
from django.urls import reverse

from clusters.balance import analyse
from clusters.sandbox import SandboxCluster, SandboxConfig
from metrics_app.summary import WINDOW_S
from tests.factories import ScenarioFactory, TargetFactory, UrlTargetFactory
from tests_app import services
from tests_app.cli_display import cli_console, print_results
from tests_app.models import LoadTestRun
from tests_app.selectors import report_figures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

NEVER_ANSWERED = "expected-3 (no response)"  # the third of three expected pods, two of which exist


@pytest.fixture
def two_pod_service():
    """A service of two real pods that LB Lab only knows by its URL."""
    with SandboxCluster(SandboxConfig(pods=2)) as cluster:
        yield cluster.endpoint


def target_missing_a_pod(kind: str, owner, request):
    """Two real pods where three are expected: a URL target (`--target URL --expect-pods 3`) or
    the sandbox (`--sandbox --pods 2 --expect-pods 3`)."""
    if kind == "url":
        return UrlTargetFactory(owner=owner, base_url=request.getfixturevalue("two_pod_service"), expected_pod_count=3)
    return TargetFactory(owner=owner, pods=2, algorithm="round_robin", service_time_ms=0.5, expected_pod_count=3)


def run_listening(owner, target, *, start=None, **scenario) -> tuple[LoadTestRun, list[dict]]:
    """Run to the end through the run service; the live messages the driver computed each second."""
    scenario = ScenarioFactory(owner=owner, **{"users": 6, "spawn_rate": 6, "duration_s": 4, **scenario})
    run = services.submit_run(owner=owner, request=services.RunRequest(target=target, scenario=scenario), queue=False)
    messages: list[dict] = []

    def listen(events):
        events.second.add_listener(lambda ctx, second: messages.extend(second.messages))
        if start is not None:
            events.start.add_listener(start)

    run = services.execute_run(run.pk, listeners=[listen])
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    return run, messages


@pytest.mark.parametrize(("kind", "duration_s"), [("url", 11), ("sandbox", 4)])
def test_every_live_score_is_the_summarys_judgement_of_the_same_pods(alice, request, kind, duration_s):
    run, messages = run_listening(alice, target_missing_a_pod(kind, alice, request), duration_s=duration_s)
    summary = run.summary
    judged = list(summary["pods"])
    assert len(judged) == 3 and NEVER_ANSWERED in judged
    assert summary["balance"]["grade"] == "F"  # (n, n, 0) has a CV of about 0.7
    samples = [m for m in messages if m["type"] == "sample"]
    rows = [{pod: figures["requests"] for pod, figures in sample["pods"].items()} for sample in samples]
    scored = 0
    for index, sample in enumerate(samples):
        # from the first second, the pod that got nothing is in the message (the per-pod bar chart)
        assert set(sample["pods"]) >= set(judged), sample["t"]
        assert sample["pods"][NEVER_ANSWERED]["requests"] == 0
        if not sum(rows[index].values()):
            assert sample["score"] is None  # a second without traffic is a gap
            continue
        window = rows[max(0, index - WINDOW_S + 1): index + 1]
        sums = {pod: sum(row.get(pod, 0) for row in window) for pod in judged}
        assert sample["score"] == pytest.approx(analyse(sums, expected_pods=judged).score, abs=1e-9)
        assert sample["score"] < summary["balance"]["threshold"]  # never the ~100 % of the two pods alone
        scored += 1
    assert scored >= 2
    # each of the summary's windows judges the same seconds and pods as the live score of its last second
    windows = summary["balance"]["windows"]
    assert windows
    for number, window_score in enumerate(windows):
        first, last = number * WINDOW_S, min(len(samples), (number + 1) * WINDOW_S) - 1
        sums = {pod: sum(row.get(pod, 0) for row in rows[first:last + 1]) for pod in judged}
        assert window_score == pytest.approx(analyse(sums, expected_pods=judged).score, abs=0.005)
        if last - first + 1 == WINDOW_S or first == 0:
            assert window_score == pytest.approx(samples[last]["score"], abs=0.005)
    # a full window under the threshold: the live page alerted as the summary did
    if len(samples) >= WINDOW_S:
        assert summary["alerts"]
        assert any(m["type"] == "alert" and m["end_t"] is None for m in messages)
    # the report replays the recorded seconds without the run's cluster: the same scores and pods
    figures = report_figures(run)
    assert figures["balance"]["data"][0]["y"] == [sample["score"] for sample in samples]
    bars = figures["pod_requests"]["data"][0]
    assert dict(zip(bars["x"], bars["y"], strict=True)) == {pod: figures_["requests"]
                                                            for pod, figures_ in summary["pods"].items()}


def test_the_pod_that_never_answered_is_named_so_and_diagnosed_as_such(alice, request):
    run, _ = run_listening(alice, target_missing_a_pod("url", alice, request), duration_s=3)
    summary = run.summary
    assert summary["pods"][NEVER_ANSWERED]["requests"] == 0
    assert not [pod for pod in summary["pods"] if pod.startswith("missing-pod")]
    diagnosis = summary["diagnosis"]
    assert diagnosis["cause"] == "pods_never_answered"
    assert NEVER_ANSWERED in diagnosis["explanation"]
    assert "keep-alive" not in diagnosis["explanation"] and "pin" not in diagnosis["explanation"]
    assert "ready" in diagnosis["advice"] and "Service" in diagnosis["advice"]


def test_a_pod_failing_a_third_of_its_requests_is_named_live_in_the_summary_and_the_results(alice, client):
    failing = []

    def fail_a_third_of_one_pods_requests(ctx):
        pod = sorted(pod.name for pod in ctx.cluster.pods())[0]
        ctx.cluster.add_errors([pod], 0.3, 500, 120)
        failing.append(pod)

    target = TargetFactory(owner=alice, pods=3, algorithm="round_robin", service_time_ms=0.5)
    run, messages = run_listening(alice, target, start=fail_a_third_of_one_pods_requests)
    (pod,) = failing
    summary = run.summary
    assert summary["pods"][pod]["failures"] > 0
    health = summary["pod_health"]
    # (a p95 outlier would be another finding: on a shared machine one may come and go, so only errors are asserted)
    (outlier,) = [outlier for outlier in health["outliers"] if outlier["figure"] == "error_rate"]
    assert outlier["pod"] == pod
    assert 15.0 < outlier["value"] < 45.0 and outlier["others"] < 1.0
    assert pod in health["diagnosis"]["explanation"]
    assert [m["pod"] for m in messages if m["type"] == "alert" and m.get("kind") == "pod_errors"][:1] == [pod]
    # the CLI's results and the run page say it where they say the rest
    out = io.StringIO()
    print_results(run, console=cli_console(out))
    printed = " ".join(out.getvalue().split())
    assert outlier["message"] in printed
    client.force_login(alice)
    page = client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert outlier["message"] in page and health["diagnosis"]["advice"] in page
