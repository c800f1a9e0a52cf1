"""A run's Locust workers as a Kubernetes Job, when LB Lab runs in the cluster it loads.

The task worker runs the Locust master (tests_app/engine/launcher.py) in its own pod; the workers
run as the pods of a Job, as the Locust Kubernetes operator lays out a test (`<test>-worker` Job,
`<test>-master` Service, the test's files in a ConfigMap mounted at /lotest/src), with Locust's own
master/worker protocol between them. Per run `lblab-run-<id>`, in LB Lab's namespace:

- ConfigMap `lblab-run-<id>-locust`: the plugin's config (`config.json`) and the user's locustfile;
- Service `lblab-run-<id>-master` without a selector, and its EndpointSlice naming the task
  worker's pod IP and the master's port: the master lives in a pod that exists already, and a
  selector would pick every task worker pod, not the one running this run;
- Job `lblab-run-<id>-worker` from the operators' template (k8s/base/locust-worker-job.yaml):
  `parallelism` = `completions` = the run's workers, the task worker's own image (master and
  workers must run the same Locust), `activeDeadlineSeconds` bounding it.

All four are owned by the task worker's pod (Kubernetes' garbage collector deletes them if that pod
goes) and are deleted by name when the run ends, however it ends: by the run, or by the reaper
after a dead worker (`delete_run_objects`).

    job = LocustWorkerJob.in_cluster(template_path, pod_name=..., namespace=..., pod_ip=..., run_id=7)
    job.create(workers=3, master_port=40123, config={...}, locustfile=None, user_classes=(), deadline_s=600)
    ...
    job.delete()
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from clusters.base import ClusterError
from clusters.kubernetes.api import MANAGED_BY, RUN_LABEL, api_client, server_message

PLUGIN_LOCUSTFILE = "tests_app/engine/locustfile.py"  # in the image's working directory, as on this machine
CONFIG_KEY = "config.json"
CONFIG_ENV = "LBLAB_LOCUST_CONFIG"  # tests_app/engine/config.py: where the plugin reads its config
PROCESSES_ENV = "LBLAB_LOCUST_PROCESSES"  # tests_app/engine/launcher.py: how many processes share the users
FILES_VOLUME = "locust-files"  # the template's volume that carries the ConfigMap
CONTAINER = "locust-worker"  # the template's container
ENTRYPOINT_ROLE = "locust-worker"  # docker/entrypoint.sh
# Locust's worker and operator labels, beside LB Lab's own.
TEST_NAME_LABEL = "performance-test-name"
POD_NAME_LABEL = "performance-test-pod-name"
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def test_name(run_id: int) -> str:
    return f"lblab-run-{run_id}"


@dataclass(frozen=True)
class Owner:
    """The task worker's pod: where the master runs, and what owns the run's objects."""

    name: str
    uid: str
    ip: str
    image: str

    def reference(self) -> dict:
        return {"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid}


def load_template(path: str | Path) -> dict:
    """The Job template an operator ships (k8s/base/locust-worker-job.yaml); ValueError if it is not
    one LB Lab can fill in."""
    try:
        template = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"cannot read the Locust worker Job template {path}: {error}") from None
    if not isinstance(template, dict) or template.get("kind") != "Job" or template.get("apiVersion") != "batch/v1":
        raise ValueError(f"{path}: not a batch/v1 Job")
    pod = template.get("spec", {}).get("template", {}).get("spec", {})
    if not any(container.get("name") == CONTAINER for container in pod.get("containers", [])):
        raise ValueError(f"{path}: no container named {CONTAINER!r}")
    volumes = [volume for volume in pod.get("volumes", []) if volume.get("name") == FILES_VOLUME]
    if not volumes or "configMap" not in volumes[0]:
        raise ValueError(f"{path}: no configMap volume named {FILES_VOLUME!r}")
    return template


def _mount_path(pod_spec: dict) -> str:
    container = next(c for c in pod_spec["containers"] if c["name"] == CONTAINER)
    for mount in container.get("volumeMounts", []):
        if mount["name"] == FILES_VOLUME:
            return mount["mountPath"].rstrip("/")
    raise ValueError(f"the template's {CONTAINER!r} container does not mount {FILES_VOLUME!r}")


def run_objects(template: dict, *, run_id: int, namespace: str, owner: Owner, workers: int, master_port: int,
                config: dict, locustfile: tuple[str, str] | None = None, user_classes: tuple[str, ...] = (),
                deadline_s: int) -> list[dict]:
    """The ConfigMap, Service, EndpointSlice and Job of one run's workers, in creation order.
    `locustfile` is the user's file as (name, text); `config` the plugin's run config."""
    name = test_name(run_id)
    labels = {MANAGED_BY: "lblab", RUN_LABEL: str(run_id), TEST_NAME_LABEL: name}
    meta = {"namespace": namespace, "ownerReferences": [owner.reference()]}
    master, files = f"{name}-master", f"{name}-locust"

    job = copy.deepcopy(template)
    pod = job["spec"]["template"]
    mount = _mount_path(pod["spec"])
    data = {CONFIG_KEY: ""}
    paths = [PLUGIN_LOCUSTFILE]
    if locustfile is not None:
        file_name, text = locustfile
        key = file_name if _CONFIGMAP_KEY.fullmatch(file_name) and file_name != CONFIG_KEY else "locustfile.py"
        data[key] = text
        paths.append(f"{mount}/{key}")
    data[CONFIG_KEY] = json.dumps(config)

    job["metadata"] = {**job.get("metadata", {}), "name": f"{name}-worker", **meta,
                       "labels": {**job.get("metadata", {}).get("labels", {}), **labels}}
    job["spec"].update(parallelism=workers, completions=workers, activeDeadlineSeconds=int(deadline_s))
    pod.setdefault("metadata", {})["labels"] = {**pod["metadata"].get("labels", {}), **labels,
                                                POD_NAME_LABEL: f"{name}-worker"}
    container = next(c for c in pod["spec"]["containers"] if c["name"] == CONTAINER)
    container["image"] = owner.image
    container["args"] = [ENTRYPOINT_ROLE, "-f", ",".join(paths), "--worker",
                         f"--master-host={master}.{namespace}.svc", f"--master-port={master_port}", *user_classes]
    env = [item for item in container.get("env", []) if item.get("name") not in (CONFIG_ENV, PROCESSES_ENV)]
    container["env"] = [*env, {"name": CONFIG_ENV, "value": f"{mount}/{CONFIG_KEY}"},
                        {"name": PROCESSES_ENV, "value": str(workers)}]
    for volume in pod["spec"]["volumes"]:
        if volume["name"] == FILES_VOLUME:
            volume["configMap"]["name"] = files

    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": files, **meta, "labels": labels},
                  "data": data}
    port = {"name": "master", "port": master_port, "targetPort": master_port, "protocol": "TCP"}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": master, **meta, "labels": labels},
               "spec": {"ports": [port]}}
    endpoints = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                 "metadata": {"name": f"{master}-endpoint", **meta,
                              "labels": {**labels, "kubernetes.io/service-name": master,
                                         "endpointslice.kubernetes.io/managed-by": "lblab.io"}},
                 "addressType": "IPv6" if ":" in owner.ip else "IPv4",
                 "endpoints": [{"addresses": [owner.ip], "conditions": {"ready": True},
                                "targetRef": {"kind": "Pod", "name": owner.name, "namespace": namespace}}],
                 "ports": [{"name": "master", "port": master_port, "protocol": "TCP"}]}
    return [config_map, service, endpoints, job]


class LocustWorkerJob:
    """One run's worker pods: created after the master listens, deleted when the run ends."""

    def __init__(self, api: client.ApiClient, template: dict, *, namespace: str, pod_name: str, pod_ip: str,
                 run_id: int):
        self.template, self.namespace, self.pod_name, self.pod_ip = template, namespace, pod_name, pod_ip
        self.run_id = run_id
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.discovery = client.DiscoveryV1Api(api)
        self.bind_host = pod_ip  # where the master listens: the pod's own address, not every interface

    @classmethod
    def in_cluster(cls, template_path: str, *, namespace: str, pod_name: str, pod_ip: str,
                   run_id: int) -> LocustWorkerJob:
        """Through the task worker's service account (or KUBECONFIG, where one is set)."""
        try:
            template = load_template(template_path)
        except ValueError as error:
            raise ClusterError(str(error), field="workers") from None
        return cls(api_client(), template, namespace=namespace, pod_name=pod_name, pod_ip=pod_ip, run_id=run_id)

    def owner(self) -> Owner:
        try:
            pod = self.core.read_namespaced_pod(self.pod_name, self.namespace)
        except ApiException as error:
            raise ClusterError(f"reading the task worker's pod {self.pod_name}: {server_message(error)}",
                               field="workers") from None
        return Owner(name=pod.metadata.name, uid=pod.metadata.uid, ip=self.pod_ip, image=pod.spec.containers[0].image)

    def objects(self, **run) -> list[dict]:
        return run_objects(self.template, run_id=self.run_id, namespace=self.namespace, owner=self.owner(), **run)

    def create(self, **run) -> None:
        """Create the run's objects (`run_objects`' arguments but the owner): the workers start and
        connect to the master, which must be listening. ClusterError if the API refuses one; what
        was created is deleted again."""
        try:
            for obj in self.objects(**run):
                self._create(obj)
        except BaseException:
            self.delete()
            raise

    def _create(self, obj: dict) -> None:
        kind, ns = obj["kind"], self.namespace
        try:
            if kind == "ConfigMap":
                self.core.create_namespaced_config_map(ns, obj)
            elif kind == "Service":
                self.core.create_namespaced_service(ns, obj)
            elif kind == "EndpointSlice":
                self.discovery.create_namespaced_endpoint_slice(ns, obj)
            else:
                self.batch.create_namespaced_job(ns, obj)
        except ApiException as error:
            raise ClusterError(f"creating the Locust workers' {kind} {obj['metadata']['name']}: "
                               f"{server_message(error)}", field="workers") from None

    def delete(self) -> list[str]:
        """Delete the run's objects by name (those of a dead worker's run too): the Job with its pods
        (foreground: the pods go first), then the rest. Returns what was there; an object already gone
        is fine."""
        name, ns, gone = test_name(self.run_id), self.namespace, []
        foreground = client.V1DeleteOptions(propagation_policy="Foreground", grace_period_seconds=0)
        calls = [
            ("Job", f"{name}-worker", lambda n: self.batch.delete_namespaced_job(n, ns, body=foreground)),
            ("EndpointSlice", f"{name}-master-endpoint",
             lambda n: self.discovery.delete_namespaced_endpoint_slice(n, ns)),
            ("Service", f"{name}-master", lambda n: self.core.delete_namespaced_service(n, ns)),
            ("ConfigMap", f"{name}-locust", lambda n: self.core.delete_namespaced_config_map(n, ns)),
        ]
        errors = []
        for kind, obj_name, call in calls:
            try:
                call(obj_name)
                gone.append(f"{kind}/{obj_name}")
            except ApiException as error:
                if error.status != 404:
                    errors.append(f"{kind}/{obj_name}: {server_message(error)}")
        if errors:
            raise ClusterError("deleting the Locust workers' objects: " + "; ".join(errors), field="workers")
        return gone
