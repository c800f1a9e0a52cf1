"""Errors: the pods answer a share `rate` of requests with HTTP `status`."""

from __future__ import annotations

from clusters.base import check_number
from clusters.faults import FaultKind, register


@register
class Errors(FaultKind):
    name = "errors"
    label = "Errors"
    severities = {"low": {"rate": 0.05}, "medium": {"rate": 0.20}, "high": {"rate": 0.50}}

    def validate(self, params):
        out = super().validate(params)
        out["rate"] = check_number(params.get("rate"), "rate", minimum=0, maximum=1)
        out["status"] = int(check_number(params.get("status", 500), "status", minimum=400, maximum=599, integer=True))
        return out

    def apply(self, cluster, targets, params):
        return cluster.add_errors(targets, params["rate"], params["status"], params["duration"])
