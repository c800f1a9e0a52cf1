"""Add replicas when every pod is busy, within the policy's bounds."""

from __future__ import annotations

from clusters.base import ClusterError
from clusters.tuning.actions import TuningAction, register
from clusters.tuning.state import Change

STEPS = (1, 2)  # replicas added per candidate


@register
class Scale(TuningAction):
    name = "scale"
    label = "Change replicas"

    def candidates(self, *, policy, state, window, findings):
        if not any(finding.cause == "too_few_replicas" for finding in findings):
            return []
        targets = sorted({min(state.replicas + step, policy.max_replicas) for step in STEPS} - {state.replicas})
        return [Change(self.name, before={"replicas": state.replicas}, after={"replicas": n}) for n in targets]

    def check(self, change, *, policy, state):
        replicas = change.after["replicas"]
        if not policy.min_replicas <= replicas <= policy.max_replicas:
            raise ClusterError(f"must be within {policy.min_replicas}..{policy.max_replicas}", field="replicas")

    def apply(self, cluster, state):
        cluster.scale(state.replicas)
