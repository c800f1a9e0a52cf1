"""`KubernetesCluster`: the `Cluster` of a Kubernetes target (ARCHITECTURE.md s5), on `KubeApi`.

The load goes to the address the user gives (a Service, Ingress or Gateway URL); LB Lab watches
the pods the label selector picks and acts on them through the API: a pod kill is a delete
(grace period 0 by default, as Chaos Mesh's pod-kill), a node drain is `kubectl drain`'s cordon
and evictions (a PodDisruptionBudget's refusal is logged, not forced), a scale goes through the
Deployment's scale subresource. `restore()` uncordons every node LB Lab cordoned.

The cluster's event log (`events`, the types of `clusters.base.EventType`) is what the recovery
analysis reads for healing: a poller lists the pods every `POLL_S` and logs what changed, a pod
that appears after one went away `replaces` it (what its ReplicaSet did), and LB Lab's own
deletions are logged as kills when it makes them. Times are the wall clock of the poll that saw
the change, so they are `POLL_S` coarse.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence

from clusters.base import Cluster, ClusterError, ClusterEvent, EventType, Fault, Pod, PodMetrics
from clusters.kubernetes.api import KubeApi

log = logging.getLogger(__name__)

POLL_S = 0.1
KILL_GRACE_S = 0  # Chaos Mesh's pod-kill default: the pod dies at once, as the sandbox's kill
DRAIN_GRACE_S = 30  # Kubernetes' default terminationGracePeriodSeconds
CHAOS_MESH_SLICE = "needs Chaos Mesh resources, which the Kubernetes adapter does not create yet"
# The fault kinds this adapter applies itself (their Cluster methods below); the others are refused
# before a run (clusters/targets/kubernetes.py) until it drives Chaos Mesh.
FAULTS = frozenset({"pod_kill", "node_drain"})


class EventLog:
    """The cluster's events, numbered from 1 without gaps."""

    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[ClusterEvent] = []

    def record(self, type_: EventType, *, t: float | None = None, pod: str | None = None,
               node: str | None = None, **details) -> None:
        with self.lock:
            self.items.append(ClusterEvent(seq=len(self.items) + 1, t=time.time() if t is None else t,
                                           type=str(type_), pod=pod, node=node, details=details))

    def since(self, seq: int) -> list[ClusterEvent]:
        with self.lock:
            return list(self.items[max(0, seq):])


class PodWatcher:
    """Lists the pods every `POLL_S` and logs what changed since the last listing."""

    def __init__(self, api: KubeApi, events: EventLog):
        self.api, self.events = api, events
        self.known: dict[str, Pod] = {pod.name: pod for pod in api.pods()}
        self.gone: deque[str] = deque()  # pods that went away, oldest first: what new pods replace
        self.killed: set[str] = set()  # deleted by LB Lab: already logged as killed
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kubernetes-pod-watcher", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.wait(POLL_S):
            try:
                self.poll()
            except Exception as error:  # noqa: BLE001 - an API hiccup must not end the run
                log.warning("listing pods failed: %s", error)

    def poll(self) -> None:
        now = time.time()
        pods = {pod.name: pod for pod in self.api.pods()}
        for name, pod in self.known.items():
            if name not in pods:
                if name not in self.killed:
                    self.events.record(EventType.POD_EXITED, t=now, pod=name, node=pod.node, expected=False)
                self.gone.append(name)
        for name, pod in pods.items():
            before = self.known.get(name)
            if before is None:
                replaces = self.gone.popleft() if self.gone else None
                self.events.record(EventType.POD_STARTED, t=now, pod=name, node=pod.node, replaces=replaces,
                                   reason="replaced" if replaces else "scheduled")
                if pod.ready:
                    self.events.record(EventType.POD_READY, t=now, pod=name, first=True)
            elif pod.ready and not before.ready:
                self.events.record(EventType.POD_READY, t=now, pod=name, first=False)
            elif before.ready and not pod.ready:
                self.events.record(EventType.POD_NOT_READY, t=now, pod=name, reason="readiness")
        self.known = pods

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)


