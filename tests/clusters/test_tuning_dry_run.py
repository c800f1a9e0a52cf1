"""Dry-run records the recommendation and changes nothing."""

from __future__ import annotations

from clusters.tuning.controller import Controller
from clusters.tuning.policy import Policy
from clusters.tuning.state import TargetState
from tests.clusters.support import RecordingCluster
from tests.clusters.tuning_support import PINNED, feed


def test_dry_run_recommends_without_applying():
    cluster = RecordingCluster()
    policy = Policy(actions=("set_algorithm",), algorithms=("least_conn", "round_robin"), window_s=5, cooldown_s=10,
                    dry_run=True)
    state = TargetState(algorithm="l4_connection", replicas=4, capacity=8)
    controller = Controller(policy, state, cluster)

    decisions = feed(controller, 14, 1, PINNED)

    # one recommendation, none repeated within the cooldown
    assert [(d.action, d.outcome) for d in decisions] == [("set_algorithm", "recommended")]
    recommended = decisions[0]
    assert recommended.after["algorithm"] in ("least_conn", "round_robin")
    assert recommended.predicted_score >= policy.target_score
    assert recommended.alternatives
    assert cluster.calls == []
    assert controller.state == state
    # after the cooldown, still unbalanced: recommended again, still nothing applied
    again = feed(controller, 2, 15, PINNED)
    assert [d.outcome for d in again] == ["recommended"]
    assert cluster.calls == []
