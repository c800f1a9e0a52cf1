"""A balanced run gets no action (issue 18), in a real run behind LB Lab's balancer, nginx and HAProxy:
round robin over 4 pods with 8 keep-alive users, a policy attached that may switch algorithm and set
weights. Every window the controller judged scored at or above target (read back from the run's
own per-second counts, so the quiet is the balance's, not a controller that never looked), and
nothing was recorded, listed or changed: the balancer runs the setting it started with, from the
same configuration, in the same processes (no reload)."""

import pytest

from clusters.balance import windowed_scores
from metrics_app.models import PodSample, TuningDecision
from tests.factories import ScenarioFactory, TargetFactory, TuningPolicyFactory
from tests.metrics_app.tuning_run_support import BALANCERS, BalancerWatch
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def per_second_counts(run) -> list[dict[str, int]]:
    """The run's recorded requests per pod, one mapping per second in order."""
    seconds: dict[float, dict[str, int]] = {}
    for sample in PodSample.objects.filter(run=run).exclude(pod="unattributed").order_by("t", "pod"):
        seconds.setdefault(sample.t, {})[sample.pod] = sample.requests
    return [seconds[t] for t in sorted(seconds)]


@pytest.mark.parametrize("balancer", BALANCERS)
def test_balanced_run_gets_no_action(alice, balancer):
    target = TargetFactory(owner=alice, pods=4, algorithm="round_robin", service_time_ms=1.0, balancer=balancer)
    scenario = ScenarioFactory(owner=alice, users=8, spawn_rate=80, duration_s=12, keep_alive=True)
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm", "set_weights"], algorithms=["least_conn", "p2c"],
                                 window_s=3, cooldown_s=3)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, autotune=policy.pk), queue=False)
    watch = BalancerWatch()

    run = services.execute_run(run.pk, listeners=[watch.attach])

    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    # not vacuous: every window of the policy's length the controller judged was at or above target
    per_second = per_second_counts(run)
    assert len(per_second) >= 10
    windows = windowed_scores(per_second, window_s=policy.window_s, step_s=1)
    assert min(windows) >= policy.target_score, windows
    assert run.summary["balance"]["score"] >= policy.target_score
    # no action: nothing recorded, nothing in the summary, nothing changed at the balancer
    assert not TuningDecision.objects.filter(run=run).exists()
    assert run.summary["tuning"] == []
    assert "tuning_error" not in run.summary
    start = watch.first
    assert start.algorithm == "round_robin"
    assert len(watch.settings) >= len(per_second) + 2
    changed = [setting for setting in watch.settings if not setting.same_as(start)]
    assert changed == [], f"the balancer's setting changed during a balanced run: {changed[0]}"
