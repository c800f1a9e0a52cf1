"""The sandbox's configuration and the validation shared by the CLI, the control API
and the Python client: every bad value raises `ClusterError(field=...)`, so a command
can name the flag and the API can answer 400 with the field.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields

from clusters.algorithms import algorithm_named
from clusters.base import ClusterError, check_number
from clusters.faults import FAULT_KINDS, PODS
from clusters.sandbox.backends import DEFAULT_BACKEND, backend_named
from clusters.sandbox.stateful import DEFAULT_DURABILITY, check_stateful

SERVICE_TIME_DISTRIBUTIONS = ("fixed", "exponential", "lognormal")
MAX_PODS = 64
DEFAULT_RETRIES = 2  # 3 tries in all, as ingress-nginx's default proxy-next-upstream-tries
MAX_RETRIES = 10
# Ports taken by this machine's services (ARCHITECTURE.md section 9): refuse them early.
RESERVED_PORTS = frozenset({5432, 6379, 3306, 5672, 1883, 4222})


_number = check_number


def validate_port(value, name: str) -> int:
    port = int(_number(value, name, minimum=0, maximum=65535, integer=True))
    if port in RESERVED_PORTS:
        raise ClusterError(f"port {port} is used by a service on this machine", field=name)
    return port


def validate_replicas(value, name: str = "replicas") -> int:
    return int(_number(value, name, minimum=1, maximum=MAX_PODS, integer=True))


def validate_retries(value, name: str = "retries") -> int:
    """Retries of a failed idempotent request on another pod: a whole number, 0 (off) to MAX_RETRIES."""
    return int(_number(value, name, minimum=0, maximum=MAX_RETRIES, integer=True))


def validate_balancer(name) -> str:
    """A name of BALANCER_BACKENDS, or ClusterError(field="balancer")."""
    return backend_named(name).name


def validate_algorithm(name, options: dict | None, *, pod_names=None,
                       balancer: str = DEFAULT_BACKEND) -> tuple[str, dict]:
    """Check an algorithm name and its options as the sandbox balancer takes them, and that the
    chosen balancer (`balancer`) has an equivalent (ClusterError(field="algorithm") when it has
    none); returns them normalised."""
    algorithm = algorithm_named(name)
    if options is not None and not isinstance(options, dict):  # they travel as JSON and in the config
        raise ClusterError("must be an object", field="options")
    options = algorithm.sandbox_options(options, pod_names=pod_names)
    backend_named(balancer).check_algorithm(name, options)
    return name, options


def pod_fault_kinds() -> tuple[str, ...]:
    """The faults a sandbox pod holds itself (`POST /faults`, pod.py's POD_FAULTS): the timed
    faults on pods. Kills and drains have routes of their own."""
    return tuple(name for name, kind in FAULT_KINDS.items() if kind.acts_on == PODS and kind.timed)


def validate_fault(kind, params: dict) -> dict:
    """Check a pod fault's kind and parameters (not its pods: those need the live pod list)."""
    held = pod_fault_kinds()
    if kind not in held:
        raise ClusterError(f"unknown fault {kind!r}; one of {', '.join(held)}", field="kind")
    return FAULT_KINDS[kind].validate(params)


@dataclass(frozen=True)
class ServiceTime:
    """How long a pod works on one request: `mean_ms` from a distribution, divided by the
    pod's speed factor. `sigma` shapes the lognormal (the mean stays `mean_ms`)."""

    distribution: str = "exponential"
    mean_ms: float = 1.0
    sigma: float = 0.5

    def __post_init__(self):
        if self.distribution not in SERVICE_TIME_DISTRIBUTIONS:
            raise ClusterError(f"one of {', '.join(SERVICE_TIME_DISTRIBUTIONS)}", field="service_time")
        _number(self.mean_ms, "service_time_ms", minimum=0, maximum=600_000)
        _number(self.sigma, "service_time_sigma", minimum=0, maximum=10)


@dataclass(frozen=True)
class AutoscalerConfig:
    """HorizontalPodAutoscaler-like: desired = ceil(replicas * utilisation / target), where
    utilisation is the mean number of requests a pod holds (queued or served) divided
    by its capacity; recommendations are stabilised over windows as the HPA does."""

    min_replicas: int = 1
    max_replicas: int = 4
    target_utilisation: float = 0.6
    sync_period_s: float = 1.0
    scale_up_window_s: float = 0.0
    scale_down_window_s: float = 30.0
    tolerance: float = 0.1

    def __post_init__(self):
        validate_replicas(self.min_replicas, "autoscaler.min_replicas")
        validate_replicas(self.max_replicas, "autoscaler.max_replicas")
        if self.max_replicas < self.min_replicas:
            raise ClusterError("must be >= min_replicas", field="autoscaler.max_replicas")
        _number(self.target_utilisation, "autoscaler.target_utilisation", minimum=0, strict=True,
                maximum=10)
        _number(self.sync_period_s, "autoscaler.sync_period_s", minimum=0.05, maximum=3600)
        _number(self.scale_up_window_s, "autoscaler.scale_up_window_s", minimum=0, maximum=3600)
        _number(self.scale_down_window_s, "autoscaler.scale_down_window_s", minimum=0, maximum=3600)
        _number(self.tolerance, "autoscaler.tolerance", minimum=0, maximum=1)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox needs to start; invalid values raise ClusterError(field=...).

    `port`/`control_port` 0 let the kernel pick (the real ports are reported once
    started). `speeds` gives per-slot speed factors (slot i gets speeds[i % len]).
    Weights in `algorithm_options` name slots (`{"weights": {"pod-0": 3}}`).
    `balancer`: what serves the endpoint in front of the pods, a name of BALANCER_BACKENDS
    (clusters/sandbox/backends): `lblab` (LB Lab's own), `nginx` or `haproxy` (Debian's, run by
    the controller); an algorithm the balancer has no equivalent for is ClusterError(field="algorithm").
    `retries`: how often the balancer retries an idempotent request on another pod when one
    fails before answering, as nginx's `proxy_next_upstream` does; 0 shows every such failure
    to the client (the same pod kill with and without retries).
    `stateful`: a store started with the sandbox and stopped with it ("" for none, "redis": a
    primary, a replica and three Sentinels; "postgres": an etcd member and two Patroni nodes;
    clusters/sandbox/stateful), which the pods' `/kv` endpoints write to and read from;
    `durability`: when a write counts as confirmed (`sync`: a replica has it, Redis `WAIT 1` or
    Patroni's synchronous_mode; `async`: the primary's reply).
    """

    pods: int = 3
    nodes: int = 2
    balancer: str = DEFAULT_BACKEND
    algorithm: str = "round_robin"
    algorithm_options: dict = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    control_port: int = 0
    service_time: ServiceTime = field(default_factory=ServiceTime)
    capacity: int = 8
    speeds: tuple[float, ...] = ()
    restart_delay_s: float = 1.0
    health_interval_s: float = 0.5
    unhealthy_threshold: int = 2
    upstream_timeout_s: float = 10.0
    retries: int = DEFAULT_RETRIES
    drain_grace_s: float = 5.0
    autoscaler: AutoscalerConfig | None = None
    stateful: str = ""
    durability: str = DEFAULT_DURABILITY

    def __post_init__(self):
        validate_replicas(self.pods, "pods")
        _number(self.nodes, "nodes", minimum=1, maximum=16, integer=True)
        validate_balancer(self.balancer)
        _, options = validate_algorithm(self.algorithm, self.algorithm_options, balancer=self.balancer)
        for pod in options.get("weights", {}):
            if not re.fullmatch(r"pod-\d+", pod):
                raise ClusterError("name slots (pod-0, pod-1, ...): pod names are not known yet",
                                   field="algorithm_options.weights")
        if not isinstance(self.host, str) or not self.host:
            raise ClusterError("must be a host name or address", field="host")
        validate_port(self.port, "port")
        validate_port(self.control_port, "control_port")
        if self.port and self.port == self.control_port:
            raise ClusterError("must differ from port", field="control_port")
        if not isinstance(self.service_time, ServiceTime):
            raise ClusterError("must be a ServiceTime", field="service_time")
        _number(self.capacity, "capacity", minimum=1, maximum=10_000, integer=True)
        for speed in self.speeds:
            _number(speed, "speeds", minimum=0, strict=True, maximum=1000)
        _number(self.restart_delay_s, "restart_delay_s", minimum=0, maximum=3600)
        _number(self.health_interval_s, "health_interval_s", minimum=0.02, maximum=60)
        _number(self.unhealthy_threshold, "unhealthy_threshold", minimum=1, maximum=100, integer=True)
        _number(self.upstream_timeout_s, "upstream_timeout_s", minimum=0.1, maximum=3600)
        validate_retries(self.retries)
        _number(self.drain_grace_s, "drain_grace_s", minimum=0, maximum=3600)
        if self.autoscaler is not None and not isinstance(self.autoscaler, AutoscalerConfig):
            raise ClusterError("must be an AutoscalerConfig", field="autoscaler")
        check_stateful(self.stateful, self.durability)

    def speed_of(self, slot: int) -> float:
        return float(self.speeds[slot % len(self.speeds)]) if self.speeds else 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SandboxConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ClusterError("unknown setting", field=sorted(unknown)[0])
        data = dict(data)
        if isinstance(data.get("service_time"), dict):
            data["service_time"] = ServiceTime(**data["service_time"])
        if isinstance(data.get("autoscaler"), dict):
            data["autoscaler"] = AutoscalerConfig(**data["autoscaler"])
        if "speeds" in data:
            data["speeds"] = tuple(data["speeds"])
        return cls(**data)