class KubernetesCluster(Cluster):
    """The pods `api` selects, reached for load at `endpoint_url`."""

    def __init__(self, api: KubeApi, *, endpoint_url: str, deployment: str = "", require_pods: bool = True):
        self.api, self._endpoint, self.deployment = api, endpoint_url.rstrip("/"), deployment
        self.log = EventLog()
        self.cordoned: set[str] = set()  # this process's cordons (the API's annotation is the record)
        if require_pods and not api.pods():
            raise ClusterError(f"the selector {api.selector!r} picks no pod in namespace {api.namespace!r}",
                               field="label_selector")
        self.watcher = PodWatcher(api, self.log)

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def pods(self) -> list[Pod]:
        return self.api.pods()

    def nodes(self) -> list[str]:
        return self.api.nodes()

    def pod_metrics(self) -> dict[str, PodMetrics]:
        # Readiness only: CPU and memory from metrics.k8s.io are the adapter's next slice.
        return {pod.name: PodMetrics(pod=pod.name, ready=pod.ready) for pod in self.api.pods()}

    def events(self, since: int = 0) -> list[ClusterEvent]:
        return self.log.since(since)

    # ------------------------------------------------------------ faults LB Lab makes itself

    def kill_pod(self, pod: str) -> None:
        node = next((known.node for known in self.api.pods() if known.name == pod), None)
        if node is None:
            raise ClusterError(f"unknown pod {pod!r}", field="target")
        self.watcher.killed.add(pod)
        self.log.record(EventType.POD_KILLED, pod=pod, node=node)
        self.api.delete_pod(pod, grace_period_s=KILL_GRACE_S)

    def drain(self, node: str) -> None:
        self.cordoned.add(node)
        self.log.record(EventType.NODE_CORDONED, node=node)
        result = self.api.drain(node, grace_period_s=DRAIN_GRACE_S)
        for pod in result.evicted:
            self.log.record(EventType.POD_STOPPING, pod=pod, node=node, reason="drain")
        self.log.record(EventType.NODE_DRAINED, node=node, moved=list(result.evicted), refused=result.refused)

    def uncordon(self, node: str) -> None:
        self.api.uncordon(node)
        self.cordoned.discard(node)
        self.log.record(EventType.NODE_UNCORDONED, node=node)

    def scale(self, replicas: int) -> None:
        if not self.deployment:
            raise ClusterError("scaling needs the target's Deployment name", field="service")
        previous = self.api.replicas(self.deployment)
        self.api.scale(self.deployment, replicas)
        self.log.record(EventType.SCALED, replicas=replicas, previous=previous)

    # ------------------------------------------------------------ faults through Chaos Mesh (next slice)

    def add_latency(self, pods: Sequence[str], ms: float, jitter: float = 0.0, duration: float = 30.0) -> Fault:
        raise ClusterError(f"latency {CHAOS_MESH_SLICE}", field="kind")

    def add_errors(self, pods: Sequence[str], rate: float, status: int = 500, duration: float = 30.0) -> Fault:
        raise ClusterError(f"errors {CHAOS_MESH_SLICE}", field="kind")

    def partition(self, pods: Sequence[str], duration: float = 30.0) -> Fault:
        raise ClusterError(f"partition {CHAOS_MESH_SLICE}", field="kind")

    def stress_cpu(self, pods: Sequence[str], workers: int = 1, duration: float = 30.0) -> Fault:
        raise ClusterError(f"cpu_stress {CHAOS_MESH_SLICE}", field="kind")

    def set_not_ready(self, pods: Sequence[str], duration: float = 30.0) -> Fault:
        # A pod's readiness probe is its own container's: no API call fails it from outside.
        raise ClusterError("not_ready has no Kubernetes equivalent LB Lab can apply from outside the pod; "
                           "use partition or pod_kill", field="kind")

    def set_algorithm(self, name: str, options: dict | None = None) -> None:
        raise ClusterError("balancer settings on Kubernetes (Gateway API, Istio, ingress-nginx) are not in this "
                           "build yet", field="algorithm")

    # ------------------------------------------------------------ life

    def restore(self) -> None:
        # Every node LB Lab cordoned, this process or one that died (the annotation says so).
        for node in sorted(set(self.cordoned) | set(self.api.cordoned_by_lblab())):
            self.uncordon(node)

    def close(self) -> None:
        self.watcher.stop()
