"""Shift pod weights towards the pods' observed capacity (within the policy's largest ratio), where
the algorithm in force honours weights (the registry's `weighted`). Capacity both ways the window
measures it (`Window.capacities`: how fast a pod serves, how fast it answers), each a candidate
the simulator ranks."""

from __future__ import annotations

import statistics

from clusters.algorithms import algorithm_named
from clusters.base import ClusterError, check_number
from clusters.kubernetes.balancers import KUBERNETES_BALANCERS
from clusters.tuning.actions import TuningAction, register
from clusters.tuning.state import Change

CAUSES = ("slow_pod", "weights_out_of_line")  # what weights can answer
STEPS = (1.0, 0.5)  # all the way to the capacity estimate, and half-way (in log space)


SAME = 1.5  # a pod less than this factor slower than the median pod is as fast: noise, not capacity


def weights_for(speeds: dict[str, float], max_ratio: float, step: float = 1.0) -> dict[str, float]:
    """Weights proportional to `speeds ** step`, every pod not SAME times slower than the median pod
    taken at the median's speed (so equal pods keep equal weights whatever the noise of their figures,
    which is large for a pod that is rarely busy; only markedly slow pods lose weight), clamped so no
    ratio exceeds `max_ratio`, scaled so the smallest is 1, to 2 decimals."""
    typical = statistics.median(speeds.values())
    speeds = {pod: typical if speed >= typical / SAME else speed for pod, speed in speeds.items()}
    top = max(speeds.values())
    raw = {pod: max((speed / top) ** step, 1.0 / max_ratio) for pod, speed in speeds.items()}
    low = min(raw.values())
    return {pod: round(value / low, 2) for pod, value in raw.items()}


@register
class SetWeights(TuningAction):
    name = "set_weights"
    label = "Change weights"

    def check_policy(self, policy, balancer, balancer_options=None):
        if balancer in KUBERNETES_BALANCERS:  # they weigh endpoints, not the pods LB Lab names
            raise ClusterError(f"per-pod weights are not a setting of {KUBERNETES_BALANCERS[balancer].label}; "
                               "allow set_algorithm or scale instead", field="actions")

    def candidates(self, *, policy, state, window, findings):
        if not any(finding.cause in CAUSES for finding in findings):
            return []
        if not algorithm_named(state.algorithm).weighted:
            return []
        bases = window.capacities(state.capacity)
        speeds = bases.get("service", {})
        if len(speeds) < 2:
            return []
        # every pod's weight named, 1s included: a balancer keeps the weights it is not given, so a
        # rollback must set each one back
        before = {pod: state.weight(pod) for pod in speeds}
        out, seen = [], set()
        for basis in bases.values():
            for step in STEPS:
                weights = weights_for(basis, policy.max_weight, step)
                key = tuple(sorted(weights.items()))
                if weights != before and key not in seen:
                    seen.add(key)
                    out.append(Change(self.name, before={"weights": before}, after={"weights": weights}))
        return out

    def check(self, change, *, policy, state):
        weights = change.after["weights"]
        if not algorithm_named(state.algorithm).weighted:
            raise ClusterError(f"{state.algorithm} ignores weights", field="weights")
        for weight in weights.values():
            check_number(weight, "weights", minimum=0, strict=True, maximum=1000)
        if weights and max(weights.values()) / min(weights.values()) > policy.max_weight + 1e-9:
            raise ClusterError(f"a weight ratio above the policy's max_weight {policy.max_weight:g}", field="weights")

    def apply(self, cluster, state):
        cluster.set_algorithm(state.algorithm, state.cluster_options())
