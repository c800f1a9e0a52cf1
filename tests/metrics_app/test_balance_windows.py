"""Sliding-window scores: each window is scored exactly as `analyse` scores its summed counts."""

from __future__ import annotations

import numpy as np
import pytest

from clusters.balance import analyse, windowed_scores

PODS = ["pod-0", "pod-1", "pod-2", "pod-3"]


def random_run(seconds: int, pods=PODS, seed: int = 7, zero_share: float = 0.1):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(seconds):
        row = {pod: int(rng.integers(0, 60)) for pod in pods}
        if rng.random() < zero_share:
            row[pods[int(rng.integers(len(pods)))]] = 0
        rows.append(row)
    return rows


def window_sum(rows, start, end):
    total = {}
    for row in rows[start:end]:
        for pod, n in row.items():
            total[pod] = total.get(pod, 0) + n
    return total


def reference(rows, window_s, step_s=None, shares=None, expected_pods=()):
    step_s = step_s or window_s
    scores, start = [], 0
    while start + window_s <= len(rows):
        scores.append(analyse(window_sum(rows, start, start + window_s), shares, expected_pods=expected_pods).score)
        start += step_s
    if (start - step_s + window_s if scores else 0) < len(rows) and start < len(rows):
        tail = window_sum(rows, start, len(rows))
        if sum(v for k, v in tail.items() if k != "unattributed") > 0:
            scores.append(analyse(tail, shares, expected_pods=expected_pods).score)
    return scores


@pytest.mark.parametrize(("seconds", "window_s", "step_s"), [
    (100, 10, None), (95, 10, None), (60, 10, 1), (61, 7, 3), (30, 5, 5), (9, 10, None),
])
def test_each_window_equals_analyse_of_its_sums(seconds, window_s, step_s):
    rows = random_run(seconds)
    got = windowed_scores(rows, window_s=window_s, step_s=step_s)
    want = reference(rows, window_s, step_s)
    assert len(got) == len(want) > 0
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_weighted_windows_equal_analyse_with_the_same_shares():
    rows = random_run(50, seed=3)
    shares = {"pod-0": 4, "pod-1": 3, "pod-2": 2, "pod-3": 1}
    got = windowed_scores(rows, window_s=10, shares=shares)
    assert got == pytest.approx(reference(rows, 10, shares=shares), rel=1e-9, abs=1e-9)
    assert got != pytest.approx(windowed_scores(rows, window_s=10))


def test_imbalance_shows_in_the_window_where_it_happens():
    rows = [{"a": 10, "b": 10}] * 30 + [{"a": 20, "b": 0}] * 10 + [{"a": 10, "b": 10}] * 20
    assert windowed_scores(rows, window_s=10) == [100.0, 100.0, 100.0, 0.0, 100.0, 100.0]


def test_default_is_ten_second_non_overlapping_windows():
    rows = random_run(100)
    assert len(windowed_scores(rows)) == 10
    assert len(windowed_scores(rows, step_s=1)) == 91


def test_final_partial_window_counts_when_it_has_traffic():
    rows = [{"a": 10, "b": 10}] * 20 + [{"a": 9, "b": 1}] * 3
    scores = windowed_scores(rows, window_s=10)
    assert len(scores) == 3
    assert scores[-1] == pytest.approx(analyse({"a": 27, "b": 3}).score)


def test_final_partial_window_without_traffic_is_dropped():
    rows = [{"a": 10, "b": 10}] * 20 + [{"a": 0, "b": 0}] * 3
    assert windowed_scores(rows, window_s=10) == [100.0, 100.0]


def test_a_full_window_without_traffic_is_a_gap_not_a_score():
    rows = [{"a": 10, "b": 10}] * 10 + [{}] * 10 + [{"a": 10, "b": 10}] * 10
    assert windowed_scores(rows, window_s=10) == [100.0, None, 100.0]


def test_a_window_with_some_empty_seconds_scores_its_seconds_with_traffic():
    rows = [{"a": 10, "b": 0}] * 4 + [{}] * 6 + [{"a": 10, "b": 10}] * 10
    assert windowed_scores(rows, window_s=10) == [pytest.approx(analyse({"a": 40, "b": 0}).score), 100.0]


def test_run_shorter_than_a_window_is_one_window_or_none():
    assert windowed_scores([{"a": 5, "b": 5}] * 3, window_s=10) == [100.0]
    assert windowed_scores([{"a": 0, "b": 0}] * 3, window_s=10) == []
    assert windowed_scores([], window_s=10) == []


def test_expected_pods_that_never_appear_count_as_zero_in_every_window():
    rows = [{"a": 10, "b": 10}] * 20
    assert windowed_scores(rows, window_s=10) == [100.0, 100.0]
    assert windowed_scores(rows, window_s=10, expected_pods=["a", "b", "c"]) == pytest.approx(
        [analyse({"a": 100, "b": 100, "c": 0}).score] * 2)


def test_unattributed_requests_do_not_enter_windows():
    rows = [{"a": 10, "b": 10, "unattributed": 50}] * 20
    assert windowed_scores(rows, window_s=10) == [100.0, 100.0]


def test_pods_appearing_mid_run_are_zero_before_they_appear():
    rows = [{"a": 10}] * 10 + [{"a": 10, "b": 10}] * 10
    assert windowed_scores(rows, window_s=10) == [pytest.approx(analyse({"a": 100, "b": 0}).score), 100.0]


def test_an_hour_with_a_hundred_pods_matches_analyse():
    pods = [f"pod-{i}" for i in range(100)]
    rows = random_run(3600, pods=pods, seed=11, zero_share=0.5)
    scores = windowed_scores(rows, window_s=10)
    assert len(scores) == 360
    for index in (0, 123, 359):
        assert scores[index] == pytest.approx(analyse(window_sum(rows, index * 10, index * 10 + 10)).score, rel=1e-9)


@pytest.mark.parametrize(("window_s", "step_s"), [(0, None), (10, 0), (-5, None), (2.5, None)])
def test_a_window_or_step_under_one_whole_second_is_rejected(window_s, step_s):
    with pytest.raises(ValueError, match="whole seconds"):
        windowed_scores([{"a": 1}], window_s=window_s, step_s=step_s)
