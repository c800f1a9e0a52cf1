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
PodDisruptionBudgets (list, create).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate

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
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def patched(obj: dict, request: Request) -> dict:
    """`obj` with the request's merge patch applied, validated; 415 for a patch type the emulator
    does not apply (a JSON Patch list), 400 for a body that is not an object."""
    if request.content_type.split(";")[0].strip() not in MERGE_PATCHES:
        raise ApiError(415, "UnsupportedMediaType", f"the emulator applies {' or '.join(MERGE_PATCHES)} patches, "
                                                    f"not {request.content_type or 'none'}")
    if not isinstance(request.body, dict):
        raise ApiError(400, "BadRequest", "a merge patch is a JSON object")
    out = merge_patch(obj, request.body)
    validate(out)
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


class KubeApiEmulator:
    """The API server of one namespace (`namespace`) whose Deployment `deployment` is a sandbox's pods."""

    def __init__(self, sandbox, *, namespace: str = "web", deployment: str = "web"):
        self.sandbox, self.namespace, self.deployment = sandbox, namespace, deployment
        self.requests: list[Request] = []
        self.state = _State()
        self.lock = threading.Lock()
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

    # ------------------------------------------------------------ objects

    def pod_objects(self) -> list[dict]:
        return [self._pod(pod) for pod in self.sandbox.pods()]

    def _pod(self, pod) -> dict:
        host, _, port = pod.address.rpartition(":")
        ready = "True" if pod.ready else "False"
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod.name, "namespace": self.namespace, "labels": dict(APP_LABELS),
                         "uid": f"uid-{pod.name}", "ownerReferences": [
                             {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{self.deployment}-rs",
                              "uid": "uid-rs", "controller": True}]},
            "spec": {"nodeName": pod.node, "containers": [
                {"name": "web", "image": IMAGE, "ports": [{"containerPort": int(port), "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": host, "hostIP": host,
                       "conditions": [{"type": "Ready", "status": ready}],
                       "containerStatuses": [{"name": "web", "ready": pod.ready, "restartCount": 0, "image": IMAGE,
                                              "imageID": "", "started": True}]},
        }

    def _node(self, name: str) -> dict:
        metadata = {"name": name, "labels": {"kubernetes.io/hostname": name}}
        if self.state.node_annotations.get(name):
            metadata["annotations"] = dict(self.state.node_annotations[name])
        return {"apiVersion": "v1", "kind": "Node", "metadata": metadata,
                "spec": {"unschedulable": name in self.state.cordoned},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}

    def _scale(self) -> dict:
        replicas = len(self.sandbox.pods())
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
        if path.startswith(("api/v1/namespaces/", "apis/")) and f"/{ns}/" not in f"/{path}/":
            raise ApiError(404, "NotFound", f"the emulator serves namespace {self.namespace!r} only")
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
                self.sandbox.scale(int(scale["spec"]["replicas"]))
                return 200, self._scale()
        if path == f"apis/policy/v1/{ns}/poddisruptionbudgets":
            if method == "GET":
                return 200, self._list("PodDisruptionBudget", "policy/v1", [pdb.obj for pdb in self.state.pdbs.values()])
            if method == "POST":
                obj = request.body or {}
                validate(obj)
                self.state.pdbs[obj["metadata"]["name"]] = _Pdb(obj)
                return 201, obj
        raise ApiError(404, "NotFound", f"the emulator does not serve {method} {request.path}")

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
