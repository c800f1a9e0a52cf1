"""The open model keeps its arrival rate when the target is slow (no coordinated
omission): a closed model with the same few users falls to users / latency."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import base_config, run_to_end

LATENCY_MS = 200
RATE = 30.0
DURATION = 3


@pytest.fixture(scope="module")
def slow_cluster():
    with SandboxCluster(SandboxConfig(pods=2)) as sandbox:
        sandbox.add_latency([pod.name for pod in sandbox.pods()], ms=LATENCY_MS, duration=120)
        yield sandbox


@pytest.mark.timeout(90)
def test_open_model_keeps_arrival_rate_on_slow_target(slow_cluster):
    result = run_to_end(base_config(slow_cluster.endpoint, users=20, duration_s=DURATION, arrival_rate=RATE))
    final = result.final
    assert final is not None, result.log
    # Poisson arrivals: ~90 expected; far above what 2 closed users could do (<= 2 / 0.2 s * 3 s = 30)
    assert final["requests"] >= 0.6 * RATE * DURATION
    assert final["failures"] == 0
    assert final["latency_ms"]["p50"] >= LATENCY_MS


@pytest.mark.timeout(90)
def test_closed_model_with_same_slow_target_is_bounded_by_users(slow_cluster):
    result = run_to_end(base_config(slow_cluster.endpoint, users=2, duration_s=DURATION))
    final = result.final
    assert final is not None, result.log
    assert final["requests"] <= 2 * DURATION * 1000 / LATENCY_MS + 2
