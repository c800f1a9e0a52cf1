"""The compare page's per-second series: the balance score is the live stream's, second by second."""

import pytest

from clusters.balance import ExpectedPods
from metrics_app.comparison import RunSeconds, run_series
from metrics_app.live import LiveSeries


def second(t, pods, *, rps=None, p95_ms=3.0):
    requests = sum(figures["requests"] for figures in pods.values())
    return {"t": float(t), "requests": requests, "rps": float(requests) if rps is None else rps, "p95_ms": p95_ms,
            "pods": pods}


def pods_of(**requests):
    return {name.replace("_", "-"): {"requests": count, "failures": 0} for name, count in requests.items()}


def live_scores(seconds, *, expected=None, window_s=10):
    series = LiveSeries(95.0, window_s, expected)
    return [series.feed(s)[0]["score"] for s in seconds]


def history():
    """Even, then pod-2 joins (a scale-up), then pod-0 goes quiet, a second with no traffic at all,
    requests no pod was named for, and a second without a p95."""
    seconds = [second(t, pods_of(pod_0=50, pod_1=50)) for t in range(12)]
    seconds += [second(t, pods_of(pod_0=40, pod_1=40, pod_2=10)) for t in range(12, 20)]
    seconds += [second(t, pods_of(pod_0=0, pod_1=60, pod_2=60)) for t in range(20, 26)]
    seconds += [second(26, {}, rps=0.0, p95_ms=None)]
    seconds += [second(t, {**pods_of(pod_1=30, pod_2=30), "unattributed": {"requests": 500, "failures": 0}})
                for t in range(27, 40)]
    return seconds


@pytest.mark.parametrize("window_s", [1, 3, 10])
def test_score_is_the_live_streams_score_of_every_second(window_s):
    seconds = history()
    series = run_series(RunSeconds.from_seconds(seconds), window_s=window_s)
    expected = live_scores(seconds, window_s=window_s)
    assert len(series["score"]) == len(seconds)
    for got, want in zip(series["score"], expected, strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, abs=0.005)


def test_weighted_shares_score_like_the_live_stream():
    seconds = [second(t, pods_of(pod_0=60 + t % 3, pod_1=30, pod_2=30)) for t in range(25)]
    shares = {"pod-0": 2.0, "pod-1": 1.0, "pod-2": 1.0, "pod-3": 1.0}  # pod-3 never answers: it counts as 0
    expected = ExpectedPods.with_shares(shares)
    series = run_series(RunSeconds.from_seconds(seconds), expected=expected)
    for got, want in zip(series["score"], live_scores(seconds, expected=expected), strict=True):
        assert got == pytest.approx(want, abs=0.005)
    assert max(series["score"]) < 90  # pod-3's missing share is visible


def test_score_of_a_second_without_traffic_in_its_window_is_none():
    seconds = [second(0, pods_of(pod_0=5, pod_1=5)), second(1, pods_of(pod_0=0, pod_1=0)), second(2, {})]
    assert run_series(RunSeconds.from_seconds(seconds), window_s=1)["score"] == [100.0, None, None]


def test_a_second_without_traffic_is_a_gap_though_its_window_had_traffic():
    seconds = [second(0, pods_of(pod_0=5, pod_1=5)), second(1, pods_of(pod_0=0, pod_1=0)), second(2, {}),
               second(3, pods_of(pod_0=5, pod_1=5))]
    assert run_series(RunSeconds.from_seconds(seconds), window_s=10)["score"] == [100.0, None, None, 100.0]


def test_expected_pods_that_never_answered_count_from_the_first_second_like_the_live_stream():
    seconds = [second(t, pods_of(pod_0=50, pod_1=50)) for t in range(12)]
    expected = ExpectedPods(count=3)  # e.g. `--expect-pods 3` where two pods answer
    series = run_series(RunSeconds.from_seconds(seconds), expected=expected)
    assert series["score"] == live_scores(seconds, expected=expected) == [0.0] * 12
    assert series["pod_spread"] == [1.5] * 12  # (50, 50, 0): max 50 over a mean of 33.3


def test_pod_spread_is_max_over_mean_of_the_second():
    seconds = [second(0, pods_of(pod_0=30, pod_1=10)), second(1, pods_of(pod_0=10, pod_1=10, pod_2=40)),
               second(2, pods_of(pod_0=0, pod_1=0, pod_2=0))]
    spread = run_series(RunSeconds.from_seconds(seconds))["pod_spread"]
    assert spread[0] == pytest.approx(30 / 20)
    assert spread[1] == pytest.approx(40 / 20)
    assert spread[2] is None


def test_pod_spread_divides_by_the_expected_share():
    seconds = [second(0, pods_of(pod_0=20, pod_1=10))]
    expected = ExpectedPods.with_shares({"pod-0": 2, "pod-1": 1})
    assert run_series(RunSeconds.from_seconds(seconds), expected=expected)["pod_spread"] == [1.0]


def test_totals_series_follow_the_seconds_and_missing_values_are_none():
    seconds = history()
    series = run_series(RunSeconds.from_seconds(seconds))
    assert series["t"] == [s["t"] for s in seconds]
    assert series["rps"] == [s["rps"] for s in seconds]
    assert series["p95_ms"][26] is None and series["p95_ms"][0] == 3.0


def test_a_run_without_seconds_has_empty_series():
    assert run_series(RunSeconds.from_seconds([])) == {"t": [], "rps": [], "p95_ms": [], "score": [], "pod_spread": []}


def test_window_must_be_whole_seconds():
    with pytest.raises(ValueError, match="window_s"):
        run_series(RunSeconds.from_seconds(history()), window_s=0)
