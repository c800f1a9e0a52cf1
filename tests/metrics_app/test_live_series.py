"""The live view's messages of each recorded second (metrics_app.live.LiveSeries): the sample,
its balance score over the last window, and alerts that open and close as seconds arrive."""

from __future__ import annotations

import pytest

from clusters.balance import ExpectedPods, analyse
from metrics_app.live import LiveSeries

FAIR = {"pod-0": 10, "pod-1": 10, "pod-2": 10}
SKEWED = {"pod-0": 30, "pod-1": 0, "pod-2": 0}


def second(t: float, counts: dict[str, int], *, unattributed: int = 0) -> dict:
    """One item as samples_since reads it back."""
    pods = {name: {"requests": n, "failures": 0, "p95_ms": 2.0, "cpu": 0.25, "memory_bytes": 1024, "ready": True}
            for name, n in counts.items()}
    if unattributed:
        pods["unattributed"] = {"requests": unattributed, "failures": 0, "p95_ms": None, "cpu": None,
                                "memory_bytes": None, "ready": True}
    requests = sum(counts.values()) + unattributed
    return {"t": t, "users": 5, "requests": requests, "failures": 0, "rps": float(requests), "failures_per_s": 0.0,
            "p50_ms": 1.0, "p95_ms": 3.0, "p99_ms": 4.0, "max_ms": 8.0, "active_connections": 5, "pods": pods}


def feed_all(series: LiveSeries, rows: list[dict], first_t: float = 1.0) -> list[dict]:
    messages = []
    for index, counts in enumerate(rows):
        messages.extend(series.feed(second(first_t + index, counts)))
    return messages


def test_score_is_analyse_of_the_last_window_sums():
    rows = [{"pod-0": 10 + i, "pod-1": 10 - (i % 4), "pod-2": 7 + 2 * (i % 3)} for i in range(25)]
    series = LiveSeries(threshold=95.0, window_s=10)
    for index, counts in enumerate(rows):
        (sample,) = [m for m in series.feed(second(index + 1.0, counts)) if m["type"] == "sample"]
        window = rows[max(0, index - 9): index + 1]  # the last 10 seconds, fewer at the start
        sums = {pod: sum(row[pod] for row in window) for pod in ("pod-0", "pod-1", "pod-2")}
        assert sample["t"] == index + 1.0
        assert sample["score"] == pytest.approx(analyse(sums).score, abs=1e-9)


def test_sample_carries_the_seconds_figures():
    (sample,) = LiveSeries(threshold=95.0, window_s=10).feed(second(4.0, FAIR))
    assert sample["type"] == "sample"
    assert (sample["users"], sample["requests"], sample["rps"], sample["p95_ms"], sample["active_connections"]) == (
        5, 30, 30.0, 3.0, 5)
    assert sample["pods"]["pod-1"] == {"requests": 10, "failures": 0, "p95_ms": 2.0, "cpu": 0.25,
                                       "memory_bytes": 1024, "ready": True}
    assert sample["score"] == pytest.approx(100.0)


def test_unattributed_is_a_count_apart_not_a_pod():
    (sample,) = LiveSeries(threshold=95.0, window_s=10).feed(second(1.0, {"pod-0": 12, "pod-1": 8}, unattributed=7))
    assert "unattributed" not in sample["pods"]
    assert set(sample["pods"]) == {"pod-0", "pod-1"}
    assert sample["unattributed"] == 7
    assert sample["score"] == pytest.approx(analyse({"pod-0": 12, "pod-1": 8}).score)


def test_a_known_pod_that_goes_idle_counts_as_zero():
    series = LiveSeries(threshold=95.0, window_s=3)
    series.feed(second(1.0, FAIR))
    messages = []
    for t in (2.0, 3.0, 4.0, 5.0):  # pod-2 has no row any more
        messages = series.feed(second(t, {"pod-0": 10, "pod-1": 10}))
    sample = messages[0]
    assert sample["score"] == pytest.approx(analyse({"pod-0": 30, "pod-1": 30, "pod-2": 0}).score)
    assert sample["score"] < analyse({"pod-0": 30, "pod-1": 30}).score == 100.0


