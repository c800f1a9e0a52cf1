"""Each scenario shape produces the user curve it describes, read from the samples' users.

Transitions sit between whole seconds, so each checked sample is well inside a flat part."""

import pytest

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests_app.engine.testing import base_config, run_to_end


@pytest.fixture(scope="module")
def cluster():
    with SandboxCluster(SandboxConfig(pods=2)) as sandbox:
        yield sandbox


def users_by_second(cluster, shape: dict) -> dict[float, int]:
    result = run_to_end(base_config(cluster.endpoint, shape=shape, think_time_ms=[20, 40]))
    assert result.final is not None, result.log
    return {sample["t"]: sample["users"] for sample in result.samples}


@pytest.mark.timeout(90)
def test_spike_jumps_by_factor_then_returns(cluster):
    users = users_by_second(cluster, {"kind": "spike", "users": 2, "spawn_rate": 50, "duration_s": 5,
                                      "spike_factor": 3, "spike_at_s": 1.5, "spike_length_s": 2})
    assert [users[t] for t in (1.0, 2.0, 3.0, 4.0, 5.0)] == [2, 6, 6, 2, 2]


@pytest.mark.timeout(90)
def test_ramp_rises_linearly_to_the_peak(cluster):
    users = users_by_second(cluster, {"kind": "ramp", "users": 4, "spawn_rate": 1, "duration_s": 4})
    assert [users[t] for t in (1.0, 2.0, 3.0, 4.0)] == [1, 2, 3, 4]


@pytest.mark.timeout(90)
def test_stages_follow_the_list(cluster):
    users = users_by_second(cluster, {"kind": "stages", "stages": [
        {"duration_s": 1.5, "users": 2, "spawn_rate": 50},
        {"duration_s": 2, "users": 5, "spawn_rate": 50},
        {"duration_s": 1.5, "users": 1, "spawn_rate": 50},
    ]})
    assert [users[t] for t in (1.0, 2.0, 3.0, 4.0, 5.0)] == [2, 5, 5, 1, 1]


@pytest.mark.timeout(90)
def test_steady_ramps_at_spawn_rate_then_holds(cluster):
    # Locust starts the first user at once, then one every 1/0.8 s: at 0, 1.25, 2.5, 3.75 s
    users = users_by_second(cluster, {"kind": "steady", "users": 4, "spawn_rate": 0.8, "duration_s": 5})
    assert [users[t] for t in (1.0, 2.0, 3.0, 4.0, 5.0)] == [1, 2, 3, 4, 4]
