"""The balancers in front of Kubernetes pods that LB Lab can set, one entry each, and what each
algorithm of the registry (clusters/algorithms.py: `envoy_gateway`, `istio`, `ingress_nginx`,
`kube_proxy`) becomes there. Pure: objects as dicts, for the adapter to send.

- `gateway`: Envoy Gateway, a `BackendTrafficPolicy` (gateway.envoyproxy.io/v1alpha1) on the
  target's HTTPRoute, `spec.loadBalancer.type` RoundRobin, LeastRequest (Envoy's default, two
  random picks), Random or ConsistentHash (on a header, else the source IP);
- `istio`: a `DestinationRule` (networking.istio.io/v1) for the Service's host,
  `trafficPolicy.loadBalancer.simple` ROUND_ROBIN, LEAST_REQUEST or RANDOM, or `consistentHash`
  (`httpHeaderName`, else `useSourceIp`);
- `ingress-nginx`: annotations on the target's Ingress, `nginx.ingress.kubernetes.io/load-balance`
  (round_robin, ewma) or `upstream-hash-by` (`$http_<header>`, else `$remote_addr`). ingress-nginx
  is retired upstream (March 2026): supported, not the default;
- `none`: kube-proxy alone. Its per-connection pick is the Service as it is (`l4_connection`,
  random as iptables picks); `sessionAffinity: ClientIP` keeps a client on one pod (a consistent
  hash on the source). Its `trafficDistribution` (PreferSameZone, PreferSameNode) is not an
  algorithm (it goes with either) but a target's option (`BalancerOptions`), set at a run's start.

Per-pod weights are a setting of none of them (they weigh endpoints, not pods LB Lab names), so
weights are refused everywhere with that reason. Every refusal is a `ClusterError(field=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from clusters.algorithms import ALGORITHMS, algorithm_named
from clusters.base import ClusterError, check_number

MANAGED_BY = {"app.kubernetes.io/managed-by": "lblab"}


@dataclass(frozen=True)
class Change:
    """What setting an algorithm changes: a balancer's custom object (`create`), which LB Lab
    creates when the target has none (and deletes on restore) or, when one is there already (the
    user's), whose setting at `at` it replaces by `create`'s value there; or a merge patch of an
    existing object (`kind`, `name`). A replaced or patched setting is undone from the values it
    replaced, which the adapter keeps on the object (`KubeApi.patch_balancer_setting`)."""

    create: dict | None = None
    kind: str = ""
    name: str = ""
    patch: dict = field(default_factory=dict)
    at: tuple[str, ...] = ()  # where `create` holds the setting (spec.loadBalancer, ...)

    @property
    def value(self):
        """The new setting: `create`'s value at `at`, or the patch."""
        if self.create is None:
            return self.patch
        return value_at(self.create, self.at)


# The Service's `trafficDistribution` kube-proxy honours (GA in Kubernetes 1.35): endpoints in the
# client's zone, or on its node, first. PreferClose is the older name of PreferSameZone.
TRAFFIC_DISTRIBUTIONS = ("PreferSameZone", "PreferSameNode")
TRAFFIC_DISTRIBUTION_ALIASES = {"PreferClose": "PreferSameZone"}
MAX_SLOW_START_S = 3600


@dataclass(frozen=True)
class BalancerOptions:
    """A Kubernetes target's settings of its balancer besides the algorithm (Target fields), which
    a run writes at its start and its restore puts back: `traffic_distribution` (kube-proxy: the
    Service's trafficDistribution; "" leaves it as it is) and `slow_start_s` (Envoy Gateway, Istio)."""

    traffic_distribution: str = ""
    # Envoy Gateway and Istio: new pods get their share of requests ramped up over this many
    # seconds (BackendTrafficPolicy `loadBalancer.slowStart.window`, DestinationRule
    # `loadBalancer.warmupDurationSecs`), with round robin or least request only; 0: off
    slow_start_s: float = 0.0

    def given(self) -> dict:
        return {name: value for name, value in self.__dict__.items() if value}


def check_traffic_distribution(value: str) -> str:
    """The Service's trafficDistribution named by `value` (PreferClose: PreferSameZone), or ClusterError."""
    value = TRAFFIC_DISTRIBUTION_ALIASES.get(value, value)
    if value and value not in TRAFFIC_DISTRIBUTIONS:
        raise ClusterError(f"unknown trafficDistribution {value!r}; one of {', '.join(TRAFFIC_DISTRIBUTIONS)} "
                           "(PreferClose: the older name of PreferSameZone)", field="traffic_distribution")
    return value


@dataclass(frozen=True)
class Where:
    """The target's objects the settings attach to."""

    namespace: str
    service: str
    route: str = ""  # the HTTPRoute (gateway)
    ingress: str = ""  # the Ingress (ingress-nginx)
    run_label: str = ""  # the `lblab.io/run` label of what LB Lab creates

    @classmethod
    def of_target(cls, *, namespace: str, service: str, route: str = "", run_label: str = "") -> Where:
        """A target's objects: its `route` names the HTTPRoute or the Ingress, else both are named as the Service."""
        return cls(namespace=namespace, service=service, route=route or service, ingress=route or service,
                   run_label=run_label)


@dataclass(frozen=True)
class KubernetesBalancer:
    name: str
    label: str
    attribute: str  # the Algorithm field that names its equivalent
    # What it runs until LB Lab sets something (its documented default): where the tuner starts.
    default_algorithm: str = "round_robin"

    def check_algorithm(self, algorithm: str, options: Mapping | None = None,
                        balancer_options: BalancerOptions | None = None) -> None:
        """ClusterError(field=...) when this balancer cannot run `algorithm` with `options` and the
        target's `balancer_options` (a slow start goes with some algorithms only)."""
        if (options or {}).get("weights"):
            raise ClusterError(f"per-pod weights are not a setting of {self.label}", field="weights")
        value = self.equivalent(algorithm)
        if (balancer_options or BalancerOptions()).slow_start_s and value not in self.slow_start_with:
            with_ = ", ".join(name for name, entry in ALGORITHMS.items()
                              if getattr(entry, self.attribute) in self.slow_start_with)
            raise ClusterError(f"{self.label} ramps new pods up (slow start) with {with_} only, not {algorithm}",
                               field="slow_start_s")

    def equivalent(self, algorithm: str) -> str:
        """The algorithm's equivalent here, or ClusterError naming the ones this balancer has."""
        entry = algorithm_named(algorithm)
        value = getattr(entry, self.attribute)
        if value is None:
            has = ", ".join(name for name, other in ALGORITHMS.items() if getattr(other, self.attribute) is not None)
            raise ClusterError(f"{self.label} has no {algorithm}; it has {has}", field="algorithm")
        return value

    # A balancer set through a custom object: its kind (a key of `KubeApi`'s BALANCER_OBJECTS) and
    # where in it the setting LB Lab changes lives.
    object_kind: ClassVar[str] = ""
    setting_at: ClassVar[tuple[str, ...]] = ()

    def sets(self, obj: dict, where: Where) -> bool:
        """Whether an existing custom object of `object_kind` sets the target's balancer."""
        return False

    # The BalancerOptions this balancer has, each with why the others are not its settings.
    takes: ClassVar[frozenset[str]] = frozenset()

    def check_options(self, options: BalancerOptions) -> None:
        """ClusterError(field=...) for an option given that this balancer does not have."""
        for name in options.given():
            if name not in self.takes:
                raise ClusterError(OPTION_ELSEWHERE[name].format(label=self.label), field=name)
        check_traffic_distribution(options.traffic_distribution)
        check_number(options.slow_start_s, "slow_start_s", minimum=0, maximum=MAX_SLOW_START_S)

    def options_change(self, options: BalancerOptions, where: Where) -> Change | None:
        """What a run writes at its start for the options (None: nothing to write)."""
        return None

    def running(self, setting) -> tuple[str, dict]:
        """The registry's algorithm (and options) the balancer runs with `setting` (its custom
        object's value at `setting_at`, or the patched object's values `values_under` the change;
        None: nothing set, its documented default)."""
        return self.default_algorithm, {}

    # The algorithms' equivalents here that take a slow start (empty: the balancer has none).
    slow_start_with: ClassVar[tuple[str, ...]] = ()

    def change(self, algorithm: str, options: Mapping | None, where: Where,
               balancer_options: BalancerOptions | None = None) -> Change:
        options = dict(options or {})
        self.check_algorithm(algorithm, options, balancer_options)
        value = self.equivalent(algorithm)
        slow_start = (balancer_options or BalancerOptions()).slow_start_s
        change = self._change(value, options, where)
        if slow_start and change.create is not None:
            change.value.update(self._slow_start(slow_start))
        return change

    def _slow_start(self, seconds: float) -> dict:  # pragma: no cover - only where slow_start_with says
        raise NotImplementedError

    def _change(self, value: str, options: dict, where: Where) -> Change:  # pragma: no cover - abstract
        raise NotImplementedError

    # Why this balancer's own metrics cannot say which pod served a request ("" when they can).
    attribution_missing = "it has no per-pod request metric"

    def attribution_query(self, where: Where) -> str:
        """The PromQL giving each pod's requests served so far from this balancer's own metrics, as
        a vector with a `pod` label (what Prometheus attribution reads), or ClusterError why not."""
        raise ClusterError(f"{self.label} cannot attribute requests to pods through Prometheus: "
                           f"{self.attribution_missing}; give a query or use the X-Pod header",
                           field="prometheus_query")

    @staticmethod
    def metadata(name: str, where: Where) -> dict:
        labels = dict(MANAGED_BY)
        if where.run_label:
            labels["lblab.io/run"] = where.run_label
        return {"name": name, "namespace": where.namespace, "labels": labels}


def go_duration(seconds: float) -> str:
    """Seconds as the duration string both CRDs take: 30 -> "30s", 2.5 -> "2500ms". Whole
    milliseconds, unlike Chaos Mesh's (cluster.go_duration_ms): Gateway API's Duration admits
    integers only (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)."""
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{round(seconds * 1000)}ms"


def value_at(obj, at: tuple[str, ...]):
    """The value at the path `at` of nested dicts (None where the path ends early)."""
    for key in at:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def nested(at: tuple[str, ...], value) -> dict:
    """`value` at the path `at` of new nested dicts."""
    for key in reversed(at):
        value = {key: value}
    return value


def _registry(attribute: str, value, default: str) -> str:
    """The first algorithm of the registry whose equivalent on a balancer (`attribute`) is `value`
    (`default` when none is: a setting LB Lab has no name for, read as the balancer's default)."""
    return next((name for name, entry in ALGORITHMS.items() if getattr(entry, attribute) == value), default)


def _hosts(where: Where) -> set[str]:
    """The names a DestinationRule's `host` may give the target's Service by."""
    return {where.service, f"{where.service}.{where.namespace}", f"{where.service}.{where.namespace}.svc",
            f"{where.service}.{where.namespace}.svc.cluster.local"}


class EnvoyGateway(KubernetesBalancer):
    object_kind = "BackendTrafficPolicy"
    setting_at = ("spec", "loadBalancer")
    takes = frozenset({"slow_start_s"})
    slow_start_with = ("RoundRobin", "LeastRequest")  # its CEL rule: not with Random or ConsistentHash

    def _slow_start(self, seconds):
        return {"slowStart": {"window": go_duration(seconds)}}

    def sets(self, obj, where):
        spec = obj.get("spec") or {}
        refs = [*(spec.get("targetRefs") or ()), *([spec["targetRef"]] if spec.get("targetRef") else [])]
        return any(ref.get("kind") == "HTTPRoute" and ref.get("name") == where.route for ref in refs)

    def running(self, setting):
        if not setting or not setting.get("type"):
            return self.default_algorithm, {}
        header = ((setting.get("consistentHash") or {}).get("header") or {}).get("name")
        return _registry(self.attribute, setting["type"], self.default_algorithm), {"header": header} if header else {}
    def attribution_query(self, where):
        # Envoy's per-endpoint stats (EnvoyProxy `telemetry.metrics.enablePerEndpointStats: true`)
        # count requests by the endpoint's address, in the cluster Envoy Gateway names after the
        # HTTPRoute's rule; kube-state-metrics' kube_pod_info turns the pod IP into the pod's name.
        return (f'sum by (pod) (label_replace(sum by (envoy_endpoint_address) (envoy_cluster_endpoint_rq_total'
                f'{{envoy_cluster_name=~"httproute/{where.namespace}/{where.route}/rule/.*"}}), "pod_ip", "$1", '
                f'"envoy_endpoint_address", "(.+):[0-9]+") * on (pod_ip) group_left (pod) max by (pod_ip, pod) '
                f'(kube_pod_info{{namespace="{where.namespace}"}}))')

    def _change(self, value, options, where):
        if not where.route:
            raise ClusterError("Envoy Gateway's policy attaches to the target's HTTPRoute: name it", field="service")
        balancer: dict = {"type": value}
        if value == "ConsistentHash":
            header = options.get("header")
            balancer["consistentHash"] = {"type": "Header", "header": {"name": header}} if header else {"type": "SourceIP"}
        return Change(create={
            "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "BackendTrafficPolicy",
            "metadata": self.metadata(f"lblab-{where.route}", where),
            "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": where.route}],
                     "loadBalancer": balancer}}, at=self.setting_at)


