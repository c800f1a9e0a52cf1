"""A run whose windowed score is at or above target gets no action: nothing applied, nothing recorded."""

from __future__ import annotations

from clusters.tuning.controller import Controller
from clusters.tuning.policy import Policy
from clusters.tuning.state import TargetState
from tests.clusters.support import RecordingCluster
from tests.clusters.tuning_support import EVEN, PINNED, feed


def _controller(cluster):
    policy = Policy(actions=("set_algorithm", "set_weights", "scale"), algorithms=("least_conn", "round_robin"),
                    window_s=5, cooldown_s=5)
    # l4_connection with 6 keep-alive users: the setting that pins, so only the window's balance differs
    return Controller(policy, TargetState(algorithm="l4_connection", replicas=4, capacity=8), cluster)


def test_balanced_window_gets_no_action():
    cluster = RecordingCluster()
    controller = _controller(cluster)
    decisions = feed(controller, 30, 1, EVEN)
    assert decisions == []
    assert cluster.calls == []
    assert controller.state.algorithm == "l4_connection"


def test_the_same_controller_acts_once_the_window_is_unbalanced():
    # the control case: the quiet above is the balanced window's, not a controller that never acts
    cluster = RecordingCluster()
    controller = _controller(cluster)
    decisions = feed(controller, 5, 1, EVEN) + feed(controller, 5, 6, PINNED)
    assert [d.outcome for d in decisions] == ["applied"]
    assert cluster.calls and cluster.calls[0][0] == "set_algorithm"
