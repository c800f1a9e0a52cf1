"""A local emulator of the Kubernetes API server, for the Kubernetes adapter's tests (issue 19) and
the deployment checks: the one test double of the suite, for the one part that cannot run here.

It answers the API paths LB Lab's adapter uses, over real HTTP, to the official `kubernetes`
client, and it checks what it receives the way an API server would: every object a request
sends (an eviction, delete options, a patched node or scale) is validated against the
Kubernetes OpenAPI schemas of `KUBERNETES_VERSION` that kubernetes-validate ships, strictly
(unknown fields refused), and a request that fails gets the API's own 422 `Status`. Every
request is logged (`requests`) so tests assert the exact methods, paths, selectors and bodies.

Its pods are real: a `SandboxCluster`'s pod processes stand for the Deployment's pods, so a
delete or an eviction kills a real process and its "ReplicaSet" (the sandbox's supervisor)
starts a replacement under a new name, a cordon sends new pods to the other node, a scale starts
or stops processes, and the load sent to the sandbox's endpoint (the Service) shows it all.

    with SandboxCluster(SandboxConfig(pods=3)) as sandbox, KubeApiEmulator(sandbox) as api:
        api.add_pdb("web-pdb", {"app": "web"}, min_available=2)
        client = api.client()                   # a kubernetes.client.ApiClient for it
        api.requests                            # [Request(method, path, query, body), ...]

Paths: pods of a namespace (list, with `labelSelector`), a pod (get, delete), its `eviction`
(refused with 429 when a PodDisruptionBudget would be broken, as the API does), nodes (list, get,
patch: `spec.unschedulable` cordons the sandbox's node), a Deployment's `scale` (get, patch),
PodDisruptionBudgets (list, create); Chaos Mesh (`chaos_mesh=True`, else its group is a 404): its
discovery document, NetworkChaos and StressChaos (list by `labelSelector`, create with `name` or
`generateName`, get, delete), each validated against CHAOS_MESH_SCHEMAS, its effect applied to the
sandbox's pods its selector names (delay: latency, 100 % loss: partition, a CPU stressor: CPU
stress, for its `duration`) and undone, that fault only, when it is deleted; a pod's labels
(patch); NetworkPolicies (list by `labelSelector`, create, get, delete): one denying all ingress
to the pods it selects blackholes them (partition) until it is deleted; the Deployment (list) and
a HorizontalPodAutoscaler on it (`add_hpa`, list; `hpa_scales` does what the HPA controller does);
the balancers' settings: Envoy Gateway's BackendTrafficPolicy and Istio's DestinationRule (list,
create, get, replace with its `resourceVersion`, delete; checked against tests/kube_crd_schemas.py),
the Service and Ingresses (`add_ingress`; list, get, merge-patch), whose setting the sandbox's
balancer then runs (the last custom object written, else ingress-nginx's annotations, else the
Service's session affinity, else what it ran at the start).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jsonschema
import kubernetes_validate

from tests.kube_crd_schemas import validate_custom
from tests.kube_home import HomeNamespace

KUBERNETES_VERSION = "1.35.0"
APP_LABELS = {"app": "web", "app.kubernetes.io/name": "web"}
IMAGE = "lblab/sandbox-pod:local"


class ApiError(Exception):
    """An error the API server answers with a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, causes: list[dict] | None = None):
        super().__init__(message)
        self.code, self.reason, self.causes = code, reason, causes or []

    def status(self) -> dict:
        status = {"apiVersion": "v1", "kind": "Status", "status": "Failure", "message": str(self),
                  "reason": self.reason, "code": self.code}
        if self.causes:
            status["details"] = {"causes": self.causes}
        return status


def validate(obj: dict) -> None:
    """422 Invalid unless `obj` is valid for its kind in the emulated version's OpenAPI schemas."""
    if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
        raise ApiError(400, "BadRequest", "Object 'Kind' is missing in the request body")
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = ".".join(str(part) for part in error.path) or "(root)"
        raise ApiError(422, "Invalid", f"{obj.get('kind')} is invalid: {where}: {error.message}",
                       [{"field": where, "message": error.message}]) from None
    except kubernetes_validate.SchemaNotFoundError:
        raise ApiError(422, "Invalid", f"no schema for {obj.get('apiVersion')}/{obj.get('kind')}") from None


# ---------------------------------------------------------------- Chaos Mesh's objects (chaos-mesh.org/v1alpha1)
#
# Written here from Chaos Mesh's documented fields (its API reference for NetworkChaos and
# StressChaos, and the Go types of api/v1alpha1), strictly: a field not described is refused, as
# the CRD's structural schema prunes and its webhook refuses. Only the parts LB Lab may send are
# described in depth; the rest of each spec is listed so a documented field is not taken for a typo.

CHAOS_MESH_GROUP, CHAOS_MESH_VERSION = "chaos-mesh.org", "v1alpha1"
CHAOS_MESH_KINDS = {"networkchaos": "NetworkChaos", "stresschaos": "StressChaos"}
# The balancers' custom objects: kind -> (group, version, plural), as the adapter writes them.
BALANCER_KINDS = {
    "BackendTrafficPolicy": ("gateway.envoyproxy.io", "v1alpha1", "backendtrafficpolicies"),
    "DestinationRule": ("networking.istio.io", "v1", "destinationrules"),
}
INGRESS_NGINX = "nginx.ingress.kubernetes.io/"
# A Service's spec.trafficDistribution values Kubernetes 1.35 accepts (PreferSameZone and PreferSameNode GA,
# PreferClose the older name of PreferSameZone)
TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameZone", "PreferSameNode")

