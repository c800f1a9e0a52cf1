"""The Kubernetes API calls LB Lab makes, on the official client, each one a method: the pods a
label selector picks (with their node, address and readiness), a pod deleted with a grace period,
a pod evicted through the Eviction API (so PodDisruptionBudgets are respected: a refusal is
reported, not retried forever), a node cordoned and uncordoned, a node drained the way `kubectl
drain` does it (cordon, then evict its pods), a Deployment scaled through its scale subresource,
Chaos Mesh's custom objects created, listed by label and deleted (CustomObjectsApi), and whether
the server serves an API group at all.

Errors from the API server become `ClusterError`s carrying the server's own message, with the
field they concern, so the CLI and the API show one clear line.

    api = KubeApi.from_kubeconfig(namespace="web", selector="app=web", context="kind-lab")
    api.pods(); api.evict("web-7d4-abc12"); api.drain("node-1"); api.scale("web", 5)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from clusters.base import ClusterError, Pod

DEFAULT_GRACE_S = 30  # Kubernetes' own default terminationGracePeriodSeconds
CORDONED_BY = "lblab.io/cordoned"  # the annotation on a node LB Lab cordoned
MANAGED_BY = "app.kubernetes.io/managed-by"  # = "lblab" on every object LB Lab creates
RUN_LABEL = "lblab.io/run"  # = the run's id on every object LB Lab creates for a run
CHAOS_GROUP, CHAOS_VERSION = "chaos-mesh.org", "v1alpha1"  # Chaos Mesh's custom resources
CHAOS_MESH = (CHAOS_GROUP, CHAOS_VERSION)
METRICS_GROUP = "metrics.k8s.io"  # the metrics server's API
METRICS_VERSION = "v1beta1"
CHAOS_MESH_PLURALS = ("networkchaos", "stresschaos")  # the Chaos Mesh objects LB Lab creates (and its RBAC grants)
# The balancers' custom objects LB Lab creates (clusters/kubernetes/balancers.py): kind -> where they live.
BALANCER_OBJECTS = {
    "BackendTrafficPolicy": ("gateway.envoyproxy.io", "v1alpha1", "backendtrafficpolicies"),
    "DestinationRule": ("networking.istio.io", "v1", "destinationrules"),
}
# On a Service or Ingress whose balancer setting LB Lab changed: the values it had before, as a merge
# patch (JSON), so whoever restores (the run, a stop, the reaper after a dead worker) puts them back.
UNDO_ANNOTATION = "lblab.io/balancer-undo"


@dataclass(frozen=True)
class DrainResult:
    """What a drain did: pods evicted, and pods whose eviction the API refused (a PodDisruptionBudget
    would have been broken), each with the server's reason."""

    node: str
    evicted: tuple[str, ...] = ()
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Autoscaler:
    """A HorizontalPodAutoscaler's status: its bounds, current and desired replicas, and each metric
    it scales on with its current and target value (`kubectl get hpa` shows the same)."""

    name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    metrics: tuple[dict, ...] = ()


def _hpa_metrics(hpa) -> tuple[dict, ...]:
    """Each resource metric of an HPA: {"name": "cpu", "current": 82, "target": 60, "unit": "%"}
    (average utilisation in % of requests, or an average value when the target is one)."""
    targets = {}
    for metric in hpa.spec.metrics or ():
        if metric.type == "Resource" and metric.resource is not None:
            target = metric.resource.target
            targets[metric.resource.name] = (target.average_utilization, "%") if target.average_utilization is not None \
                else (target.average_value, "")
    found = []
    for metric in (hpa.status.current_metrics or ()) if hpa.status else ():
        if metric.type == "Resource" and metric.resource is not None:
            current = metric.resource.current
            target, unit = targets.get(metric.resource.name, (None, "%"))
            value = current.average_utilization if unit == "%" else current.average_value
            found.append({"name": metric.resource.name, "current": value, "target": target, "unit": unit})
    return tuple(found)


