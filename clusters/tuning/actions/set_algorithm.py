"""Switch the balancing algorithm among the policy's list, where the target's balancer has it."""

from __future__ import annotations

from collections.abc import Mapping

from clusters.algorithms import algorithm_named
from clusters.base import ClusterError
from clusters.kubernetes.balancers import KUBERNETES_BALANCERS, BalancerOptions
from clusters.sandbox.backends import backend_named
from clusters.tuning.actions import TuningAction, register
from clusters.tuning.state import Change


def check_on_balancer(algorithm: str, balancer: str | None, field: str,
                      balancer_options: Mapping | None = None) -> None:
    """ClusterError(field) unless the balancer runs `algorithm` (every registry entry when None) with
    the target's `balancer_options` (a Kubernetes target's `BalancerOptions`, as a dict)."""
    algorithm_named(algorithm)
    if balancer is None:
        return
    try:
        if balancer in KUBERNETES_BALANCERS:  # in front of Kubernetes pods (clusters/kubernetes/balancers.py)
            try:
                options = BalancerOptions(**(balancer_options or {}))
            except TypeError as error:  # a name that is no BalancerOptions field
                raise ClusterError(f"unknown balancer option: {error}", field=field) from None
            KUBERNETES_BALANCERS[balancer].check_algorithm(algorithm, {}, options)
        else:  # in front of the sandbox's pods
            backend_named(balancer).check_algorithm(algorithm, {})
    except ClusterError as error:
        raise ClusterError(error.args[0], field=field) from None


@register
class SetAlgorithm(TuningAction):
    name = "set_algorithm"
    label = "Change algorithm"

    def check_policy(self, policy, balancer, balancer_options=None):
        if not policy.algorithms:
            raise ClusterError("name the algorithms the tuner may switch to", field="algorithms")
        for algorithm in policy.algorithms:
            check_on_balancer(algorithm, balancer, "algorithms", balancer_options)

    def candidates(self, *, policy, state, window, findings):
        # whatever the findings (none too: a low score without a known cause), the simulator judges
        return [Change(self.name, before={"algorithm": state.algorithm, "options": dict(state.options)},
                       after={"algorithm": algorithm, "options": {}})
                for algorithm in policy.algorithms if algorithm != state.algorithm]

    def check(self, change, *, policy, state):
        algorithm = change.after["algorithm"]
        if algorithm not in policy.algorithms:
            raise ClusterError(f"{algorithm} is not among the policy's algorithms", field="algorithms")
        check_on_balancer(algorithm, state.balancer, "algorithm", state.balancer_options)

    def apply(self, cluster, state):
        cluster.set_algorithm(state.algorithm, state.cluster_options())
