"""The tuner in a real run: a sandbox behind l4_connection with 5 keep-alive users over 4 pods (never
balanced: 2-1-1-1 at best), a policy attached. The controller switches to an algorithm that picks per
request through the run's cluster, the decision is a TuningDecision row with its prediction and
observed effect, and the summary's `tuning` list holds it. Behind LB Lab's balancer, nginx and HAProxy."""

import pytest

from clusters.base import ClusterError
from clusters.sandbox.backends import backend_named
from metrics_app.models import TuningDecision
from tests.factories import ScenarioFactory, TargetFactory, TuningPolicyFactory
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


def installed(name: str) -> bool:
    try:
        backend_named(name).located()
    except ClusterError:
        return False
    return True


# Behind nginx and HAProxy the switch from L4 (stream / mode tcp) to L7 is a reload whose old workers
# keep the clients' kept-alive connections, still pinned: the observed score stays 0 against a
# predicted 100 until the clients reconnect. Their backends must close those connections gracefully
# for issue 18's acceptance; until then these fail, and strict xfail says when they no longer do.
PINNED_UNTIL_RECONNECT = "a reload leaves kept-alive connections pinned on the old workers (issue 18)"


@pytest.mark.parametrize("balancer", [
    "lblab",
    *(pytest.param(name, marks=[
        pytest.mark.skipif(not installed(name), reason=f"{name} is not installed: make balancers"),
        pytest.mark.xfail(strict=True, reason=PINNED_UNTIL_RECONNECT)]) for name in ("nginx", "haproxy")),
])
def test_pinned_sandbox_run_is_tuned_and_recorded(alice, balancer):
    target = TargetFactory(owner=alice, pods=4, algorithm="l4_connection", service_time_ms=1.0, balancer=balancer)
    scenario = ScenarioFactory(owner=alice, users=5, spawn_rate=50, duration_s=14, keep_alive=True)
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["least_conn", "round_robin"],
                                 window_s=3, cooldown_s=3, p95_margin_pct=1000.0)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, autotune=policy.name), queue=False)
    assert run.autotune == policy

    run = services.execute_run(run.pk)

    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    decisions = list(TuningDecision.objects.filter(run=run).order_by("t"))
    assert decisions, "no tuning decision in a run pinned by l4_connection"
    first = decisions[0]
    assert first.action == "set_algorithm"
    assert first.before["algorithm"] == "l4_connection"
    assert first.after["algorithm"] in ("least_conn", "round_robin")
    assert first.score_before < 95 <= first.predicted_score
    assert first.alternatives[0]["after"] == first.after
    assert first.data["findings"][0]["cause"] == "connection_pinning"
    # judged after the cooldown: the observed score beside the prediction
    assert first.outcome == "improved", first.reason
    assert first.score_after > first.score_before
    assert first.prediction_error == pytest.approx(first.score_after - first.predicted_score, abs=0.011)
    assert abs(first.prediction_error) <= 5  # issue 18: the simulator's prediction within 5 points of what was seen
    listed = run.summary["tuning"]
    assert [(item["t"], item["action"], item["to"]) for item in listed] == [
        (decision.t, decision.action, decision.after) for decision in decisions]
    assert listed[0]["from"]["algorithm"] == "l4_connection"
