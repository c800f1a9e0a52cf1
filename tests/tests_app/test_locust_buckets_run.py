"""A real run against the sandbox: the clock line comes first, and each second's 100 ms buckets
lie inside it and add up to its requests and its pods' requests, with one Locust process and
with a master and two workers."""

import time

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import base_config, run_to_end


@pytest.fixture(scope="module")
def cluster():
    with SandboxCluster(SandboxConfig(pods=3)) as sandbox:
        yield sandbox


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_clock_first_and_buckets_add_up_to_each_second(cluster, workers):
    received_at = {}

    def note_arrival(_run, line):
        received_at.setdefault(id(line), time.time())

    started = time.time()
    result = run_to_end(base_config(cluster.endpoint, users=3, duration_s=3), workers=workers, on_line=note_arrival)
    assert not result.errors, result.log

    clock = result.lines[0]
    assert clock["type"] == "clock"
    assert [line["type"] for line in result.lines].count("clock") == 1
    t0 = clock["t0_unix"]
    assert started <= t0 <= started + 30
    assert round(t0 * 10) == pytest.approx(t0 * 10, abs=1e-3)  # t=0 is on a 100 ms boundary

    previous_t = 0.0
    samples = result.samples
    for index, sample in enumerate(samples):
        last = index == len(samples) - 1
        # t is on the clock line's time base: a second's line is never out before t0 + t
        assert received_at[id(sample)] >= t0 + sample["t"] - 0.01
        buckets = sample["buckets"]
        assert sum(b["requests"] for b in buckets) == sample["requests"]
        assert sum(b["failures"] for b in buckets) == sample["failures"]
        assert all(b["requests"] > 0 for b in buckets)
        starts = [b["t"] for b in buckets]
        assert starts == sorted(set(starts))
        for bucket in buckets:
            assert bucket["t"] == round(bucket["t"], 1)
            assert bucket["t"] >= previous_t - 1e-9
            if not last:
                assert bucket["t"] < sample["t"]
            assert sum(bucket["pods"].values()) == bucket["requests"]  # every response named its pod
            assert sum(count for _, count in bucket["latency_hist"]) == bucket["requests"]
            assert bucket["p95_ms"] is not None
        by_pod: dict[str, int] = {}
        for bucket in buckets:
            for pod, count in bucket["pods"].items():
                by_pod[pod] = by_pod.get(pod, 0) + count
        attributed = {pod: figures["requests"] for pod, figures in sample["pods"].items() if figures["requests"]}
        assert by_pod == attributed
        previous_t = sample["t"]
    assert sum(sample["requests"] for sample in samples) == result.final["requests"] > 0
    # the load ran all along: buckets from the first second to the last
    all_starts = [b["t"] for sample in samples for b in sample["buckets"]]
    assert min(all_starts) < 1.0 and max(all_starts) >= 2.5
