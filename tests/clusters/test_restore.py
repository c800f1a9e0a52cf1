"""`restore()` undoes every fault, timed ones and drains, and the control API then shows none;
faults that end on their own (their duration, their pod's death) show none either."""

from __future__ import annotations

import socket

import pytest

from clusters.base import EventType
from clusters.faults import FAULT_KINDS, parse_step
from clusters.sandbox.config import pod_fault_kinds
from tests.clusters.support import assert_no_faults

pytestmark = pytest.mark.timeout(90)

# A parameter for each timed pod fault, whatever its severity gives: mild enough to keep the pods
# answering health checks, so the test does not wait on pods falling out of rotation.
MILD = {"latency": {"ms": 5}, "errors": {"rate": 0.01}, "cpu_stress": {"workers": 1}}


def test_restore_undoes_every_timed_fault_and_a_drain(start_sandbox, wait_until):
    cluster = start_sandbox(pods=4, nodes=2)
    pods = [p.name for p in cluster.pods()]
    for kind in pod_fault_kinds():
        cluster.client.add_fault(kind, pods[:2], 60, **MILD.get(kind, {}))
    drain = FAULT_KINDS["node_drain"]
    drain.apply(cluster, ["node-1"], drain.params_for(parse_step("node_drain@0s:60s")))

    left = cluster.client.faults()
    assert sorted(f["kind"] for f in left["faults"]) == sorted(pod_fault_kinds())
    assert left["cordoned"] == ["node-1"]
    assert left["held"] and all(sorted(kinds) == sorted(pod_fault_kinds()) for kinds in left["held"].values())
    with pytest.raises(AssertionError, match="left behind"):
        assert_no_faults(cluster)  # the check does see what is left

    cluster.restore()
    assert_no_faults(cluster)
    cleared = [e for e in cluster.events() if e.type == EventType.FAULT_CLEARED]
    assert sorted(e.details["kind"] for e in cleared if e.details["reason"] == "restored") == sorted(pod_fault_kinds())
    assert [e.node for e in cluster.events() if e.type == EventType.NODE_UNCORDONED] == ["node-1"]
    cluster.restore()  # twice is safe
    assert_no_faults(cluster)
    wait_until(lambda: len([p for p in cluster.pods() if p.ready]) == 4, message="all pods serve again")


def test_restore_clears_a_fault_on_a_pod_still_finishing_after_a_drain(start_sandbox, wait_until):
    cluster = start_sandbox(pods=2, nodes=2, drain_grace_s=30.0)
    drained = next(p for p in cluster.pods() if p.node == "node-0")
    cluster.add_latency([drained.name], ms=20_000, duration=60)
    host, port = drained.address.rsplit(":", 1)
    # A request held by the latency keeps the drained pod alive through its grace period.
    with socket.create_connection((host, int(port))) as held:
        held.sendall(b"GET / HTTP/1.1\r\nHost: pod\r\n\r\n")
        wait_until(lambda: cluster.pod_metrics()[drained.name].in_flight == 1, message="request held")
        cluster.drain("node-0")
        assert drained.name not in {p.name for p in cluster.pods()}  # terminating, out of the service
        assert cluster.client.faults()["held"] == {drained.name: ["latency"]}
        cluster.restore()
        assert_no_faults(cluster)


def test_timed_faults_end_on_their_own(start_sandbox, wait_until):
    cluster = start_sandbox(pods=2)
    cluster.add_errors([cluster.pods()[0].name], rate=0.5, duration=0.5)
    cluster.partition([cluster.pods()[1].name], duration=0.5)
    assert len(cluster.client.faults()["faults"]) == 2
    wait_until(lambda: cluster.client.faults() == {"faults": [], "held": {}, "cordoned": []},
               message="both faults expired")
    assert_no_faults(cluster)


def test_a_killed_pods_faults_go_with_it(start_sandbox, wait_until):
    cluster = start_sandbox(pods=2)
    victim, other = (p.name for p in cluster.pods())
    cluster.add_latency([victim, other], ms=5, duration=60)
    cluster.kill_pod(victim)
    wait_until(lambda: victim not in {p.name for p in cluster.pods()}, message="the pod is gone")
    left = cluster.client.faults()
    assert [f["pods"] for f in left["faults"]] == [[other]]  # the other pod still holds its part
    assert left["held"] == {other: ["latency"]}
    wait_until(lambda: len([p for p in cluster.pods() if p.ready]) == 2, message="replacement ready")
    assert cluster.client.faults()["held"] == {other: ["latency"]}  # the replacement starts clean
    cluster.restore()
    assert_no_faults(cluster)
