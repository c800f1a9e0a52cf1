"""Load-aware algorithms send less to a slow pod than round robin does.

Pod slot 2 runs at a tenth of the speed of the others (speed factor 0.1), so each of
its requests holds a connection ten times longer; least_conn, p2c and ewma see that.
"""

import pytest

from clusters.sandbox import ServiceTime

SANDBOX = {"pods": 3, "speeds": (1.0, 1.0, 0.1), "capacity": 4,
           "service_time": ServiceTime(distribution="fixed", mean_ms=3.0)}

pytestmark = pytest.mark.timeout(90)


def slow_pod(cluster) -> str:
    (slow,) = [p.name for p in cluster.pods() if p.name.startswith("pod-2-")]
    return slow


def share_of_slow_pod(cluster, http, algorithm: str) -> float:
    cluster.set_algorithm(algorithm)
    counts, errors = http.count_parallel(cluster.endpoint, clients=9, per_client=40)
    assert not errors
    assert sum(counts.values()) == 360
    return counts[slow_pod(cluster)] / 360


@pytest.fixture(scope="module")
def round_robin_share(module_sandbox, http):
    return share_of_slow_pod(module_sandbox, http, "round_robin")


def test_round_robin_ignores_speed(round_robin_share):
    assert abs(round_robin_share - 1 / 3) < 0.01


@pytest.mark.parametrize("algorithm", ["least_conn", "p2c", "ewma"])
def test_load_aware_algorithm_sends_less_to_the_slow_pod(module_sandbox, http, round_robin_share, algorithm):
    share = share_of_slow_pod(module_sandbox, http, algorithm)
    assert share < round_robin_share * 0.75, (algorithm, share)
