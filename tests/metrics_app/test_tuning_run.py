"""The tuner in a real run: a sandbox behind l4_connection with 5 keep-alive users over 4 pods (never
balanced: 2-1-1-1 at best), a policy attached. The controller switches to an algorithm that picks per
request through the run's cluster, the decision is a TuningDecision row with its prediction and
observed effect, and the summary's `tuning` list holds it. Behind LB Lab's balancer, nginx and HAProxy."""

import pytest

from metrics_app.models import TuningDecision
from tests.factories import TuningPolicyFactory
from tests.metrics_app.tuning_run_support import BALANCERS, pinned_sandbox
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


# behind nginx and HAProxy (solo) a reload ends the pinned connections (Connection: close from the pods):
# the prediction is judged on what the clients' reconnections give within one window
@pytest.mark.parametrize("balancer", BALANCERS)
def test_pinned_sandbox_run_is_tuned_and_recorded(alice, balancer):
    target, scenario = pinned_sandbox(alice, balancer, duration_s=14)
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["least_conn", "round_robin"],
                                 window_s=3, cooldown_s=3, p95_margin_pct=1000.0)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, autotune=policy.name), queue=False)
    assert run.autotune == policy

    run = services.execute_run(run.pk)

    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    assert run.summary["failures"] == 0  # the switch out of L4 (and the reconnections) cut no request
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
    # the seconds judged after the cooldown are above target: within two windows of the unbalanced one
    assert first.score_after >= 95, first.score_after
    assert first.prediction_error == pytest.approx(first.score_after - first.predicted_score, abs=0.011)
    assert abs(first.prediction_error) <= 5  # issue 18: the simulator's prediction within 5 points of what was seen
    listed = run.summary["tuning"]
    assert [(item["t"], item["action"], item["to"]) for item in listed] == [
        (decision.t, decision.action, decision.after) for decision in decisions]
    assert listed[0]["from"]["algorithm"] == "l4_connection"
