"""A run's Locust workers as a Kubernetes Job, when LB Lab runs in a cluster (LBLAB_LOCUST_WORKER_JOB):
the master in the task worker, a Job of `workers` pods from the template the overlays ship, reaching
it through a Service. Against the API emulator, whose kubelet runs the Job's pods as real Locust
workers (tests/kube_home.py): the objects are valid for Kubernetes, the load they send is attributed
exactly as local workers' is, and the Job and its objects are deleted after a pass, a failure, a stop
and a SIGKILLed task worker (by the reaper)."""

from __future__ import annotations

import json
import os
import signal
from datetime import timedelta

import psutil
import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from clusters.kubernetes.locust_workers import LocustWorkerJob, Owner, load_template, run_objects
from clusters.sandbox import SandboxCluster, SandboxConfig
from lbsite.env import locust_worker_job
from metrics_app.models import MetricSample
from tests import kustomize
from tests.conftest import REPO, wait_for
from tests.factories import ScenarioFactory
from tests.kube_emulator import KubeApiEmulator
from tests.kube_support import emulated_namespace, kubernetes_target
from tests.lbsite.test_k8s_manifests import OVERLAYS, rendered
from tests_app import services
from tests_app.engine.testing import base_config, delta, pod_requests, run_to_end, sum_samples
from tests_app.models import LoadTestRun

TEMPLATE = REPO / "k8s" / "base" / "locust-worker-job.yaml"
OWNER = Owner(name="lblab-worker-5d8f-abcde", uid="0b1c2d3e-0000-4000-8000-000000000001", ip="10.1.2.3",
              image="ghcr.io/lblab/lblab:0.1.0")
WORKER_OBJECTS = {"ConfigMap", "Service", "EndpointSlice", "Job"}


def shipped_template(overlay: str, tmp_path) -> dict:
    """The template as the overlay ships it: the ConfigMap the worker mounts, at the path it reads."""
    docs = rendered(overlay)
    worker = next(doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "lblab-worker")
    [container] = worker["spec"]["template"]["spec"]["containers"]
    path = next(item["value"] for item in container["env"] if item["name"] == "LBLAB_LOCUST_WORKER_JOB")
    [mount] = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    [volume] = [v for v in worker["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    [config_map] = [doc for doc in docs if doc["kind"] == "ConfigMap"
                    and doc["metadata"]["name"] == volume["configMap"]["name"]]
    copy = tmp_path / "template.yaml"
    copy.write_text(config_map["data"][path.rsplit("/", 1)[1]])
    # the Downward API gives the settings this pod's name, namespace and address
    downward = {item["name"]: item["valueFrom"]["fieldRef"]["fieldPath"] for item in container["env"]
                if "valueFrom" in item}
    assert downward == {"LBLAB_POD_NAME": "metadata.name", "LBLAB_POD_NAMESPACE": "metadata.namespace",
                        "LBLAB_POD_IP": "status.podIP"}
    return load_template(copy)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_shipped_template_fills_in_to_objects_valid_for_kubernetes(overlay, tmp_path):
    config = base_config("http://shop.web.svc", users=30, duration_s=60)
    objects = run_objects(shipped_template(overlay, tmp_path), run_id=42, namespace="lblab", owner=OWNER, workers=3,
                          master_port=41234, config=config, locustfile=("shop.py", "from locust import HttpUser\n"),
                          user_classes=("Buyer",), deadline_s=900)
    for obj in objects:
        kustomize.validate(obj)
        assert obj["metadata"]["namespace"] == "lblab"
        assert obj["metadata"]["labels"]["lblab.io/run"] == "42"
        assert obj["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": OWNER.name,
                                                       "uid": OWNER.uid}]
    config_map, service, endpoints, job = objects
    assert [o["kind"] for o in objects] == ["ConfigMap", "Service", "EndpointSlice", "Job"]
    # the Locust operator's layout: <test>-worker Job, <test>-master Service, files at /lotest/src
    assert (job["metadata"]["name"], service["metadata"]["name"]) == ("lblab-run-42-worker", "lblab-run-42-master")
    assert json.loads(config_map["data"]["config.json"]) == config
    assert config_map["data"]["shop.py"].startswith("from locust")
    assert "selector" not in service["spec"] and service["spec"]["ports"][0]["port"] == 41234
    assert endpoints["metadata"]["labels"]["kubernetes.io/service-name"] == "lblab-run-42-master"
    assert endpoints["endpoints"][0]["addresses"] == ["10.1.2.3"] and endpoints["ports"][0]["port"] == 41234
    spec = job["spec"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (3, 3, 0)
    assert spec["activeDeadlineSeconds"] == 900
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    assert container["image"] == OWNER.image  # the master's: the same Locust on both ends
    assert container["args"] == ["locust-worker", "-f", "tests_app/engine/locustfile.py,/lotest/src/shop.py", "--worker",
                                 "--master-host=lblab-run-42-master.lblab.svc", "--master-port=41234", "Buyer"]
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "LBLAB_LOCUST_CONFIG": "/lotest/src/config.json", "LBLAB_LOCUST_PROCESSES": "3"}
    [files] = [v for v in pod["volumes"] if v["name"] == "locust-files"]
    assert files["configMap"]["name"] == config_map["metadata"]["name"]
    labels = spec["template"]["metadata"]["labels"]
    assert labels["performance-test-name"] == "lblab-run-42"
    assert labels["performance-test-pod-name"] == "lblab-run-42-worker"
    # the NetworkPolicy that lets the workers reach the master selects these pods
    [policy] = [doc for doc in rendered(overlay) if doc["kind"] == "NetworkPolicy"
                and doc["metadata"]["name"].endswith("lblab-locust-master")]
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"].items() <= labels.items()


