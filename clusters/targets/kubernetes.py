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
    fields = ("context", "namespace", "service", "label_selector", "base_url", "kubernetes_balancer", "route",
              "traffic_distribution", "slow_start_s")
    required = {"namespace": "A Kubernetes target needs a namespace.",
                "service": "A Kubernetes target needs a service or ingress name.",
                "base_url": "A Kubernetes target needs the URL load goes to: its Service, Ingress or Gateway address."}

    def check_spec(self, spec: TargetSpec) -> None:
        # the balancer's options: each one a setting of this balancer, before anything is created
        from clusters.kubernetes.balancers import kubernetes_balancer

        if spec.kubernetes_balancer:
            kubernetes_balancer(spec.kubernetes_balancer).check_options(_balancer_options(spec))

    def describe(self, spec: TargetSpec) -> str:
        return f"{spec.namespace}/{spec.service}"[:100]

    def check_allowed(self, spec: TargetSpec, allowed: Allowed) -> None:
        if spec.namespace not in allowed.namespaces:
            raise ClusterError(f"namespace {spec.namespace!r} is not allow-listed (LBLAB_ALLOWED_NAMESPACES)",
                               field="namespace")
        check_url_allowed(spec.base_url, allowed.hosts, field="base_url")  # where the load goes

    def dry_run(self, spec: TargetSpec, *, steps=(), algorithms=()) -> str:
        from clusters.kubernetes.dry_run import dry_run

        return dry_run(_api(spec), endpoint_url=spec.base_url, steps=steps, algorithms=algorithms,
                       balancer=spec.kubernetes_balancer, service=spec.service, route=spec.route,
                       balancer_options=_balancer_options(spec))

    def prometheus_query(self, spec: TargetSpec) -> str:
        """The balancer's own per-pod request metric, written out (clusters/kubernetes/balancers.py)."""
        from clusters.kubernetes.balancers import Where, kubernetes_balancer

        return kubernetes_balancer(spec.kubernetes_balancer).attribution_query(
            Where.of_target(namespace=spec.namespace, service=spec.service, route=spec.route))

    def balancer(self, spec: TargetSpec) -> str:
        return spec.kubernetes_balancer

    def balancer_options(self, spec: TargetSpec) -> dict:
        return _balancer_options(spec).given()

    def algorithm(self, spec: TargetSpec) -> str:
        """What the target's balancer runs until LB Lab sets something: its documented default
        (kube-proxy alone: a pick per connection), where the tuner starts."""
        from clusters.kubernetes.balancers import kubernetes_balancer

        return kubernetes_balancer(spec.kubernetes_balancer).default_algorithm

    def running_algorithm(self, spec: TargetSpec, cluster) -> tuple[str | None, dict]:
        """What the target's balancer is set to now, read from the cluster (a DestinationRule or
        BackendTrafficPolicy there, the Ingress's annotations, the Service's affinity), not its
        default: the tuner starts there, and its rollback to it puts back exactly what was there."""
        if cluster is None:
            return self.algorithm(spec), {}
        return cluster.running_algorithm()

    def queue_key(self, spec: TargetSpec) -> str | None:
        return f"kubernetes {spec.context}/{spec.namespace}/{spec.service}"

    def chaos_problem(self, fault) -> str:
        from clusters.kubernetes.cluster import FAULTS, REFUSED  # the client loads only for Kubernetes targets

        if not fault.injects or fault.name in FAULTS:
            return ""
        why = REFUSED.get(fault.name) or f"{fault.name} does not run on a Kubernetes target"
        return f"{why}; these run on Kubernetes: {', '.join(sorted(FAULTS))} (and external)"

    def check_cluster(self, spec: TargetSpec) -> None:
        # The kubeconfig context and the selector, before any load: reads only. With a slow start,
        # the balancer's setting now must take one (round robin or least request).
        _api(spec).require_pods()
        if spec.slow_start_s:
            cluster = self._connect(spec, require_pods=False, run_id=None)
            try:
                cluster.check_balancer_options()
            finally:
                cluster.close()

    def cluster_chaos_problem(self, spec: TargetSpec, faults) -> str:
        # Chaos Mesh's faults need its API group on the cluster: asked of the API server (discovery
        # only, nothing changed) before the run, so a step it cannot run is refused with the reason
        # (a partition runs without it: a deny-all-ingress NetworkPolicy).
        from clusters.kubernetes.api import CHAOS_MESH
        from clusters.kubernetes.cluster import CHAOS_MESH_MISSING, NEEDS_CHAOS_MESH

        needing = sorted({fault.name for fault in faults} & NEEDS_CHAOS_MESH)
        if not needing:
            return ""
        try:
            serves = _api(spec).serves(*CHAOS_MESH)
        except ClusterError as error:
            return f"{', '.join(needing)} on a Kubernetes target: {error}"
        return "" if serves else f"{', '.join(needing)} on a Kubernetes target {CHAOS_MESH_MISSING}"

    def open(self, spec: TargetSpec, *, run_id: int | None = None) -> Cluster:
        return self._connect(spec, require_pods=True, run_id=run_id)

    def reopen(self, spec: TargetSpec, *, run_id: int | None = None) -> Cluster:
        # The reaper's adapter: it only restores (deletes the run's Chaos Mesh objects, uncordons
        # what LB Lab cordoned), pods or not.
        return self._connect(spec, require_pods=False, run_id=run_id)

    @staticmethod
    def _connect(spec: TargetSpec, *, require_pods: bool, run_id: int | None) -> Cluster:
        from clusters.kubernetes.cluster import KubernetesCluster

        cluster = KubernetesCluster(_api(spec), endpoint_url=spec.base_url, require_pods=require_pods,
                                    run_id=run_id, balancer=spec.kubernetes_balancer, service=spec.service,
                                    route=spec.route, balancer_options=_balancer_options(spec))
        if require_pods:  # a run starts: its balancer options written (restore() puts back what was there)
            try:
                cluster.apply_balancer_options()
            except Exception:
                cluster.close()
                raise
        return cluster


def _balancer_options(spec: TargetSpec):
    from clusters.kubernetes.balancers import BalancerOptions

    return BalancerOptions(traffic_distribution=spec.traffic_distribution, slow_start_s=spec.slow_start_s)


def _api(spec: TargetSpec):
    """The API calls on the target's pods, through its kubeconfig context (the client loads only here)."""
    from clusters.kubernetes.api import KubeApi

    return KubeApi.from_kubeconfig(namespace=spec.namespace, selector=spec.label_selector,
                                   context=spec.context or None)