_GO_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
_PERCENT = r"^(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)$"
_STRINGS = {"type": "array", "items": {"type": "string"}}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_MODE = {"enum": ["one", "all", "fixed", "fixed-percent", "random-max-percent"]}
_SELECTOR = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "namespaces": _STRINGS, "nodes": _STRINGS, "pods": {"type": "object", "additionalProperties": _STRINGS},
        "nodeSelectors": _STRING_MAP, "fieldSelectors": _STRING_MAP, "labelSelectors": _STRING_MAP,
        "annotationSelectors": _STRING_MAP, "podPhaseSelectors": _STRINGS,
        "expressionSelectors": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["key", "operator"],
            "properties": {"key": {"type": "string"}, "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                           "values": _STRINGS}}},
    },
}
_METADATA = {
    "type": "object", "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}, "namespace": {"type": "string"},
                   "labels": _STRING_MAP, "annotations": _STRING_MAP},
    "anyOf": [{"required": ["name"]}, {"required": ["generateName"]}],
}
_COMMON = {"mode": _MODE, "value": {"type": "string"}, "selector": _SELECTOR,
           "duration": {"type": "string", "pattern": _GO_DURATION}, "containerNames": _STRINGS,
           "remoteCluster": {"type": "string"}}


def _netem(required: str, **more) -> dict:
    return {"type": "object", "additionalProperties": False, "required": [required],
            "properties": {required: {"type": "string", "pattern": _PERCENT}, "correlation": {"type": "string"},
                           **more}}


def _chaos_schema(kind: str, spec_properties: dict, *, rules: list[dict]) -> dict:
    return {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": f"{CHAOS_MESH_GROUP}/{CHAOS_MESH_VERSION}"}, "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": {"type": "object", "additionalProperties": False, "required": ["mode", "selector"],
                     "properties": {**_COMMON, **spec_properties}, "allOf": rules},
        },
    }


CHAOS_MESH_SCHEMAS = {
    "NetworkChaos": _chaos_schema("NetworkChaos", {
        "action": {"enum": ["netem", "delay", "loss", "duplicate", "corrupt", "partition", "bandwidth"]},
        "direction": {"enum": ["to", "from", "both"]},
        "target": {"type": "object", "additionalProperties": False, "required": ["mode", "selector"],
                   "properties": {"mode": _MODE, "value": {"type": "string"}, "selector": _SELECTOR}},
        "externalTargets": _STRINGS, "device": {"type": "string"}, "targetDevice": {"type": "string"},
        "delay": {"type": "object", "additionalProperties": False, "required": ["latency"],
                  "properties": {"latency": {"type": "string", "pattern": _GO_DURATION},
                                 "jitter": {"type": "string", "pattern": _GO_DURATION},
                                 "correlation": {"type": "string", "pattern": _PERCENT},
                                 "reorder": {"type": "object"}}},
        "loss": _netem("loss"), "duplicate": _netem("duplicate"), "corrupt": _netem("corrupt"),
        "bandwidth": {"type": "object", "required": ["rate", "limit", "buffer"]},
    }, rules=[
        {"required": ["action"]},
        # each action needs its own block (Chaos Mesh's webhook refuses a delay without `delay`)
        *({"if": {"properties": {"action": {"const": action}}}, "then": {"required": [action]}}
          for action in ("delay", "loss", "duplicate", "corrupt", "bandwidth")),
    ]),
    "StressChaos": _chaos_schema("StressChaos", {
        "stressors": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
            "cpu": {"type": "object", "additionalProperties": False, "required": ["workers"],
                    "properties": {"workers": {"type": "integer", "minimum": 1},
                                   "load": {"type": "integer", "minimum": 0, "maximum": 100}, "options": _STRINGS}},
            "memory": {"type": "object", "additionalProperties": False, "required": ["workers"],
                       "properties": {"workers": {"type": "integer", "minimum": 1}, "size": {"type": "string"},
                                      "oomScoreAdj": {"type": "integer"}, "options": _STRINGS}}}},
        "stressngStressors": {"type": "string"},
    }, rules=[{"anyOf": [{"required": ["stressors"]}, {"required": ["stressngStressors"]}]}]),
}


def validate_chaos_mesh(obj: dict) -> None:
    """422 Invalid unless `obj` is a valid Chaos Mesh object by CHAOS_MESH_SCHEMAS."""
    schema = CHAOS_MESH_SCHEMAS.get(obj.get("kind") if isinstance(obj, dict) else None)
    if schema is None:
        raise ApiError(400, "BadRequest", f"no Chaos Mesh kind {obj.get('kind') if isinstance(obj, dict) else obj!r}")
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(obj), key=jsonschema.exceptions.relevance,
                    reverse=True)
    if errors:  # every one, the most relevant first, as the API server lists its causes
        causes = [{"field": ".".join(str(part) for part in error.absolute_path) or "(root)", "message": error.message}
                  for error in errors]
        raise ApiError(422, "Invalid", f"{obj['kind']} is invalid: " + "; ".join(
            f"{cause['field']}: {cause['message']}" for cause in causes), causes)


