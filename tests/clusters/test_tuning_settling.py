"""The effect of a change is judged on seconds measured wholly after it took effect: seconds that
queued up while the controller decided (the load's clock ran on) are not counted as the change's."""

from __future__ import annotations

from clusters.tuning.controller import Controller
from clusters.tuning.policy import Policy
from clusters.tuning.state import TargetState
from tests.clusters.support import RecordingCluster
from tests.clusters.tuning_support import EVEN, PINNED, feed


def _controller(now):
    policy = Policy(actions=("set_algorithm",), algorithms=("round_robin",), window_s=3, cooldown_s=3)
    state = TargetState(algorithm="l4_connection", replicas=4, capacity=8)
    return Controller(policy, state, RecordingCluster(), clock=lambda: now[0])


def test_seconds_measured_before_the_change_took_effect_are_not_judged():
    now = [3.0]
    controller = _controller(now)
    assert feed(controller, 2, 1, PINNED) == []
    now[0] = 6.4  # deciding took a while: seconds 4 .. 6 were measured meanwhile, still pinned
    assert [d.outcome for d in feed(controller, 1, 3, PINNED)] == ["applied"]

    # the queued seconds (t 4 .. 7, before 6.4 + 1) come in pinned: not the change's effect
    assert feed(controller, 4, 4, PINNED) == []
    judged = feed(controller, 3, 8, EVEN)
    assert [d.outcome for d in judged] == ["improved"]
    assert judged[0].score_after == 100.0


def test_without_a_clock_the_seconds_after_the_decided_one_are_judged():
    # the control case: with no clock reading, the pinned seconds right after the decision are the change's
    now = [None]
    controller = _controller(now)
    feed(controller, 3, 1, PINNED)
    judged = feed(controller, 3, 4, PINNED)
    assert [d.outcome for d in judged] == ["applied"]  # not better, not worse than the pinned score 0
    assert judged[0].score_after == 0.0
