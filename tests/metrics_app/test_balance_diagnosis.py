"""Connection-skew diagnosis: fires for an l4-like pinned pattern, silent otherwise."""

from __future__ import annotations

import pytest

from clusters.balance import diagnose

# 6 keep-alive users over 4 pods behind a per-connection balancer, 500 requests per connection:
# the connections landed 2, 3, 1, 0 on the pods
PINNED = {"pod-0": 1000, "pod-1": 1500, "pod-2": 500, "pod-3": 0}
L4 = {"keep_alive": True, "algorithm": "l4_connection", "users": 6, "pods": 4}


def test_pinned_keep_alive_connections_are_diagnosed_with_advice():
    diagnosis = diagnose(PINNED, connections_per_pod=None, **L4)
    assert diagnosis is not None
    assert diagnosis.cause == "connection_skew"
    assert "6 keep-alive connections over 4 pods" in diagnosis.explanation
    assert "balances connections, not requests" in diagnosis.explanation
    assert "1 pod got no connection" in diagnosis.explanation
    for fix in ("connections", "keep-alive", "least_conn", "p2c"):
        assert fix in diagnosis.advice
    assert set(diagnosis.to_dict()) == {"cause", "explanation", "advice"}


def test_pinned_pattern_is_diagnosed_behind_an_unknown_balancer():
    assert diagnose(PINNED, connections_per_pod=None, keep_alive=True, algorithm=None, users=6, pods=4) is not None


def test_counts_in_whole_multiples_of_a_connection_are_diagnosed_without_an_idle_pod():
    # 5 connections landed 2, 1, 1, 1; each carries about 400 requests
    counts = {"pod-0": 803, "pod-1": 398, "pod-2": 401, "pod-3": 398}
    diagnosis = diagnose(counts, connections_per_pod=None, keep_alive=True, algorithm="l4_connection", users=5, pods=4)
    assert diagnosis is not None and "no connection" not in diagnosis.explanation


def test_requests_following_reported_connections_are_diagnosed():
    connections = {"pod-0": 9, "pod-1": 3, "pod-2": 6, "pod-3": 2}
    counts = {"pod-0": 4480, "pod-1": 1530, "pod-2": 2990, "pod-3": 1000}
    diagnosis = diagnose(counts, connections_per_pod=connections, keep_alive=True, algorithm="l4_connection",
                         users=20, pods=4)
    assert diagnosis is not None and "20 keep-alive connections over 4 pods" in diagnosis.explanation


def test_pods_missing_from_the_counts_are_idle_pods():
    diagnosis = diagnose({"pod-0": 1500, "pod-1": 1500}, connections_per_pod=None, keep_alive=True,
                         algorithm="l4_connection", users=3, pods=4)
    assert diagnosis is not None and "2 pods got no connection" in diagnosis.explanation


def test_silent_for_a_balanced_run():
    balanced = {"pod-0": 1000, "pod-1": 1001, "pod-2": 999, "pod-3": 1000}
    assert diagnose(balanced, connections_per_pod=None, **L4) is None
    assert diagnose(balanced, connections_per_pod={"pod-0": 1, "pod-1": 1, "pod-2": 1, "pod-3": 1}, **L4) is None


def test_silent_for_a_slow_pod_with_its_share_of_many_connections():
    slow = {"pod-0": 1000, "pod-1": 1000, "pod-2": 1000, "pod-3": 400}
    even = {"pod-0": 25, "pod-1": 25, "pod-2": 25, "pod-3": 25}
    assert diagnose(slow, connections_per_pod=even, keep_alive=True, algorithm="l4_connection", users=100, pods=4) is None
    assert diagnose(slow, connections_per_pod=None, keep_alive=True, algorithm="l4_connection", users=100, pods=4) is None
    # few enough users to be "few connections", but the counts are no whole multiples of a connection
    assert diagnose(slow, connections_per_pod=None, keep_alive=True, algorithm="l4_connection", users=16, pods=4) is None


def test_silent_without_keep_alive():
    assert diagnose(PINNED, connections_per_pod=None, **{**L4, "keep_alive": False}) is None


@pytest.mark.parametrize("algorithm", ["round_robin", "least_conn", "p2c", "consistent_hash"])
def test_silent_behind_a_per_request_balancer(algorithm):
    assert diagnose(PINNED, connections_per_pod=None, **{**L4, "algorithm": algorithm}) is None


def test_silent_without_traffic():
    assert diagnose({}, connections_per_pod=None, **L4) is None
    assert diagnose({"pod-0": 0, "pod-1": 0}, connections_per_pod=None, **L4) is None


def test_a_pod_that_never_answered_is_said_so_not_pinning():
    # a URL target: two pods answered, three were expected; few keep-alive users would look like pinning
    counts = {"pod-0-a": 1000, "pod-1-b": 1000, "expected-3 (no response)": 0}
    diagnosis = diagnose(counts, connections_per_pod=None, keep_alive=True, algorithm=None, users=4, pods=3,
                         never_answered=["expected-3 (no response)"])
    assert diagnosis.cause == "pods_never_answered"
    assert diagnosis.explanation.startswith("1 of the 3 expected pods never answered: expected-3 (no response).")
    assert "connection" not in diagnosis.explanation
    for cause in ("ready", "Service", "replicas"):
        assert cause in diagnosis.advice
    # the same counts without that knowledge are read as pinning, as before
    assert diagnose(counts, connections_per_pod=None, keep_alive=True, algorithm=None, users=4, pods=3).cause == (
        "connection_skew")
