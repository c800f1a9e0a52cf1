"""Advice, never applied: when the imbalance is connection-level (keep-alive clients pinned to the pod
chosen when their connection opened) and no balancer setting the policy allows fixes it, tell the
user to reuse connections less (more connections, or no keep-alive). Its prediction is the
simulator's with every request on a fresh connection."""

from __future__ import annotations

from clusters.tuning.actions import TuningAction, register
from clusters.tuning.state import Change


@register
class AdviseConnectionReuse(TuningAction):
    name = "advise_connection_reuse"
    label = "Advise on connection reuse"
    changes_cluster = False

    def candidates(self, *, policy, state, window, findings):
        if not state.keep_alive or not any(finding.cause == "connection_pinning" for finding in findings):
            return []
        return [Change(self.name, before={"keep_alive": True}, after={"keep_alive": False})]