def test_a_window_without_traffic_has_no_score():
    series = LiveSeries(threshold=95.0, window_s=3)
    (sample,) = series.feed(second(1.0, {"pod-0": 0, "pod-1": 0}))
    assert sample["score"] is None


def test_weights_give_the_expected_shares():
    shares = {"pod-0": 2.0, "pod-1": 1.0}
    series = LiveSeries(threshold=95.0, window_s=10, expected=ExpectedPods.with_shares(shares))
    (sample,) = series.feed(second(1.0, {"pod-0": 20, "pod-1": 10}))
    assert sample["score"] == pytest.approx(analyse({"pod-0": 20, "pod-1": 10}, shares).score) == pytest.approx(100.0)


def test_an_alert_opens_under_the_threshold_and_closes_back_above_it():
    rows = [FAIR] * 12 + [SKEWED] * 5 + [FAIR] * 20
    series = LiveSeries(threshold=95.0, window_s=10)
    messages = feed_all(series, rows)
    alerts = [m for m in messages if m["type"] == "alert"]
    samples = [m for m in messages if m["type"] == "sample"]
    assert len(alerts) == 2
    opened, closed = alerts
    # opens with the first skewed second (t = 13), at that window's score
    assert (opened["start_t"], opened["end_t"]) == (13.0, None)
    first_under = analyse({"pod-0": 9 * 10 + 30, "pod-1": 90, "pod-2": 90}).score
    assert opened["score"] == pytest.approx(first_under)
    assert opened["worst_pod"] == "pod-0"
    # closes with the first full window back at or above 95, carrying the lowest score seen
    back = next(s for s in samples if s["t"] > 13.0 and s["score"] >= 95.0)
    assert (closed["start_t"], closed["end_t"]) == (13.0, back["t"])
    lowest = min(s["score"] for s in samples if 13.0 <= s["t"] < back["t"])
    assert closed["score"] == pytest.approx(lowest)
    assert closed["worst_pod"] == "pod-0"
    # each alert follows the sample of the second it happened in
    assert messages[messages.index(opened) - 1] == next(s for s in samples if s["t"] == 13.0)
    assert "pod-0" in opened["message"] and "95" in opened["message"]


def test_windows_shorter_than_full_raise_no_alert():
    series = LiveSeries(threshold=95.0, window_s=10)
    messages = feed_all(series, [SKEWED] * 9)
    assert [m["type"] for m in messages] == ["sample"] * 9
    assert all(m["score"] < 95.0 for m in messages)
    assert series.feed(second(10.0, SKEWED))[-1]["type"] == "alert"


def test_a_full_window_without_traffic_alerts_as_no_traffic():
    series = LiveSeries(threshold=95.0, window_s=3)
    messages = feed_all(series, [{"pod-0": 0, "pod-1": 0}] * 3)
    alert = messages[-1]
    assert alert["type"] == "alert"
    assert (alert["start_t"], alert["end_t"], alert["score"], alert["worst_pod"]) == (3.0, None, 0.0, None)
    assert "No traffic" in alert["message"]


def test_an_alert_open_from_the_first_full_window_may_predate_what_was_fed():
    from_the_middle = LiveSeries(threshold=95.0, window_s=10)
    feed_all(from_the_middle, [SKEWED] * 12)
    assert from_the_middle.alert_may_predate_history
    from_a_fair_start = LiveSeries(threshold=95.0, window_s=10)
    feed_all(from_a_fair_start, [FAIR] * 10 + [SKEWED] * 3)
    assert not from_a_fair_start.alert_may_predate_history


def test_window_must_be_whole_seconds():
    with pytest.raises(ValueError, match="window_s"):
        LiveSeries(threshold=95.0, window_s=0)


def test_a_second_without_traffic_is_a_gap_even_when_its_window_had_traffic():
    series = LiveSeries(threshold=95.0, window_s=10)
    feed_all(series, [FAIR] * 5)
    (idle,) = series.feed(second(6.0, {"pod-0": 0, "pod-1": 0, "pod-2": 0}))  # users at 0, between stages
    assert idle["score"] is None
    (back,) = series.feed(second(7.0, FAIR))
    assert back["score"] == pytest.approx(100.0)


