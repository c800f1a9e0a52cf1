"""Every pod's count in the final line equals the pod's own /metrics count, and the samples
sum to the final line, with one Locust process and with a master and two workers."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import base_config, delta, pod_requests, run_to_end, sum_samples


@pytest.fixture(scope="module")
def cluster():
    with SandboxCluster(SandboxConfig(pods=3)) as sandbox:
        yield sandbox


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_final_per_pod_counts_equal_pods_own_metrics(cluster, workers):
    pods = sorted(pod.name for pod in cluster.pods())
    before = pod_requests(cluster)
    result = run_to_end(base_config(cluster.endpoint, users=4, duration_s=3, expected_pods=pods), workers=workers,
                        wait_exit=True)
    served = delta(before, pod_requests(cluster))

    assert not result.errors, result.log
    final = result.final
    assert final["requests"] > 0
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == served
    assert final["unattributed"] == 0
    assert final["failures"] == 0
    assert result.returncode == 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_samples_sum_to_final_totals(cluster, workers):
    result = run_to_end(base_config(cluster.endpoint, users=3, duration_s=3), workers=workers)
    final, samples = result.final, result.samples
    assert final is not None, result.log
    total = sum_samples(samples)

    assert total["requests"] == final["requests"]
    assert total["failures"] == final["failures"]
    assert total["unattributed"] == final["unattributed"]
    assert total["pods"] == {name: {"requests": p["requests"], "failures": p["failures"]}
                             for name, p in final["pods"].items()}
    # one sample per second, then the last one at the duration
    assert [s["t"] for s in samples] == [1.0, 2.0, 3.0]
    assert final["duration_s"] == 3.0
    for sample in samples:
        if sample["requests"]:
            assert sample["p50_ms"] <= sample["p95_ms"] <= sample["p99_ms"] <= sample["max_ms"]
        else:
            assert sample["p95_ms"] is None
