"""Bad tuning policies are refused with the field that is wrong (ClusterError(field=...))."""

from __future__ import annotations

import pytest

from clusters.base import ClusterError
from clusters.tuning.actions import ACTIONS
from clusters.tuning.controller import Controller
from clusters.tuning.policy import Policy
from clusters.tuning.state import Change, TargetState

GOOD = {"actions": ("set_algorithm", "set_weights", "scale"), "algorithms": ("least_conn",)}


@pytest.mark.parametrize(("changes", "balancer", "field"), [
    ({"target_score": 101}, "lblab", "target_score"),
    ({"target_score": -1}, "lblab", "target_score"),
    ({"actions": ()}, "lblab", "actions"),
    ({"actions": ("reboot",)}, "lblab", "actions"),
    ({"min_replicas": 5, "max_replicas": 2}, "lblab", "max_replicas"),
    ({"min_replicas": 0}, "lblab", "min_replicas"),
    ({"max_weight": 0.5}, "lblab", "max_weight"),
    ({"window_s": 0}, "lblab", "window_s"),
    ({"p95_margin_pct": -5}, "lblab", "p95_margin_pct"),
    ({"view": "cpu"}, "lblab", "view"),
    ({"algorithms": ()}, "lblab", "algorithms"),
    ({"algorithms": ("fastest",)}, "lblab", "algorithms"),
    ({"algorithms": ("least_conn", "ewma")}, "nginx", "algorithms"),  # nginx has no ewma
    ({"algorithms": ("ewma",)}, "haproxy", "algorithms"),
])
def test_bad_policy_is_refused_with_its_field(changes, balancer, field):
    policy = Policy(**(GOOD | changes))
    with pytest.raises(ClusterError) as caught:
        policy.validate(balancer)
    assert caught.value.field == field
    with pytest.raises(ClusterError):  # a controller is never made with it
        Controller(policy, TargetState(algorithm="round_robin", replicas=3, balancer=balancer))


def test_a_good_policy_passes_on_every_balancer_that_has_its_algorithms():
    policy = Policy(**GOOD)
    for balancer in ("lblab", "nginx", "haproxy", None):
        assert policy.validate(balancer).algorithms == ("least_conn",)


def test_a_slow_start_refuses_the_algorithms_it_cannot_go_with_in_the_policy_and_at_each_decision():
    # Envoy Gateway and Istio ramp new pods up with round robin and least request only
    slow_start = {"slow_start_s": 30}
    policy = Policy(actions=("set_algorithm",), algorithms=("least_conn", "consistent_hash"))
    for balancer in ("gateway", "istio"):
        assert policy.validate(balancer).algorithms == ("least_conn", "consistent_hash")  # no slow start: fine
        with pytest.raises(ClusterError) as caught:
            policy.validate(balancer, slow_start)
        assert caught.value.field == "algorithms" and "slow start" in caught.value.args[0]
        with pytest.raises(ClusterError):
            Controller(policy, TargetState(algorithm="least_conn", replicas=3, balancer=balancer,
                                           balancer_options=slow_start))
    # a decision on such a state checks the switch the same way (a policy checked without the target)
    state = TargetState(algorithm="least_conn", replicas=3, balancer="gateway", balancer_options=slow_start)
    switch = Change("set_algorithm", before={"algorithm": "least_conn", "options": {}},
                    after={"algorithm": "consistent_hash", "options": {}})
    with pytest.raises(ClusterError) as caught:
        ACTIONS["set_algorithm"].check(switch, policy=policy.validate(None), state=state)
    assert caught.value.field == "algorithm"
