"""stop() half-way ends the run with the data so far: a last sample and a final line that
still match the pods' own counters."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import base_config, delta, pod_requests, run_to_end, sum_samples


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_stop_mid_run_keeps_data_so_far(workers):
    def stop_after_first_second(run, line):
        if line["type"] == "sample" and line["t"] == 1.0:
            run.stop(grace_s=15)

    with SandboxCluster(SandboxConfig(pods=3)) as cluster:
        before = pod_requests(cluster)
        result = run_to_end(base_config(cluster.endpoint, users=3, duration_s=30), workers=workers,
                            on_line=stop_after_first_second)
        served = delta(before, pod_requests(cluster))

    final = result.final
    assert final is not None, result.log
    assert final["reason"] == "stopped"
    assert 1.0 < final["duration_s"] < 30
    assert final["requests"] > 0
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == served
    assert sum_samples(result.samples)["requests"] == final["requests"]
    assert result.samples[-1]["t"] == final["duration_s"]


@pytest.mark.timeout(60)
def test_stop_before_any_request_gives_an_empty_final():
    from tests_app.engine.launcher import LocustProcess

    # Stopped right after start: Locust is still importing, nothing was sent.
    with LocustProcess(base_config("http://127.0.0.1:9", duration_s=30, expected_pods=["pod-a"]), workers=2) as run:
        run.start()
        run.stop(grace_s=10)
        lines = run.poll(2.0)
        lines += run.poll(0.5)
    assert [line["type"] for line in lines] == ["sample", "final"]
    final = lines[-1]
    assert final["reason"] == "stopped" and final["requests"] == 0
    assert final["pods"] == {"pod-a": {"requests": 0, "failures": 0, "p95_ms": None}}