class Istio(KubernetesBalancer):
    object_kind = "DestinationRule"
    setting_at = ("spec", "trafficPolicy", "loadBalancer")
    takes = frozenset({"slow_start_s"})
    slow_start_with = ("ROUND_ROBIN", "LEAST_REQUEST")  # warmup: with these simple policies only

    def _slow_start(self, seconds):
        return {"warmupDurationSecs": go_duration(seconds)}

    def sets(self, obj, where):
        return (obj.get("spec") or {}).get("host") in _hosts(where)

    def running(self, setting):
        if not setting:
            return self.default_algorithm, {}
        if "consistentHash" in setting:
            header = (setting["consistentHash"] or {}).get("httpHeaderName")
            return "consistent_hash", {"header": header} if header else {}
        simple = {"LEAST_CONN": "LEAST_REQUEST"}.get(setting.get("simple"), setting.get("simple"))  # deprecated alias
        return _registry(self.attribute, simple, self.default_algorithm), {}
    def attribution_query(self, where):
        # The destination pod's sidecar reports each request it served (reporter="destination");
        # Prometheus' pod scrape (Istio's documented kubernetes-pods job) labels it with that `pod`.
        return (f'sum by (pod) (istio_requests_total{{reporter="destination", '
                f'destination_service_namespace="{where.namespace}", destination_service_name="{where.service}"}})')

    def _change(self, value, options, where):
        if value == "consistentHash":
            header = options.get("header")
            balancer = {"consistentHash": {"httpHeaderName": header} if header else {"useSourceIp": True}}
        else:
            balancer = {"simple": value}
        return Change(create={
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": self.metadata(f"lblab-{where.service}", where),
            "spec": {"host": f"{where.service}.{where.namespace}.svc.cluster.local",
                     "trafficPolicy": {"loadBalancer": balancer}}}, at=self.setting_at)


