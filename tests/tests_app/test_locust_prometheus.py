"""Prometheus attribution: per-pod counts from a counter query read at each window's
start and end (a fake Prometheus on loopback computes it from the pods' own /metrics)."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests.prometheus_server import Prometheus
from tests_app.engine.testing import FakePrometheus, base_config, delta, pod_requests, run_to_end, sum_samples

QUERY = "sum by (pod) (lblab_pod_requests_total)"


@pytest.mark.timeout(90)
def test_prometheus_counts_equal_pods_metrics_and_sum_up():
    with SandboxCluster(SandboxConfig(pods=3)) as cluster:
        pods = [(pod.name, pod.address) for pod in cluster.pods()]
        with FakePrometheus(lambda: pods) as prometheus:
            before = pod_requests(cluster)
            result = run_to_end(base_config(
                cluster.endpoint, users=3, duration_s=3, expected_pods=[name for name, _ in pods],
                attribution={"method": "prometheus", "url": prometheus.url, "query": QUERY}))
            served = delta(before, pod_requests(cluster))
            queries = list(prometheus.queries)

    final = result.final
    assert final is not None, result.log
    assert final["requests"] > 0
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == served
    assert final["unattributed"] == 0
    # read at the start, at every second, and after the users stopped
    assert len(queries) >= 4 and set(queries) == {QUERY}
    total = sum_samples(result.samples)
    assert total["pods"] == {name: {"requests": p["requests"], "failures": 0} for name, p in final["pods"].items()}
    assert total["requests"] == final["requests"]
    # every second carries that second's share, not everything at the end
    assert all(sum(p["requests"] for p in s["pods"].values()) > 0 for s in result.samples)


@pytest.mark.timeout(120)
def test_prometheus_attribution_against_a_real_prometheus_equals_the_pods_counters(tmp_path):
    with SandboxCluster(SandboxConfig(pods=3)) as cluster:
        pods = [(pod.name, pod.address) for pod in cluster.pods()]
        with Prometheus(tmp_path, jobs={"pods": [address for _, address in pods]}) as prometheus:
            prometheus.wait_for("lblab_pod_requests_total", count=3)
            before = pod_requests(cluster)
            result = run_to_end(base_config(
                cluster.endpoint, users=3, duration_s=4, expected_pods=[name for name, _ in pods],
                attribution={"method": "prometheus", "url": prometheus.url, "query": QUERY}))
            served = delta(before, pod_requests(cluster))
    final = result.final
    assert final is not None, result.log
    assert final["requests"] > 0 and final["unattributed"] == 0
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == served