def go_seconds(text: str) -> float:
    """A Go duration string ("30s", "2500ms", "1m30s") in seconds."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", text))


# ---------------------------------------------------------------- label selectors

_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_requirements(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector syntax: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a)`."""
    for requirement in _split_requirements(selector or ""):
        found = _SET.match(requirement)
        if found:
            key, op, values = found.group(1), found.group(2), {v.strip() for v in found.group(3).split(",")}
            inside = labels.get(key) in values
            if (op == "in") != inside:
                return False
        elif "!=" in requirement:
            key, value = (part.strip() for part in requirement.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in requirement:
            key, value = (part.strip() for part in requirement.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif requirement.startswith("!"):
            if requirement[1:].strip() in labels:
                return False
        elif requirement not in labels:
            return False
    return True


def merge_patch(target: dict, patch: dict) -> dict:
    """RFC 7386 merge patch (what a strategic merge patch of plain fields does too)."""
    out = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):  # into what is there, or into nothing: its nulls name nothing to keep
            out[key] = merge_patch(out[key] if isinstance(out.get(key), dict) else {}, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def registry_algorithm(attribute: str, value: str) -> str:
    """The first of LB Lab's algorithms whose `attribute` (its equivalent on a balancer) is `value`."""
    from clusters.algorithms import ALGORITHMS

    return next(name for name, entry in ALGORITHMS.items() if getattr(entry, attribute) == value)


def _custom_object_algorithm(obj: dict) -> tuple[str, dict]:
    """The algorithm an Envoy Gateway BackendTrafficPolicy or an Istio DestinationRule sets."""
    if obj["kind"] == "BackendTrafficPolicy":
        balancer = obj["spec"].get("loadBalancer") or {"type": "LeastRequest"}  # Envoy Gateway's default
        header = (balancer.get("consistentHash") or {}).get("header", {}).get("name")
        return registry_algorithm("envoy_gateway", balancer["type"]), {"header": header} if header else {}
    balancer = (obj["spec"].get("trafficPolicy") or {}).get("loadBalancer") or {}
    balancer = balancer if "consistentHash" in balancer or "simple" in balancer else {"simple": "LEAST_REQUEST"}
    if "consistentHash" in balancer:
        header = balancer["consistentHash"].get("httpHeaderName")
        return "consistent_hash", {"header": header} if header else {}
    return registry_algorithm("istio", balancer["simple"]), {}


SERVER_SET = ("uid", "resourceVersion", "creationTimestamp")  # metadata the API server writes


def _as_sent(obj: dict) -> dict:
    """`obj` without the metadata the server set, as a client would send it."""
    return {**obj, "metadata": {key: value for key, value in obj["metadata"].items() if key not in SERVER_SET}}


def patched(obj: dict, request: Request, validator=None) -> dict:
    """`obj` with the request's merge patch applied, validated (by `validator`, else the Kubernetes
    schemas); 415 for a patch type the emulator does not apply (a JSON Patch list), 400 for a body
    that is not an object."""
    if request.content_type.split(";")[0].strip() not in MERGE_PATCHES:
        raise ApiError(415, "UnsupportedMediaType", f"the emulator applies {' or '.join(MERGE_PATCHES)} patches, "
                                                    f"not {request.content_type or 'none'}")
    if not isinstance(request.body, dict):
        raise ApiError(400, "BadRequest", "a merge patch is a JSON object")
    out = merge_patch(obj, request.body)
    for key in ("annotations", "labels"):  # an empty map is not served back (Go's omitempty)
        if (out.get("metadata") or {}).get(key) == {}:
            del out["metadata"][key]
    (validator or validate)(out)
    return out


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict | None
    content_type: str = ""


@dataclass
class _Pdb:
    obj: dict


@dataclass
class _State:
    pdbs: dict[str, _Pdb] = field(default_factory=dict)
    cordoned: set[str] = field(default_factory=set)
    node_annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    # Chaos Mesh objects by plural and name, and the sandbox fault each one applied: (kind, pods)
    chaos: dict[str, dict[str, dict]] = field(default_factory=lambda: {plural: {} for plural in CHAOS_MESH_KINDS})
    effects: dict[tuple[str, str], tuple[str, list[str]]] = field(default_factory=dict)
    network_policies: dict[str, dict] = field(default_factory=dict)
    pod_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # labels patched onto pods
    # the balancers' custom objects by kind and name, in the order they were written (the last one rules)
    balancer_objects: dict[str, dict[str, dict]] = field(default_factory=lambda: {kind: {} for kind in BALANCER_KINDS})
    services: dict[str, dict] = field(default_factory=dict)
    ingresses: dict[str, dict] = field(default_factory=dict)
    written: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) of the objects, last written last
    algorithm: tuple[str, dict] | None = None  # what the balancer objects make the sandbox run now
    replicas: int = 0  # the Deployment's spec.replicas (the sandbox's pods may be fewer for a moment)
    hpa: dict | None = None  # the HorizontalPodAutoscaler on the Deployment, when a test adds one
    restarts: dict[str, int] = field(default_factory=dict)  # containers restarted in place, by pod


class KubeApiEmulator:
    """The API server of one namespace (`namespace`) whose Deployment `deployment` is a sandbox's pods."""

    def __init__(self, sandbox, *, namespace: str = "web", deployment: str = "web", chaos_mesh: bool = True,
                 metrics_server: bool = True):
        self.sandbox, self.namespace, self.deployment = sandbox, namespace, deployment
        self.chaos_mesh = chaos_mesh  # False: a cluster without Chaos Mesh (its API group is a 404)
        self.metrics_server = metrics_server  # False: no metrics.k8s.io (a 404, as without metrics-server)
        self._cpu_read: dict[str, tuple[float, float]] = {}  # pod -> (its CPU seconds, when read)
        self.requests: list[Request] = []
        self.state = _State(replicas=len(sandbox.pods()))
        self.state.services[deployment] = self._service_object(deployment)
        # what the sandbox ran before any balancer object: what deleting them all brings back
        self.base_algorithm = (sandbox.config.algorithm, dict(sandbox.config.algorithm_options))
        self.lock = threading.Lock()
        # LB Lab's own namespace: its task worker's pod and a run's Locust worker Job (tests/kube_home.py)
        self.home = HomeNamespace(validate, ApiError)
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet: the request log is `requests`
                pass

            def _answer(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                request = Request(self.command, url.path, parse_qs(url.query), body,
                                  self.headers.get("Content-Type", ""))
                with emulator.lock:
                    emulator.requests.append(request)
                    try:
                        code, answer = emulator.route(request)
                    except ApiError as error:
                        code, answer = error.code, error.status()
                    except Exception as error:  # noqa: BLE001 - an emulator bug is a 500, not a dropped connection
                        code, answer = 500, ApiError(500, "InternalError", f"emulator: {error!r}").status()
                payload = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="kube-api-emulator", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ life

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.home.close()

    def __enter__(self) -> KubeApiEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def client(self):
        """An official-client ApiClient talking to this emulator."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        return client.ApiClient(configuration)

    def write_kubeconfig(self, path, *, context: str = "emulator") -> str:
        """A kubeconfig whose `context` (the current one) reaches this emulator; returns the path."""
        import yaml

        config = {"apiVersion": "v1", "kind": "Config", "current-context": context,
                  "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
                  "users": [{"name": "lblab", "user": {"token": "emulator"}}],
                  "contexts": [{"name": context, "context": {"cluster": "emulator", "user": "lblab",
                                                             "namespace": self.namespace}}]}
        with open(path, "w") as out:
            yaml.safe_dump(config, out)
        return str(path)

    def add_pdb(self, name: str, match_labels: dict[str, str], *, min_available: int) -> dict:
        obj = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": name, "namespace": self.namespace},
               "spec": {"minAvailable": min_available, "selector": {"matchLabels": dict(match_labels)}}}
        validate(obj)
        self.state.pdbs[name] = _Pdb(obj)
        return obj

    def add_hpa(self, *, min_replicas: int, max_replicas: int, cpu_target: int, name: str = "web") -> dict:
        """A HorizontalPodAutoscaler (autoscaling/v2) on the Deployment, scaling on average CPU."""
        obj = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": name, "namespace": self.namespace},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.deployment},
                        "minReplicas": min_replicas, "maxReplicas": max_replicas,
                        "metrics": [{"type": "Resource", "resource": {
                            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu_target}}}]},
               "status": {"currentReplicas": self.state.replicas, "desiredReplicas": self.state.replicas}}
        validate(obj)
        self.state.hpa = obj
        return obj

    def add_ingress(self, name: str, *, annotations: dict[str, str] | None = None) -> dict:
        """An Ingress (networking.k8s.io/v1) routing to the Service, for ingress-nginx's annotations."""
        obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": name, "namespace": self.namespace, "annotations": dict(annotations or {})},
               "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [{
                   "path": "/", "pathType": "Prefix",
                   "backend": {"service": {"name": self.deployment, "port": {"number": 80}}}}]}}]}}
        validate(obj)
        self.state.ingresses[name] = obj
        return obj

    def _service_object(self, name: str) -> dict:
        obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": self.namespace},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                        "sessionAffinity": "None"}}
        validate(obj)
        return obj

    def restart_container(self, pod: str) -> None:
        """What the kubelet does when a container crashes or fails its liveness probe: restarts it in
        place, the pod keeping its name, its restart count one more."""
        with self.lock:
            self.state.restarts[pod] = self.state.restarts.get(pod, 0) + 1

    def hpa_scales(self, replicas: int, *, cpu_utilisation: int) -> None:
        """What the HPA controller does when it decides: its status says the desired count and the
        metric it read, and it writes the Deployment's scale."""
        with self.lock:
            hpa = self.state.hpa
            hpa["status"] = {"currentReplicas": self.state.replicas, "desiredReplicas": replicas,
                             "currentMetrics": [{"type": "Resource", "resource": {
                                 "name": "cpu", "current": {"averageUtilization": cpu_utilisation}}}]}
            validate(hpa)
            self.state.replicas = replicas
        self.sandbox.scale(replicas)

    # ------------------------------------------------------------ objects

    def pod_objects(self) -> list[dict]:
        return [self._pod(pod) for pod in self.sandbox.pods()]

    def _pod(self, pod) -> dict:
        host, _, port = pod.address.rpartition(":")
        ready = "True" if pod.ready else "False"
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod.name, "namespace": self.namespace,
                         "labels": {**APP_LABELS, **self.state.pod_labels.get(pod.name, {})},
                         "uid": f"uid-{pod.name}", "ownerReferences": [
                             {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{self.deployment}-rs",
                              "uid": "uid-rs", "controller": True}]},
            "spec": {"nodeName": pod.node, "containers": [
                {"name": "web", "image": IMAGE, "ports": [{"containerPort": int(port), "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": host, "hostIP": host,
                       "conditions": [{"type": "Ready", "status": ready}],
                       "containerStatuses": [{"name": "web", "ready": pod.ready,
                                              "restartCount": self.state.restarts.get(pod.name, 0), "image": IMAGE,
                                              "imageID": "", "started": True}]},
        }

    def _node(self, name: str) -> dict:
        metadata = {"name": name, "labels": {"kubernetes.io/hostname": name}}
        if self.state.node_annotations.get(name):
            metadata["annotations"] = dict(self.state.node_annotations[name])
        return {"apiVersion": "v1", "kind": "Node", "metadata": metadata,
                "spec": {"unschedulable": name in self.state.cordoned},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}

    def _deployment(self) -> dict:
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": self.deployment, "namespace": self.namespace},
                "spec": {"replicas": self.state.replicas, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": dict(APP_LABELS)},
                                      "spec": {"containers": [{"name": "web", "image": IMAGE}]}}}}

    def _scale(self) -> dict:
        replicas = self.state.replicas
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": self.deployment, "namespace": self.namespace},
                "spec": {"replicas": replicas},
                "status": {"replicas": replicas, "selector": "app=web"}}

    @staticmethod
    def _list(kind: str, api_version: str, items: list[dict]) -> dict:
        return {"apiVersion": api_version, "kind": f"{kind}List", "metadata": {"resourceVersion": "1"}, "items": items}

    # ------------------------------------------------------------ routes

    def route(self, request: Request) -> tuple[int, dict]:
        parts = [part for part in request.path.split("/") if part]
        method = request.method
        ns = f"namespaces/{self.namespace}"
        path = "/".join(parts)
        chaos_mesh = f"apis/{CHAOS_MESH_GROUP}/{CHAOS_MESH_VERSION}"
        if path == chaos_mesh or path.startswith(f"{chaos_mesh}/") or path.startswith(f"apis/{CHAOS_MESH_GROUP}"):
            return self._chaos_mesh_route(method, path[len(chaos_mesh):].strip("/"), request)
        if self.home.serves(path):
            return self.home.route(method, path, request)
        if path.startswith(("api/v1/namespaces/", "apis/")) and f"/{ns}/" not in f"/{path}/":
            raise ApiError(404, "NotFound", f"the emulator serves namespace {self.namespace!r} only")
        if path.startswith("apis/metrics.k8s.io"):
            return self._metrics_route(method, path, request)
        if path == f"api/v1/{ns}/pods" and method == "GET":
            selector = (request.query.get("labelSelector") or [""])[-1]
            pods = [pod for pod in self.pod_objects() if selector_matches(selector, pod["metadata"]["labels"])]
            return 200, self._list("Pod", "v1", pods)
        found = re.fullmatch(rf"api/v1/{ns}/pods/([^/]+)(/eviction)?", path)
        if found:
            return self._pod_route(method, found.group(1), bool(found.group(2)), request)
        if path == "api/v1/nodes" and method == "GET":
            return 200, self._list("Node", "v1", [self._node(node) for node in self.sandbox.nodes()])
        found = re.fullmatch(r"api/v1/nodes/([^/]+)", path)
        if found:
            return self._node_route(method, found.group(1), request)
        if path == f"apis/apps/v1/{ns}/deployments/{self.deployment}/scale":
            if method == "GET":
                return 200, self._scale()
            if method in ("PATCH", "PUT"):
                scale = patched(self._scale(), request) if method == "PATCH" else (request.body or {})
                validate(scale)
                self.state.replicas = int(scale["spec"]["replicas"])
                self.sandbox.scale(self.state.replicas)
                return 200, self._scale()
        if path == f"apis/apps/v1/{ns}/deployments" and method == "GET":
            return 200, self._list("Deployment", "apps/v1", [self._deployment()])
        if path == f"apis/autoscaling/v2/{ns}/horizontalpodautoscalers" and method == "GET":
            return 200, self._list("HorizontalPodAutoscaler", "autoscaling/v2",
                                   [self.state.hpa] if self.state.hpa else [])
        for kind, (group, version, plural) in BALANCER_KINDS.items():
            found = re.fullmatch(rf"apis/{re.escape(group)}/{version}/{ns}/{plural}(?:/([^/]+))?", path)
            if found:
                return self._balancer_object_route(method, kind, found.group(1), request)
        found = re.fullmatch(rf"api/v1/{ns}/services(?:/([^/]+))?", path)
        if found:
            return self._patchable_route(method, "Service", self.state.services, found.group(1), request)
        found = re.fullmatch(rf"apis/networking.k8s.io/v1/{ns}/ingresses(?:/([^/]+))?", path)
        if found:
            return self._patchable_route(method, "Ingress", self.state.ingresses, found.group(1), request)
        found = re.fullmatch(rf"apis/networking.k8s.io/v1/{ns}/networkpolicies(?:/([^/]+))?", path)
        if found:
            return self._network_policy_route(method, found.group(1), request)
        if path == f"apis/policy/v1/{ns}/poddisruptionbudgets":
            if method == "GET":
                return 200, self._list("PodDisruptionBudget", "policy/v1", [pdb.obj for pdb in self.state.pdbs.values()])
            if method == "POST":
                obj = request.body or {}
                validate(obj)
                self.state.pdbs[obj["metadata"]["name"]] = _Pdb(obj)
                return 201, obj
        raise ApiError(404, "NotFound", f"the emulator does not serve {method} {request.path}")

    def _metrics_route(self, method: str, path: str, request: Request) -> tuple[int, dict]:
        """metrics.k8s.io's PodMetricsList, as metrics-server answers it: each pod's CPU as a rate
        (nanocores over the time since the last read, here from the sandbox pod's own CPU seconds)
        and its memory (Ki)."""
        if not self.metrics_server or path != f"apis/metrics.k8s.io/v1beta1/namespaces/{self.namespace}/pods":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method != "GET":
            raise ApiError(405, "MethodNotAllowed", "metrics are read only")
        selector = (request.query.get("labelSelector") or [""])[-1]
        now = time.monotonic()
        items = []
        for name, reading in self.sandbox.pod_metrics().items():
            if not selector_matches(selector, APP_LABELS):
                continue
            before = self._cpu_read.get(name)
            self._cpu_read[name] = (reading.cpu_seconds, now)
            cores = (reading.cpu_seconds - before[0]) / (now - before[1]) if before and now > before[1] else 0.0
            items.append({"metadata": {"name": name, "namespace": self.namespace, "labels": dict(APP_LABELS)},
                          "timestamp": "2026-12-06T00:00:00Z", "window": "15s",
                          "containers": [{"name": "web", "usage": {"cpu": f"{max(0, round(cores * 1e9))}n",
                                                                  "memory": f"{reading.memory_bytes // 1024}Ki"}}]})
        return 200, {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}

    def _find_pod(self, name: str) -> dict:
        for pod in self.pod_objects():
            if pod["metadata"]["name"] == name:
                return pod
        raise ApiError(404, "NotFound", f'pods "{name}" not found')

    def _pod_route(self, method: str, name: str, eviction: bool, request: Request) -> tuple[int, dict]:
        pod = self._find_pod(name)
        if eviction:
            if method != "POST":
                raise ApiError(405, "MethodNotAllowed", "an eviction is created with POST")
            body = request.body or {}
            validate(body)
            if body.get("metadata", {}).get("name") != name:
                raise ApiError(400, "BadRequest", "the eviction's metadata.name must be the pod's name")
            self._check_budgets(pod)
            self.sandbox.kill_pod(name)
            return 201, {"apiVersion": "v1", "kind": "Status", "status": "Success", "code": 201}
        if method == "GET":
            return 200, pod
        if method == "PATCH":  # labels only: what LB Lab patches on a pod
            labels = patched(pod, request)["metadata"].get("labels") or {}
            self.state.pod_labels[name] = {key: value for key, value in labels.items() if APP_LABELS.get(key) != value}
            return 200, self._pod(next(p for p in self.sandbox.pods() if p.name == name))
        if method == "DELETE":
            if request.body:  # DeleteOptions: validated as the eviction's deleteOptions (the same schema)
                validate({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name},
                          "deleteOptions": {k: v for k, v in request.body.items() if k not in ("apiVersion", "kind")}})
            self.sandbox.kill_pod(name)
            return 200, pod
        raise ApiError(405, "MethodNotAllowed", f"{method} on a pod")

    def _check_budgets(self, pod: dict) -> None:
        """429 TooManyRequests when evicting `pod` would leave a budget's pods under its minimum."""
        labels = pod["metadata"]["labels"]
        for name, pdb in self.state.pdbs.items():
            match = pdb.obj["spec"].get("selector", {}).get("matchLabels", {})
            if any(labels.get(key) != value for key, value in match.items()):
                continue
            healthy = [other for other in self.pod_objects()
                       if all(other["metadata"]["labels"].get(k) == v for k, v in match.items())
                       and other["status"]["conditions"][0]["status"] == "True"]
            minimum = int(pdb.obj["spec"].get("minAvailable", 0))
            if len(healthy) - 1 < minimum:
                raise ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                               [{"reason": "DisruptionBudget",
                                 "message": f"The disruption budget {name} needs {minimum} healthy pods and has "
                                            f"{len(healthy)} currently"}])

    def _node_route(self, method: str, name: str, request: Request) -> tuple[int, dict]:
        if name not in self.sandbox.nodes():
            raise ApiError(404, "NotFound", f'nodes "{name}" not found')
        if method == "GET":
            return 200, self._node(name)
        if method == "PATCH":
            node = patched(self._node(name), request)
            self.state.node_annotations[name] = dict(node["metadata"].get("annotations") or {})
            if node.get("spec", {}).get("unschedulable"):
                self.state.cordoned.add(name)
                self.sandbox.client.cordon(name)
            elif name in self.state.cordoned:
                self.state.cordoned.discard(name)
                self.sandbox.uncordon(name)
            return 200, self._node(name)
        raise ApiError(405, "MethodNotAllowed", f"{method} on a node")

    # ------------------------------------------------------------ Chaos Mesh

    def lblab_objects(self) -> list[dict]:
        """Every object labelled `app.kubernetes.io/managed-by: lblab` the emulator holds."""
        held = [*(obj for objects in self.state.chaos.values() for obj in objects.values()),
                *self.state.network_policies.values(),
                *(obj for objects in self.state.balancer_objects.values() for obj in objects.values())]
        return [obj for obj in held if obj["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "lblab"]

    # ------------------------------------------------------------ balancer settings

    def _balancer_object_route(self, method: str, kind: str, name: str | None, request: Request) -> tuple[int, dict]:
        """A balancer's custom objects (Envoy Gateway's BackendTrafficPolicy, Istio's DestinationRule):
        list by `labelSelector`, create (409 when the name exists), get, replace (409 unless the
        `resourceVersion` is the stored one), delete; each checked against its documented schema."""
        group, version, plural = BALANCER_KINDS[kind]
        objects = self.state.balancer_objects[kind]
        if name is None and method == "GET":
            selector = (request.query.get("labelSelector") or [""])[-1]
            return 200, self._list(kind, f"{group}/{version}", [
                obj for obj in objects.values() if selector_matches(selector, obj["metadata"].get("labels", {}))])
        if name is None and method == "POST":
            obj = self._checked_custom(kind, request.body)
            if obj["metadata"]["name"] in objects:
                raise ApiError(409, "AlreadyExists", f'{plural}.{group} "{obj["metadata"]["name"]}" already exists')
            obj["metadata"].update(uid=f"uid-{obj['metadata']['name']}", resourceVersion="1")
            objects[obj["metadata"]["name"]] = obj
            self.state.written.append((kind, obj["metadata"]["name"]))
            self._balance()
            return 201, obj
        if name not in objects:
            raise ApiError(404, "NotFound", f'{plural}.{group} "{name}" not found')
        if method == "GET":
            return 200, objects[name]
        if method == "PUT":
            obj = self._checked_custom(kind, request.body)
            stored = objects[name]["metadata"]["resourceVersion"]
            if obj["metadata"].get("resourceVersion") != stored:
                raise ApiError(409, "Conflict", f'{plural}.{group} "{name}": the object has been modified')
            obj["metadata"].update(uid=f"uid-{name}", resourceVersion=str(int(stored) + 1))
            objects[name] = obj
            self.state.written.remove((kind, name))  # the last one written rules
            self.state.written.append((kind, name))
            self._balance()
            return 200, obj
        if method == "PATCH":
            stored = objects[name]
            obj = patched(stored, request, validator=lambda out: self._checked_custom(kind, _as_sent(out)))
            obj["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
            objects[name] = obj
            self.state.written.remove((kind, name))
            self.state.written.append((kind, name))
            self._balance()
            return 200, obj
        if method == "DELETE":
            obj = objects.pop(name)
            self.state.written.remove((kind, name))
            self._balance()
            return 200, obj
        raise ApiError(405, "MethodNotAllowed", f"{method} on {plural}")

    def add_balancer_object(self, obj: dict) -> dict:
        """A balancer's custom object someone else made (the user's DestinationRule, say), there before
        LB Lab; checked as any, written last (it rules, until another is written)."""
        with self.lock:
            obj = self._checked_custom(obj["kind"], obj)
            name = obj["metadata"]["name"]
            obj["metadata"].update(uid=f"uid-{name}", resourceVersion="1",
                                   creationTimestamp=f"2026-01-01T00:00:{len(self.state.written):02d}Z")
            self.state.balancer_objects[obj["kind"]][name] = obj
            self.state.written.append((obj["kind"], name))
            self._balance()
        return obj

    def _checked_custom(self, kind: str, body) -> dict:
        if not isinstance(body, dict) or body.get("kind") != kind:
            raise ApiError(400, "BadRequest", f"the body must be a {kind}")
        try:
            validate_custom(body)
        except jsonschema.ValidationError as error:
            raise ApiError(422, "Invalid", f"{kind}: {error.message}",
                           [{"field": ".".join(map(str, error.absolute_path)), "message": error.message}]) from None
        if body["metadata"]["namespace"] != self.namespace:
            raise ApiError(400, "BadRequest", "the object's namespace does not match the request's")
        return copy.deepcopy(body)

    def _patchable_route(self, method: str, kind: str, objects: dict[str, dict], name: str | None,
                         request: Request) -> tuple[int, dict]:
        """Services and Ingresses: list, get, and merge-patch (validated); a patch re-balances."""
        if name is None and method == "GET":
            return 200, self._list(kind, objects and next(iter(objects.values()))["apiVersion"] or "v1",
                                   list(objects.values()))
        if name not in objects:
            raise ApiError(404, "NotFound", f'{kind.lower()}s "{name}" not found')
        if method == "GET":
            return 200, objects[name]
        if method == "PATCH":
            obj = patched(objects[name], request)
            distribution = obj["spec"].get("trafficDistribution") if kind == "Service" else None
            if distribution is not None and distribution not in TRAFFIC_DISTRIBUTIONS:
                # the API server's own check (the OpenAPI schema says a string only)
                message = f'Unsupported value: "{distribution}": supported values: "' + '", "'.join(
                    TRAFFIC_DISTRIBUTIONS) + '"'
                raise ApiError(422, "Invalid", f'Service "{name}" is invalid: spec.trafficDistribution: {message}',
                               [{"field": "spec.trafficDistribution", "message": message}])
            objects[name] = obj
            self._balance()
            return 200, objects[name]
        raise ApiError(405, "MethodNotAllowed", f"{method} on a {kind}")

    def _balance(self) -> None:
        """What the objects make the balancer in front of the pods run, set on the sandbox's balancer:
        the last Istio or Envoy Gateway object written, else an Ingress's ingress-nginx annotations,
        else the Service's session affinity, else what the sandbox ran at the start."""
        algorithm = self.base_algorithm
        for obj in self.state.services.values():
            if obj["spec"].get("sessionAffinity") == "ClientIP":
                algorithm = ("consistent_hash", {})
        for obj in self.state.ingresses.values():
            annotations = obj["metadata"].get("annotations") or {}
            if annotations.get(INGRESS_NGINX + "upstream-hash-by"):
                key = annotations[INGRESS_NGINX + "upstream-hash-by"]
                algorithm = ("consistent_hash", {"header": key[len("$http_"):].replace("_", "-")}
                             if key.startswith("$http_") else {})
            elif annotations.get(INGRESS_NGINX + "load-balance"):
                algorithm = (registry_algorithm("ingress_nginx", annotations[INGRESS_NGINX + "load-balance"]), {})
        if self.state.written:
            kind, name = self.state.written[-1]
            algorithm = _custom_object_algorithm(self.state.balancer_objects[kind][name])
        if algorithm != self.state.algorithm:
            self.state.algorithm = algorithm
            self.sandbox.set_algorithm(*algorithm)

    def _network_policy_route(self, method: str, name: str | None, request: Request) -> tuple[int, dict]:
        policies = self.state.network_policies
        if name is None and method == "GET":
            selector = (request.query.get("labelSelector") or [""])[-1]
            return 200, self._list("NetworkPolicy", "networking.k8s.io/v1", [
                obj for obj in policies.values() if selector_matches(selector, obj["metadata"].get("labels", {}))])
        if name is None and method == "POST":
            obj = copy.deepcopy(request.body or {})
            metadata = obj.setdefault("metadata", {})
            name = metadata.get("name") or f"{metadata.get('generateName', '')}{secrets.token_hex(3)[:5]}"
            metadata.update(name=name, namespace=self.namespace)
            validate(obj)
            if name in policies:
                raise ApiError(409, "AlreadyExists", f'networkpolicies.networking.k8s.io "{name}" already exists')
            policies[name] = obj
            self._enforce(name, obj["spec"])
            return 201, obj
        if name not in policies:
            raise ApiError(404, "NotFound", f'networkpolicies.networking.k8s.io "{name}" not found')
        if method == "GET":
            return 200, policies[name]
        if method == "DELETE":
            obj = policies.pop(name)
            self._undo("networkpolicies", name)
            return 200, obj
        raise ApiError(405, "MethodNotAllowed", f"{method} on a NetworkPolicy")

    def _enforce(self, name: str, spec: dict) -> None:
        """A policy that selects pods for Ingress with no ingress rule denies them every connection:
        the sandbox's blackhole (partition) on them, until the policy is deleted."""
        if "Ingress" not in spec.get("policyTypes", ["Ingress"]) or spec.get("ingress"):
            return
        match = spec.get("podSelector", {}).get("matchLabels", {})
        pods = sorted(pod["metadata"]["name"] for pod in self.pod_objects()
                      if all(pod["metadata"]["labels"].get(key) == value for key, value in match.items()))
        if pods:
            self.sandbox.partition(pods, 3600.0)
            self.state.effects[("networkpolicies", name)] = ("partition", pods)

    def _chaos_mesh_route(self, method: str, rest: str, request: Request) -> tuple[int, dict]:
        if not self.chaos_mesh or not request.path.strip("/").startswith(f"apis/{CHAOS_MESH_GROUP}/{CHAOS_MESH_VERSION}"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if rest == "" and method == "GET":  # discovery
            return 200, {"kind": "APIResourceList", "apiVersion": "v1",
                         "groupVersion": f"{CHAOS_MESH_GROUP}/{CHAOS_MESH_VERSION}",
                         "resources": [{"name": plural, "singularName": plural, "namespaced": True, "kind": kind,
                                        "verbs": ["create", "delete", "get", "list"]}
                                       for plural, kind in CHAOS_MESH_KINDS.items()]}
        found = re.fullmatch(rf"namespaces/([^/]+)/({'|'.join(CHAOS_MESH_KINDS)})(?:/([^/]+))?", rest)
        if not found:
            raise ApiError(404, "NotFound", f"the emulator does not serve {method} {request.path}")
        namespace, plural, name = found.groups()
        if namespace != self.namespace:
            raise ApiError(404, "NotFound", f"the emulator serves namespace {self.namespace!r} only")
        objects = self.state.chaos[plural]
        if name is None and method == "GET":
            selector = (request.query.get("labelSelector") or [""])[-1]
            items = [obj for obj in objects.values() if selector_matches(selector, obj["metadata"].get("labels", {}))]
            return 200, self._list(CHAOS_MESH_KINDS[plural], f"{CHAOS_MESH_GROUP}/{CHAOS_MESH_VERSION}", items)
        if name is None and method == "POST":
            return 201, self._create_chaos(plural, request.body)
        if name is not None and name not in objects:
            raise ApiError(404, "NotFound", f'{plural}.{CHAOS_MESH_GROUP} "{name}" not found')
        if method == "GET":
            return 200, objects[name]
        if method == "DELETE":
            obj = objects.pop(name)
            self._undo(plural, name)
            return 200, obj
        raise ApiError(405, "MethodNotAllowed", f"{method} on {plural}")

    def _create_chaos(self, plural: str, body) -> dict:
        if not isinstance(body, dict) or body.get("kind") != CHAOS_MESH_KINDS[plural]:
            raise ApiError(400, "BadRequest", f"the body of a {plural} create must be a {CHAOS_MESH_KINDS[plural]}")
        validate_chaos_mesh(body)
        obj = copy.deepcopy(body)
        metadata = obj["metadata"]
        if metadata.get("namespace", self.namespace) != self.namespace:
            raise ApiError(400, "BadRequest", "the object's namespace does not match the request's")
        name = metadata.get("name") or f"{metadata['generateName']}{secrets.token_hex(3)[:5]}"
        if name in self.state.chaos[plural]:
            raise ApiError(409, "AlreadyExists", f'{plural}.{CHAOS_MESH_GROUP} "{name}" already exists')
        metadata.update(name=name, namespace=self.namespace, uid=f"uid-{name}", resourceVersion="1")
        obj["status"] = self._chaos_status(obj, ended=False)
        self.state.chaos[plural][name] = obj
        self._apply(plural, name, obj["spec"])
        return obj

    def _chaos_status(self, obj: dict, *, ended: bool) -> dict:
        """The status Chaos Mesh's controller reports of an experiment on its selected pods: running
        (injected, not recovered; desired phase Run) or ended (recovered; desired phase Stop)."""
        pods = obj["spec"]["selector"].get("pods", {}).get(self.namespace, [])
        return {
            "conditions": [{"type": "Selected", "status": "True"},
                           {"type": "AllInjected", "status": str(not ended)},
                           {"type": "AllRecovered", "status": str(ended)}, {"type": "Paused", "status": "False"}],
            "experiment": {"desiredPhase": "Stop" if ended else "Run", "containerRecords": [
                {"id": f"{self.namespace}/{pod}", "selectorKey": ".", "phase": "Not Injected" if ended else "Injected",
                 "injectedCount": 1, "recoveredCount": int(ended)} for pod in pods]}}

    def _apply(self, plural: str, name: str, spec: dict) -> None:
        """What Chaos Mesh's daemon would do to the selected pods, done to the sandbox's: a delay is
        latency, a 100 % loss is a blackhole (partition), a CPU stressor is CPU stress."""
        live = {pod.name for pod in self.sandbox.pods()}
        pods = sorted(set(spec["selector"].get("pods", {}).get(self.namespace, ())) & live)
        duration = go_seconds(spec["duration"]) if spec.get("duration") else 3600.0
        if not pods:
            return
        if plural == "networkchaos" and spec["action"] == "delay":
            delay = spec["delay"]
            self.sandbox.add_latency(pods, go_seconds(delay["latency"]) * 1000,
                                     go_seconds(delay.get("jitter") or "0s") * 1000, duration)
            self.state.effects[(plural, name)] = ("latency", pods)
        elif plural == "networkchaos" and spec["action"] == "loss" and float(spec["loss"]["loss"]) == 100:
            self.sandbox.partition(pods, duration)
            self.state.effects[(plural, name)] = ("partition", pods)
        elif plural == "stresschaos" and "cpu" in spec.get("stressors", {}):
            self.sandbox.stress_cpu(pods, spec["stressors"]["cpu"]["workers"], duration)
            self.state.effects[(plural, name)] = ("cpu_stress", pods)
        # anything else LB Lab does not send: stored, with no effect on the pods

    def end_chaos(self, plural: str, name: str) -> dict:
        """What Chaos Mesh does when an object's `duration` has elapsed: its fault recovered on the
        pods, and its status says so (conditions AllRecovered True, AllInjected False; the
        experiment's desired phase Stop, each pod's record Not Injected). The object stays, as in
        Chaos Mesh, until it is deleted."""
        with self.lock:
            obj = self.state.chaos[plural][name]
            obj["status"] = self._chaos_status(obj, ended=True)
            self._undo(plural, name)
            return obj

    def _undo(self, plural: str, name: str) -> None:
        """A deleted object's fault ends on its pods still alive (Chaos Mesh recovers them); the rest stays."""
        effect = self.state.effects.pop((plural, name), None)
        if effect is None:
            return
        kind, pods = effect
        live = {pod.name for pod in self.sandbox.pods()}
        if set(pods) & live:
            self.sandbox.client.clear_fault(kind, sorted(set(pods) & live))
