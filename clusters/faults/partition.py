"""Network partition: the pods accept connections and never answer."""

from __future__ import annotations

from clusters.faults import FaultKind, register


@register
class Partition(FaultKind):
    name = "partition"
    label = "Network partition"

    def apply(self, cluster, targets, params):
        return cluster.partition(targets, params["duration"])
