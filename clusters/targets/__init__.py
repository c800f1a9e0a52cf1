"""Target kinds: what a run can send its load to. One adapter per kind, each in its own module
beside its siblings (sandbox.py, url.py, kubernetes.py); a new kind is a new module.

Pure: no Django. The `Target` model hands its fields over as a `TargetSpec`; the adapter
names the target, checks it against the allow-list, opens its cluster (when LB Lab can reach
one), says where load goes and which pods to expect, and maps pod names to the slots weights
are given for. `TARGET_KINDS` is what models' choices, forms, the API and the CLI read.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

from clusters.balance import ExpectedPods
from clusters.base import Cluster, ClusterError


@dataclass(frozen=True)
class TargetSpec:
    """Everything an adapter needs to know of a target, whatever its kind (unused fields keep
    their defaults). Defaults are the `Target` model's."""

    kind: str
    name: str = ""
    # sandbox
    pods: int = 4
    nodes: int = 2
    balancer: str = "lblab"
    algorithm: str = "round_robin"
    service_time_ms: float = 1.0
    retries: int = 2  # the sandbox balancer's retries of a failed idempotent request (its DEFAULT_RETRIES)
    stateful: str = ""  # a store beside the sandbox's pods (clusters/sandbox/stateful): "", "redis" or "postgres"
    durability: str = "sync"  # when a write to it counts as confirmed: sync (a replica has it) or async
    # url
    base_url: str = ""
    follow_redirects: bool = False
    # kubernetes
    context: str = ""
    namespace: str = ""
    service: str = ""
    label_selector: str = ""
    kubernetes_balancer: str = "none"  # what balances the pods (clusters/kubernetes/balancers.py)
    route: str = ""  # the HTTPRoute or Ingress its settings attach to ("": the service's name)
    traffic_distribution: str = ""  # kube-proxy (balancer none): the Service's trafficDistribution ("": as it is)
    slow_start_s: float = 0.0  # Envoy Gateway, Istio: new pods' share ramped up over this many seconds (0: off)
    # every kind
    expected_pods: tuple[str, ...] = ()
    expected_pod_count: int | None = None
    weights: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Allowed:
    """What the operator allows load to reach (settings `LBLAB_ALLOWED_TARGETS`, `..._NAMESPACES`)."""

    hosts: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()


