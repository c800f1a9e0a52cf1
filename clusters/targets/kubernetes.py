"""Pods of a Kubernetes namespace picked by a label selector, reached through a kubeconfig context
(or the in-cluster service account), and loaded at the address the user gives: their Service,
Ingress or Gateway URL (clusters/kubernetes)."""

from __future__ import annotations

from clusters.allowlist import check_url_allowed
from clusters.base import Cluster, ClusterError
from clusters.targets import Allowed, TargetKind, TargetSpec, register


@register
class Kubernetes(TargetKind):
    name = "kubernetes"
    label = "Kubernetes service"
    help = "Pods selected by labels in an allow-listed namespace, through a kubeconfig context, loaded at a URL."
    fields = ("context", "namespace", "service", "label_selector", "base_url")
    required = {"namespace": "A Kubernetes target needs a namespace.",
                "service": "A Kubernetes target needs a service or ingress name.",
                "base_url": "A Kubernetes target needs the URL load goes to: its Service, Ingress or Gateway address."}
    pod_usage_missing = "CPU and memory of Kubernetes pods (metrics.k8s.io) are not read in this build."

    def describe(self, spec: TargetSpec) -> str:
        return f"{spec.namespace}/{spec.service}"[:100]

    def check_allowed(self, spec: TargetSpec, allowed: Allowed) -> None:
        if spec.namespace not in allowed.namespaces:
            raise ClusterError(f"namespace {spec.namespace!r} is not allow-listed (LBLAB_ALLOWED_NAMESPACES)",
                               field="namespace")
        check_url_allowed(spec.base_url, allowed.hosts, field="base_url")  # where the load goes

    def queue_key(self, spec: TargetSpec) -> str | None:
        return f"kubernetes {spec.context}/{spec.namespace}/{spec.service}"

    def chaos_problem(self, fault) -> str:
        from clusters.kubernetes.cluster import FAULTS  # the client loads only for Kubernetes targets

        if not fault.injects or fault.name in FAULTS:
            return ""
        return (f"{fault.name} on a Kubernetes target needs Chaos Mesh, which this build does not drive yet; "
                f"these run on Kubernetes: {', '.join(sorted(FAULTS))} (and external)")

    def open(self, spec: TargetSpec) -> Cluster:
        return self._connect(spec, require_pods=True)

    def reopen(self, spec: TargetSpec) -> Cluster:
        # The reaper's adapter: it only restores (uncordons what LB Lab cordoned), pods or not.
        return self._connect(spec, require_pods=False)

    @staticmethod
    def _connect(spec: TargetSpec, *, require_pods: bool) -> Cluster:
        from clusters.kubernetes.api import KubeApi
        from clusters.kubernetes.cluster import KubernetesCluster

        api = KubeApi.from_kubeconfig(namespace=spec.namespace, selector=spec.label_selector,
                                      context=spec.context or None)
        return KubernetesCluster(api, endpoint_url=spec.base_url, require_pods=require_pods)
