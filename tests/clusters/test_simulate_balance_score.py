"""The balance score of ARCHITECTURE.md section 4, as the simulator computes it."""

import math

import pytest

from clusters.base import ClusterError
from clusters.simulate import PodSpec, Workload, balance_cv, balance_score, simulate


def test_equal_counts_score_100():
    assert balance_score([250, 250, 250, 250]) == 100.0
    assert balance_cv([250, 250, 250, 250]) == 0.0


def test_score_follows_the_definition():
    # x = n / mean(n) = (1.1, 0.9): population std 0.1, CV 0.1, score (1 - 0.1 / 0.5) = 80 %
    assert balance_cv([110, 90]) == pytest.approx(0.1)
    assert balance_score([110, 90]) == pytest.approx(80.0)


def test_population_std_not_sample_std():
    counts = [10, 20, 30]
    mean = 20
    population = math.sqrt(sum((c - mean) ** 2 for c in counts) / 3) / mean
    assert balance_cv(counts) == pytest.approx(population)


def test_score_floors_at_zero():
    assert balance_cv([100, 100, 100, 0]) == pytest.approx(math.sqrt(1 / 3))
    assert balance_score([100, 100, 100, 0]) == 0.0


def test_one_pod_is_balanced():
    assert balance_score([12345]) == 100.0


def test_a_pod_with_zero_requests_counts_as_zero():
    # nine pods at 100 and one at 0: mean 90, std 30, CV 1/3, score (1 - 2/3) = 33.3 %
    assert balance_score([100] * 9 + [0]) == pytest.approx(100 / 3)


def test_no_traffic_and_no_pods_score_zero_without_errors():
    # as metrics_app/balance.py: nothing to judge, and an empty run must not pass
    assert balance_score([0, 0, 0]) == 0.0
    assert balance_score([]) == 0.0
    assert balance_score({}) == 0.0
    assert balance_cv([0, 0]) == 0.0


def test_counts_in_proportion_to_the_weights_score_100():
    assert balance_score([200, 100, 100], shares=[2, 1, 1]) == pytest.approx(100.0)
    # the same counts with equal expected shares are unbalanced
    assert balance_score([200, 100, 100]) < 60.0


def test_mappings_are_matched_by_pod_name():
    counts = {"pod-a": 100, "pod-b": 200}
    assert balance_score(counts, {"pod-b": 2.0, "pod-a": 1.0}) == pytest.approx(100.0)
    assert balance_score(counts, {"pod-a": 2.0, "pod-b": 1.0}) < 50.0


@pytest.mark.parametrize(
    ("counts", "shares", "field"),
    [
        ([10, -1], None, "counts"),
        ([10, float("nan")], None, "counts"),
        ([10, 10], [1.0], "shares"),
        ([10, 10], [1.0, -1.0], "shares"),
        ([10, 10], [0.0, 0.0], "shares"),
        ([10, 10], [1.0, 0.0], "shares"),
        ({"a": 1, "b": 2}, {"a": 1.0}, "shares"),
    ],
)
def test_bad_counts_or_shares_name_the_field(counts, shares, field):
    with pytest.raises(ClusterError) as caught:
        balance_score(counts, shares)
    assert caught.value.field == field


def test_prediction_score_is_the_score_of_its_counts_against_the_weights():
    pods = [PodSpec("a", weight=3.0), PodSpec("b", weight=1.0), PodSpec("c", weight=1.0)]
    prediction = simulate(pods, Workload(requests=5_000, rate_rps=500.0), "round_robin")
    counts = [pod.requests for pod in prediction.pods]
    assert prediction.score == pytest.approx(balance_score(counts, [3.0, 1.0, 1.0]))
    assert prediction.cv == pytest.approx(balance_cv(counts, [3.0, 1.0, 1.0]))
    assert prediction.score < 50.0  # round robin ignores weights: far from 3:1:1