INGRESS_NGINX_ANNOTATION = "nginx.ingress.kubernetes.io/"


class IngressNginx(KubernetesBalancer):
    attribution_missing = "its request metrics are labelled by Ingress and Service, not by the pod (endpoint) served"

    def running(self, setting):
        annotations = ((setting or {}).get("metadata") or {}).get("annotations") or {}
        key = annotations.get(INGRESS_NGINX_ANNOTATION + "upstream-hash-by")
        if key:
            return "consistent_hash", ({"header": key[len("$http_"):].replace("_", "-")}
                                       if key.startswith("$http_") else {})
        value = annotations.get(INGRESS_NGINX_ANNOTATION + "load-balance")
        return (_registry(self.attribute, value, self.default_algorithm) if value else self.default_algorithm), {}

    def _change(self, value, options, where):
        if not where.ingress:
            raise ClusterError("ingress-nginx is set on the target's Ingress: name it", field="service")
        if value == "upstream-hash-by":
            header = options.get("header")
            key = f"$http_{header.lower().replace('-', '_')}" if header else "$remote_addr"
            annotations = {INGRESS_NGINX_ANNOTATION + "upstream-hash-by": key,
                           INGRESS_NGINX_ANNOTATION + "load-balance": None}
        else:
            annotations = {INGRESS_NGINX_ANNOTATION + "load-balance": value,
                           INGRESS_NGINX_ANNOTATION + "upstream-hash-by": None}
        return Change(kind="Ingress", name=where.ingress, patch={"metadata": {"annotations": annotations}})


