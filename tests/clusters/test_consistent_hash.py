"""consistent_hash keeps a key on one pod and spreads different keys."""

import pytest

SANDBOX = {"pods": 4, "algorithm": "consistent_hash", "algorithm_options": {"header": "X-User"}}

pytestmark = pytest.mark.timeout(60)


def test_same_header_value_always_reaches_the_same_pod(module_sandbox, http):
    for user in ("alice", "bob", "carol"):
        counts = http.count(module_sandbox.endpoint, 10, keep_alive=False, headers={"X-User": user})
        assert len(counts) == 1, (user, counts)


def test_different_keys_spread_over_pods(module_sandbox, http):
    pods = set()
    for i in range(60):
        counts = http.count(module_sandbox.endpoint, 1, headers={"X-User": f"user-{i}"})
        pods |= set(counts)
    assert len(pods) >= 3


def test_without_the_header_the_client_address_is_the_key(module_sandbox, http):
    counts = http.count(module_sandbox.endpoint, 20, keep_alive=True)
    assert len(counts) == 1  # one client connection = one address = one pod
