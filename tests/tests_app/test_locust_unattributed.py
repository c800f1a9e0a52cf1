"""Responses without a pod are counted as unattributed, never dropped."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import PodEchoServer, base_config, run_to_end, sum_samples


@pytest.mark.timeout(90)
def test_responses_without_header_are_counted_unattributed():
    with PodEchoServer(["pod-a", None, "pod-b"], header="X-Pod") as server:
        result = run_to_end(base_config(server.url, users=2, duration_s=2, expected_pods=["pod-a", "pod-b"]))
        served = dict(server.served)
    final = result.final
    assert final is not None, result.log
    assert final["unattributed"] == served.pop(None)
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == served
    assert final["requests"] == final["unattributed"] + sum(served.values())
    assert sum_samples(result.samples)["unattributed"] == final["unattributed"]


@pytest.mark.timeout(90)
def test_unknown_header_leaves_expected_pods_at_zero():
    with SandboxCluster(SandboxConfig(pods=2)) as cluster:
        names = sorted(pod.name for pod in cluster.pods())
        result = run_to_end(base_config(cluster.endpoint, users=2, duration_s=2, expected_pods=names,
                                        attribution={"method": "header", "header": "X-Served-By"}))
    final = result.final
    assert final is not None, result.log
    assert final["requests"] > 0
    assert final["unattributed"] == final["requests"]
    assert final["pods"] == {name: {"requests": 0, "failures": 0, "p95_ms": None} for name in names}
