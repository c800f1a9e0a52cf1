"""The cluster adapter interface (ARCHITECTURE.md section 5).

Runs, chaos and tuning only ever talk to a `Cluster`. Every fault takes a duration
and clears itself after it; `restore()` undoes whatever is still applied, so a run
that dies half-way leaves nothing behind. Django-free on purpose.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class ClusterError(ValueError):
    """Bad input or an impossible operation, with the field that is wrong.

    `field` lets the CLI name the flag and the API answer 400 with field errors.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.field}: {message}" if self.field else message


def check_number(value, field: str, *, minimum: float | None = None, maximum: float | None = None,
                 strict: bool = False, integer: bool = False, error: type[ClusterError] = ClusterError) -> float:
    """`value` as a float (an int with `integer`), or `error(field=...)` saying what is wrong.

    The one number check of the sandbox, the simulator and the Locust plugin's config;
    `strict` makes `minimum` exclusive. numpy numbers count (they register as numbers.Real).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise error("must be a finite number", field=field)
    if integer and int(value) != value:
        raise error("must be a whole number", field=field)
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise error(f"must be {'>' if strict else '>='} {minimum:g}", field=field)
    if maximum is not None and value > maximum:
        raise error(f"must be <= {maximum:g}", field=field)
    return int(value) if integer else float(value)


@dataclass(frozen=True)
class Pod:
    name: str
    node: str
    address: str  # host:port the pod listens on
    ready: bool = True
    weight: float = 1.0
    restarts: int = 0  # its containers' restarts (Kubernetes keeps the pod's name; the sandbox starts a new pod)


@dataclass(frozen=True)
class PodMetrics:
    """One reading of a pod's counters; counters are cumulative since the pod started."""

    pod: str
    requests: int = 0
    failures: int = 0
    in_flight: int = 0
    queued: int | None = None  # of those in flight, waiting for a free server (None: the cluster does not say)
    # the time its answered requests spent with it, arrival to answer, summed (None: not counted)
    request_seconds: float | None = None
    # of that time, the part spent waiting for or at a server (the rest they were not at one: held
    # by a latency fault before them, waiting on a store after them); None: not counted
    server_seconds: float | None = None
    cpu_seconds: float = 0.0
    memory_bytes: int = 0
    ready: bool = True


@dataclass(frozen=True)
class Fault:
    """A fault that was applied; `restore()` or its own timer clears it."""

    kind: str
    pods: tuple[str, ...]
    duration_s: float
    params: dict = field(default_factory=dict)


class EventType(StrEnum):
    """What a cluster says happened (`Cluster.events`), each at the wall-clock time (time.time(), the
    clock Locust and the run driver read on the same machine) it happened. The recovery analysis
    reads them; a Kubernetes adapter would map its own events (Killing, Started, a pod's Ready
    condition, cordon and eviction) onto the same types. Each type's fields besides `seq`, `t`, `type`:"""

    FAULT_APPLIED = "fault_applied"          # kind, pods, duration_s, params, until
    FAULT_CLEARED = "fault_cleared"          # kind, pods, reason: expired | restored | replaced | pod_gone | cleared
    POD_KILLED = "pod_killed"                # pod, node, slot, pid
    POD_STOPPING = "pod_stopping"            # pod, node, slot, pid, reason: drain | scale (a graceful stop)
    POD_EXITED = "pod_exited"                # pod, node, slot, pid, returncode, expected (stopped on purpose)
    POD_STARTED = "pod_started"              # pod, node, slot, pid, reason, replaces (the slot's previous pod)
    POD_READY = "pod_ready"                  # pod, first (its first passing readiness check)
    POD_NOT_READY = "pod_not_ready"          # pod, reason: health_check | connect_failed
    NODE_CORDONED = "node_cordoned"          # node
    NODE_DRAINED = "node_drained"            # node, moved (the pods evicted from it)
    NODE_UNCORDONED = "node_uncordoned"      # node
    FAILURES_STARTED = "failures_started"    # pod (null: no pod was ready), outcome: the first failure's
    FAILURES_ENDED = "failures_ended"        # pod, first_t, failures, outcomes; `t` is the last failure's
    SCALED = "scaled"                        # replicas, previous, by: lblab | autoscaler | hpa | external,
                                             # and an autoscaler's reading when it decided: desired, metrics
                                             # [{name, current, target, unit}]
    ALGORITHM_SET = "algorithm_set"          # algorithm, options
    BALANCER_OPTIONS_SET = "balancer_options_set"  # options (a Kubernetes target's, at the run's start),
                                             # object, at, previous, setting
    RETRIES_SET = "retries_set"              # retries
    # A stateful store's servers (`server`: redis-0, pg-0, ...), clusters/sandbox/stateful/owner.py:
    PRIMARY_KILLED = "primary_killed"        # server, pid (SIGKILL of the primary's server)
    PRIMARY_STOPPED = "primary_stopped"      # server, pid (a clean shutdown)
    FAILOVER = "failover"                    # server (the new primary), old, new (host:port)
    STORE_EVENT = "store_event"              # source (a Sentinel, a Patroni node), event (+odown, member...), detail
    STORE_RESTARTED = "store_restarted"      # server, pid (restore brought a downed server back)


