"""`weights_out_of_line`: weights more than 25 % off the pods' capacity, both ways the window measures
it (how fast a pod serves, how fast it answers): weights set by either are in line."""

from __future__ import annotations

from clusters.tuning.diagnose import diagnose
from clusters.tuning.state import TargetState
from clusters.tuning.window import Observed, fold
from tests.clusters.tuning_support import second


def window_of(counts, **shape):
    totals, pods = second(counts, **shape)
    return fold([Observed(float(t), totals, pods) for t in range(1, 5)])


def causes(window, weights):
    state = TargetState(algorithm="weighted_round_robin", replicas=4, capacity=8, weights=weights)
    return {finding.cause: finding.pods for finding in diagnose(window, state)}


def test_weights_off_equal_pods_are_found():
    window = window_of({"pod-0": 100, "pod-1": 100, "pod-2": 100, "pod-3": 400}, users=16,
                       in_flight={"pod-0": 1.0, "pod-1": 1.0, "pod-2": 1.0, "pod-3": 4.0})
    assert causes(window, {"pod-3": 4.0}) == {"weights_out_of_line": ("pod-0", "pod-1", "pod-2", "pod-3")}


def test_weights_by_how_fast_a_delayed_pod_answers_are_in_line():
    # after the tuner gave a pod with a 50 ms latency fault a sixth of the others' weight: by its
    # servers it is as fast as the others (the weights look 6 times off), by its answers it is about
    # 5.3 times slower (11 % off): in line, nothing to find
    window = window_of({"pod-0": 700, "pod-1": 700, "pod-2": 700, "pod-3": 118}, users=32,
                       in_flight={"pod-0": 7.9, "pod-1": 7.9, "pod-2": 7.9, "pod-3": 7.05},
                       delayed={"pod-0": 0.0, "pod-1": 0.0, "pod-2": 0.0, "pod-3": 5.9})
    assert set(window.capacities(8)) == {"service", "answer"}
    assert causes(window, {"pod-0": 6.0, "pod-1": 6.0, "pod-2": 6.0, "pod-3": 1.0}) == {}
    # the same weights on pods as fast both ways: off
    assert "weights_out_of_line" in causes(
        window_of({"pod-0": 700, "pod-1": 700, "pod-2": 700, "pod-3": 700}, users=32,
                  in_flight={"pod-0": 7.9, "pod-1": 7.9, "pod-2": 7.9, "pod-3": 7.9},
                  delayed={"pod-0": 0.0, "pod-1": 0.0, "pod-2": 0.0, "pod-3": 0.0}),
        {"pod-0": 6.0, "pod-1": 6.0, "pod-2": 6.0, "pod-3": 1.0})
