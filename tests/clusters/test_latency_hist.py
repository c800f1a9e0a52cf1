"""Latency histograms that add up: a p95 over several buckets is the p95 of their requests."""

import random

from clusters.latency_hist import add_latency, add_pairs, latency_key, percentile_ms, to_pairs


def test_keys_keep_two_significant_digits_and_a_tenth_of_a_ms():
    assert latency_key(0.96) == 1.0
    assert latency_key(9.94) == 9.9
    assert latency_key(123.4) == 120.0
    assert latency_key(1260.0) == 1300.0
    for ms in (0.3, 7.77, 45.0, 512.0, 3210.0, 59_000.0):
        assert abs(latency_key(ms) - ms) <= max(0.05, ms * 0.05)


def test_p95_of_merged_histograms_is_the_p95_of_all_requests_not_an_average():
    fast, slow = {}, {}
    for _ in range(90):
        add_latency(fast, 0.002)
    for _ in range(10):
        add_latency(slow, 0.800)
    merged: dict = {}
    add_pairs(merged, to_pairs(fast))
    add_pairs(merged, to_pairs(slow))
    # 10 % of the requests took 800 ms: the p95 of all of them is 800 ms
    assert percentile_ms(merged) == 800.0
    assert percentile_ms(fast) == 2.0 and percentile_ms({}) is None


def test_nearest_rank_matches_sorted_latencies_within_the_rounding():
    rng = random.Random(7)
    latencies = [rng.lognormvariate(0, 1) / 100 for _ in range(2000)]
    hist: dict = {}
    for latency in latencies:
        add_latency(hist, latency)
    exact = sorted(latencies)[int(0.95 * len(latencies)) - 1] * 1000
    assert abs(percentile_ms(hist) - exact) <= exact * 0.06
    assert len(hist) < 300  # bounded by the rounding, not by the requests
