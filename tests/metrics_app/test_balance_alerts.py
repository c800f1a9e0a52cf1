"""Alerts: when the one-second sliding window score falls under the threshold, and which pod."""

from __future__ import annotations

import json

import pytest

from clusters.balance import alerts, analyse, windowed_scores

FAIR = {"pod-0": 10, "pod-1": 10, "pod-2": 10}


def run(*parts):
    rows = []
    for row, seconds in parts:
        rows.extend([dict(row)] * seconds)
    return rows


def test_a_balanced_run_raises_no_alert():
    assert alerts(run((FAIR, 90)), window_s=10, threshold=95) == []


def test_a_sharp_imbalance_is_reported_over_exactly_its_span():
    rows = run((FAIR, 30), ({"pod-0": 30, "pod-1": 0, "pod-2": 0}, 30), (FAIR, 30))
    found = alerts(rows, window_s=10, threshold=95)
    assert len(found) == 1
    alert = found[0]
    assert (alert.start_s, alert.end_s, alert.ongoing) == (30, 60, False)
    assert (alert.worst_pod, alert.direction) == ("pod-0", "over")
    assert alert.worst_load == pytest.approx(3.0)
    assert alert.worst_score == pytest.approx(min(windowed_scores(rows, window_s=10, step_s=1)))
    assert "pod-0" in alert.message and "over" in alert.message


def test_a_starved_pod_is_the_worst_pod_under_its_share():
    rows = run((FAIR, 40), ({"pod-0": 15, "pod-1": 15, "pod-2": 0}, 30), (FAIR, 40))
    (alert,) = alerts(rows, window_s=10, threshold=95)
    assert (alert.start_s, alert.end_s) == (40, 70)
    assert (alert.worst_pod, alert.direction, alert.worst_load) == ("pod-2", "under", 0.0)


def test_worst_score_is_the_lowest_window_score_of_the_alert():
    rows = run((FAIR, 30), ({"pod-0": 12, "pod-1": 10, "pod-2": 8}, 20), (FAIR, 30))
    (alert,) = alerts(rows, window_s=10, threshold=95)
    sliding = windowed_scores(rows, window_s=10, step_s=1)
    assert alert.worst_score == pytest.approx(min(sliding))
    assert alert.worst_score == pytest.approx(analyse({"pod-0": 120, "pod-1": 100, "pod-2": 80}).score)


def test_imbalance_from_the_first_second_starts_at_zero():
    rows = run(({"pod-0": 20, "pod-1": 5, "pod-2": 5}, 20), (FAIR, 40))
    (alert,) = alerts(rows, window_s=10, threshold=95)
    assert (alert.start_s, alert.end_s) == (0, 20)


def test_imbalance_until_the_end_is_ongoing_and_ends_with_the_run():
    rows = run((FAIR, 70), ({"pod-0": 30, "pod-1": 0, "pod-2": 0}, 20))
    (alert,) = alerts(rows, window_s=10, threshold=95)
    assert (alert.start_s, alert.end_s, alert.ongoing) == (70, 90, True)
    assert "end of the run" in alert.message


def test_two_separate_imbalances_give_two_alerts_in_order():
    skew = {"pod-0": 30, "pod-1": 0, "pod-2": 0}
    starve = {"pod-0": 15, "pod-1": 15, "pod-2": 0}
    rows = run((FAIR, 20), (skew, 10), (FAIR, 30), (starve, 10), (FAIR, 20))
    found = alerts(rows, window_s=10, threshold=95)
    assert [(a.start_s, a.end_s, a.worst_pod) for a in found] == [(20, 30, "pod-0"), (60, 70, "pod-2")]


def test_a_score_exactly_at_the_threshold_is_not_an_alert():
    rows = run(({"pod-0": 12, "pod-1": 8}, 40))
    (score,) = set(windowed_scores(rows, window_s=10, step_s=1))
    assert alerts(rows, window_s=10, threshold=score) == []
    (alert,) = alerts(rows, window_s=10, threshold=score + 1e-6)
    assert (alert.start_s, alert.end_s, alert.ongoing) == (0, 40, True)


def test_a_stretch_without_traffic_is_reported_without_a_pod():
    rows = run((FAIR, 20), ({}, 20), (FAIR, 20))
    (alert,) = alerts(rows, window_s=10, threshold=95)
    assert alert.worst_score == 0.0
    assert alert.worst_pod is None and alert.direction is None and alert.worst_load is None
    assert "No traffic" in alert.message


def test_weighted_shares_judge_against_the_weights():
    rows = run(({"pod-0": 20, "pod-1": 10}, 30))
    assert alerts(rows, window_s=10, threshold=95, shares={"pod-0": 2, "pod-1": 1}) == []
    assert len(alerts(rows, window_s=10, threshold=95)) == 1


def test_an_expected_pod_that_never_served_raises_an_alert():
    rows = run(({"pod-0": 10, "pod-1": 10}, 30))
    (alert,) = alerts(rows, window_s=10, threshold=95, expected_pods=["pod-0", "pod-1", "pod-2"])
    assert (alert.worst_pod, alert.direction) == ("pod-2", "under")


def test_a_run_shorter_than_the_window_is_judged_as_one_window():
    (alert,) = alerts(run(({"pod-0": 10, "pod-1": 0}, 4)), window_s=10, threshold=95)
    assert (alert.start_s, alert.end_s, alert.ongoing) == (0, 4, True)
    assert alerts([], window_s=10, threshold=95) == []


def test_alert_to_dict_is_json():
    rows = run((FAIR, 30), ({"pod-0": 30, "pod-1": 0, "pod-2": 0}, 30))
    data = alerts(rows, window_s=10, threshold=95)[0].to_dict()
    assert json.loads(json.dumps(data, allow_nan=False))["worst_pod"] == "pod-0"
    assert set(data) == {"start_s", "end_s", "worst_score", "worst_pod", "direction", "worst_load", "message", "ongoing"}
