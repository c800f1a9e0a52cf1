"""Each sample line's 100 ms buckets: by completion time, inside the second, summing to the
second's counts, and merged from workers like the rest of a window."""

import json

from tests_app.engine.stats import Aggregator, PodNames, Window

T0 = 1_000_000.0  # the run's t0_unix, on a 100 ms boundary


def test_buckets_hold_the_seconds_requests_by_completion_time():
    agg = Aggregator(["a", "b"], epoch=T0)
    w = Window()
    w.record("a", 0.002, False, at=T0 + 0.05)
    w.record("b", 0.004, True, at=T0 + 0.07)
    w.record("a", 0.300, False, at=T0 + 0.75)
    w.record(None, 0.001, False, at=T0 + 0.75)
    sample = agg.sample(w, t=1.0, users=2, active_connections=2)

    assert [b["t"] for b in sample["buckets"]] == [0.0, 0.7]
    first, second = sample["buckets"]
    assert first["requests"] == 2 and first["failures"] == 1 and first["pods"] == {"a": 1, "b": 1}
    assert second["pods"] == {"a": 1}  # the unattributed response counts, under no pod
    assert second["requests"] == 2 and second["p95_ms"] == 300.0
    assert sum(b["requests"] for b in sample["buckets"]) == sample["requests"]
    json.dumps(sample)


def test_a_response_collected_after_the_seconds_end_stays_in_that_second():
    agg = Aggregator(epoch=T0)
    w = Window()
    w.record("a", 0.001, False, at=T0 + 1.004)  # the sample was taken 5 ms late
    s1 = agg.sample(w, t=1.0, users=1, active_connections=1)
    late = Window()
    late.record("a", 0.001, False, at=T0 + 0.98)  # a worker's report that missed second 1
    late.record("a", 0.001, False, at=T0 + 1.5)
    s2 = agg.sample(late, t=2.0, users=1, active_connections=1)

    assert [b["t"] for b in s1["buckets"]] == [0.9]
    assert [(b["t"], b["requests"]) for b in s2["buckets"]] == [(1.0, 1), (1.5, 1)]


def test_the_last_sample_keeps_requests_that_finished_after_the_end():
    agg = Aggregator(epoch=T0)
    agg.sample(Window(), t=1.0, users=1, active_connections=1)
    w = Window()
    w.record("a", 2.5, True, at=T0 + 3.2)  # in flight at the end, finished while users stopped
    last = agg.sample(w, t=2.0, users=1, active_connections=0, last=True)
    assert [b["t"] for b in last["buckets"]] == [3.2]


def test_worker_buckets_merge_into_the_masters_window():
    names = PodNames()
    worker_a, worker_b = Window(), Window()
    worker_a.record("pod-1", 0.010, False, at=T0 + 0.42)
    worker_b.record("pod-1", 0.900, True, at=T0 + 0.48)
    worker_b.record("pod-2", 0.010, False, at=T0 + 0.61)
    master = Window(pod_names=names)
    master.merge_wire(json.loads(json.dumps(worker_a.to_wire())))
    master.merge_wire(json.loads(json.dumps(worker_b.to_wire())))
    sample = Aggregator(epoch=T0, pod_names=names).sample(master, t=1.0, users=2, active_connections=2)

    assert [(b["t"], b["requests"], b["failures"], b["pods"]) for b in sample["buckets"]] == [
        (0.4, 2, 1, {"pod-1": 2}), (0.6, 1, 0, {"pod-2": 1})]
    assert sample["buckets"][0]["p95_ms"] == 900.0  # from both workers' latencies, not an average


def test_pods_past_the_cap_are_folded_in_buckets_too():
    names = PodNames(cap=1)
    w = Window(pod_names=names)
    for index in range(5):
        w.record(f"hostile-{index}", 0.001, False, at=T0 + 0.1)
    sample = Aggregator(epoch=T0, pod_names=names).sample(w, t=1.0, users=1, active_connections=1)
    assert sample["buckets"][0]["pods"] == {"hostile-0": 1, "(other pods)": 4}
