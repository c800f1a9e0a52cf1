"""The request mix: paths, methods, weights and bodies are sent as configured."""

import json

import pytest

from tests_app.engine.testing import PodEchoServer, base_config, run_to_end


@pytest.mark.timeout(90)
def test_mix_sends_weighted_paths_methods_and_bodies():
    mix = [{"path": "/api/items", "method": "GET", "weight": 3},
           {"path": "/api/orders", "method": "POST", "weight": 1, "body": {"qty": 2}}]
    with PodEchoServer(["pod-a"], header="X-Pod") as server:
        result = run_to_end(base_config(server.url, users=2, duration_s=2, request_mix=mix))
        counts = dict(server.requests)
        bodies = list(server.bodies)
    final = result.final
    assert final is not None, result.log
    assert set(counts) == {("GET", "/api/items"), ("POST", "/api/orders")}
    assert final["requests"] == sum(counts.values()) and final["failures"] == 0
    total = sum(counts.values())
    share = counts[("POST", "/api/orders")] / total
    assert abs(share - 0.25) < 5 * (0.25 * 0.75 / total) ** 0.5  # 1 in 4, within 5 standard deviations
    assert json.loads(bodies[0]) == {"qty": 2}
