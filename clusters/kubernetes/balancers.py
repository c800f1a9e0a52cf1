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
  hash on the source). Nothing else is a Service setting.

Per-pod weights are a setting of none of them (they weigh endpoints, not pods LB Lab names), so
weights are refused everywhere with that reason. Every refusal is a `ClusterError(field=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clusters.algorithms import ALGORITHMS, algorithm_named
from clusters.base import ClusterError

MANAGED_BY = {"app.kubernetes.io/managed-by": "lblab"}


@dataclass(frozen=True)
class Change:
    """What setting an algorithm changes: an object LB Lab creates (and deletes on restore), or a
    merge patch of an existing object (`kind`, `name`), undone from the values it replaced, which
    the adapter keeps on the object (`KubeApi.patch_balancer_setting`)."""

    create: dict | None = None
    kind: str = ""
    name: str = ""
    patch: dict = field(default_factory=dict)


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

    def check_algorithm(self, algorithm: str, options: Mapping | None = None) -> None:
        """ClusterError(field=...) when this balancer cannot run `algorithm` with `options`."""
        if (options or {}).get("weights"):
            raise ClusterError(f"per-pod weights are not a setting of {self.label}", field="weights")
        self.equivalent(algorithm)

    def equivalent(self, algorithm: str) -> str:
        """The algorithm's equivalent here, or ClusterError naming the ones this balancer has."""
        entry = algorithm_named(algorithm)
        value = getattr(entry, self.attribute)
        if value is None:
            has = ", ".join(name for name, other in ALGORITHMS.items() if getattr(other, self.attribute) is not None)
            raise ClusterError(f"{self.label} has no {algorithm}; it has {has}", field="algorithm")
        return value

    def change(self, algorithm: str, options: Mapping | None, where: Where) -> Change:
        options = dict(options or {})
        self.check_algorithm(algorithm, options)
        return self._change(self.equivalent(algorithm), options, where)

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


class EnvoyGateway(KubernetesBalancer):
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
                     "loadBalancer": balancer}})


class Istio(KubernetesBalancer):
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
                     "trafficPolicy": {"loadBalancer": balancer}}})


INGRESS_NGINX_ANNOTATION = "nginx.ingress.kubernetes.io/"


class IngressNginx(KubernetesBalancer):
    attribution_missing = "its request metrics are labelled by Ingress and Service, not by the pod (endpoint) served"

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
