"""Connection reuse changes what a connection-level balancer does, and the user sees it:
with keep-alive one user stays pinned to one pod; without it every request is a new
connection, spread over the pods."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import base_config, delta, pod_requests, run_to_end


@pytest.fixture(scope="module")
def cluster():
    config = SandboxConfig(pods=3, algorithm="l4_connection", algorithm_options={"pick": "round_robin"})
    with SandboxCluster(config) as sandbox:
        yield sandbox


def run(cluster, keep_alive: bool) -> tuple[dict, dict]:
    before = pod_requests(cluster)
    result = run_to_end(base_config(cluster.endpoint, users=1, duration_s=2, keep_alive=keep_alive))
    assert result.final is not None, result.log
    return result, delta(before, pod_requests(cluster))


@pytest.mark.timeout(90)
def test_keep_alive_pins_one_user_to_one_pod(cluster):
    result, served = run(cluster, keep_alive=True)
    counts = {name: pod["requests"] for name, pod in result.final["pods"].items()}
    assert counts == {name: n for name, n in served.items() if n}
    assert len(counts) == 1
    assert all(s["active_connections"] == 1 for s in result.samples[:-1])


@pytest.mark.timeout(90)
def test_no_keep_alive_opens_a_connection_per_request(cluster):
    result, served = run(cluster, keep_alive=False)
    counts = {name: pod["requests"] for name, pod in result.final["pods"].items()}
    assert counts == served
    assert len(counts) == 3
    # round-robin over connections, one request each: within one of each other
    assert max(counts.values()) - min(counts.values()) <= 1
    assert result.final["failures"] == 0
