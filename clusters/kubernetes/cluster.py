"""`KubernetesCluster`: the `Cluster` of a Kubernetes target (ARCHITECTURE.md s5), on `KubeApi`.

The load goes to the address the user gives (a Service, Ingress or Gateway URL); LB Lab watches
the pods the label selector picks and acts on them through the API: a pod kill is a delete
(grace period 0 by default, as Chaos Mesh's pod-kill), a node drain is `kubectl drain`'s cordon
and evictions (a PodDisruptionBudget's refusal is logged, not forced), a scale goes through the
Deployment's scale subresource. Latency, partition and CPU stress are Chaos Mesh objects
(NetworkChaos delay, NetworkChaos 100 % loss, StressChaos) on the named pods, with their own
`duration` so Chaos Mesh ends them itself, labelled `app.kubernetes.io/managed-by: lblab` and
`lblab.io/run: <run id>`; without Chaos Mesh, a partition is a deny-all-ingress NetworkPolicy
on the pods (labelled so), which LB Lab deletes after the duration. `restore()` deletes this
run's objects and uncordons every node LB Lab cordoned. The balancer in front of the pods
(`balancer`: gateway, istio, ingress-nginx, none) is set by `set_algorithm` (the tuner's action):
its custom object created or replaced, or its Service or Ingress patched with the values before
kept on the object; `restore()` deletes the one and puts back the other, so a run leaves the
balancer as it found it.

The cluster's event log (`events`, the types of `clusters.base.EventType`) is what the recovery
analysis reads for healing: a poller lists the pods every `POLL_S` and logs what changed, a pod
that appears after one went away `replaces` it (what its ReplicaSet did), and LB Lab's own
deletions are logged as kills when it makes them. Times are the wall clock of the poll that saw
the change, so they are `POLL_S` coarse. With the target's Deployment named, its replica count is
read every `SCALE_POLL_S` too: a change LB Lab did not make is logged as `scaled` by the
HorizontalPodAutoscaler that targets the Deployment (with its status then: desired replicas and
each metric's current and target value) or, without one agreeing, by someone else (`external`:
kubectl, a GitOps sync), so scale-ups and scale-downs are on the run's timeline.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from clusters.base import Cluster, ClusterError, ClusterEvent, EventType, Fault, Pod, PodMetrics
from clusters.kubernetes.api import (
    BALANCER_OBJECTS,
    CHAOS_MESH,
    MANAGED_BY,
    RUN_LABEL,
    KubeApi,
    replacing,
    values_under,
)
from clusters.kubernetes.balancers import (
    DEFAULT_KUBERNETES_BALANCER,
    BalancerOptions,
    Change,
    Where,
    kubernetes_balancer,
    nested,
    value_at,
)

log = logging.getLogger(__name__)

POLL_S = 0.1
SCALE_POLL_S = 1.0  # the Deployment's replicas and its HPA: the HPA itself decides every 15 s
KILL_GRACE_S = 0  # Chaos Mesh's pod-kill default: the pod dies at once, as the sandbox's kill
DRAIN_GRACE_S = 30  # Kubernetes' default terminationGracePeriodSeconds
# The fault kinds this adapter applies (their Cluster methods below): pod kill and drain through the
# core API, the others through Chaos Mesh's custom resources; the rest are refused before a run
# (clusters/targets/kubernetes.py) with their reason (`REFUSED`).
FAULTS = frozenset({"pod_kill", "node_drain", "latency", "partition", "cpu_stress"})
NEEDS_CHAOS_MESH = frozenset({"latency", "cpu_stress"})  # partition falls back to a NetworkPolicy without it
PARTITION_LABEL = "lblab.io/partition"  # on the pods a fallback NetworkPolicy denies ingress to
CHAOS_PLURALS = {"NetworkChaos": "networkchaos", "StressChaos": "stresschaos"}
CHAOS_MESH_MISSING = (f"needs Chaos Mesh, and the cluster does not serve its API ({'/'.join(CHAOS_MESH)}): "
                      "install Chaos Mesh (https://chaos-mesh.org) or drop the step")
ERRORS_REFUSED = ("errors on a Kubernetes target: Chaos Mesh's HTTPChaos aborts every request it matches, with no "
                  "share of requests, so an error rate (5, 20 or 50 %) has no faithful mapping; use latency or "
                  "partition")
NOT_READY_REFUSED = ("not_ready has no Kubernetes equivalent LB Lab can apply from outside the pod; use partition "
                     "or pod_kill")
REFUSED = {"errors": ERRORS_REFUSED, "not_ready": NOT_READY_REFUSED}


def go_duration_ms(ms: float) -> str:
    """Milliseconds as a Go duration string, which Chaos Mesh parses: 250 -> "250ms", 2.5 -> "2.5ms"."""
    return f"{int(ms)}ms" if float(ms).is_integer() else f"{float(ms):.3f}".rstrip("0") + "ms"


def go_duration_s(seconds: float) -> str:
    """Seconds as a Go duration string: 30 -> "30s", 2.5 -> "2500ms"."""
    return f"{int(seconds)}s" if float(seconds).is_integer() else go_duration_ms(round(seconds * 1000, 3))


def chaos_object(kind: str, *, fault: str, namespace: str, run: str, pods: Sequence[str], duration: float,
                 spec: dict) -> dict:
    """A Chaos Mesh object of `kind` on exactly `pods` of `namespace` (mode all), for `duration`,
    labelled as LB Lab's, of run `run`; its name generated by the API server."""
    return {"apiVersion": "/".join(CHAOS_MESH), "kind": kind,
            "metadata": {"generateName": f"lblab-{fault.replace('_', '-')}-", "namespace": namespace,
                         "labels": {MANAGED_BY: "lblab", RUN_LABEL: run}},
            "spec": {**spec, "mode": "all", "selector": {"namespaces": [namespace], "pods": {namespace: list(pods)}},
                     "duration": go_duration_s(duration)}}


