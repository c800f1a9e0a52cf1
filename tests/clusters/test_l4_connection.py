"""l4_connection behaves like kube-proxy: one pod per client connection, for all its requests."""

import pytest

SANDBOX = {"pods": 4, "algorithm": "l4_connection"}

pytestmark = pytest.mark.timeout(60)


def test_every_request_of_a_connection_stays_on_one_pod(module_sandbox, http):
    module_sandbox.set_algorithm("l4_connection")
    pods_seen = set()
    for _ in range(12):
        counts = http.count(module_sandbox.endpoint, 15, keep_alive=True)
        assert len(counts) == 1, counts  # all 15 requests of this connection on one pod
        pods_seen |= set(counts)
    # Connections (not requests) are spread: 12 random picks over 4 pods land on several.
    assert len(pods_seen) > 1


def test_round_robin_pick_spreads_connections_evenly(module_sandbox, http):
    module_sandbox.set_algorithm("l4_connection", {"pick": "round_robin"})
    per_pod = {}
    for _ in range(8):
        counts = http.count(module_sandbox.endpoint, 5, keep_alive=True)
        assert len(counts) == 1
        (pod,) = counts
        per_pod[pod] = per_pod.get(pod, 0) + 1
    assert sorted(per_pod.values()) == [2, 2, 2, 2]


def test_fresh_connections_are_balanced_per_connection(module_sandbox, http):
    module_sandbox.set_algorithm("l4_connection", {"pick": "round_robin"})
    counts = http.count(module_sandbox.endpoint, 40, keep_alive=False)
    assert len(counts) == 4
    assert set(counts.values()) == {10}
