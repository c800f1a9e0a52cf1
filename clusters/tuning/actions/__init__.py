"""The tuning actions: one module each beside its siblings, registered in `ACTIONS` (the order users
see). A new action is a new module here, imported at the bottom of this file (and a metrics_app
migration: TuningDecision's check constraint freezes the names).

An action proposes candidate changes for a diagnosis, checks one against the policy's bounds and the
balancer's abilities (ClusterError(field=...)), and applies one through the `Cluster` interface. What
a change leads to is the `TargetState` the simulator is given (`predicted_state`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from clusters.base import Cluster, ClusterError
from clusters.tuning.state import Change, TargetState

if TYPE_CHECKING:  # pragma: no cover
    from clusters.tuning.diagnose import Finding
    from clusters.tuning.policy import Policy
    from clusters.tuning.window import Window


class TuningAction(abc.ABC):
    name: ClassVar[str]
    label: ClassVar[str]
    # False: a recommendation for the user (advice); the controller never applies it to the cluster
    changes_cluster: ClassVar[bool] = True

    def check_policy(self, policy: Policy, balancer: str | None,  # noqa: B027 - most have nothing more
                     balancer_options: Mapping | None = None) -> None:
        """ClusterError(field=...) when `policy` allows this action in a way the balancer cannot do
        (with the target's `balancer_options`: `TargetState.balancer_options`)."""

    @abc.abstractmethod
    def candidates(self, *, policy: Policy, state: TargetState, window: Window,
                   findings: Sequence[Finding]) -> list[Change]:
        """The changes worth simulating for these findings (none: the action cannot help)."""

    def check(self, change: Change, *, policy: Policy, state: TargetState) -> None:  # noqa: B027
        """ClusterError(field=...) when `change` is outside the policy's bounds or the balancer's abilities."""

    def predicted_state(self, change: Change, state: TargetState) -> TargetState:
        """The state the simulator is given for `change`."""
        return change.apply_to(state)

    def apply(self, cluster: Cluster, state: TargetState) -> None:
        """Bring the cluster to `state` (after this action's change, or back before it)."""
        raise ClusterError(f"{self.name} is advice: nothing is applied", field="action")


ACTIONS: dict[str, TuningAction] = {}


def register(cls: type[TuningAction]) -> type[TuningAction]:
    action = cls()
    if not getattr(action, "name", "") or not getattr(action, "label", ""):
        raise ValueError(f"{cls.__name__} needs a name and a label")
    if action.name in ACTIONS:
        raise ValueError(f"tuning action {action.name!r} is registered twice")
    ACTIONS[action.name] = action
    return cls


def choices() -> list[tuple[str, str]]:
    return [(action.name, action.label) for action in ACTIONS.values()]


# isort: off
from clusters.tuning.actions import (  # noqa: E402, F401
    set_algorithm, set_weights, scale, advise_connection_reuse,
)
# isort: on
