"""JSON body attribution (podinfo's `hostname`): exact against the pods' own counters."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import base_config, delta, pod_requests, run_to_end


@pytest.mark.timeout(90)
def test_json_field_attribution_matches_pods_metrics():
    with SandboxCluster(SandboxConfig(pods=3)) as cluster:
        before = pod_requests(cluster)
        result = run_to_end(base_config(cluster.endpoint, users=3, duration_s=2,
                                        attribution={"method": "json_field", "field": "hostname"}))
        served = delta(before, pod_requests(cluster))
    final = result.final
    assert final is not None, result.log
    assert final["requests"] > 0
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == served
    assert final["unattributed"] == 0
    assert all(pod["p95_ms"] is not None for pod in final["pods"].values())
