"""Node drain: the node is cordoned and its pods are evicted to the other nodes; the step's
end makes the node schedulable again (its pods do not move back, as in Kubernetes)."""

from __future__ import annotations

from clusters.base import Fault
from clusters.faults import NODE, FaultKind, register, require_targets


@register
class NodeDrain(FaultKind):
    name = "node_drain"
    label = "Node drain"
    acts_on = NODE
    timed = False

    def apply(self, cluster, targets, params):
        require_targets(targets, "node")
        for node in targets:
            cluster.drain(node)
        return Fault(kind=self.name, pods=(), duration_s=0.0, params={"nodes": tuple(targets)})

    def restore(self, cluster, fault):
        for node in fault.params["nodes"]:
            cluster.uncordon(node)