@dataclass(frozen=True)
class ClusterEvent:
    """One event of a cluster's log. `seq` counts from 1 without gaps, so a reader that finds the
    first event it gets past `since + 1` knows the log dropped what lay between; `t` is when it
    happened (a failure streak is logged when it ends, so its `t` may precede earlier-logged events')."""

    seq: int
    t: float
    type: str
    pod: str | None = None
    node: str | None = None
    details: dict = field(default_factory=dict)  # the type's other fields, as listed above

    @classmethod
    def from_dict(cls, data: dict) -> ClusterEvent:
        """An event from its flat JSON form: `seq`, `t`, `type`, `pod`, `node` and the type's fields."""
        details = {key: value for key, value in data.items() if key not in ("seq", "t", "type", "pod", "node")}
        return cls(seq=data["seq"], t=data["t"], type=data["type"], pod=data.get("pod"), node=data.get("node"),
                   details=details)


class Cluster(abc.ABC):
    """What LB Lab can ask of a cluster. Implementations: sandbox, kubernetes."""

    # Why `pod_metrics` has no CPU and memory ("" when it has): a run's summary says so in a note.
    usage_missing: str = ""

    @property
    @abc.abstractmethod
    def endpoint(self) -> str:
        """Base URL load is sent to (the balancer / service), no trailing slash."""

    @abc.abstractmethod
    def pods(self) -> list[Pod]: ...

    @abc.abstractmethod
    def pod_metrics(self) -> dict[str, PodMetrics]: ...

    def nodes(self) -> list[str]:
        """Every node's name, those without pods included; default: the nodes of `pods()`."""
        return sorted({pod.node for pod in self.pods()})

    @abc.abstractmethod
    def kill_pod(self, pod: str) -> None: ...

    @abc.abstractmethod
    def add_latency(
        self, pods: Sequence[str], ms: float, jitter: float = 0.0, duration: float = 30.0
    ) -> Fault: ...

    @abc.abstractmethod
    def add_errors(
        self, pods: Sequence[str], rate: float, status: int = 500, duration: float = 30.0
    ) -> Fault: ...

    @abc.abstractmethod
    def partition(self, pods: Sequence[str], duration: float = 30.0) -> Fault: ...

    @abc.abstractmethod
    def stress_cpu(self, pods: Sequence[str], workers: int = 1, duration: float = 30.0) -> Fault: ...

    @abc.abstractmethod
    def set_not_ready(self, pods: Sequence[str], duration: float = 30.0) -> Fault:
        """Fail the pods' readiness probe: the balancer stops sending them traffic."""

    @abc.abstractmethod
    def drain(self, node: str) -> None: ...

    @abc.abstractmethod
    def uncordon(self, node: str) -> None:
        """Make a drained node schedulable again; its pods do not move back."""

    @abc.abstractmethod
    def scale(self, replicas: int) -> None: ...

    @abc.abstractmethod
    def set_algorithm(self, name: str, options: dict | None = None) -> None: ...

    def set_retries(self, retries: int) -> None:
        """Let the balancer retry an idempotent request on another pod up to `retries` times when one
        fails before answering (0: never). nginx's `proxy_next_upstream` (tries = retries + 1),
        Envoy's and Istio's retry policies (`numRetries`, `attempts`); kube-proxy has none."""
        raise ClusterError("this cluster's balancer has no retry setting LB Lab can change", field="retries")

    def stateful(self) -> dict | None:
        """The stateful store beside the pods (`--stateful`): store, durability, primary, sentinels,
        pids; None when the cluster runs none."""
        return None

    def kill_primary(self) -> str:
        """SIGKILL the stateful store's primary server; the name of the server killed."""
        raise ClusterError("this target has no stateful store (--stateful redis|postgres)", field="chaos")

    def stop_primary(self) -> str:
        """Shut the stateful store's primary down cleanly; the name of the server stopped."""
        raise ClusterError("this target has no stateful store (--stateful redis|postgres)", field="chaos")

    def restore_stateful(self) -> list[str]:
        """Start the stateful store's downed servers again (each rejoins as a replica); their names."""
        return []

    def events(self, since: int = 0) -> list[ClusterEvent]:
        """The events logged after sequence number `since`, oldest first; default: none (a cluster
        that keeps no log: the recovery analysis then has only the load's own requests)."""
        return []

    @abc.abstractmethod
    def restore(self) -> None:
        """Undo every fault still applied. Safe to call twice, or with nothing applied."""

    def close(self) -> None:  # noqa: B027 - optional hook, adapters with processes override
        """Release what the adapter started (sandbox processes); default: nothing."""

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.restore()
        finally:
            self.close()