def test_expected_pods_count_from_the_first_second_and_are_in_the_sample_as_zeros():
    series = LiveSeries(threshold=95.0, window_s=10, expected=ExpectedPods(count=3))
    (sample,) = series.feed(second(1.0, {"pod-0-a": 10, "pod-1-b": 10}))
    assert sample["pods"]["expected-3 (no response)"]["requests"] == 0
    assert sample["score"] == pytest.approx(analyse({"pod-0-a": 10, "pod-1-b": 10, "x": 0}).score) == 0.0


def second_with_failures(t: float, figures: dict[str, tuple[int, int, float]]) -> dict:
    """One recorded second from pod -> (requests, failures, p95 ms)."""
    row = second(t, {name: requests for name, (requests, _, _) in figures.items()})
    for name, (_, failures, p95_ms) in figures.items():
        row["pods"][name].update(failures=failures, p95_ms=p95_ms)
    return row


def test_a_pod_whose_error_rate_stands_out_is_alerted_by_name_while_balance_stays_perfect():
    series = LiveSeries(threshold=95.0, window_s=5)
    healthy = {"pod-0": (40, 0, 2.0), "pod-1": (40, 0, 2.0), "pod-2": (40, 0, 2.0)}
    failing = {**healthy, "pod-1": (40, 12, 2.0)}  # 30 % of pod-1's requests fail; its share is intact
    messages = []
    for index, figures in enumerate([healthy] * 3 + [failing] * 6 + [healthy] * 8):
        messages.extend(series.feed(second_with_failures(index + 1.0, figures)))
    samples = [m for m in messages if m["type"] == "sample"]
    assert all(s["score"] == pytest.approx(100.0) for s in samples)
    opened, closed = [m for m in messages if m["type"] == "alert"]
    assert (opened["kind"], opened["pod"], opened["start_t"], opened["end_t"]) == ("pod_errors", "pod-1", 4.0, None)
    assert "pod-1" in opened["message"] and "7.5 %" in opened["message"]  # 12 of the window's 160
    # closed by the first window without pod-1's failures, with the worst rate seen while open
    assert (closed["kind"], closed["pod"], closed["start_t"], closed["end_t"]) == ("pod_errors", "pod-1", 4.0, 14.0)
    assert "30.0 %" in closed["message"]  # 60 of 200 over 4..8 s
    assert closed["id"] == opened["id"]


def test_a_pod_whose_p95_stands_out_is_alerted_by_name():
    series = LiveSeries(threshold=95.0, window_s=5)
    slow = {"pod-0": (40, 0, 2.0), "pod-1": (40, 0, 250.0), "pod-2": (40, 0, 2.5)}
    messages = []
    for index in range(3):
        messages.extend(series.feed(second_with_failures(index + 1.0, slow)))
    (alert,) = [m for m in messages if m["type"] == "alert"]
    assert (alert["kind"], alert["pod"], alert["start_t"]) == ("pod_latency", "pod-1", 1.0)
    assert "250.0 ms" in alert["message"]


def test_a_pod_alert_open_from_the_first_seconds_fed_may_predate_them():
    failing = {"pod-0": (40, 0, 2.0), "pod-1": (40, 12, 2.0), "pod-2": (40, 0, 2.0)}
    healthy = {pod: (40, 0, 2.0) for pod in failing}
    from_the_middle = LiveSeries(threshold=95.0, window_s=5)
    for index in range(3):
        from_the_middle.feed(second_with_failures(20.0 + index, failing))
    assert from_the_middle.alert_may_predate_history  # a reconnect reads further back for its start
    from_a_healthy_start = LiveSeries(threshold=95.0, window_s=5)
    for index, figures in enumerate([healthy] * 6 + [failing] * 3):
        from_a_healthy_start.feed(second_with_failures(index + 1.0, figures))
    assert not from_a_healthy_start.alert_may_predate_history
