"""Header attribution ignores the case of the header name, on both sides: HAProxy
lower-cases response headers, users type `x-pod` or `X-Pod`."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import PodEchoServer, base_config, delta, pod_requests, run_to_end


@pytest.mark.timeout(90)
def test_lower_cased_response_header_is_attributed():
    with PodEchoServer(["pod-a", "pod-b"], header="x-pod") as server:
        result = run_to_end(base_config(server.url, users=2, duration_s=2,
                                        attribution={"method": "header", "header": "X-Pod"}))
        final = result.final
        assert final is not None, result.log
        assert {name: pod["requests"] for name, pod in final["pods"].items()} == server.served
        assert final["unattributed"] == 0


@pytest.mark.timeout(90)
def test_configured_name_in_other_case_matches():
    with SandboxCluster(SandboxConfig(pods=2)) as cluster:
        before = pod_requests(cluster)
        result = run_to_end(base_config(cluster.endpoint, users=2, duration_s=2,
                                        attribution={"method": "header", "header": "x-POD"}))
        served = delta(before, pod_requests(cluster))
    final = result.final
    assert final is not None, result.log
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == served
    assert final["unattributed"] == 0
