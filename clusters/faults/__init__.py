"""The one vocabulary of fault kinds (ARCHITECTURE.md s2, s5). Pure: no Django.

Each kind is a module beside its siblings holding one `@register`ed `FaultKind`: its
name and label, what its severities mean, its parameters and their validation, and the
`Cluster` method it calls. Everything that names fault kinds reads `FAULT_KINDS`: the
chaos models' choices, the `--chaos` and API step parser (`parse_step`), the sandbox's
fault route. Adding a kind is a new module here, imported at the bottom of this file
(and a chaos_app migration: the database's check constraint freezes the names).

A chaos step is written `KIND@START:DURATION[:SEVERITY][:TARGET]`, e.g. `pod_kill@10s:0s`
or `latency@5s:20s:high:pod-1`; `parse_step` turns it into a `FaultStep`. The target's forms
(a pod, a slot, `random`, `2`, `50%`, `all`, `node:node-0`) are in `clusters/faults/targets.py`;
`FaultKind.inject` resolves a step's target against the cluster's pods of the moment and applies it.
"""

from __future__ import annotations

import abc
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import ClassVar, Literal

from clusters.base import Cluster, ClusterError, Fault, Pod, check_number
from clusters.durations import SpecError, parse_duration
from clusters.faults.targets import EXTERNAL, NODE, PODS, STATEFUL, FaultTarget, parse_target, resolve

SEVERITIES: tuple[str, ...] = ("low", "medium", "high")
DEFAULT_SEVERITY = "medium"
SEVERITY_WORDS = f"{', '.join(SEVERITIES[:-1])} or {SEVERITIES[-1]}"  # "low, medium or high"

# What a kind acts on (PODS, NODE, STATEFUL, EXTERNAL, from targets.py), so whoever applies it knows
# what a step's target names.
ActsOn = Literal["pods", "node", "stateful", "external"]

DEFAULT_DURATION_S = 30.0
MAX_DURATION_S = 7 * 24 * 3600.0
STEP_SYNTAX = "KIND@START:DURATION[:SEVERITY][:TARGET]"


def validate_duration(value, name: str = "duration") -> float:
    return check_number(value, name, minimum=0, strict=True, maximum=MAX_DURATION_S)


class FaultKind(abc.ABC):
    """One kind of fault. A subclass sets the class attributes, implements `apply` (and
    `validate` when it has parameters beyond its duration) and is decorated with `@register`."""

    name: ClassVar[str]
    label: ClassVar[str]
    # Severity -> the parameters it means. A kind without a magnitude means the same at every severity.
    severities: ClassVar[Mapping[str, Mapping[str, float]]] = {severity: {} for severity in SEVERITIES}
    # Pods, a node, the stateful service, or something only the user reaches: what a step's target names.
    acts_on: ClassVar[ActsOn] = PODS
    # True: the Cluster method takes the duration and the fault clears itself after it, so a run
    # that dies leaves nothing behind for long. False: a one-shot action (a kill, a drain).
    timed: ClassVar[bool] = True

    @property
    def injects(self) -> bool:
        """False for a fault the user causes (EXTERNAL): LB Lab applies nothing, needs no cluster
        to run its step, and has nothing to undo."""
        return self.acts_on != EXTERNAL

    def validate(self, params: Mapping) -> dict:
        """`params` checked and completed with defaults; ClusterError(field=...) names the bad one.
        Keys the kind does not know are ignored (a request body carries `kind` and `pods` too)."""
        if not self.timed:
            return {}
        return {"duration": validate_duration(params.get("duration", DEFAULT_DURATION_S))}

    def params_for(self, step: FaultStep) -> dict:
        """The parameters `apply` gets for `step`: its severity's magnitudes and its duration."""
        return self.validate({**self.severities[step.severity], "duration": step.duration_s})

    def parse_target(self, text: str) -> FaultTarget:
        """`text` as this kind's target (pods, a node or nothing, as `acts_on` says)."""
        return parse_target(text, self.acts_on)

    def targets_for(self, step: FaultStep, pods: Sequence[Pod], *, rng: random.Random,
                    nodes: Iterable[str] | None = None) -> list[str]:
        """What `apply` gets for `step` among `pods` (and `nodes`): resolved at injection time,
        because pods are replaced during a run and a random pick must see the ready ones."""
        return resolve(step.target, pods, rng=rng, acts_on=self.acts_on, nodes=nodes)

    def inject(self, cluster: Cluster, step: FaultStep, *, rng: random.Random) -> Fault:
        """Apply `step` to `cluster`: its target resolved against the cluster's pods now, its
        parameters from its severity and duration. The one way a schedule applies a step."""
        targets = self.targets_for(step, cluster.pods(), rng=rng, nodes=cluster.nodes())
        return self.apply(cluster, targets, self.params_for(step))

    @abc.abstractmethod
    def apply(self, cluster: Cluster, targets: Sequence[str], params: Mapping) -> Fault:
        """Inject the fault through its `Cluster` method. `targets` are what `acts_on` says
        (pod names, a node name, nothing for the stateful service); `params` as `validate` returns them."""

    def restore(self, cluster: Cluster, fault: Fault) -> None:  # noqa: B027 - most kinds have nothing to undo
        """Undo `fault` when its step ends. Nothing by default: a timed fault clears itself after
        the duration it was given, and a killed pod is brought back by its ReplicaSet.
        `cluster.restore()` still undoes everything when the run ends, however it ends."""


