"""CPU stress: `workers` busy threads share the pods' CPU, as a noisy neighbour would."""

from __future__ import annotations

from clusters.base import check_number
from clusters.faults import FaultKind, register


@register
class CpuStress(FaultKind):
    name = "cpu_stress"
    label = "CPU stress"

    def validate(self, params):
        out = super().validate(params)
        out["workers"] = int(check_number(params.get("workers", 1), "workers", minimum=1, maximum=16, integer=True))
        return out

    def apply(self, cluster, targets, params):
        return cluster.stress_cpu(targets, params["workers"], params["duration"])
