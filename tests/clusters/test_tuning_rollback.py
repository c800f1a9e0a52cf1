"""An action that made things worse is rolled back after the cooldown, and not tried again."""

from __future__ import annotations

from clusters.tuning.controller import Controller
from clusters.tuning.policy import Policy
from clusters.tuning.state import TargetState
from tests.clusters.support import RecordingCluster
from tests.clusters.tuning_support import EVEN, PINNED, feed

MILD = {"pod-0": 200, "pod-1": 150, "pod-2": 150, "pod-3": 100}  # pinned, scoring about 53
WORSE = {"pod-0": 580, "pod-1": 10, "pod-2": 10, "pod-3": 0}  # scoring 0


def _controller():
    cluster = RecordingCluster()
    policy = Policy(actions=("set_algorithm",), algorithms=("round_robin", "least_conn"), window_s=5, cooldown_s=8)
    state = TargetState(algorithm="l4_connection", replicas=4, options={"pick": "random"}, capacity=8)
    return Controller(policy, state, cluster), cluster


def test_worse_score_after_the_cooldown_is_rolled_back():
    controller, cluster = _controller()
    applied = feed(controller, 5, 1, MILD)[0]
    assert 0 < applied.score_before < 95
    first = applied.after["algorithm"]

    # the cooldown (8 s, longer than the window) passes before the effect is judged
    assert feed(controller, 7, 6, WORSE) == []
    judged = feed(controller, 1, 13, WORSE)

    assert len(judged) == 1
    rolled = judged[0]
    assert rolled.seq == applied.seq
    assert rolled.outcome == "reverted"
    assert rolled.score_after < applied.score_before
    assert "Rolled back" in rolled.reason
    assert cluster.calls == [("set_algorithm", first, {}), ("set_algorithm", "l4_connection", {"pick": "random"})]
    assert controller.state.algorithm == "l4_connection"

    # still pinned after the rollback's cooldown: the change that failed is not tried again, the next one is
    assert feed(controller, 7, 14, PINNED) == []
    retry = feed(controller, 1, 21, PINNED)
    assert [d.outcome for d in retry] == ["applied"]
    assert retry[0].after["algorithm"] != first
    refused = [alt for alt in retry[0].alternatives if alt["after"].get("algorithm") == first]
    assert refused and not refused[0]["allowed"] and "rolled back" in refused[0]["note"]


def test_p95_worse_than_the_margin_is_rolled_back():
    controller, cluster = _controller()
    feed(controller, 5, 1, PINNED, p95_ms=2.0)
    judged = feed(controller, 8, 6, EVEN, p95_ms=2.5)  # balanced, but p95 25 % worse (margin 10 %)
    assert [d.outcome for d in judged] == ["reverted"]
    assert "p95" in judged[0].reason
    assert cluster.calls[-1] == ("set_algorithm", "l4_connection", {"pick": "random"})


def test_an_improvement_is_kept():
    controller, cluster = _controller()
    feed(controller, 5, 1, PINNED)
    judged = feed(controller, 8, 6, EVEN)
    assert [d.outcome for d in judged] == ["improved"]
    assert len(cluster.calls) == 1