FAULT_KINDS: dict[str, FaultKind] = {}  # name -> kind, in registration order: the order users see


class StatefulFaultKind(FaultKind):
    """A fault of a stateful service's primary (`--stateful redis|postgres`): `take_down` names the `Cluster`
    method. The server it took down is the fault's one "pod"; when the step ends (its duration:
    how long the old primary stays down) `restore` starts it again, and the store's failover
    software makes it a replica of the primary it promoted meanwhile. A cluster without a store
    refuses it (ClusterError)."""

    acts_on = STATEFUL
    timed = False
    take_down: ClassVar[str]

    def apply(self, cluster, targets, params):
        server = getattr(cluster, self.take_down)()
        return Fault(kind=self.name, pods=(server,), duration_s=0.0)

    def restore(self, cluster, fault):
        cluster.restore_stateful()


def register(cls: type[FaultKind]) -> type[FaultKind]:
    """Class decorator: add one kind to `FAULT_KINDS`."""
    kind = cls()
    if not getattr(kind, "name", "") or not getattr(kind, "label", ""):
        raise ValueError(f"{cls.__name__} needs a name and a label")
    if kind.name in FAULT_KINDS:
        raise ValueError(f"fault kind {kind.name!r} is registered twice")
    if tuple(kind.severities) != SEVERITIES:
        raise ValueError(f"{kind.name}: severities must be {', '.join(SEVERITIES)}, in that order")
    if kind.acts_on not in (PODS, NODE, STATEFUL, EXTERNAL):
        raise ValueError(f"{kind.name}: acts_on must be {PODS}, {NODE}, {STATEFUL} or {EXTERNAL}")
    FAULT_KINDS[kind.name] = kind
    return cls


def unknown_kind_message(kind) -> str:
    return f"unknown chaos kind {kind!r}; one of {', '.join(FAULT_KINDS)}"


@dataclass(frozen=True)
class FaultStep:
    """One step of a chaos schedule: `kind` at `start_s` for `duration_s`, at `severity`, on
    `target` (targets.py's forms as written; empty: one chosen at run time). Always valid:
    SpecError otherwise."""

    kind: str
    start_s: float
    duration_s: float
    severity: str = DEFAULT_SEVERITY
    target: str = ""

    def __post_init__(self):
        if not isinstance(self.kind, str) or self.kind not in FAULT_KINDS:
            raise SpecError(unknown_kind_message(self.kind))
        if not isinstance(self.severity, str) or self.severity not in SEVERITIES:
            raise SpecError(f"severity must be {SEVERITY_WORDS}")
        for name in ("start_s", "duration_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise SpecError(f"{name} must be a number of seconds, 0 or more")
            object.__setattr__(self, name, float(value))
        try:
            parse_target(self.target, FAULT_KINDS[self.kind].acts_on)
        except ClusterError as error:
            raise SpecError(error.args[0]) from None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> FaultStep:
        """A step from its dict form (a chaos experiment's `steps`); missing keys take their defaults."""
        return cls(kind=data.get("kind"), start_s=data.get("start_s", 0.0), duration_s=data.get("duration_s", 0.0),
                   severity=data.get("severity", DEFAULT_SEVERITY), target=data.get("target", ""))

    def to_spec(self) -> str:
        """The step as `parse_step` reads it."""
        spec = f"{self.kind}@{_seconds(self.start_s)}:{_seconds(self.duration_s)}:{self.severity}"
        return f"{spec}:{self.target}" if self.target else spec


def _seconds(value: float) -> str:
    short = f"{value:g}"
    return f"{short}s" if float(short) == value else repr(value)  # exact, however many digits


def parse_step(spec: str) -> FaultStep:
    """One step from `KIND@START:DURATION[:SEVERITY][:TARGET]` (`--chaos`, the API's `chaos`)."""
    kind, at, rest = spec.strip().partition("@")
    if not at:
        raise SpecError(f"{spec!r}: expected {STEP_SYNTAX}")
    if kind not in FAULT_KINDS:
        raise SpecError(unknown_kind_message(kind))
    # At most 4 fields: the target is the rest, so `node:node-0` keeps its colon.
    fields = rest.split(":", 3)
    if len(fields) < 2:
        raise SpecError(f"{spec!r}: expected {STEP_SYNTAX}")
    severity = fields[2] if len(fields) > 2 and fields[2] else DEFAULT_SEVERITY
    if severity not in SEVERITIES:
        raise SpecError(f"{spec!r}: severity must be {SEVERITY_WORDS}")
    return FaultStep(kind=kind, start_s=parse_duration(fields[0]), duration_s=parse_duration(fields[1]),
                     severity=severity, target=fields[3] if len(fields) > 3 else "")


def require_targets(targets: Sequence[str], field: str = "pods") -> None:
    """ClusterError unless `targets` names something: a one-shot fault on nothing would pass silently."""
    if isinstance(targets, str) or not targets:
        raise ClusterError("must name at least one pod" if field == "pods" else f"must name a {field}",
                           field=field)


# The kinds, in the order users see them (choices, messages). Each module registers itself and
# imports the base above, so they come last, in this order rather than the alphabet's.
# isort: off
from clusters.faults import (  # noqa: E402, F401
    latency, errors, pod_kill, partition, node_drain, cpu_stress, not_ready, primary_kill, primary_stop, external,
)
# isort: on