@dataclass(frozen=True)
class Setting:
    """Where a balancer's setting lives and its value now: `kind`/`name` of the object (no name:
    none there yet), the path `at` in it (() for a patched Service or Ingress, whose `value` is
    its values under the patch), and the object itself (None: absent)."""

    kind: str
    name: str
    at: tuple[str, ...]
    value: object
    obj: dict | None
    lblab: bool = False  # LB Lab's own object of this run


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def chaos_ended(obj: dict) -> bool:
    """Whether Chaos Mesh reports the object's experiment over and its pods recovered: desired phase
    Stop and the AllRecovered condition True (what `kubectl describe` shows when its duration ends)."""
    status = obj.get("status") or {}
    conditions = {item.get("type"): item.get("status") for item in status.get("conditions") or ()}
    return (status.get("experiment") or {}).get("desiredPhase") == "Stop" and conditions.get("AllRecovered") == "True"


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
    """Lists the pods every `POLL_S` and logs what changed since the last listing; with a
    Deployment, reads its replicas every `SCALE_POLL_S` and logs who scaled it."""

    def __init__(self, api: KubeApi, events: EventLog, deployment: str = ""):
        self.api, self.events, self.deployment = api, events, deployment
        self.known: dict[str, Pod] = {pod.name: pod for pod in api.pods()}
        self.gone: deque[str] = deque()  # pods that went away, oldest first: what new pods replace
        self.killed: set[str] = set()  # deleted by LB Lab: already logged as killed
        # The Deployment's replicas as last read or set by LB Lab (`scaled_by_lblab`); None: unknown.
        self.replicas: int | None = api.replicas(deployment) if deployment else None
        self.replicas_lock = threading.Lock()
        self.ticks: list = []  # more to poll every SCALE_POLL_S (the Chaos Mesh objects' ends)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kubernetes-pod-watcher", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        next_scale_poll = time.monotonic() + SCALE_POLL_S
        while not self.stop_event.wait(POLL_S):
            try:
                self.poll()
                if time.monotonic() >= next_scale_poll:
                    next_scale_poll = time.monotonic() + SCALE_POLL_S
                    if self.deployment:
                        self.poll_replicas()
                    for tick in list(self.ticks):
                        tick()
            except Exception as error:  # noqa: BLE001 - an API hiccup must not end the run
                log.warning("listing pods failed: %s", error)

    def scaled_by_lblab(self, replicas: int) -> int | None:
        """LB Lab is setting the Deployment's replicas: the count before, and the poller will not
        log the change as someone else's."""
        with self.replicas_lock:
            previous, self.replicas = self.replicas, replicas
        return previous

    def poll_replicas(self) -> None:
        replicas = self.api.replicas(self.deployment)
        with self.replicas_lock:
            previous, self.replicas = self.replicas, replicas
        if previous is None or replicas == previous:
            return
        hpa = self.api.autoscaler(self.deployment)
        if hpa is not None and hpa.desired_replicas == replicas:
            self.events.record(EventType.SCALED, replicas=replicas, previous=previous, by="hpa", autoscaler=hpa.name,
                               desired=hpa.desired_replicas, current=hpa.current_replicas,
                               bounds=[hpa.min_replicas, hpa.max_replicas], metrics=list(hpa.metrics))
        else:
            self.events.record(EventType.SCALED, replicas=replicas, previous=previous, by="external")

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
            elif pod.restarts > before.restarts:
                # a container restarted in place (a crash, a failed liveness probe): the pod keeps its
                # name, so it is its own replacement; ready again when its probe passes
                self.events.record(EventType.POD_EXITED, t=now, pod=name, node=pod.node, expected=False,
                                   restarts=pod.restarts)
                self.events.record(EventType.POD_STARTED, t=now, pod=name, node=pod.node, replaces=None,
                                   reason="restarted")
                if pod.ready:
                    self.events.record(EventType.POD_READY, t=now, pod=name, first=False)
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

    def __init__(self, api: KubeApi, *, endpoint_url: str, deployment: str = "", require_pods: bool = True,
                 run_id: int | str | None = None, balancer: str = DEFAULT_KUBERNETES_BALANCER, service: str = "",
                 route: str = "", balancer_options: BalancerOptions | None = None):
        self.api, self._endpoint, self.deployment = api, endpoint_url.rstrip("/"), deployment
        # The `lblab.io/run` label of what this adapter creates; without a run (a test, a shell), a
        # label of its own, so its restore() never deletes a run's objects.
        self.run_label = str(run_id) if run_id is not None else f"local-{secrets.token_hex(4)}"
        # What balances the pods, and the objects its settings attach to (`set_algorithm`).
        self.balancer = kubernetes_balancer(balancer)
        self.where = Where.of_target(namespace=api.namespace, service=service, route=route, run_label=self.run_label)
        self.balancer_options = balancer_options or BalancerOptions()
        self.balancer.check_options(self.balancer_options)
        self._chaos_mesh: bool | None = None  # whether the cluster serves chaos-mesh.org (asked when needed)
        self.timers: list[threading.Timer] = []  # the fallback NetworkPolicies' ends
        self.log = EventLog()
        self.cordoned: set[str] = set()  # this process's cordons (the API's annotation is the record)
        # what the balancer ran before LB Lab's first change (read then), and whether LB Lab changed it since
        self.found: tuple[str, dict] | None = None
        self._changed_balancer = False
        self._cpu_seconds: dict[str, float] = {}  # metrics.k8s.io's rates added up (pod_metrics)
        self._usage_at: float | None = None
        if require_pods:
            api.require_pods()
        if not deployment and require_pods:
            deployment = api.deployment_of_pods()  # "" when it cannot tell: no scaling on the timeline
        self.deployment = deployment
        self.watcher = PodWatcher(api, self.log, deployment)
        # this process's Chaos Mesh objects not yet ended: "plural/name" -> (fault, pods)
        self.chaos_open: dict[str, tuple[str, list[str]]] = {}
        self.chaos_lock = threading.Lock()
        self.watcher.ticks.append(self.poll_chaos)

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def pods(self) -> list[Pod]:
        return self.api.pods()

    def nodes(self) -> list[str]:
        return self.api.nodes()

    def pod_metrics(self) -> dict[str, PodMetrics]:
        """Readiness from the pods, CPU and memory from metrics.k8s.io. The metrics server gives a
        rate (cores over its own window); it is added up here into CPU seconds over the time between
        readings, the cumulative form every adapter gives (`PodMetrics.cpu_seconds`). Without a
        metrics server: readiness only, said once in the log."""
        pods = self.api.pods()
        usage = self.api.pod_usage()
        now = time.monotonic()
        elapsed = None if self._usage_at is None else now - self._usage_at
        self._usage_at = now
        if usage is None and not self.usage_missing:
            self.usage_missing = "the cluster has no metrics server (metrics.k8s.io answered 404)"
            log.warning("%s: pods' CPU and memory are not measured", self.usage_missing)
        metrics = {}
        for pod in pods:
            cores, memory = (usage or {}).get(pod.name, (None, 0))
            if cores is not None and elapsed is not None:
                self._cpu_seconds[pod.name] = self._cpu_seconds.get(pod.name, 0.0) + cores * elapsed
            metrics[pod.name] = PodMetrics(pod=pod.name, ready=pod.ready, memory_bytes=memory,
                                           cpu_seconds=self._cpu_seconds.get(pod.name, 0.0))
        return metrics

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
            raise ClusterError("scaling needs the target's Deployment, and no one Deployment's pods match the "
                               "selector", field="label_selector")
        previous = self.watcher.scaled_by_lblab(replicas)
        try:
            self.api.scale(self.deployment, replicas)
        except ClusterError:
            self.watcher.scaled_by_lblab(previous)
            raise
        if previous != replicas:
            self.log.record(EventType.SCALED, replicas=replicas, previous=previous, by="lblab")

    # ------------------------------------------------------------ faults through Chaos Mesh

    def chaos_mesh_missing(self) -> str:
        """Why Chaos Mesh's faults cannot run on this cluster ("" when they can): its API group is
        not served. Asked once, on the first fault that needs it."""
        if self._chaos_mesh is None:
            self._chaos_mesh = self.api.serves(*CHAOS_MESH)
        return "" if self._chaos_mesh else CHAOS_MESH_MISSING

    def _chaos(self, fault: str, kind: str, pods: Sequence[str], duration: float, spec: dict, params: dict) -> Fault:
        """Create the Chaos Mesh object of `kind` for `fault` on `pods`, ended by Chaos Mesh itself
        after `duration`; labelled so `restore()` (this process's or the reaper's) finds it."""
        missing = self.chaos_mesh_missing()
        if missing:
            raise ClusterError(f"{fault}: {missing}", field="kind")
        pods = self._known(pods)
        body = chaos_object(kind, fault=fault, namespace=self.api.namespace, run=self.run_label, pods=pods,
                            duration=duration, spec=spec)
        created = self.api.create_chaos(CHAOS_PLURALS[kind], body)
        name = created.get("metadata", {}).get("name", "")
        with self.chaos_lock:
            self.chaos_open[f"{CHAOS_PLURALS[kind]}/{name}"] = (fault, list(pods))
        return self._applied(fault, pods, duration, {**params, "object": f"{CHAOS_PLURALS[kind]}/{name}"})

    def poll_chaos(self) -> None:
        """Log each Chaos Mesh object of this process that ended on its own (its `duration` elapsed):
        Chaos Mesh says so in its status, `experiment.desiredPhase: Stop` with the `AllRecovered`
        condition True (every pod's record back to Not Injected); a FAULT_CLEARED event, reason
        expired, as the sandbox logs its faults' ends. Asked only while one is open."""
        with self.chaos_lock:
            open_now = dict(self.chaos_open)
        if not open_now:
            return
        for plural in sorted({key.split("/", 1)[0] for key in open_now}):
            for item in self.api.list_chaos(plural, label_selector=self.run_selector):
                key = f"{plural}/{item['metadata']['name']}"
                if key not in open_now or not chaos_ended(item):
                    continue
                fault, pods = open_now[key]
                with self.chaos_lock:
                    if self.chaos_open.pop(key, None) is None:
                        continue
                self.log.record(EventType.FAULT_CLEARED, kind=fault, pods=pods, reason="expired", object=key,
                                by="chaos-mesh")

    def _known(self, pods: Sequence[str]) -> list[str]:
        pods = sorted(pods)
        known = {pod.name for pod in self.api.pods()}
        unknown = [pod for pod in pods if pod not in known]
        if not pods or unknown:
            raise ClusterError(f"unknown pod(s) {', '.join(unknown) or '(none given)'}", field="target")
        return pods

    def _applied(self, fault: str, pods: list[str], duration: float, params: dict) -> Fault:
        self.log.record(EventType.FAULT_APPLIED, kind=fault, pods=list(pods), duration_s=duration, params=params,
                        until=time.time() + duration)
        return Fault(kind=fault, pods=tuple(pods), duration_s=duration, params=params)

    def _deny_ingress(self, pods: Sequence[str], duration: float) -> Fault:
        """Partition without Chaos Mesh: the pods labelled `PARTITION_LABEL`, and a NetworkPolicy
        selecting them with no ingress rule (all ingress denied: requests get no answer), labelled
        as LB Lab's; deleted and the labels removed after `duration` (a policy has no duration of
        its own), or by `restore()`, this process's or the reaper's."""
        pods = self._known(pods)
        mark = f"{self.run_label}-{secrets.token_hex(3)}"
        for pod in pods:
            self.api.label_pod(pod, PARTITION_LABEL, mark)
        created = self.api.create_network_policy({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"generateName": "lblab-partition-", "namespace": self.api.namespace,
                         "labels": {MANAGED_BY: "lblab", RUN_LABEL: self.run_label}},
            "spec": {"podSelector": {"matchLabels": {PARTITION_LABEL: mark}}, "policyTypes": ["Ingress"]}})
        name = created["metadata"]["name"]
        timer = threading.Timer(duration, self._lift_quietly, args=(name, {PARTITION_LABEL: mark}))
        timer.daemon = True
        timer.start()
        self.timers.append(timer)
        return self._applied("partition", pods, duration, {"object": f"networkpolicies/{name}"})

    def _lift(self, policy: str, pod_labels: dict[str, str]) -> None:
        self.api.delete_network_policy(policy)
        for key, value in pod_labels.items():
            for pod in self.api.pods_labelled(f"{key}={value}"):
                self.api.label_pod(pod, key, None)

    def _lift_quietly(self, policy: str, pod_labels: dict[str, str]) -> None:
        try:
            self._lift(policy, pod_labels)
        except Exception as error:  # noqa: BLE001 - a timer's failure is logged; restore() deletes it still
            log.warning("lifting NetworkPolicy %s failed: %s", policy, error)

    def add_latency(self, pods: Sequence[str], ms: float, jitter: float = 0.0, duration: float = 30.0) -> Fault:
        return self._chaos("latency", "NetworkChaos", pods, duration,
                           {"action": "delay", "delay": {"latency": go_duration_ms(ms), "jitter": go_duration_ms(jitter)}},
                           {"ms": ms, "jitter": jitter})

    def partition(self, pods: Sequence[str], duration: float = 30.0) -> Fault:
        # Every packet the pods send is dropped: a request reaches them and gets no answer, as the
        # sandbox's blackhole. (`action: partition` cuts the pods off from a `target` set of pods
        # only, not from the balancer and clients outside the selector.) Without Chaos Mesh: a
        # deny-all-ingress NetworkPolicy on them.
        if self.chaos_mesh_missing():
            return self._deny_ingress(pods, duration)
        return self._chaos("partition", "NetworkChaos", pods, duration, {"action": "loss", "loss": {"loss": "100"}}, {})

    def stress_cpu(self, pods: Sequence[str], workers: int = 1, duration: float = 30.0) -> Fault:
        return self._chaos("cpu_stress", "StressChaos", pods, duration,
                           {"stressors": {"cpu": {"workers": int(workers), "load": 100}}}, {"workers": int(workers)})

    def add_errors(self, pods: Sequence[str], rate: float, status: int = 500, duration: float = 30.0) -> Fault:
        raise ClusterError(ERRORS_REFUSED, field="kind")

    def set_not_ready(self, pods: Sequence[str], duration: float = 30.0) -> Fault:
        # A pod's readiness probe is its own container's: no API call fails it from outside.
        raise ClusterError(NOT_READY_REFUSED, field="kind")

    def balancer_setting(self, change: Change | None = None) -> Setting:
        """Where the target's balancer is set and what it is set to now, read from the cluster: the
        custom object that sets it (the user's before LB Lab's own of this run; the oldest, as
        Istio and Envoy Gateway take the oldest of two) and its value at the balancer's
        `setting_at`, or the Service or Ingress `change` patches and its values under the patch."""
        balancer, where = self.balancer, self.where
        if balancer.object_kind:
            found = [obj for obj in self.api.balancer_objects(balancer.object_kind) if balancer.sets(obj, where)]
            mine = [obj for obj in found if _labels(obj).get(RUN_LABEL) == self.run_label
                    and _labels(obj).get(MANAGED_BY) == "lblab"]
            others = sorted((obj for obj in found if obj not in mine),
                            key=lambda obj: (obj["metadata"].get("creationTimestamp") or "", obj["metadata"]["name"]))
            obj = (others or mine or [None])[0]
            if obj is None:
                return Setting(kind=balancer.object_kind, name="", at=balancer.setting_at, value=None, obj=None)
            return Setting(kind=balancer.object_kind, name=obj["metadata"]["name"], at=balancer.setting_at,
                           value=value_at(obj, balancer.setting_at), obj=obj, lblab=obj in mine)
        if change is None:
            change = balancer.change(balancer.default_algorithm, {}, where)
        obj = self.api.read_balancer_setting(change.kind, change.name)
        return Setting(kind=change.kind, name=change.name, at=(), value=values_under(change.patch, obj), obj=obj)

    def running_algorithm(self) -> tuple[str, dict]:
        """The registry's algorithm (and options) the target's balancer runs now, read from the
        cluster: where the tuner starts, and what its rollback to the start puts back exactly."""
        setting = self.balancer_setting()
        return self.balancer.running(setting.value if setting.at else setting.obj)

    def set_algorithm(self, name: str, options: dict | None = None) -> None:
        """The target's balancer set to run `name` (clusters/kubernetes/balancers.py), after reading
        what it is set to now: LB Lab's custom object created (none there), or replaced (its own of
        this run), or the setting of the one there (the user's) replaced; or the Service or Ingress
        patched. What it replaced is kept on the object; `restore()` deletes what LB Lab created and
        puts back the rest. Setting back what the balancer ran before LB Lab's first change (the
        tuner's rollback to its start) restores exactly that, absent fields included. The event says
        the setting before and after (`--dry-run` prints them)."""
        options = dict(options or {})
        change = self.balancer.change(name, options, self.where, self.balancer_options)
        setting = self.balancer_setting(change)
        if self.found is None:  # what ran before LB Lab's first change
            self.found = self.balancer.running(setting.value if setting.at else setting.obj)
        if ((name, {k: v for k, v in options.items() if v is not None}) == self.found and self._changed_balancer
                and not self.balancer_options.given()):  # with options, the start is the found algorithm with them
            self.restore_balancer()
            self.log.record(EventType.ALGORITHM_SET, algorithm=name, options=options, restored=True,
                            object=f"{setting.kind}/{setting.name}" if setting.name else setting.kind,
                            previous=setting.value, setting="as before LB Lab")
            return
        if change.create is None:
            self.api.patch_balancer_setting(change.kind, change.name, change.patch, run_label=self.run_label,
                                            current=setting.obj)
            new = change.patch
        elif setting.obj is None or setting.lblab:
            self.api.apply_balancer_object(change.create, current=setting.obj)
            new = change.value
            setting = Setting(kind=setting.kind, name=change.create["metadata"]["name"], at=setting.at,
                              value=setting.value if setting.obj is not None else None, obj=setting.obj)
        else:  # the user's object: its setting replaced, the values before kept on it
            self.api.patch_balancer_setting(setting.kind, setting.name,
                                            nested(setting.at, replacing(setting.value, change.value)),
                                            run_label=self.run_label, current=setting.obj)
            new = change.value
        self._changed_balancer = True
        self.log.record(EventType.ALGORITHM_SET, algorithm=name, options=options,
                        object=f"{setting.kind}/{setting.name}", at=".".join(setting.at),
                        previous=setting.value, setting=new)

    def apply_balancer_options(self) -> None:
        """The target's balancer options (`BalancerOptions`: kube-proxy's trafficDistribution) written
        at the run's start, after reading what is there; the values before kept on the object, put
        back by `restore()`."""
        if self.balancer.object_kind and self.balancer_options.slow_start_s:
            # the algorithm the balancer runs now, written again with the option (checked before any write)
            self.set_algorithm(*self.running_algorithm())
            return
        change = self.balancer.options_change(self.balancer_options, self.where)
        if change is None:
            return
        setting = self.balancer_setting(change)
        self.api.patch_balancer_setting(change.kind, change.name, change.patch, run_label=self.run_label,
                                        current=setting.obj)
        self.log.record(EventType.BALANCER_OPTIONS_SET, options=self.balancer_options.given(),
                        object=f"{change.kind}/{change.name}", at="", previous=setting.value, setting=change.patch)

    def check_balancer_options(self) -> None:
        """ClusterError(field=...) when the balancer's options cannot be written on the setting it
        has now (a slow start on a consistent hash, say): reads only, before a run."""
        algorithm, options = self.running_algorithm()
        self.balancer.change(algorithm, options, self.where, self.balancer_options)

    def restore_balancer(self) -> None:
        """The balancer as it was before the run: LB Lab's objects deleted, the values it replaced
        put back (this process's changes or a dead worker's: the labels and annotations say so)."""
        for kind in BALANCER_OBJECTS:
            for obj in self.api.balancer_objects(kind, label_selector=self.run_selector):
                self.api.delete_balancer_object(kind, obj["metadata"]["name"])
        self.api.undo_balancer_settings(run_label=self.run_label)
        self._changed_balancer = False

    # ------------------------------------------------------------ life

    def restore(self) -> None:
        # Every Chaos Mesh object of this run (this process's, or a dead worker's: the labels say so),
        # then every node LB Lab cordoned, this process or one that died (the annotation says so).
        for timer in self.timers:
            timer.cancel()
        with self.chaos_lock:  # deleted now, not ended on their own
            self.chaos_open.clear()
        for plural in sorted(set(CHAOS_PLURALS.values())):
            for item in self.api.list_chaos(plural, label_selector=self.run_selector):
                self.api.delete_chaos(plural, item["metadata"]["name"])
        for policy in self.api.network_policies(label_selector=self.run_selector):
            self._lift(policy["name"], policy["pod_labels"])
        self.restore_balancer()
        for node in sorted(set(self.cordoned) | set(self.api.cordoned_by_lblab())):
            self.uncordon(node)

    @property
    def run_selector(self) -> str:
        """The label selector of the objects LB Lab created for this run."""
        return f"{MANAGED_BY}=lblab,{RUN_LABEL}={self.run_label}"

    def close(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.watcher.stop()
