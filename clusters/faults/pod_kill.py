"""Pod kill: the pods die at once (SIGKILL); their ReplicaSet brings new ones, which is the
recovery a run measures."""

from __future__ import annotations

from clusters.base import Fault
from clusters.faults import FaultKind, register, require_targets


@register
class PodKill(FaultKind):
    name = "pod_kill"
    label = "Pod kill"
    timed = False

    def apply(self, cluster, targets, params):
        require_targets(targets)
        for pod in targets:
            cluster.kill_pod(pod)
        return Fault(kind=self.name, pods=tuple(targets), duration_s=0.0)
