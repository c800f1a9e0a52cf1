"""The sandbox: pods and a balancer LB Lab starts on this machine for the run (clusters/sandbox)."""

from __future__ import annotations

from clusters.base import Cluster
from clusters.sandbox import SandboxCluster, SandboxConfig, ServiceTime
from clusters.sandbox.backends import DEFAULT_BACKEND
from clusters.sandbox.config import DEFAULT_RETRIES, validate_algorithm, validate_balancer
from clusters.sandbox.stateful import check_stateful
from clusters.targets import Allowed, TargetKind, TargetSpec, register


@register
class Sandbox(TargetKind):
    name = "sandbox"
    label = "Sandbox cluster"
    help = ("Local pod processes behind LB Lab's balancer (or real nginx or HAProxy), started for the run and "
            "stopped after it.")
    fields = ("pods", "nodes", "balancer", "algorithm", "service_time_ms", "retries", "stateful", "durability")

    def describe(self, spec: TargetSpec) -> str:
        behind = "" if spec.balancer == DEFAULT_BACKEND else f" behind {spec.balancer}"
        retries = f" retries {spec.retries}" if spec.retries != DEFAULT_RETRIES else ""
        stateful = f" stateful {spec.stateful} {spec.durability}" if spec.stateful else ""
        return f"sandbox {spec.pods} pods {spec.algorithm}{behind}{retries}{stateful}"

    def check_spec(self, spec: TargetSpec) -> None:
        """The balancer has an equivalent of the algorithm: ClusterError(field="algorithm") if not;
        the stateful store is one this build runs, in a known mode, with its servers installed."""
        validate_balancer(spec.balancer)
        validate_algorithm(spec.algorithm, {}, balancer=spec.balancer)
        check_stateful(spec.stateful, spec.durability, binaries=True)

    def check_allowed(self, spec: TargetSpec, allowed: Allowed) -> None:
        """Always allowed: the sandbox listens on loopback and lives only as long as the run."""

    def open(self, spec: TargetSpec, *, run_id: int | None = None) -> Cluster:
        options = {"weights": dict(spec.weights)} if spec.weights else {}
        return SandboxCluster(SandboxConfig(
            pods=spec.pods, nodes=spec.nodes, balancer=spec.balancer, algorithm=spec.algorithm,
            algorithm_options=options,
            service_time=ServiceTime(distribution="exponential", mean_ms=spec.service_time_ms),
            retries=spec.retries, stateful=spec.stateful, durability=spec.durability,
        ))

    def planned_layout(self, spec: TargetSpec):
        """Pods are `pod-<slot>-<suffix>` (the suffix drawn at start), on nodes `node-0`... in turn."""
        return tuple(f"pod-{slot}" for slot in range(spec.pods)), tuple(f"node-{i}" for i in range(spec.nodes))

    def reopen(self, spec: TargetSpec, *, run_id: int | None = None) -> None:
        """None: the sandbox's processes die with the process that started them (a parent-death
        signal), faults and all, so a run whose worker died left nothing applied."""
        return None

    def started_pods(self, spec: TargetSpec) -> int:
        return spec.pods

    def dry_run(self, spec: TargetSpec, *, steps=(), algorithms=()) -> str:
        return (f"# LB Lab dry run: a sandbox of {spec.pods} pods on {spec.nodes} nodes behind {spec.balancer}, "
                "on this machine's loopback, started for the run and stopped after it (its faults and balancer "
                "settings with it); nothing outside this machine is created or changed.\n")

    def balancer(self, spec: TargetSpec) -> str:
        return spec.balancer

    def algorithm(self, spec: TargetSpec) -> str:
        return spec.algorithm

    def pod_slot(self, pod: str) -> str:
        """Sandbox pods are named `pod-<slot>-<suffix>` (a new suffix when a pod is replaced);
        weights name the slot."""
        return pod.rsplit("-", 1)[0]