def test_the_setting_is_off_unless_set_and_refuses_what_cannot_work(tmp_path):
    assert locust_worker_job({}) is None and locust_worker_job({"LBLAB_LOCUST_WORKER_JOB": " "}) is None
    pod = {"LBLAB_POD_NAME": "w-1", "LBLAB_POD_NAMESPACE": "lblab", "LBLAB_POD_IP": "10.0.0.9"}
    assert locust_worker_job({"LBLAB_LOCUST_WORKER_JOB": str(TEMPLATE), **pod}) == {
        "template": str(TEMPLATE), "pod_name": "w-1", "namespace": "lblab", "pod_ip": "10.0.0.9"}
    with pytest.raises(ImproperlyConfigured, match="needs LBLAB_POD_IP"):
        locust_worker_job({"LBLAB_LOCUST_WORKER_JOB": str(TEMPLATE), **pod, "LBLAB_POD_IP": ""})
    not_a_job = tmp_path / "deployment.yaml"
    not_a_job.write_text(yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment"}))
    with pytest.raises(ImproperlyConfigured, match="not a batch/v1 Job"):
        locust_worker_job({"LBLAB_LOCUST_WORKER_JOB": str(not_a_job), **pod})
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        locust_worker_job({"LBLAB_LOCUST_WORKER_JOB": str(tmp_path / "missing.yaml"), **pod})


@pytest.fixture(scope="module")
def sandbox():
    with SandboxCluster(SandboxConfig(pods=3)) as cluster:
        yield cluster


@pytest.mark.timeout(180)
@pytest.mark.parametrize("where", ["processes", "job"])
def test_three_workers_count_every_pod_exactly_as_its_own_counter(sandbox, where):
    with KubeApiEmulator(sandbox) as api:
        pods = None
        if where == "job":
            pods = LocustWorkerJob(api.client(), load_template(TEMPLATE), namespace="lblab", pod_ip="127.0.0.1",
                                   pod_name=api.home.worker_pod["metadata"]["name"], run_id=3)
        names = sorted(pod.name for pod in sandbox.pods())
        before = pod_requests(sandbox)
        result = run_to_end(base_config(sandbox.endpoint, users=6, duration_s=3, expected_pods=names), workers=3,
                            worker_pods=pods, wait_exit=True)
        served = delta(before, pod_requests(sandbox))
        assert not result.errors, result.log
        final = result.final
        assert final["requests"] > 0 and final["unattributed"] == 0
        assert {name: pod["requests"] for name, pod in final["pods"].items()} == served
        assert sum_samples(result.samples)["pods"] == {name: {"requests": pod["requests"], "failures": pod["failures"]}
                                                       for name, pod in final["pods"].items()}
        if where == "job":
            assert [pod.args[-2:] for pod in api.home.pods["lblab-run-3-worker"]] == [
                ["--master-host=127.0.0.1", f"--master-port={job_port(api)}"]] * 3  # the kubelet's DNS answered
            assert {kind for kind, _ in api.home.deleted} == WORKER_OBJECTS
            assert all(not objects for objects in api.home.objects.values())


def job_port(api) -> int:
    [post] = [request for request in api.requests if request.method == "POST" and request.path.endswith("/jobs")]
    return int(post.body["spec"]["template"]["spec"]["containers"][0]["args"][5].split("=")[1])


@pytest.fixture
def kube(tmp_path, monkeypatch, settings):
    for sandbox, api in emulated_namespace(tmp_path, monkeypatch, settings):
        settings.LBLAB_LOCUST_WORKER_JOB = {"template": str(TEMPLATE), "namespace": api.home.namespace,
                                            "pod_name": api.home.worker_pod["metadata"]["name"], "pod_ip": "127.0.0.1"}
        yield sandbox, api


def assert_job_created_then_deleted(api, run) -> None:
    [job] = [request.body for request in api.requests if request.method == "POST" and request.path.endswith("/jobs")]
    assert job["metadata"]["name"] == f"lblab-run-{run.pk}-worker" and job["spec"]["parallelism"] == 3
    assert job["metadata"]["ownerReferences"][0]["uid"] == api.home.worker_pod["metadata"]["uid"]
    assert {kind for kind, name in api.home.deleted if name.startswith(f"lblab-run-{run.pk}-")} == WORKER_OBJECTS
    assert all(not objects for objects in api.home.objects.values())
    pods = api.home.pods[job["metadata"]["name"]]
    assert len(pods) == 3 and all(pod.process.poll() is not None for pod in pods)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
@pytest.mark.parametrize("ending", ["passed", "failed", "cancelled"])
def test_the_job_is_deleted_however_the_run_ends(alice, kube, ending):
    sandbox, api = kube
    thresholds = {"threshold_p95_ms": 0.001} if ending == "failed" else {}
    scenario = ScenarioFactory(owner=alice, users=6, spawn_rate=6, duration_s=6 if ending != "cancelled" else 60,
                               threshold_balance=0, **thresholds)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=kubernetes_target(alice, sandbox), scenario=scenario, workers=3), queue=False)
    stop = (lambda: MetricSample.objects.filter(run=run).count() >= 2) if ending == "cancelled" else (lambda: False)
    run = services.execute_run(run.pk, should_stop=stop)
    assert run.status == ending, run.error
    assert_job_created_then_deleted(api, run)
    assert run.summary["requests"] > 0
    assert sum(pod["requests"] for pod in run.summary["pods"].values()) == run.summary["requests"]


