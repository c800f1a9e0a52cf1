"""The tuner in a real run, utilisation view, behind LB Lab's balancer, nginx and HAProxy: one
sandbox pod made slow to answer (a 50 ms latency fault for the whole run, 32 users on 10 ms pods:
it answers about 6 times slower, which weights within the policy's bound of 10 can balance). The
controller shifts weight away from it, the slow pod's share of the requests falls, the observed p95
after the change is better than before it, and the simulator's predicted score is within issue 18's
5 points of the one observed."""

import pytest

from metrics_app.models import TuningDecision
from tests.factories import ScenarioFactory, TargetFactory, TuningPolicyFactory
from tests.metrics_app.tuning_run_support import BALANCERS
from tests_app import services
from tests_app.models import LoadTestRun

# solo: p95 before and after the change is compared, which another test's load on 2 cores can spoil
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240), pytest.mark.solo]

# The windows the change is decided on and judged by: 8 s. The score a window shows moves with the
# pods' second-to-second noise, which the prediction allows for but cannot foresee: over 4 s windows
# the error's spread was 3.3 points (24 recorded runs), over 8 s windows 1.6 (tests/clusters/data).
WINDOW_S = 8


@pytest.mark.parametrize("balancer", BALANCERS)
def test_slow_pod_gets_less_traffic_and_p95_improves(alice, balancer):
    target = TargetFactory(owner=alice, pods=4, algorithm="weighted_round_robin", service_time_ms=10.0,
                           balancer=balancer)
    scenario = ScenarioFactory(owner=alice, users=32, spawn_rate=64, duration_s=2 * WINDOW_S + 6, keep_alive=True)
    policy = TuningPolicyFactory(allowed_actions=["set_weights"], algorithms=[], view="utilisation",
                                 window_s=WINDOW_S, cooldown_s=WINDOW_S, p95_margin_pct=10.0)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, chaos=["latency@0s:60s:low:pod-3"], autotune=policy.pk), queue=False)

    run = services.execute_run(run.pk)

    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    first = TuningDecision.objects.filter(run=run).order_by("t").first()
    assert first is not None, "no tuning decision with a slow pod in the utilisation view"
    assert first.action == "set_weights"
    assert first.data["findings"][0]["cause"] == "slow_pod"
    assert first.data["findings"][0]["pods"] == ["pod-3"]
    weights = first.after["weights"]
    assert weights["pod-3"] < min(weights["pod-0"], weights["pod-1"], weights["pod-2"])
    assert first.outcome in ("improved", "applied"), first.reason  # kept, not rolled back
    assert first.p95_after_ms < first.p95_before_ms
    assert first.score_after > first.score_before
    # the pod holds its requests before its servers: the tuner saw it as a delay, not a slow server
    slow = next(pod for pod in first.data["window"]["pods"] if pod["name"] == "pod-3")
    assert slow["delayed"] > 0.5 * slow["in_flight"]
    assert abs(first.prediction_error) <= 5, (first.predicted_score, first.score_after)
    requests = {pod.rsplit("-", 1)[0]: figures["requests"] for pod, figures in run.summary["pods"].items()}
    assert requests["pod-3"] < 0.2 * sum(requests.values())  # a quarter each before the change