def _labels_match(terms: list[str], labels: dict[str, str]) -> bool:
    for term in terms:
        if "!=" in term:
            key, _, value = term.partition("!=")
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, _, value = term.replace("==", "=").partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def values_under(patch: dict, current: dict) -> dict:
    """The merge patch that sets back what `patch` changes of `current`: None where it had nothing,
    so a field LB Lab added is removed whole (a map of independent keys, metadata's annotations,
    keeps its other keys: only the ones changed are named)."""
    out = {}
    for key, value in patch.items():
        now = (current or {}).get(key)
        if isinstance(value, dict) and (isinstance(now, dict) or key in ("metadata", "annotations")):
            out[key] = values_under(value, now if isinstance(now, dict) else {})
        else:
            out[key] = now
    return out


def replacing(current, new):
    """The merge patch that makes `current` exactly `new`: the keys of `current` that `new` lacks
    set to None (removed), down through the maps both have."""
    if not isinstance(new, dict) or not isinstance(current, dict):
        return new
    out = {key: None for key in current if key not in new}
    out.update({key: replacing(current.get(key), value) for key, value in new.items()})
    return out


def _merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def _check_plural(plural: str) -> None:
    if plural not in CHAOS_MESH_PLURALS:  # what the RBAC grants (k8s/base/rbac.yaml), and nothing else
        raise ValueError(f"not a Chaos Mesh kind LB Lab creates: {plural!r}")


def server_message(error: ApiException) -> str:
    """The API server's own words: its Status message and the causes it names."""
    try:
        status = json.loads(error.body or "{}")
    except ValueError:
        return f"{error.status} {error.reason}"
    causes = [cause.get("message", "") for cause in (status.get("details") or {}).get("causes", [])]
    return "; ".join(part for part in [status.get("message") or f"{error.status} {error.reason}", *causes] if part)


def api_client(*, context: str | None = None, kubeconfig: str | None = None) -> client.ApiClient:
    """The official client's connection: a kubeconfig context (`KUBECONFIG` or ~/.kube/config when
    not given), or the in-cluster service account when there is no kubeconfig and LB Lab runs in a pod."""
    # Read now, not at the client's import (it freezes KUBECONFIG then): a colon-separated list works.
    kubeconfig = kubeconfig or os.environ.get("KUBECONFIG") or None
    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except config.ConfigException as error:
        if kubeconfig or context:
            raise ClusterError(f"kubeconfig: {error}", field="context") from None
        try:
            config.load_incluster_config()
        except config.ConfigException:
            raise ClusterError("no kubeconfig (KUBECONFIG or ~/.kube/config) and LB Lab is not running in a "
                               "pod with a service account", field="context") from None
        return client.ApiClient()


