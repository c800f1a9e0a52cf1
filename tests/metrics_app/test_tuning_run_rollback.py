"""An action that makes things worse is rolled back (issue 18), in a real run behind LB Lab's balancer,
nginx and HAProxy: the pinned setup of test_tuning_run.py (l4_connection, 5 keep-alive users over
4 pods), a policy that may only switch to round robin. The moment the switch is applied, one pod
is made slow (a `latency` fault of the chaos registry, 250 ms: "medium"), so round robin, which
sends it a quarter of every user's requests, makes p95 far worse than the policy's margin allows.
After the cooldown the controller judges the change, rolls it back (the balancer is given back
`l4_connection` and its options: the same configuration it started with) and records the
decision as `reverted` with the p95 it saw; round robin is not tried again.

The fault starts after the decision whatever the machine's speed: a listener of the run's seconds,
after the tuner's, injects it once the decision is recorded, so the window the switch was chosen
on never saw it and every second of the window it is judged on does."""

import random

import pytest

from clusters.faults import FAULT_KINDS, parse_step
from metrics_app.models import TuningDecision
from tests.factories import TuningPolicyFactory
from tests.metrics_app.tuning_run_support import BALANCERS, BalancerWatch, pinned_sandbox
from tests_app import services
from tests_app.models import LoadTestRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

SLOW_POD = parse_step("latency@0s:60s:medium:pod-1")  # 250 ms, for longer than the run


class SlowPodOnceSwitched:
    """Makes pod-1 slow once the run's first tuning decision is recorded."""

    def __init__(self):
        self.injected_after: float | None = None  # the second after which it was injected

    def attach(self, events) -> None:
        events.second.add_listener(self.second)

    def second(self, ctx, second) -> None:
        if self.injected_after is None and TuningDecision.objects.filter(run_id=ctx.run_id).exists():
            FAULT_KINDS[SLOW_POD.kind].inject(ctx.cluster, SLOW_POD, rng=random.Random(0))
            self.injected_after = second.t


@pytest.mark.parametrize("balancer", BALANCERS)
def test_switch_that_makes_p95_worse_is_rolled_back(alice, balancer):
    target, scenario = pinned_sandbox(alice, balancer, duration_s=14)
    # a margin a switch out of L4 keeps within on its own (p95 of a few ms), but not a 250 ms pod
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["round_robin"],
                                 window_s=3, cooldown_s=4, p95_margin_pct=300.0)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, autotune=policy.pk), queue=False)
    fault, watch = SlowPodOnceSwitched(), BalancerWatch()

    run = services.execute_run(run.pk, listeners=[fault.attach, watch.attach])

    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    decisions = list(TuningDecision.objects.filter(run=run).order_by("t"))
    assert len(decisions) == 1, [(d.t, d.action, d.after, d.outcome) for d in decisions]  # not tried again
    decision = decisions[0]
    assert fault.injected_after == decision.t  # the fault came with the switch, not before the choice
    assert decision.action == "set_algorithm"
    assert decision.before["algorithm"] == "l4_connection"
    assert decision.after["algorithm"] == "round_robin"
    # judged worse on p95 (the score alone got better: round robin spreads requests evenly)
    assert decision.outcome == "reverted", decision.reason
    assert decision.p95_after_ms > decision.p95_before_ms * (1 + policy.p95_margin_pct / 100)
    assert "Rolled back" in decision.reason and "p95" in decision.reason
    # the switch really reached the balancer, and the rollback really undid it
    start = watch.first
    assert start.algorithm == "l4_connection"
    switched = [setting for setting in watch.settings if setting.algorithm == "round_robin"]
    assert switched, "the balancer never ran round robin"
    assert all(setting.balancing != start.balancing for setting in switched if start.config)
    end = watch.last
    assert (end.algorithm, end.options, end.weights, end.balancing) == (
        start.algorithm, start.options, start.weights, start.balancing)
    assert watch.settings.index(switched[-1]) < len(watch.settings) - 2  # back to L4 a second before the end at least
    listed = run.summary["tuning"]
    assert [(item["t"], item["from"], item["to"], item["outcome"], item["p95_after_ms"]) for item in listed] == [
        (decision.t, decision.before, decision.after, "reverted", decision.p95_after_ms)]
