"""Edge cases give defined results, never exceptions; only invalid input raises ValueError."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from clusters.balance import analyse


@pytest.mark.parametrize("kwargs", [
    {"counts": {}},
    {"counts": {"pod-0": 0, "pod-1": 0}},
    {"counts": {}, "expected_pods": ["pod-0", "pod-1"]},
    {"counts": {"unattributed": 50}},
])
def test_no_traffic_is_judged_failed_with_defined_values(kwargs):
    result = analyse(**kwargs)
    assert (result.score, result.grade, result.balanced) == (0.0, "F", False)
    assert (result.cv, result.jain, result.max_over_mean, result.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert result.has_traffic is False
    assert result.total == 0
    json.dumps(result.to_dict(), allow_nan=False)


def test_no_traffic_keeps_the_unattributed_count_and_the_expected_pods():
    result = analyse({"unattributed": 50}, expected_pods=["pod-0"])
    assert result.unattributed == 50
    assert result.pods == ("pod-0",)
    assert result.balanced is False


def test_no_traffic_is_never_balanced_even_with_a_zero_threshold():
    assert analyse({}, threshold=0).balanced is False
    assert analyse({"pod-0": 1, "pod-1": 0}, threshold=0).balanced is True  # score 0 >= 0 with traffic


def test_one_pod_is_perfectly_balanced():
    result = analyse({"pod-0": 1234})
    assert (result.score, result.cv, result.jain, result.max_over_mean, result.p_value) == (100.0, 0.0, 1.0, 1.0, 1.0)
    assert result.grade == "A" and result.balanced is True


def test_one_pod_with_unattributed_requests_is_still_one_pod():
    result = analyse({"pod-0": 10, "unattributed": 90})
    assert result.pods == ("pod-0",) and result.score == 100.0 and result.unattributed == 90


def test_a_pod_with_zero_requests_is_counted_and_lowers_the_score():
    with_zero = analyse({"pod-0": 100, "pod-1": 100, "pod-2": 0})
    without = analyse({"pod-0": 100, "pod-1": 100})
    assert without.score == 100.0
    assert with_zero.pods == ("pod-0", "pod-1", "pod-2")
    assert with_zero.cv == pytest.approx(statistics.pstdev([100, 100, 0]) / statistics.mean([100, 100, 0]))
    assert with_zero.score < 95 and with_zero.loads[2] == 0.0


def test_an_expected_pod_that_got_nothing_counts_as_zero():
    absent = analyse({"pod-0": 100, "pod-1": 100}, expected_pods=["pod-0", "pod-1", "pod-2"])
    explicit = analyse({"pod-0": 100, "pod-1": 100, "pod-2": 0})
    assert absent.pods == explicit.pods
    assert absent.cv == explicit.cv and absent.score == explicit.score and absent.p_value == explicit.p_value


def test_a_pod_named_only_in_the_shares_counts_as_zero():
    result = analyse({"pod-0": 100}, {"pod-0": 1, "pod-1": 1})
    assert result.pods == ("pod-0", "pod-1")
    assert result.counts == (100, 0)
    assert result.score == 0.0


def test_a_pod_the_shares_do_not_name_gets_their_mean_weight():
    result = analyse({"pod-0": 200, "pod-1": 200, "pod-2": 200}, {"pod-0": 2, "pod-1": 2})
    assert result.shares == pytest.approx([1 / 3] * 3)
    assert result.score == 100.0


def test_everything_on_one_pod_scores_zero():
    result = analyse({"pod-0": 300, "pod-1": 0, "pod-2": 0})
    assert result.score == 0.0 and result.grade == "F"
    assert result.max_over_mean == pytest.approx(3.0)
    assert result.jain == pytest.approx(1 / 3)
    assert result.p_value < 1e-12


def test_huge_counts_stay_finite():
    result = analyse({"pod-0": 10**15, "pod-1": 10**15 + 10**9})
    assert all(math.isfinite(v) for v in (result.score, result.cv, result.jain, result.max_over_mean, result.p_value))
    assert result.score > 99.9


def test_float_counts_from_a_json_round_trip_are_accepted():
    assert analyse({"pod-0": 100.0, "pod-1": 100.0}).score == 100.0


@pytest.mark.parametrize("weight", [0, -1, float("nan"), float("inf")])
def test_a_share_that_is_not_positive_and_finite_is_rejected_naming_the_pod(weight):
    with pytest.raises(ValueError, match="share of pod 'pod-1'"):
        analyse({"pod-0": 10, "pod-1": 10}, {"pod-0": 1, "pod-1": weight})


@pytest.mark.parametrize("count", [-1, float("nan")])
def test_a_negative_or_missing_number_count_is_rejected(count):
    with pytest.raises(ValueError, match="request counts"):
        analyse({"pod-0": 10, "pod-1": count})


def test_none_counts_as_zero():
    assert analyse({"pod-0": 10, "pod-1": None}).counts == (10, 0)
