"""A killed pod dies at once and comes back in its slot under a new name, like a ReplicaSet's."""

import pytest

from tests.procs import alive

pytestmark = pytest.mark.timeout(60)


def test_killed_pod_comes_back_with_a_new_name_and_gets_traffic(start_sandbox, http, wait_until):
    cluster = start_sandbox(pods=3, restart_delay_s=0.5)
    victim = next(p for p in cluster.pods() if p.name.startswith("pod-1-"))
    victim_pid = cluster.client.status()["pids"]["pods"][victim.name]
    cluster.kill_pod(victim.name)

    wait_until(lambda: not alive(victim_pid), message="process died")
    # Traffic keeps flowing to the others while the slot is empty.
    counts = http.count(cluster.endpoint, 12)
    assert victim.name not in counts
    assert sum(counts.values()) == 12

    def replacement():
        pods = [p for p in cluster.pods() if p.name.startswith("pod-1-") and p.ready]
        return pods[0] if pods else None

    new = wait_until(replacement, message="slot 1 refilled")
    assert new.name != victim.name
    assert len(cluster.pods()) == 3
    assert cluster.client.status()["restarts"] == 1
    counts = http.count(cluster.endpoint, 9)
    assert counts[new.name] == 3


def test_requests_during_a_kill_are_not_lost(start_sandbox, http, wait_until):
    # Idempotent requests that hit the dying pod before any answer byte are retried.
    cluster = start_sandbox(pods=3, restart_delay_s=0.2)
    victim = cluster.pods()[0].name
    counts = http.count(cluster.endpoint, 10)
    cluster.kill_pod(victim)
    counts = http.count(cluster.endpoint, 60, keep_alive=False)
    assert sum(counts.values()) == 60
    wait_until(lambda: len([p for p in cluster.pods() if p.ready]) == 3, message="back to 3 ready pods")


def test_unknown_pod_cannot_be_killed(start_sandbox):
    from clusters.base import ClusterError

    cluster = start_sandbox(pods=1)
    with pytest.raises(ClusterError) as error:
        cluster.kill_pod("pod-9-zzzzz")
    assert error.value.field == "pod"