@pytest.fixture
def worker_env(kube, child_env, settings):
    """The task worker's environment in a cluster: the template, its pod's name, namespace and IP."""
    _, api = kube
    child_env.update(KUBECONFIG=os.environ["KUBECONFIG"], LBLAB_ALLOWED_NAMESPACES="web",
                     LBLAB_LOCUST_WORKER_JOB=str(TEMPLATE), LBLAB_POD_NAMESPACE=api.home.namespace,
                     LBLAB_POD_NAME=api.home.worker_pod["metadata"]["name"], LBLAB_POD_IP="127.0.0.1")
    return child_env


@pytest.mark.timeout(240)
def test_the_reaper_deletes_the_job_of_a_sigkilled_task_worker(alice, kube, worker_env, qcluster):
    sandbox, api = kube
    scenario = ScenarioFactory(owner=alice, users=6, spawn_rate=6, duration_s=120)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=kubernetes_target(alice, sandbox), scenario=scenario, workers=3))
    wait_for(lambda: MetricSample.objects.filter(run=run).count() >= 2, "the run to record samples", deadline_s=120)
    [job] = api.home.objects["Job"]
    pods = api.home.pods[job]
    assert all(pod.process.poll() is None for pod in pods)  # the workers send the load

    os.killpg(qcluster.pid, signal.SIGKILL)  # the task worker dies with the master; the Job's pods do not
    psutil.wait_procs([psutil.Process(qcluster.pid)], timeout=10)
    assert all(pod.process.poll() is None for pod in pods)
    LoadTestRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    assert services.reap_stale_runs() == 1
    run.refresh_from_db()
    assert run.status == LoadTestRun.Status.ERROR
    assert_job_created_then_deleted(api, run)