class KubeApi:
    """The calls on one namespace's pods picked by one label selector."""

    def __init__(self, api_client: client.ApiClient, *, namespace: str, selector: str):
        self.namespace, self.selector = namespace, selector
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.autoscaling = client.AutoscalingV2Api(api_client)

    @classmethod
    def from_kubeconfig(cls, *, namespace: str, selector: str, context: str | None = None,
                        kubeconfig: str | None = None) -> KubeApi:
        """From a kubeconfig context (`KUBECONFIG` or ~/.kube/config when not given), or the
        in-cluster service account when there is no kubeconfig and LB Lab runs in a pod."""
        return cls(api_client(context=context, kubeconfig=kubeconfig), namespace=namespace, selector=selector)

    # ------------------------------------------------------------ reading

    def pods(self) -> list[Pod]:
        """The selector's pods now, by name: a pod is ready when its Ready condition is True."""
        try:
            found = self.core.list_namespaced_pod(self.namespace, label_selector=self.selector)
        except ApiException as error:
            raise ClusterError(f"listing pods: {server_message(error)}", field="namespace") from None
        pods = []
        for item in found.items:
            if item.metadata.deletion_timestamp is not None or (item.status.phase or "") in ("Succeeded", "Failed"):
                continue
            ready = any(c.type == "Ready" and c.status == "True" for c in item.status.conditions or ())
            ports = [port.container_port for container in item.spec.containers for port in container.ports or ()]
            address = f"{item.status.pod_ip}:{ports[0]}" if item.status.pod_ip and ports else (item.status.pod_ip or "")
            restarts = sum(status.restart_count or 0 for status in item.status.container_statuses or ())
            pods.append(Pod(name=item.metadata.name, node=item.spec.node_name or "", address=address, ready=ready,
                            restarts=restarts))
        return sorted(pods, key=lambda pod: pod.name)

    def require_pods(self) -> list[Pod]:
        """The selector's pods, or ClusterError on the selector when it picks none."""
        pods = self.pods()
        if not pods:
            raise ClusterError(f"the selector {self.selector!r} picks no pod in namespace {self.namespace!r}",
                               field="label_selector")
        return pods

    def nodes(self) -> list[str]:
        try:
            return sorted(node.metadata.name for node in self.core.list_node().items)
        except ApiException as error:
            raise ClusterError(f"listing nodes: {server_message(error)}", field="node") from None

    # ------------------------------------------------------------ acting

    def delete_pod(self, name: str, *, grace_period_s: int = DEFAULT_GRACE_S) -> None:
        try:
            self.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=grace_period_s)
        except ApiException as error:
            raise ClusterError(f"deleting pod {name}: {server_message(error)}", field="target") from None

    def evict(self, name: str, *, grace_period_s: int = DEFAULT_GRACE_S) -> str | None:
        """Evict `name` through the Eviction API; None when it was evicted, else why the API
        refused (429: a PodDisruptionBudget would be broken)."""
        eviction = client.V1Eviction(
            api_version="policy/v1", kind="Eviction",
            metadata=client.V1ObjectMeta(name=name, namespace=self.namespace),
            delete_options=client.V1DeleteOptions(grace_period_seconds=grace_period_s))
        try:
            self.core.create_namespaced_pod_eviction(name, self.namespace, eviction)
        except ApiException as error:
            if error.status == 429:
                return server_message(error)
            raise ClusterError(f"evicting pod {name}: {server_message(error)}", field="target") from None
        return None

    def set_unschedulable(self, node: str, unschedulable: bool) -> None:
        """Cordon (True) or uncordon `node`. A cordon LB Lab makes is annotated `CORDONED_BY`, so
        whoever restores later (the reaper, after the worker died) finds it; an uncordon removes
        the annotation."""
        patch = {"metadata": {"annotations": {CORDONED_BY: "true" if unschedulable else None}},
                 "spec": {"unschedulable": unschedulable}}
        try:
            self.core.patch_node(node, patch)
        except ApiException as error:
            what = "cordoning" if unschedulable else "uncordoning"
            raise ClusterError(f"{what} node {node}: {server_message(error)}", field="node") from None

    def cordoned_by_lblab(self) -> list[str]:
        """The nodes LB Lab cordoned and has not uncordoned (their `CORDONED_BY` annotation)."""
        try:
            nodes = self.core.list_node().items
        except ApiException as error:
            raise ClusterError(f"listing nodes: {server_message(error)}", field="node") from None
        return sorted(node.metadata.name for node in nodes if (node.metadata.annotations or {}).get(CORDONED_BY))

    def drain(self, node: str, *, grace_period_s: int = DEFAULT_GRACE_S) -> DrainResult:
        """As `kubectl drain` does: cordon, then evict the selector's pods on the node; a refused
        eviction is reported, and the node stays cordoned until `uncordon`."""
        if node not in self.nodes():
            raise ClusterError(f"unknown node {node!r}; one of {', '.join(self.nodes())}", field="node")
        self.set_unschedulable(node, True)
        evicted, refused = [], {}
        for pod in self.pods():
            if pod.node != node:
                continue
            why = self.evict(pod.name, grace_period_s=grace_period_s)
            if why is None:
                evicted.append(pod.name)
            else:
                refused[pod.name] = why
        return DrainResult(node=node, evicted=tuple(evicted), refused=refused)

    def uncordon(self, node: str) -> None:
        self.set_unschedulable(node, False)

    def deployment_of_pods(self) -> str:
        """The Deployment whose pod template the target's selector picks ("" when none or several
        do, or the selector has set-based terms this reads no further): whose replicas and
        autoscaler a run follows. Equality terms (`k=v`, `k==v`, `k!=v`, `k`, `!k`), as most are."""
        terms = [term.strip() for term in self.selector.split(",") if term.strip()]
        if any(" in " in term or " notin " in term or "(" in term for term in terms):
            return ""
        try:
            found = self.apps.list_namespaced_deployment(self.namespace)
        except ApiException as error:
            raise ClusterError(f"listing deployments: {server_message(error)}", field="namespace") from None
        names = [item.metadata.name for item in found.items
                 if _labels_match(terms, (item.spec.template.metadata.labels or {}) if item.spec.template.metadata else {})]
        return names[0] if len(names) == 1 else ""

    def replicas(self, deployment: str) -> int:
        try:
            return int(self.apps.read_namespaced_deployment_scale(deployment, self.namespace).spec.replicas or 0)
        except ApiException as error:
            raise ClusterError(f"reading deployment {deployment}: {server_message(error)}", field="service") from None

    def scale(self, deployment: str, replicas: int) -> None:
        try:
            self.apps.patch_namespaced_deployment_scale(deployment, self.namespace, {"spec": {"replicas": replicas}})
        except ApiException as error:
            raise ClusterError(f"scaling deployment {deployment}: {server_message(error)}", field="replicas") from None

    def autoscaler(self, deployment: str) -> Autoscaler | None:
        """The HorizontalPodAutoscaler (autoscaling/v2) that scales `deployment`, as its status is
        now; None when none does."""
        try:
            found = self.autoscaling.list_namespaced_horizontal_pod_autoscaler(self.namespace)
        except ApiException as error:
            raise ClusterError(f"listing autoscalers: {server_message(error)}", field="service") from None
        for hpa in found.items:
            ref = hpa.spec.scale_target_ref
            if ref.kind == "Deployment" and ref.name == deployment:
                status = hpa.status
                return Autoscaler(name=hpa.metadata.name, min_replicas=int(hpa.spec.min_replicas or 1),
                                  max_replicas=int(hpa.spec.max_replicas),
                                  current_replicas=int(status.current_replicas or 0) if status else 0,
                                  desired_replicas=int(status.desired_replicas or 0) if status else 0,
                                  metrics=_hpa_metrics(hpa))
        return None

    # ------------------------------------------------------------ metrics.k8s.io

    def pod_usage(self) -> dict[str, tuple[float, int]] | None:
        """Each selected pod's CPU (cores) and memory (bytes) now, as the metrics server reports them
        (metrics.k8s.io, the source of `kubectl top pods` and the HPA), its containers summed; None
        when the cluster has no metrics server (the API group answers 404)."""
        try:
            found = self.custom.list_namespaced_custom_object(METRICS_GROUP, METRICS_VERSION, self.namespace, "pods",
                                                              label_selector=self.selector)
        except ApiException as error:
            if error.status == 404:
                return None
            raise ClusterError(f"reading pod metrics: {server_message(error)}", field="namespace") from None
        usage = {}
        for item in found.get("items") or ():
            containers = item.get("containers") or ()
            cores = sum(float(parse_quantity(c["usage"].get("cpu", "0"))) for c in containers)
            memory = sum(int(parse_quantity(c["usage"].get("memory", "0"))) for c in containers)
            usage[item["metadata"]["name"]] = (cores, memory)
        return usage

    # ------------------------------------------------------------ Chaos Mesh's custom resources

    def serves(self, group: str, version: str) -> bool:
        """Whether the API server serves `group/version` (its discovery document answers): False
        on a 404, as for Chaos Mesh's group on a cluster where it is not installed."""
        try:  # discovery: readable by every authenticated user (system:discovery), no rule needed
            self.custom.get_api_resources(group, version)
        except ApiException as error:
            if error.status == 404:
                return False
            raise ClusterError(f"discovering {group}/{version}: {server_message(error)}", field="kind") from None
        return True

    def create_chaos(self, plural: str, body: dict) -> dict:
        """Create a Chaos Mesh object in the namespace; the server's answer (with the name it generated)."""
        _check_plural(plural)
        try:
            return self.custom.create_namespaced_custom_object(CHAOS_GROUP, CHAOS_VERSION, self.namespace, plural, body)
        except ApiException as error:
            raise ClusterError(f"creating {body.get('kind', plural)}: {server_message(error)}", field="kind") from None

    def list_chaos(self, plural: str, *, label_selector: str) -> list[dict]:
        _check_plural(plural)
        try:
            found = self.custom.list_namespaced_custom_object(CHAOS_GROUP, CHAOS_VERSION, self.namespace, plural,
                                                              label_selector=label_selector)
        except ApiException as error:
            if error.status == 404:  # Chaos Mesh is not installed: nothing of it to find
                return []
            raise ClusterError(f"listing {plural}: {server_message(error)}", field="kind") from None
        return list(found.get("items") or ())

    def delete_chaos(self, plural: str, name: str) -> None:
        """Delete a Chaos Mesh object; one already gone is fine (restore may run twice)."""
        _check_plural(plural)
        try:
            self.custom.delete_namespaced_custom_object(CHAOS_GROUP, CHAOS_VERSION, self.namespace, plural, name)
        except ApiException as error:
            if error.status != 404:
                raise ClusterError(f"deleting {plural}/{name}: {server_message(error)}", field="kind") from None

    # ------------------------------------------------------------ balancer settings

    def apply_balancer_object(self, body: dict, *, current: dict | None = None) -> None:
        """Create a balancer's custom object (`BALANCER_OBJECTS`), or replace the one of that name
        LB Lab created before (a second switch in the same run; `current`: it, as just read)."""
        group, version, plural = BALANCER_OBJECTS[body["kind"]]
        name = body["metadata"]["name"]
        if current is None:
            try:
                self.custom.create_namespaced_custom_object(group, version, self.namespace, plural, body)
                return
            except ApiException as error:
                if error.status != 409:
                    raise ClusterError(f"creating {body['kind']} {name}: {server_message(error)}",
                                       field="algorithm") from None
        try:
            if current is None:
                current = self.custom.get_namespaced_custom_object(group, version, self.namespace, plural, name)
            body = {**body, "metadata": {**body["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}}
            self.custom.replace_namespaced_custom_object(group, version, self.namespace, plural, name, body)
        except ApiException as error:
            raise ClusterError(f"replacing {body['kind']} {name}: {server_message(error)}", field="algorithm") from None

    def balancer_objects(self, kind: str, *, label_selector: str | None = None) -> list[dict]:
        """The namespace's objects of a balancer `kind`, LB Lab's and others', or those a label
        selector picks ([] when the cluster does not serve the kind: that balancer is not installed)."""
        group, version, plural = BALANCER_OBJECTS[kind]
        try:
            found = self.custom.list_namespaced_custom_object(group, version, self.namespace, plural,
                                                              label_selector=label_selector)
        except ApiException as error:
            if error.status == 404:
                return []
            raise ClusterError(f"listing {plural}: {server_message(error)}", field="algorithm") from None
        return list(found.get("items") or ())

    def delete_balancer_object(self, kind: str, name: str) -> None:
        group, version, plural = BALANCER_OBJECTS[kind]
        try:
            self.custom.delete_namespaced_custom_object(group, version, self.namespace, plural, name)
        except ApiException as error:
            if error.status != 404:
                raise ClusterError(f"deleting {kind} {name}: {server_message(error)}", field="algorithm") from None

    def read_balancer_setting(self, kind: str, name: str) -> dict:
        """The Service, Ingress or balancer custom object `name` as it is now (plain JSON)."""
        try:
            return self._read_setting_object(kind, name)
        except ApiException as error:
            raise ClusterError(f"reading {kind} {name}: {server_message(error)}", field="route") from None

    def patch_balancer_setting(self, kind: str, name: str, patch: dict, *, run_label: str,
                               current: dict | None = None) -> None:
        """Merge `patch` into the Service, Ingress or balancer custom object `name`, keeping the
        values it replaces on the object itself (`UNDO_ANNOTATION`: the run and the values, as they
        were before LB Lab: a later change of the same run adds the values of the fields it is the
        first to change, and keeps the ones saved before). `current`: the object as just read."""
        if current is None:
            current = self.read_balancer_setting(kind, name)
        annotations = (current.get("metadata") or {}).get("annotations") or {}
        saved = json.loads(annotations.get(UNDO_ANNOTATION) or "{}")
        values = values_under(patch, current)
        if saved.get("run") == run_label:
            values = _merged(values, saved["values"])  # what LB Lab saw first wins
        elif saved:  # another run's change not undone (a dead worker's, not reaped yet): its values stand
            values = saved["values"]
            run_label = saved["run"]
        patch = _merged(patch, {"metadata": {"annotations": {
            UNDO_ANNOTATION: json.dumps({"run": run_label, "values": values}, sort_keys=True)}}})
        try:
            self._patch_setting_object(kind, name, patch)
        except ApiException as error:
            raise ClusterError(f"patching {kind} {name}: {server_message(error)}", field="algorithm") from None

    def undo_balancer_settings(self, *, run_label: str) -> list[str]:
        """Put back every Service's, Ingress's and balancer custom object's values that the run
        `run_label` changed (`UNDO_ANNOTATION`), and remove the annotation; the objects undone, as
        `Kind/name`."""
        undone = []
        for kind in ("Service", "Ingress", *BALANCER_OBJECTS):
            try:
                if kind == "Service":
                    items = self.api_client.sanitize_for_serialization(
                        self.core.list_namespaced_service(self.namespace).items)
                elif kind == "Ingress":
                    items = self.api_client.sanitize_for_serialization(
                        self.networking.list_namespaced_ingress(self.namespace).items)
                else:
                    items = self.balancer_objects(kind)
            except ApiException as error:
                raise ClusterError(f"listing {kind}s: {server_message(error)}", field="algorithm") from None
            for item in items:
                saved = json.loads(((item.get("metadata") or {}).get("annotations") or {}).get(UNDO_ANNOTATION) or "{}")
                if saved.get("run") != run_label:
                    continue
                patch = _merged(saved["values"], {"metadata": {"annotations": {UNDO_ANNOTATION: None}}})
                name = item["metadata"]["name"]
                try:
                    self._patch_setting_object(kind, name, patch)
                except ApiException as error:
                    raise ClusterError(f"restoring {kind} {name}: {server_message(error)}",
                                       field="algorithm") from None
                undone.append(f"{kind}/{name}")
        return undone

    @property
    def api_client(self):
        return self.core.api_client

    def _read_setting_object(self, kind: str, name: str) -> dict:
        if kind == "Service":
            return self.api_client.sanitize_for_serialization(self.core.read_namespaced_service(name, self.namespace))
        if kind == "Ingress":
            return self.api_client.sanitize_for_serialization(
                self.networking.read_namespaced_ingress(name, self.namespace))
        group, version, plural = BALANCER_OBJECTS[kind]
        return self.custom.get_namespaced_custom_object(group, version, self.namespace, plural, name)

    def _patch_setting_object(self, kind: str, name: str, patch: dict) -> None:
        if kind == "Service":
            self.core.patch_namespaced_service(name, self.namespace, patch)
        elif kind == "Ingress":
            self.networking.patch_namespaced_ingress(name, self.namespace, patch)
        else:
            group, version, plural = BALANCER_OBJECTS[kind]
            self.custom.patch_namespaced_custom_object(group, version, self.namespace, plural, name, patch)

    # ------------------------------------------------------------ NetworkPolicies and pod labels

    def label_pod(self, name: str, key: str, value: str | None) -> None:
        """Set (None: remove) one label of a pod; a pod already gone is fine."""
        try:
            self.core.patch_namespaced_pod(name, self.namespace, {"metadata": {"labels": {key: value}}})
        except ApiException as error:
            if error.status != 404:
                raise ClusterError(f"labelling pod {name}: {server_message(error)}", field="target") from None

    def create_network_policy(self, body: dict) -> dict:
        try:
            return self.networking.create_namespaced_network_policy(self.namespace, body).to_dict()
        except ApiException as error:
            raise ClusterError(f"creating NetworkPolicy: {server_message(error)}", field="kind") from None

    def network_policies(self, *, label_selector: str) -> list[dict]:
        """The namespace's NetworkPolicies a label selector picks, each as {name, pod_labels}."""
        try:
            found = self.networking.list_namespaced_network_policy(self.namespace, label_selector=label_selector)
        except ApiException as error:
            raise ClusterError(f"listing NetworkPolicies: {server_message(error)}", field="kind") from None
        return [{"name": item.metadata.name, "pod_labels": dict(item.spec.pod_selector.match_labels or {})}
                for item in found.items]

    def delete_network_policy(self, name: str) -> None:
        try:
            self.networking.delete_namespaced_network_policy(name, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise ClusterError(f"deleting NetworkPolicy {name}: {server_message(error)}", field="kind") from None

    def pods_labelled(self, selector: str) -> list[str]:
        """The names of the namespace's pods a label selector picks (the target's selector aside)."""
        try:
            return sorted(item.metadata.name for item in self.core.list_namespaced_pod(
                self.namespace, label_selector=selector).items)
        except ApiException as error:
            raise ClusterError(f"listing pods: {server_message(error)}", field="namespace") from None
