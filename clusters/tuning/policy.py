"""A tuning policy as the controller reads it (metrics_app's TuningPolicy maps onto it), and its
validation: ClusterError(field=...) names the field that is wrong, so the admin, the API and
`loadtest --autotune` can all say which."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from clusters.algorithms import ALGORITHMS
from clusters.base import ClusterError, check_number

VIEWS: tuple[str, ...] = ("requests", "utilisation")  # the balance view a policy keeps (ARCHITECTURE.md s4)
MAX_WINDOW_S = 3600
MAX_COOLDOWN_S = 3600
MAX_WEIGHT_RATIO = 1000.0  # the sandbox balancer's weights are positive numbers up to 1000


@dataclass(frozen=True)
class Policy:
    target_score: float = 95.0
    view: str = "requests"
    window_s: int = 10
    cooldown_s: int = 15
    p95_margin_pct: float = 10.0  # an action may not make p95 worse by more than this
    actions: tuple[str, ...] = ("set_algorithm",)
    algorithms: tuple[str, ...] = ()  # what set_algorithm may switch to
    min_replicas: int = 1
    max_replicas: int = 10
    max_weight: float = 10.0  # largest weight ratio between two pods
    dry_run: bool = False

    def validate(self, balancer: str | None = None, balancer_options: Mapping | None = None) -> Policy:
        """The policy checked (numbers normalised), or ClusterError(field=...). `balancer`: the
        target's balancer (a sandbox backend `lblab`, `nginx`, `haproxy`, or a Kubernetes one; None:
        the registry alone), whose abilities each allowed action checks, with the target's
        `balancer_options` (`TargetState.balancer_options`)."""
        from clusters.tuning.actions import ACTIONS  # the registry imports this module

        target = check_number(self.target_score, "target_score", minimum=0, maximum=100)
        if self.view not in VIEWS:
            raise ClusterError(f"must be one of {', '.join(VIEWS)}", field="view")
        window = check_number(self.window_s, "window_s", minimum=1, maximum=MAX_WINDOW_S, integer=True)
        cooldown = check_number(self.cooldown_s, "cooldown_s", minimum=0, maximum=MAX_COOLDOWN_S, integer=True)
        margin = check_number(self.p95_margin_pct, "p95_margin_pct", minimum=0, maximum=1000)
        actions = _names(self.actions, "actions", ACTIONS)
        if not actions:
            raise ClusterError("allow at least one action", field="actions")
        algorithms = _names(self.algorithms, "algorithms", ALGORITHMS)
        low = check_number(self.min_replicas, "min_replicas", minimum=1, maximum=10_000, integer=True)
        high = check_number(self.max_replicas, "max_replicas", minimum=1, maximum=10_000, integer=True)
        if high < low:
            raise ClusterError(f"must be at least min_replicas ({low})", field="max_replicas")
        max_weight = check_number(self.max_weight, "max_weight", minimum=1, maximum=MAX_WEIGHT_RATIO)
        if not isinstance(self.dry_run, bool):
            raise ClusterError("must be true or false", field="dry_run")
        checked = replace(self, target_score=target, window_s=window, cooldown_s=cooldown, p95_margin_pct=margin,
                          actions=actions, algorithms=algorithms, min_replicas=low, max_replicas=high,
                          max_weight=max_weight)
        for name in actions:
            ACTIONS[name].check_policy(checked, balancer, balancer_options)
        return checked


def _names(value, field: str, known) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ClusterError("must be a list of names", field=field)
    for name in value:
        if name not in known:
            raise ClusterError(f"unknown {field[:-1]} {name!r}; one of {', '.join(known)}", field=field)
    if len(set(value)) != len(value):
        raise ClusterError("names an entry twice", field=field)
    return tuple(value)
