"""Round robin gives every pod exactly its share (±1), on fresh and kept-alive connections;
weighted round robin gives the configured shares within 1 %."""

import pytest

SANDBOX = {"pods": 4, "algorithm": "round_robin"}

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def cluster(module_sandbox):
    module_sandbox.set_algorithm("round_robin")
    return module_sandbox


def names(cluster):
    return sorted(p.name for p in cluster.pods())


def test_fresh_connections_each_pod_gets_its_share(cluster, http):
    counts = http.count(cluster.endpoint, 4 * 25 + 2, keep_alive=False)
    assert sorted(counts) == names(cluster)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_keep_alive_connection_each_pod_gets_its_share(cluster, http):
    counts = http.count(cluster.endpoint, 4 * 25, keep_alive=True)
    assert sorted(counts) == names(cluster)
    assert set(counts.values()) == {25}


def test_many_keep_alive_clients_share_exactly(cluster, http):
    counts, errors = http.count_parallel(cluster.endpoint, clients=6, per_client=40)
    assert not errors
    assert sum(counts.values()) == 240
    assert sorted(counts) == names(cluster)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_weighted_shares_within_one_percent(cluster, http):
    pods = names(cluster)
    weights = {pod: float(i + 1) for i, pod in enumerate(pods)}  # 1:2:3:4
    cluster.set_algorithm("weighted_round_robin", {"weights": weights})
    try:
        total = 1000
        counts = http.count(cluster.endpoint, total, keep_alive=True)
        weight_sum = sum(weights.values())
        for pod in pods:
            expected = weights[pod] / weight_sum
            assert abs(counts[pod] / total - expected) <= 0.01, (pod, counts)
        assert {p.name: p.weight for p in cluster.pods()} == weights
    finally:
        cluster.set_algorithm("round_robin", {"weights": {pod: 1.0 for pod in pods}})


def test_slot_weights_survive_a_pod_restart(start_sandbox, http, wait_until):
    cluster = start_sandbox(pods=2, algorithm="weighted_round_robin",
                            algorithm_options={"weights": {"pod-0": 3}})
    first = next(p.name for p in cluster.pods() if p.name.startswith("pod-0-"))
    counts = http.count(cluster.endpoint, 400)
    assert counts[first] == 300
    cluster.kill_pod(first)

    def new_pod_0():
        pods = [p for p in cluster.pods() if p.name.startswith("pod-0-") and p.ready and p.name != first]
        return pods[0] if pods else None

    replacement = wait_until(new_pod_0, message="pod-0 restarted")
    assert replacement.weight == 3.0
    assert http.count(cluster.endpoint, 400)[replacement.name] == 300
