"""A Service (or Ingress) in a Kubernetes cluster, reached through a kubeconfig context."""

from __future__ import annotations

from clusters.base import Cluster, ClusterError
from clusters.targets import Allowed, TargetKind, TargetSpec, register


@register
class Kubernetes(TargetKind):
    name = "kubernetes"
    label = "Kubernetes service"
    help = "Pods selected by labels in an allow-listed namespace, through a kubeconfig context."
    fields = ("context", "namespace", "service", "label_selector")
    required = {"namespace": "A Kubernetes target needs a namespace.",
                "service": "A Kubernetes target needs a service or ingress name."}

    chaos_missing = "fault injection into Kubernetes targets comes with the Kubernetes adapter, not in this build"

    def describe(self, spec: TargetSpec) -> str:
        return f"{spec.namespace}/{spec.service}"[:100]

    def check_allowed(self, spec: TargetSpec, allowed: Allowed) -> None:
        if spec.namespace not in allowed.namespaces:
            raise ClusterError(f"namespace {spec.namespace!r} is not allow-listed (LBLAB_ALLOWED_NAMESPACES)",
                               field="namespace")

    def queue_key(self, spec: TargetSpec) -> str | None:
        return f"kubernetes {spec.context}/{spec.namespace}/{spec.service}"

    def open(self, spec: TargetSpec) -> Cluster:
        raise ClusterError("Kubernetes targets need the Kubernetes adapter, which this build does not include yet",
                           field="kind")
