"""Sample and final lines: samples sum to the final line, histograms travel between
processes, memory does not grow with the number of requests."""

import json

from tests_app.engine.stats import PENDING_CAP, Aggregator, Window, clamp_us, new_histogram, record_latencies


def window(records):
    w = Window()
    for pod, latency_s, failed in records:
        w.record(pod, latency_s, failed)
    return w


def test_samples_sum_to_final_and_expected_pods_show_zero():
    agg = Aggregator(["a", "b", "z"])
    s1 = agg.sample(window([("a", 0.002, False), ("b", 0.004, True), (None, 0.001, True)]),
                    t=1.0, users=3, active_connections=3)
    s2 = agg.sample(window([("a", 0.010, False), ("c", 0.003, False)]), t=2.0, users=3, active_connections=2)
    s3 = agg.sample(Window(), t=2.5, users=3, active_connections=0)
    final = agg.final(duration_s=2.5, reason="duration")

    assert s1["pods"]["z"] == {"requests": 0, "failures": 0, "p95_ms": None}
    assert s3["requests"] == 0 and s3["p95_ms"] is None and s3["max_ms"] is None
    assert s3["rps"] == 0.0
    assert s1["rps"] == 3.0 and s1["failures_per_s"] == 2.0
    lines = [s1, s2, s3]
    assert final["requests"] == sum(s["requests"] for s in lines) == 5
    assert final["failures"] == sum(s["failures"] for s in lines) == 2
    assert final["unattributed"] == sum(s["unattributed"] for s in lines) == 1
    for pod in ("a", "b", "c", "z"):
        assert final["pods"][pod]["requests"] == sum(s["pods"].get(pod, {"requests": 0})["requests"] for s in lines)
    assert final["pods"]["a"]["requests"] == 2 and final["pods"]["b"]["failures"] == 1
    assert final["latency_ms"]["max"] >= 10.0
    assert 1.9 <= final["pods"]["a"]["p95_ms"] <= 10.1
    json.dumps(final)  # plain JSON


def test_worker_windows_merge_into_the_same_figures():
    direct = Window()
    merged = Window()
    for part in ([("a", 0.001, False), ("b", 0.050, False)], [("a", 0.003, True), (None, 0.2, True)]):
        w = window(part)
        for record in part:
            direct.record(*record)
        merged.merge_wire(json.loads(json.dumps(w.to_wire())))
    one = Aggregator().sample(direct, t=1.0, users=1, active_connections=0)
    two = Aggregator().sample(merged, t=1.0, users=1, active_connections=0)
    assert one == two


def test_prometheus_counts_sum_to_final():
    agg = Aggregator(["a", "b"], counted_by_counters=True)
    w1 = window([(None, 0.001, False)] * 5)
    w1.pod_counts = {"a": 2, "b": 1}  # counters lag the client by two
    w2 = window([(None, 0.001, False)] * 3)
    w2.pod_counts = {"a": 3, "b": 2}  # and catch up
    w3 = window([(None, 0.001, False)] * 2)  # two more that no counter saw
    lines = [agg.sample(w1, t=1.0, users=1, active_connections=0), agg.sample(w2, t=2.0, users=1, active_connections=0),
             agg.sample(w3, t=2.5, users=1, active_connections=0, last=True)]
    final = agg.final(duration_s=2.5, reason="duration")
    assert final["pods"] == {"a": {"requests": 5, "failures": 0, "p95_ms": None},
                             "b": {"requests": 3, "failures": 0, "p95_ms": None}}
    assert [s["unattributed"] for s in lines] == [0, 0, 2]
    assert final["unattributed"] == 2
    assert final["requests"] == 10


def test_histogram_memory_does_not_grow_with_requests():
    w = Window()
    w.record("a", 0.001, False)
    w.record(None, 0.001, False)
    size = (w.unattributed_hist.counts_len, w.pods["a"].hist.counts_len)
    for i in range(20_000):
        w.record("a" if i % 2 else None, (i % 5000) / 1000.0, False)
    w.record("a", 3600.0, False)  # beyond 60 s: clamped, not an error
    assert (w.unattributed_hist.counts_len, w.pods["a"].hist.counts_len) == size == (new_histogram().counts_len,) * 2
    assert w.merged_hist().get_total_count() == 20_003
    assert w.merged_hist().get_max_value() >= 59_000_000


def test_fast_percentiles_equal_the_librarys():
    import random

    from tests_app.engine.stats import values_at_percentiles

    rng = random.Random(5)
    hist = new_histogram()
    for _ in range(5000):
        hist.record_value(int(rng.lognormvariate(7, 1.5)) + 1)
    hist.record_value(59_000_000)
    wanted = (0, 1, 50, 90, 95, 99, 99.9, 100)
    assert values_at_percentiles(hist, wanted) == [hist.get_value_at_percentile(p) for p in wanted]


def test_bulk_recording_equals_the_librarys():
    import random

    rng = random.Random(7)
    latencies = [rng.lognormvariate(-6, 2) for _ in range(5000)]
    latencies += [0.0, -1.0, 1e-7, 0.002047, 0.002048, 0.004096, 59.9999, 3600.0]  # edges, clamped ends
    one_by_one = new_histogram()
    for latency in latencies:
        one_by_one.record_value(clamp_us(latency))
    bulk = new_histogram()
    record_latencies(bulk, latencies[:1000])
    record_latencies(bulk, latencies[1000:])
    assert bytes(bulk.counts) == bytes(one_by_one.counts)
    assert (bulk.get_total_count(), bulk.get_min_value(), bulk.get_max_value()) == \
        (one_by_one.get_total_count(), one_by_one.get_min_value(), one_by_one.get_max_value())


def test_latencies_waiting_for_their_histogram_are_bounded():
    w = Window()
    for _ in range(3 * PENDING_CAP + 5):
        w.record("a", 0.001, False)
        w.record(None, 0.002, True)
    assert len(w.pods["a"].pending) < PENDING_CAP and len(w.unattributed_slot.pending) < PENDING_CAP
    assert w.merged_hist().get_total_count() == 2 * (3 * PENDING_CAP + 5)
