"""The balance figures equal ARCHITECTURE.md section 4's definitions, computed here on their own
(hand formulas, statistics.pstdev, scipy.stats.chisquare) from the per-pod counts."""

from __future__ import annotations

import json
import statistics

import pytest
from scipy.stats import chisquare

from clusters.balance import analyse, grade

SUMMARY_BALANCE_KEYS = {"score", "cv", "jain", "max_over_mean", "p_value", "grade", "threshold", "balanced",
                        "window_s", "windows"}

EQUAL_CASES = [
    [1000, 1000, 1000, 1000],
    [1010, 990, 1003, 997],
    [1200, 900, 1000, 900],
    [5000, 10, 10, 10],
    [3, 1],
    [250, 250, 249, 251, 250, 0],
    [7, 13, 29, 1, 0, 44, 18],
]

WEIGHTED_CASES = [
    ([300, 200, 100], [3, 2, 1]),
    ([310, 190, 100], [3, 2, 1]),
    ([100, 100, 100], [3, 2, 1]),
    ([500, 480, 20], [0.5, 0.45, 0.05]),
    ([40, 0, 60, 900], [1, 1, 1, 7]),
]


def names(values):
    return {f"pod-{i}": v for i, v in enumerate(values)}


def expected_equal(n):
    k = len(n)
    cv = statistics.pstdev(n) / statistics.mean(n)
    return {
        "cv": cv,
        "score": max(0.0, 1 - cv / 0.5) * 100,
        "jain": sum(n) ** 2 / (k * sum(v * v for v in n)),
        "max_over_mean": max(n) / statistics.mean(n),
        "p_value": chisquare(n).pvalue,
    }


def expected_weighted(n, weights):
    total, wsum = sum(n), sum(weights)
    shares = [w / wsum for w in weights]
    x = [ni / (wi * total) for ni, wi in zip(n, shares, strict=True)]
    cv = statistics.pstdev(x) / statistics.mean(x)
    return {
        "cv": cv,
        "score": max(0.0, 1 - cv / 0.5) * 100,
        "jain": sum(x) ** 2 / (len(x) * sum(v * v for v in x)),
        "max_over_mean": max(x) / statistics.mean(x),
        "p_value": chisquare(n, f_exp=[s * total for s in shares]).pvalue,
    }


def assert_matches(balance, expected):
    for key, value in expected.items():
        assert getattr(balance, key) == pytest.approx(value, rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize("n", EQUAL_CASES)
def test_equal_shares_match_the_definitions(n):
    result = analyse(names(n))
    assert_matches(result, expected_equal(n))
    assert result.grade == grade(result.score)
    assert result.total == sum(n)


@pytest.mark.parametrize(("n", "weights"), WEIGHTED_CASES)
def test_weighted_shares_match_the_definitions(n, weights):
    result = analyse(names(n), names(weights))
    assert_matches(result, expected_weighted(n, weights))
    assert result.shares == pytest.approx([w / sum(weights) for w in weights])


def test_equal_weights_given_explicitly_change_nothing():
    counts = names([1200, 900, 1000, 900])
    weighted, equal = analyse(counts, names([5, 5, 5, 5])), analyse(counts)
    for key in ("score", "cv", "jain", "max_over_mean", "p_value"):
        assert getattr(weighted, key) == pytest.approx(getattr(equal, key), rel=1e-12), key
    assert weighted.grade == equal.grade == "C"


def test_weights_are_relative():
    counts = names([310, 190, 100])
    assert analyse(counts, names([3, 2, 1])).cv == pytest.approx(analyse(counts, names([0.3, 0.2, 0.1])).cv)


def test_counts_in_proportion_to_the_weights_are_perfectly_balanced():
    result = analyse(names([600, 300, 100]), names([6, 3, 1]))
    assert result.score == 100.0
    assert result.loads == (1.0, 1.0, 1.0)
    assert analyse(names([600, 300, 100])).score == 0.0  # the same counts against equal shares


def test_jain_on_normalised_loads_equals_the_count_formula_for_equal_shares():
    n = [1200, 900, 1000, 900]
    assert analyse(names(n)).jain == pytest.approx(sum(n) ** 2 / (len(n) * sum(v * v for v in n)))


def test_score_is_zero_at_and_beyond_a_cv_of_one_half():
    # [3, 1]: cv = 0.5 exactly; [5000, 10, 10, 10]: cv far beyond
    assert analyse(names([3, 1])).score == 0.0
    assert analyse(names([5000, 10, 10, 10])).score == 0.0
    assert analyse(names([5000, 10, 10, 10])).grade == "F"


def test_small_p_value_for_a_real_skew_and_large_for_noise():
    assert analyse(names([1200, 900, 1000, 900])).p_value < 1e-6
    assert analyse(names([1010, 990, 1003, 997])).p_value > 0.5


@pytest.mark.parametrize(("score", "letter"), [
    (100.0, "A"), (95.0, "A"), (94.99, "B"), (85.0, "B"), (84.99, "C"), (70.0, "C"), (69.99, "D"),
    (50.0, "D"), (49.99, "F"), (0.0, "F"),
])
def test_grade_boundaries(score, letter):
    assert grade(score) == letter


def test_balanced_means_score_at_or_above_threshold():
    counts = names([1050, 950, 1000, 1000])  # score about 85.9
    score = analyse(counts).score
    assert analyse(counts, threshold=score).balanced is True
    assert analyse(counts, threshold=score + 0.01).balanced is False
    assert analyse(counts).balanced is False  # default threshold 95
    assert analyse(counts, threshold=80).threshold == 80.0


def test_unattributed_requests_are_not_a_pod():
    result = analyse({"pod-0": 100, "pod-1": 100, "unattributed": 500})
    assert result.pods == ("pod-0", "pod-1")
    assert result.score == 100.0
    assert result.total == 200
    assert result.unattributed == 500


def test_to_dict_is_exactly_the_summary_balance_object():
    result = analyse(names([1200, 900, 1000, 900]), threshold=90)
    data = result.to_dict()
    assert set(data) == SUMMARY_BALANCE_KEYS
    assert data["score"] == result.score and data["cv"] == result.cv and data["p_value"] == result.p_value
    assert data["grade"] == result.grade and data["threshold"] == 90.0 and data["balanced"] is False
    json.dumps(data, allow_nan=False)
    with_windows = result.with_windows([99.0, 80.5], window_s=10).to_dict()
    assert with_windows["windows"] == [99.0, 80.5] and with_windows["window_s"] == 10
    assert with_windows["score"] == result.score
