"""LB Lab's own namespace on the Kubernetes API emulator (tests/kube_emulator.py): the task worker's
pod, and what a run with Locust workers in a Job creates there (ConfigMap, Service, EndpointSlice,
Job), each validated against the Kubernetes schemas as the emulator validates everything; and a
kubelet that runs a Job's pods as real local processes, so a run's workers really connect to its
master and send the load.

The kubelet runs only LB Lab's image (`image`), as the image would: `docker/entrypoint.sh` with the
container's args, in the repository (the image's /app), with the container's env. Where a cluster
has DNS and volumes it resolves, as a kubelet and a cluster's DNS do: a Service's name in the args
or env becomes the address its EndpointSlice names, and a ConfigMap volume's mount path a directory
holding the ConfigMap's keys as files. Deleting a Job kills its pods' process groups."""

from __future__ import annotations

import copy
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from clusters import procs

REPO = Path(__file__).resolve().parents[1]

ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
VENV_BIN = Path(sys.executable).parent


@dataclass
class JobPod:
    name: str
    job: str
    process: subprocess.Popen | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    @property
    def phase(self) -> str:
        if self.process is None:
            return "Failed"
        code = self.process.poll()
        return "Running" if code is None else ("Succeeded" if code == 0 else "Failed")


class Kubelet:
    """Starts and kills a Job's pods from one thread of its own (a pod's process dies with the thread
    that started it: clusters.procs), until `close()`."""

    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="lblab-kubelet-"))
        self._work: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="kube-emulator-kubelet", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            call, done = self._work.get()
            if call is None:
                break
            try:
                done["value"] = call()
            except BaseException as error:  # noqa: BLE001 - handed to the caller
                done["error"] = error
            done["event"].set()

    def _on_thread(self, call):
        done = {"event": threading.Event()}
        self._work.put((call, done))
        done["event"].wait()
        if "error" in done:
            raise done["error"]
        return done.get("value")

    def start(self, pod: JobPod) -> None:
        def spawn():
            pod.log = self.workdir / f"{pod.name}.log"
            with open(pod.log, "ab") as log:
                pod.process = procs.start([str(ENTRYPOINT), *pod.args], stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log, env=pod.env, cwd=REPO)
        self._on_thread(spawn)

    def kill(self, pods: list[JobPod]) -> None:
        procs.kill(*(pod.process for pod in pods if pod.process is not None), reap_timeout_s=5)

    def close(self) -> None:
        self._work.put((None, None))
        self._thread.join(5)
        shutil.rmtree(self.workdir, ignore_errors=True)