class KubeProxy(KubernetesBalancer):
    attribution_missing = "kube-proxy counts no requests (it forwards connections in the kernel)"
    takes = frozenset({"traffic_distribution"})

    def options_change(self, options, where):
        value = check_traffic_distribution(options.traffic_distribution)
        if not value:
            return None
        return Change(kind="Service", name=where.service, patch={"spec": {"trafficDistribution": value}})

    def running(self, setting):
        affinity = ((setting or {}).get("spec") or {}).get("sessionAffinity")
        return ("consistent_hash" if affinity == "ClientIP" else self.default_algorithm), {}

    def _change(self, value, options, where):
        if value == "sessionAffinity":
            if options.get("header"):
                raise ClusterError("kube-proxy cannot read a request header: it keeps a client on one pod by its "
                                   "address (sessionAffinity ClientIP); leave the header out", field="algorithm")
            affinity = "ClientIP"
        else:
            if options.get("pick") not in (None, "random"):
                raise ClusterError("kube-proxy's pick is its mode, a cluster setting (iptables: random, IPVS: "
                                   "round robin), not a Service's", field="algorithm")
            affinity = "None"
        return Change(kind="Service", name=where.service, patch={"spec": {"sessionAffinity": affinity}})


# Why an option is not a setting of a balancer that lacks it ({label}: the balancer's).
OPTION_ELSEWHERE = {
    "traffic_distribution": "trafficDistribution is the Service's setting for kube-proxy (balancer none); "
                            "{label} picks the pods itself, so it has no say there",
    "slow_start_s": "{label} has no slow start LB Lab can set: Envoy Gateway's (slowStart) and Istio's "
                    "(warmupDurationSecs) only",
}

KUBERNETES_BALANCERS: dict[str, KubernetesBalancer] = {balancer.name: balancer for balancer in (
    # Envoy's and Istio's default is LeastRequest (two random picks, the fewer requests in flight).
    EnvoyGateway("gateway", "Envoy Gateway", "envoy_gateway", default_algorithm="least_conn"),
    Istio("istio", "Istio", "istio", default_algorithm="least_conn"),
    IngressNginx("ingress-nginx", "ingress-nginx", "ingress_nginx", default_algorithm="round_robin"),
    # kube-proxy picks a pod per connection (iptables: at random), not per request.
    KubeProxy("none", "kube-proxy", "kube_proxy", default_algorithm="l4_connection"),
)}
DEFAULT_KUBERNETES_BALANCER = "none"


def kubernetes_balancer(name) -> KubernetesBalancer:
    if name not in KUBERNETES_BALANCERS:
        raise ClusterError(f"unknown balancer {name!r}; one of {', '.join(KUBERNETES_BALANCERS)}", field="balancer")
    return KUBERNETES_BALANCERS[name]
