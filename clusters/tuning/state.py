"""What the controller knows of the balancer it tunes, and a change to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class TargetState:
    """The balancer's setting as the controller last set it (or found it at the start).

    `options` are the algorithm's own options, weights apart (the sandbox balancer keeps pod
    weights across algorithm switches; the simulator takes them as its PodSpecs'). `balancer`
    is the sandbox's backend (`lblab`, `nginx`, `haproxy`), None for a target LB Lab does not run.
    `capacity` is requests a pod serves at once and `keep_alive` whether clients reuse connections:
    what the simulator is told of the pods and the traffic. `balancer_options`: the target's
    settings of its balancer besides the algorithm, which some algorithms do not go with (a
    Kubernetes target's `BalancerOptions`, as a dict: a slow start)."""

    algorithm: str
    replicas: int
    options: Mapping = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=dict)  # pod -> weight; a pod not named has 1
    balancer: str | None = "lblab"
    capacity: int = 1
    keep_alive: bool = True
    balancer_options: Mapping = field(default_factory=dict)

    def weight(self, pod: str) -> float:
        return float(self.weights.get(pod, 1.0))

    def cluster_options(self) -> dict:
        """The options `Cluster.set_algorithm` is given for this state: the algorithm's, and the weights."""
        return {**self.options, "weights": dict(self.weights)} if self.weights else dict(self.options)

    def describe(self) -> dict:
        return {"algorithm": self.algorithm, "options": dict(self.options), "weights": dict(self.weights),
                "replicas": self.replicas, "balancer": self.balancer,
                **({"balancer_options": dict(self.balancer_options)} if self.balancer_options else {})}


@dataclass(frozen=True)
class Change:
    """One action's change: the state's fields it sets (`after`) and what they were (`before`)."""

    action: str
    before: dict
    after: dict

    def apply_to(self, state: TargetState) -> TargetState:
        return replace(state, **self.after)

    def inverse(self) -> Change:
        return Change(self.action, before=self.after, after=self.before)

    def key(self) -> tuple:
        """What tells two changes apart (a change rolled back is not tried again)."""
        return self.action, repr(sorted(self.after.items()))