class HomeNamespace:
    """The namespace LB Lab runs in: its task worker's pod, and the objects a run creates there."""

    KINDS = {  # URL collection -> (kind, API group path)
        "configmaps": ("ConfigMap", "api/v1"),
        "services": ("Service", "api/v1"),
        "endpointslices": ("EndpointSlice", "apis/discovery.k8s.io/v1"),
        "jobs": ("Job", "apis/batch/v1"),
    }

    def __init__(self, validate, error_class, *, namespace: str = "lblab", image: str = "ghcr.io/lblab/lblab:0.1.0",
                 pod_name: str = "lblab-worker-7c9d-x2k4f", pod_ip: str = "127.0.0.1"):
        self.validate, self.ApiError = validate, error_class
        self.namespace, self.image = namespace, image
        self.worker_pod = {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": pod_name, "namespace": namespace, "uid": str(uuid.uuid4()),
                                        "labels": {"app.kubernetes.io/name": "lblab",
                                                   "app.kubernetes.io/component": "worker"}},
                           "spec": {"containers": [{"name": "worker", "image": image, "args": ["worker"]}]},
                           "status": {"phase": "Running", "podIP": pod_ip}}
        self.objects: dict[str, dict[str, dict]] = {kind: {} for kind, _ in self.KINDS.values()}
        self.deleted: list[tuple[str, str]] = []  # (kind, name), in order
        self.pods: dict[str, list[JobPod]] = {}  # a Job's pods, by the Job's name
        self.kubelet = Kubelet()

    def close(self) -> None:
        for pods in self.pods.values():
            self.kubelet.kill(pods)
        self.kubelet.close()

    def serves(self, path: str) -> bool:
        return f"/namespaces/{self.namespace}/" in f"/{path}/"

    def route(self, method: str, path: str, request) -> tuple[int, dict]:
        ns = f"namespaces/{self.namespace}"
        if path == f"api/v1/{ns}/pods/{self.worker_pod['metadata']['name']}" and method == "GET":
            return 200, self.worker_pod
        for collection, (kind, group) in self.KINDS.items():
            found = re.fullmatch(rf"{re.escape(group)}/{ns}/{collection}(?:/([^/]+))?", path)
            if found:
                return self._objects_route(method, kind, found.group(1), request)
        raise self.ApiError(404, "NotFound", f"the emulator does not serve {method} /{path}")

    def _objects_route(self, method: str, kind: str, name: str | None, request) -> tuple[int, dict]:
        objects = self.objects[kind]
        if method == "POST" and name is None:
            obj = copy.deepcopy(request.body or {})
            self.validate(obj)
            if obj.get("kind") != kind:
                raise self.ApiError(400, "BadRequest", f"the body's kind {obj.get('kind')!r} is not {kind}")
            obj_name = obj["metadata"]["name"]
            if obj_name in objects:
                raise self.ApiError(409, "AlreadyExists", f'{kind.lower()}s "{obj_name}" already exists')
            obj["metadata"].setdefault("uid", str(uuid.uuid4()))
            objects[obj_name] = obj
            if kind == "Job":
                self._run_job(obj)
            return 201, obj
        if name is not None and method == "GET":
            if name not in objects:
                raise self.ApiError(404, "NotFound", f'{kind.lower()}s "{name}" not found')
            return 200, self._with_status(kind, objects[name])
        if name is not None and method == "DELETE":
            if name not in objects:
                raise self.ApiError(404, "NotFound", f'{kind.lower()}s "{name}" not found')
            obj = objects.pop(name)
            self.deleted.append((kind, name))
            if kind == "Job":
                self.kubelet.kill(self.pods.get(name, []))
            if kind == "Service":  # the API answers a Service's delete with the object, the others' with a Status
                return 200, obj
            return 200, {"apiVersion": "v1", "kind": "Status", "status": "Success",
                         "details": {"name": name, "kind": kind.lower() + "s", "uid": obj["metadata"]["uid"]}}
        raise self.ApiError(405, "MethodNotAllowed", f"the emulator does not serve {method} on {kind}")

    def _with_status(self, kind: str, obj: dict) -> dict:
        if kind != "Job":
            return obj
        phases = [pod.phase for pod in self.pods.get(obj["metadata"]["name"], [])]
        return {**obj, "status": {"active": phases.count("Running"), "succeeded": phases.count("Succeeded"),
                                  "failed": phases.count("Failed")}}

    # ------------------------------------------------------------ the kubelet's side

    def _run_job(self, job: dict) -> None:
        name = job["metadata"]["name"]
        spec = job["spec"]["template"]["spec"]
        self.pods[name] = pods = []
        for index in range(int(job["spec"].get("parallelism", 1))):
            pod = JobPod(name=f"{name}-{index}-{uuid.uuid4().hex[:5]}", job=name)
            pods.append(pod)
            [container] = spec["containers"]
            if container["image"] != self.image:
                continue  # an image the kubelet cannot run: the pod fails (ErrImagePull, as far as LB Lab sees)
            pod.env, pod.args = self._env_and_args(pod, spec, container)
            self.kubelet.start(pod)

    def _env_and_args(self, pod: JobPod, spec: dict, container: dict) -> tuple[dict[str, str], list[str]]:
        resolve = self._dns()
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            config_map = volumes[mount["name"]].get("configMap")
            if config_map is None:
                continue
            found = self.objects["ConfigMap"].get(config_map["name"])
            if found is None:
                raise self.ApiError(422, "Invalid", f"configmap {config_map['name']!r} not found for {pod.name}")
            directory = self.kubelet.workdir / pod.name / mount["name"]
            directory.mkdir(parents=True)
            for key, text in found.get("data", {}).items():
                (directory / key).write_text(text)
            resolve[mount["mountPath"].rstrip("/")] = str(directory)

        def resolved(text: str) -> str:
            for name in sorted(resolve, key=len, reverse=True):
                text = text.replace(name, resolve[name])
            return text

        env = {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(self.kubelet.workdir), "PYTHONUNBUFFERED": "1"}
        env.update({item["name"]: resolved(item["value"]) for item in container.get("env", []) if "value" in item})
        return env, [resolved(arg) for arg in container.get("args", [])]

    def _dns(self) -> dict[str, str]:
        """A Service's names in this namespace -> the first address its EndpointSlice names."""
        out = {}
        for endpoint_slice in self.objects["EndpointSlice"].values():
            service = endpoint_slice["metadata"]["labels"].get("kubernetes.io/service-name")
            if service in self.objects["Service"] and endpoint_slice.get("endpoints"):
                address = endpoint_slice["endpoints"][0]["addresses"][0]
                for name in (f"{service}.{self.namespace}.svc.cluster.local", f"{service}.{self.namespace}.svc"):
                    out[name] = address
        return out
