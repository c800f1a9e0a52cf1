"""Not ready: the pods fail their readiness probe, so the balancer stops sending them traffic."""

from __future__ import annotations

from clusters.faults import FaultKind, register


@register
class NotReady(FaultKind):
    name = "not_ready"
    label = "Not ready"

    def apply(self, cluster, targets, params):
        return cluster.set_not_ready(targets, params["duration"])
