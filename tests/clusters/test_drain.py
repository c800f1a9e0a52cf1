"""Draining a node moves its pods to the other node; restore makes the node schedulable again."""

import pytest

pytestmark = pytest.mark.timeout(60)


def test_drained_nodes_pods_move_and_keep_serving(start_sandbox, http, wait_until):
    cluster = start_sandbox(pods=4, nodes=2)
    before = cluster.pods()
    on_node0 = {p.name for p in before if p.node == "node-0"}
    assert len(on_node0) == 2

    cluster.drain("node-0")

    def moved():
        pods = cluster.pods()
        return (len(pods) == 4 and all(p.ready and p.node == "node-1" for p in pods)
                and not on_node0 & {p.name for p in pods})

    wait_until(moved, message="all pods ready on node-1")
    pods = cluster.pods()
    # Same slots as before: the drained pods were replaced, not lost.
    assert sorted(p.name.rsplit("-", 1)[0] for p in pods) == ["pod-0", "pod-1", "pod-2", "pod-3"]
    counts = http.count(cluster.endpoint, 40)
    assert sorted(counts) == sorted(p.name for p in pods)
    assert set(counts.values()) == {10}
    assert cluster.client.status()["nodes"] == [{"name": "node-0", "cordoned": True},
                                                {"name": "node-1", "cordoned": False}]

    cluster.restore()
    assert not any(n["cordoned"] for n in cluster.client.status()["nodes"])
    cluster.scale(5)
    wait_until(lambda: any(p.node == "node-0" and p.ready for p in cluster.pods()),
               message="new pod scheduled on the uncordoned node")


def test_draining_every_node_leaves_pods_pending_until_restore(start_sandbox, wait_until):
    cluster = start_sandbox(pods=2, nodes=1)
    cluster.drain("node-0")
    wait_until(lambda: cluster.pods() == [], message="pods stopped")
    cluster.restore()
    wait_until(lambda: len([p for p in cluster.pods() if p.ready]) == 2, message="pods back")


def test_unknown_node_is_rejected(start_sandbox):
    from clusters.base import ClusterError

    cluster = start_sandbox(pods=1)
    with pytest.raises(ClusterError) as error:
        cluster.drain("node-7")
    assert error.value.field == "node"


def test_a_drain_step_ends_with_its_node_schedulable_again(start_sandbox, wait_until):
    from clusters.faults import FAULT_KINDS

    cluster = start_sandbox(pods=2, nodes=2)
    drain = FAULT_KINDS["node_drain"]
    fault = drain.apply(cluster, ["node-0"], {})
    wait_until(lambda: [p.node for p in cluster.pods() if p.ready] == ["node-1", "node-1"],
               message="both pods ready on node-1")

    drain.restore(cluster, fault)
    assert cluster.client.status()["nodes"] == [{"name": "node-0", "cordoned": False},
                                                {"name": "node-1", "cordoned": False}]
    assert {p.node for p in cluster.pods()} == {"node-1"}  # uncordoning moves nothing back
    cluster.scale(3)
    wait_until(lambda: any(p.node == "node-0" and p.ready for p in cluster.pods()),
               message="new pod scheduled on the uncordoned node")


def test_uncordoning_an_unknown_node_is_rejected(start_sandbox):
    from clusters.base import ClusterError

    cluster = start_sandbox(pods=1)
    with pytest.raises(ClusterError) as error:
        cluster.uncordon("node-7")
    assert error.value.field == "node"
