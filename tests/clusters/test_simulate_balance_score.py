"""The simulator scores its predictions with the runs' own balance definitions
(clusters/balance.py, tested in tests/metrics_app/test_balance_*.py)."""

import pytest

from clusters.balance import analyse
from clusters.simulate import PodSpec, Workload, simulate


def test_prediction_score_is_the_score_of_its_counts_against_the_weights():
    pods = [PodSpec("a", weight=3.0), PodSpec("b", weight=1.0), PodSpec("c", weight=1.0)]
    prediction = simulate(pods, Workload(requests=5_000, rate_rps=500.0), "round_robin")
    counts = {pod.name: pod.requests for pod in prediction.pods}
    expected = analyse(counts, {"a": 3.0, "b": 1.0, "c": 1.0})
    assert prediction.score == pytest.approx(expected.score)
    assert prediction.cv == pytest.approx(expected.cv)
    assert prediction.score < 50.0  # round robin ignores weights: far from 3:1:1


def test_equal_pods_under_round_robin_score_100():
    pods = [PodSpec(f"pod-{i}") for i in range(4)]
    prediction = simulate(pods, Workload(requests=4_000, rate_rps=400.0), "round_robin")
    assert prediction.score == pytest.approx(100.0)
    assert prediction.cv == pytest.approx(0.0)
