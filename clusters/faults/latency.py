"""Latency: the pods answer late, by `ms` give or take `jitter`."""

from __future__ import annotations

from clusters.base import check_number
from clusters.faults import FaultKind, register


@register
class Latency(FaultKind):
    name = "latency"
    label = "Latency"
    severities = {"low": {"ms": 50}, "medium": {"ms": 250}, "high": {"ms": 1000}}

    def validate(self, params):
        out = super().validate(params)
        out["ms"] = check_number(params.get("ms"), "ms", minimum=0, maximum=600_000)
        out["jitter"] = check_number(params.get("jitter", 0.0), "jitter", minimum=0, maximum=600_000)
        return out

    def apply(self, cluster, targets, params):
        return cluster.add_latency(targets, params["ms"], params["jitter"], params["duration"])
