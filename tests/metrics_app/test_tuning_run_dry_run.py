"""Dry-run changes nothing and records the recommendation (issue 18), in a real run behind LB Lab's
balancer, nginx and HAProxy: the pinned setup of test_tuning_run.py (l4_connection, 5 keep-alive
users over 4 pods) with a dry-run policy. The controller records what it would do (`recommended`,
with its prediction and the ranked alternatives) and applies nothing: the balancer runs
l4_connection from the same configuration in the same processes every second of the run (no
reload), no decision is judged or rolled back, and the run stays pinned."""

import pytest

from metrics_app.models import TuningDecision
from tests.factories import TuningPolicyFactory
from tests.metrics_app.tuning_run_support import BALANCERS, BalancerWatch, pinned_sandbox
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]


@pytest.mark.parametrize("balancer", BALANCERS)
def test_dry_run_records_the_recommendation_and_changes_nothing(alice, balancer):
    target, scenario = pinned_sandbox(alice, balancer, duration_s=12)
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["least_conn", "round_robin"],
                                 window_s=3, cooldown_s=3, p95_margin_pct=1000.0, dry_run=True)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, autotune=policy.pk), queue=False)
    watch = BalancerWatch()

    run = services.execute_run(run.pk, listeners=[watch.attach])

    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    decisions = list(TuningDecision.objects.filter(run=run).order_by("t"))
    assert decisions, "no recommendation in a run pinned by l4_connection"
    # recommended, again once the cooldown and a window passed, never applied nor judged
    assert {d.outcome for d in decisions} == {"recommended"}
    first = decisions[0]
    assert first.action == "set_algorithm"
    assert first.before["algorithm"] == "l4_connection"
    assert first.after["algorithm"] in ("least_conn", "round_robin")
    assert first.score_before < policy.target_score <= first.predicted_score
    assert first.data["findings"][0]["cause"] == "connection_pinning"
    assert first.alternatives[0]["after"] == first.after
    assert all(d.score_after is None and d.prediction_error is None for d in decisions)
    assert "Rolled back" not in " ".join(d.reason for d in decisions)
    # nothing changed at the balancer, not for a second
    start = watch.first
    assert start.algorithm == "l4_connection"
    assert len(watch.settings) >= 12
    changed = [setting for setting in watch.settings if not setting.same_as(start)]
    assert changed == [], f"the balancer's setting changed in a dry run: {changed[0]}"
    # and the run stayed pinned: a kept-alive client's requests all went to its first pod
    assert run.summary["balance"]["score"] < policy.target_score
    assert [w for w in run.summary["balance"]["windows"] if w is not None and w >= policy.target_score] == []
    listed = run.summary["tuning"]
    assert [(item["t"], item["outcome"], item["to"]) for item in listed] == [
        (d.t, "recommended", d.after) for d in decisions]