class TargetKind(abc.ABC):
    name: str
    label: str
    help: str
    fields: tuple[str, ...]  # the TargetSpec fields this kind uses, besides attribution and weights
    required: Mapping[str, str] = {}  # field -> the message when it is empty
    # Why the pods' CPU and memory are not measured for this kind ("" when they are): the run
    # page says so in one line instead of drawing empty charts.
    pod_usage_missing: str = ""
    # Why LB Lab cannot inject faults into this kind's targets ("" when it can): chaos steps on
    # such a target are refused before the run, with this reason (`chaos_problem`).
    chaos_missing: str = ""

    @abc.abstractmethod
    def describe(self, spec: TargetSpec) -> str:
        """The name of a target described only by its fields, so asking for the same thing twice
        (the CLI, an inline API object) finds the same target."""

    @abc.abstractmethod
    def check_allowed(self, spec: TargetSpec, allowed: Allowed) -> None:
        """ClusterError(field=...) unless load may be sent to this target."""

    def check_spec(self, spec: TargetSpec) -> None:
        """ClusterError(field=...) when the kind cannot start what `spec` describes (the fields'
        own checks, such as a name of a registry, are the model's)."""
        return None

    def chaos_problem(self, fault) -> str:
        """Why a step of `fault` (a `clusters.faults.FaultKind`) cannot run on this kind's targets,
        or "". A fault the user causes (`external`) runs on every kind: LB Lab injects nothing."""
        return self.chaos_missing if fault.injects else ""

    def check_cluster(self, spec: TargetSpec) -> None:
        """ClusterError(field=...) when the target's cluster cannot be reached as `spec` says, asked
        before a run starts (nothing changed). Nothing to ask by default: LB Lab starts the sandbox,
        and a URL's reachability is the allow-list's and the CLI's concern."""
        return None

    def cluster_chaos_problem(self, spec: TargetSpec, faults) -> str:
        """Why the target's cluster as it is now cannot take steps of these `faults` (say, a
        component they need is not installed), or "": asked before a run, after `chaos_problem`."""
        return ""

    def open(self, spec: TargetSpec, *, run_id: int | None = None) -> Cluster | None:
        """The cluster adapter of the target, started when LB Lab owns it; None when LB Lab only
        sends load (a URL). `run_id`: the run it is opened for, which what it creates is labelled with."""
        return None

    def reopen(self, spec: TargetSpec, *, run_id: int | None = None) -> Cluster | None:
        """The target's cluster as it is now, for undoing the faults of a run whose worker died (the
        reaper); None when there is nothing to reopen: LB Lab's own cluster ended with the run, or
        LB Lab never reaches one."""
        return None

    def endpoint(self, spec: TargetSpec, cluster: Cluster | None) -> str:
        """The base URL load goes to."""
        return cluster.endpoint if cluster is not None else spec.base_url

    def started_pods(self, spec: TargetSpec) -> int:
        """How many pods LB Lab starts for the target (0: it starts none)."""
        return 0

    def expected_pod_set(self, spec: TargetSpec) -> ExpectedPods:
        """The pods a run on this target is judged over and their shares, from the target alone,
        so the run driver and every replay of the run's seconds (the live stream's backlog, the
        report, the comparison) judge the same pods: the declared ones, and as many as the
        declared count or the pods LB Lab starts, whichever is more (`ExpectedPods.judged`)."""
        count = max(len(spec.expected_pods), spec.expected_pod_count or 0, self.started_pods(spec))
        return ExpectedPods(named=tuple(spec.expected_pods), count=count,
                            shares_for=lambda pods: self.expected_shares(spec, pods))

    def queue_key(self, spec: TargetSpec) -> str | None:
        """Where the load goes, for the run queue's limit per target: runs with the same key load the
        same service. None: each run loads its own (a sandbox LB Lab starts for the run)."""
        return None

    def planned_layout(self, spec: TargetSpec) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        """The pods' names (slots) and nodes the target will have when a run starts, as far as
        they are known before it (None: unknown, chaos targets are checked at injection time)."""
        return None, None

    def known_pods(self, spec: TargetSpec, cluster: Cluster | None) -> list[str]:
        """The pods expected to get traffic, known before the first request."""
        return [pod.name for pod in cluster.pods()] if cluster is not None else list(spec.expected_pods)

    def dry_run(self, spec: TargetSpec, *, steps=(), algorithms=()) -> str:
        """What a run would create or change outside LB Lab (`loadtest --dry-run`), as YAML: nothing
        is created or changed. `steps`: the run's chaos steps (`FaultStep`s); `algorithms`: those
        the tuner may switch to."""
        return f"# LB Lab dry run: load goes to {spec.base_url}; LB Lab creates or changes nothing there.\n"

    def prometheus_query(self, spec: TargetSpec) -> str:
        """The PromQL Prometheus attribution reads when the target gives none (each pod's requests,
        with a `pod` label), or ClusterError(field="prometheus_query") saying why there is none."""
        raise ClusterError("Prometheus attribution needs a URL and a query.", field="prometheus_query")

    def balancer(self, spec: TargetSpec) -> str | None:
        """The name of what balances the pods, whose settings LB Lab changes through the cluster
        (`Cluster.set_algorithm`): a sandbox backend or a Kubernetes balancer; None when LB Lab
        cannot change it."""
        return None

    def balancer_options(self, spec: TargetSpec) -> dict:
        """The target's settings of that balancer besides the algorithm, which some algorithms do not
        go with (a Kubernetes target's `BalancerOptions` given, as a dict); empty for the others."""
        return {}

    def algorithm(self, spec: TargetSpec) -> str | None:
        """The balancing algorithm in front of the pods, when LB Lab knows it (it explains
        connection-level imbalance); None when it does not."""
        return None

    def running_algorithm(self, spec: TargetSpec, cluster: Cluster | None) -> tuple[str | None, dict]:
        """The algorithm (and its options) the balancer runs as the run starts: where the tuner
        starts. Default: `algorithm`, what LB Lab started it with."""
        return self.algorithm(spec), {}

    def pod_slot(self, pod: str) -> str:
        """The name weights are given for: the pod's own name, unless the kind renames pods."""
        return pod

    def expected_shares(self, spec: TargetSpec, pods: Iterable[str]) -> dict[str, float] | None:
        """Expected share per pod from the target's weights; None for equal shares. A pod the
        weights do not name gets 1.0."""
        if not spec.weights:
            return None
        pods = list(pods)
        by_slot = {self.pod_slot(pod): pod for pod in pods}
        shares = {by_slot.get(key, key): float(weight) for key, weight in spec.weights.items()}
        return {pod: shares.get(pod, 1.0) for pod in pods} if pods else shares


TARGET_KINDS: dict[str, TargetKind] = {}


def register(cls: type[TargetKind]) -> type[TargetKind]:
    """Class decorator: one instance of the kind joins the registry under its name."""
    TARGET_KINDS[cls.name] = cls()
    return cls


def target_kind(name: str) -> TargetKind:
    try:
        return TARGET_KINDS[name]
    except KeyError:
        raise ClusterError(f"unknown target kind {name!r}; one of {', '.join(TARGET_KINDS)}", field="kind") from None


def choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in TARGET_KINDS.values()]


def kinds_using() -> dict[str, tuple[str, ...]]:
    """Each kind-specific field (one some kind lists in `fields`) and the kinds that use it, in
    the registry's order; a field no kind lists is every kind's (attribution, weights...)."""
    using: dict[str, list[str]] = {}
    for kind in TARGET_KINDS.values():
        for name in kind.fields:
            using.setdefault(name, []).append(kind.name)
    return {name: tuple(kinds) for name, kinds in using.items()}


def fields_not_used_by(kind: str) -> frozenset[str]:
    """The kind-specific fields of the other kinds: what a target of `kind` neither shows nor sends."""
    return frozenset(name for name, kinds in kinds_using().items() if kind not in kinds)


def open_cluster(spec: TargetSpec) -> Cluster | None:
    return target_kind(spec.kind).open(spec)


# The kinds, in the order forms list them. Imported last: each module registers itself.
from clusters.targets import sandbox, url, kubernetes  # noqa: E402, F401, I001
