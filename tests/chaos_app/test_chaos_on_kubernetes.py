"""A whole run on a Kubernetes target (a scenario's, or a user's own locustfile's), through the
official client, against the API emulator (tests/kube_emulator.py) whose pods are real processes:
the load goes to the Service's address, a pod kill is a delete the API sees, its ReplicaSet's
replacement shows in the run's healing, and the summary has the same chaos fields as a sandbox
run's. Latency, partition and CPU stress are Chaos Mesh objects the emulator validates and applies
to its pods. Nothing is left cordoned or applied."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from chaos_app.models import ChaosInjection
from clusters.targets import TARGET_KINDS
from metrics_app.models import MetricSample, PodSample
from tests.clusters.support import assert_no_faults
from tests.factories import ScenarioFactory
from tests.kube_support import emulated_namespace, kubernetes_target
from tests.tests_app.locustfile_support import SHOP, write
from tests_app import services
from tests_app.models import LoadTestRun

AGREE_S = 0.25


@pytest.fixture
def kube(tmp_path, monkeypatch, settings):
    yield from emulated_namespace(tmp_path, monkeypatch, settings)


@pytest.fixture
def kube_without_chaos_mesh(tmp_path, monkeypatch, settings):
    yield from emulated_namespace(tmp_path, monkeypatch, settings, chaos_mesh=False)


def kubernetes_run(owner, sandbox, chaos: list[str]) -> LoadTestRun:
    """A 9 s run of 12 users on the emulated cluster with `chaos`, through the run service, to its end."""
    scenario = ScenarioFactory(owner=owner, users=12, spawn_rate=12, duration_s=9)
    run = services.submit_run(owner=owner, request=services.RunRequest(
        target=kubernetes_target(owner, sandbox), scenario=scenario, chaos=chaos), queue=False)
    run = services.execute_run(run.pk)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
    return run


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_a_pod_kill_on_kubernetes_is_measured_like_the_sandboxs(alice, kube):
    sandbox, api = kube
    run = kubernetes_run(alice, sandbox, ["pod_kill@3s:0s"])
    [injection] = run.summary["chaos"]
    victim = injection["target"]
    # the API saw the delete of the pod the run picked, at once (Chaos Mesh's pod-kill grace)
    [delete] = [request for request in api.requests if request.method == "DELETE"]
    assert delete.path == f"/api/v1/namespaces/web/pods/{victim}" and delete.query["gracePeriodSeconds"] == ["0"]
    # every list the adapter made used the target's selector
    lists = [request for request in api.requests if request.path == "/api/v1/namespaces/web/pods"]
    assert lists and all(request.query["labelSelector"] == ["app=web"] for request in lists)
    assert injection["rolled_back"] is True and injection["started_at_s"] == pytest.approx(3.0, abs=AGREE_S)
    # the replacement the ReplicaSet started was ready again: healing measured, not guessed
    assert injection["healing_s"] is not None and injection["healing_s"] > 0
    for figure in ("rto_s", "availability", "requests_failed", "p95_during_ms", "balance_recovery_s", "passed"):
        assert figure in injection
    assert victim not in {pod.name for pod in sandbox.pods()}
    assert sum(run.summary["pods"][pod]["requests"] for pod in run.summary["pods"]) > 0
    assert sandbox.client.faults() == {"faults": [], "held": {}, "cordoned": []}
    # the pods' CPU and memory came from the metrics server, as the sandbox's come from its processes
    assert PodSample.objects.filter(run=run, cpu__gt=0, memory_bytes__gt=0).exists()
    assert "CPU and memory per pod were not measured" not in " ".join(run.summary.get("notes", []))


@pytest.mark.django_db
def test_what_a_kubernetes_target_cannot_take_is_refused_before_the_run(alice, kube, settings):
    sandbox, _ = kube
    target = kubernetes_target(alice, sandbox)
    scenario = ScenarioFactory(owner=alice, duration_s=20)

    def submit(*chaos, on=target):
        return services.submit_run(owner=alice, request=services.RunRequest(
            target=on, scenario=scenario, chaos=list(chaos)), queue=False)

    with pytest.raises(ValidationError) as refused:
        submit("errors@5s:5s")
    message = refused.value.message_dict["chaos"][0]
    assert "errors on a Kubernetes target: Chaos Mesh's HTTPChaos" in message and "no faithful mapping" in message
    assert "these run on Kubernetes: cpu_stress, latency, node_drain, partition, pod_kill (and external)" in message
    settings.LBLAB_ALLOWED_NAMESPACES = []
    with pytest.raises(services.RunRejected) as outside:
        submit("pod_kill@5s:0s")
    assert "namespace 'web' is not allow-listed (LBLAB_ALLOWED_NAMESPACES)" in str(outside.value.errors)
    assert not LoadTestRun.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_loadtest_kubernetes_runs_with_a_pod_kill_and_refuses_a_namespace_not_allowed(kube, tmp_path, settings):
    sandbox, api = kube
    summary_path = tmp_path / "summary.json"
    verdict = None
    try:
        call_command("loadtest", "--kubernetes", "--namespace", "web", "--selector", "app=web", "--target",
                     sandbox.endpoint, "--users", "6", "--duration", "7s", "--chaos", "pod_kill@2s:0s",
                     "--json", str(summary_path), stdout=io.StringIO())
    except CommandError as error:
        verdict = error
    assert verdict is None or verdict.returncode == 1, verdict  # the kill may fail a threshold: not a refusal
    run = LoadTestRun.objects.get()
    assert (run.target.kind, run.target.namespace, run.target.label_selector, run.target.service) == (
        "kubernetes", "web", "app=web", "web")
    summary = json.loads(summary_path.read_text())
    [injection] = summary["chaos"]
    assert injection["kind"] == "pod_kill" and injection["rolled_back"] is True
    assert [request.path for request in api.requests if request.method == "DELETE"] == [
        f"/api/v1/namespaces/web/pods/{injection['target']}"]

    settings.LBLAB_ALLOWED_NAMESPACES = []
    with pytest.raises(CommandError) as refused:
        call_command("loadtest", "--kubernetes", "--namespace", "web", "--target", sandbox.endpoint)
    assert refused.value.returncode == 2
    assert str(refused.value) == ("--namespace: namespace 'web' is not allow-listed (LBLAB_ALLOWED_NAMESPACES)")
    with pytest.raises(CommandError, match="--target: --kubernetes needs --target URL"):
        call_command("loadtest", "--kubernetes", "--namespace", "web")
    assert LoadTestRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_loadtest_kubernetes_runs_a_users_own_locustfile_attributed_per_pod_through_a_pod_kill(kube, tmp_path):
    sandbox, api = kube
    locustfile = write(tmp_path, "shop.py", SHOP)
    summary_path = tmp_path / "summary.json"
    verdict = None
    try:
        call_command("loadtest", "--kubernetes", "--namespace", "web", "--selector", "app=web", "--target",
                     sandbox.endpoint, "--locustfile", str(locustfile), "--users", "6", "--duration", "7s",
                     "--chaos", "pod_kill@2s:0s", "--json", str(summary_path), stdout=io.StringIO())
    except CommandError as error:
        verdict = error
    assert verdict is None or verdict.returncode == 1, verdict  # the kill may fail a threshold: not a refusal
    summary = json.loads(summary_path.read_text())
    assert summary["locustfile"]["user_classes"] == ["Shopper"]
    # the file's requests went to the Service and each answered one was counted for one of the namespace's
    # pods; only a request the kill cut off (a POST is not retried) has no pod to be counted for
    assert len(summary["pods"]) >= 3 and summary["unattributed"] <= summary["failures"]
    endpoints = {row["endpoint"]: row["requests"] for row in summary["endpoints"]}
    assert set(endpoints) == {"POST /login", "GET /", "GET /items/[id]", "POST /cart/checkout"}
    assert sum(endpoints.values()) == summary["requests"] == sum(
        pod["requests"] for pod in summary["pods"].values()) + summary["unattributed"]
    [injection] = summary["chaos"]
    assert injection["kind"] == "pod_kill" and injection["rolled_back"] is True
    assert [request.path for request in api.requests if request.method == "DELETE"] == [
        f"/api/v1/namespaces/web/pods/{injection['target']}"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_latency_on_kubernetes_is_a_network_chaos_that_raises_p95_in_its_window(alice, kube):
    sandbox, api = kube
    run = kubernetes_run(alice, sandbox, ["latency@3s:2s:high"])
    [injection] = run.summary["chaos"]
    [post] = [request for request in api.requests if request.method == "POST"]
    assert post.path == "/apis/chaos-mesh.org/v1alpha1/namespaces/web/networkchaos"
    assert post.body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "lblab", "lblab.io/run": str(run.pk)}
    assert post.body["spec"] == {"action": "delay", "delay": {"latency": "1000ms", "jitter": "0ms"}, "mode": "all",
                                 "selector": {"namespaces": ["web"], "pods": {"web": [injection["target"]]}},
                                 "duration": "2s"}
    # the pod really answered late: once every user waits on it (1000 ms a request), a second's p95
    # is the delay; before the window and after it, the pods answer at once
    p95 = dict(MetricSample.objects.filter(run=run).values_list("t", "p95_ms"))
    assert max(p95[4.0], p95[5.0], p95[6.0]) >= 900, p95
    assert p95[2.0] < 200 and p95[8.0] < 200, p95
    assert injection["rolled_back"] is True
    # after the run: the run's object deleted, no fault left on the pods
    assert any(request.method == "DELETE" and request.path.startswith(post.path) for request in api.requests)
    assert api.lblab_objects() == []
    assert_no_faults(sandbox)


@pytest.mark.django_db
def test_a_chaos_mesh_step_is_refused_before_the_run_when_chaos_mesh_is_absent(alice, kube_without_chaos_mesh):
    sandbox, api = kube_without_chaos_mesh
    target = kubernetes_target(alice, sandbox)
    scenario = ScenarioFactory(owner=alice, duration_s=20)
    with pytest.raises(ValidationError) as refused:
        services.submit_run(owner=alice, request=services.RunRequest(
            target=target, scenario=scenario, chaos=["pod_kill@2s:0s", "cpu_stress@5s:5s", "latency@12s:2s"]),
            queue=False)
    assert refused.value.message_dict["chaos"] == [
        "cpu_stress, latency on a Kubernetes target needs Chaos Mesh, and the cluster does not serve its API "
        "(chaos-mesh.org/v1alpha1): install Chaos Mesh (https://chaos-mesh.org) or drop the step"]
    assert not LoadTestRun.objects.exists()
    # asked of the API server's discovery only: nothing created or changed
    assert [(request.method, request.path) for request in api.requests] == [
        ("GET", "/apis/chaos-mesh.org/v1alpha1")]
    # `loadtest` says the same in one line, exit 2
    with pytest.raises(CommandError) as cli:
        call_command("loadtest", "--kubernetes", "--namespace", "web", "--selector", "app=web", "--target",
                     sandbox.endpoint, "--duration", "10s", "--chaos", "latency@2s:2s")
    assert cli.value.returncode == 2 and "latency on a Kubernetes target needs Chaos Mesh" in str(cli.value)
    assert not LoadTestRun.objects.exists()
    assert not [request for request in api.requests if request.method != "GET"]
    # a pod kill needs no Chaos Mesh, and a partition falls back to a NetworkPolicy
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, chaos=["pod_kill@2s:0s", "partition@5s:2s"]), queue=False)
    assert run.chaos == ["pod_kill@2s:0s", "partition@5s:2s"]


@pytest.mark.django_db(transaction=True)
def test_the_reaper_deletes_the_chaos_mesh_objects_of_a_run_whose_worker_died(alice, kube):
    sandbox, api = kube
    target = kubernetes_target(alice, sandbox)
    scenario = ScenarioFactory(owner=alice, duration_s=60)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, chaos=["latency@1s:50s:high", "cpu_stress@2s:50s"]), queue=False)
    # the worker opened the target, applied both faults, then died without restoring
    worker = TARGET_KINDS["kubernetes"].open(target.spec(), run_id=run.pk)
    victim = worker.pods()[0].name
    worker.add_latency([victim], 1000, 0, 50)
    worker.stress_cpu([victim], 1, 50)
    worker.close()
    ChaosInjection.objects.create(run=run, step=0, kind="latency", spec="latency@1s:50s:high", target=victim,
                                  started_at_s=1.0)
    assert sorted(obj["kind"] for obj in api.lblab_objects()) == ["NetworkChaos", "StressChaos"]
    assert sandbox.client.faults()["held"] == {victim: ["cpu_stress", "latency"]}
    LoadTestRun.objects.filter(pk=run.pk).update(status=LoadTestRun.Status.RUNNING,
                                                 heartbeat_at=timezone.now() - timedelta(seconds=31))
    assert services.reap_stale_runs() == 1
    assert api.lblab_objects() == []
    assert_no_faults(sandbox)
    injection = ChaosInjection.objects.get(run=run)
    assert injection.rollback == ChaosInjection.Rollback.ROLLED_BACK
    assert "reopened and restored" in injection.error


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_a_pod_kill_and_a_node_drain_on_kubernetes_give_the_sandboxs_figures_and_leave_nothing(alice, kube):
    sandbox, api = kube
    node = sandbox.nodes()[0]
    run = kubernetes_run(alice, sandbox, ["pod_kill@2s:0s", f"node_drain@4s:3s:high:{node}"])
    kill, drain = run.summary["chaos"]
    assert (kill["kind"], drain["kind"], drain["target"]) == ("pod_kill", "node_drain", node)
    for injection in (kill, drain):  # the figures a sandbox run's injections have
        assert injection["rolled_back"] is True
        for figure in ("rto_s", "healing_s", "availability", "requests_failed", "balance_recovery_s", "passed"):
            assert figure in injection, (injection["kind"], figure)
    # the drain cordoned through the API, evicted through the Eviction API, and uncordoned at its end
    patches = [request.body for request in api.requests if request.method == "PATCH" and request.path.endswith(
        f"/nodes/{node}")]
    assert [body["spec"]["unschedulable"] for body in patches] == [True, False]
    assert any(request.path.endswith("/eviction") for request in api.requests if request.method == "POST")
    assert api.state.cordoned == set() and api.lblab_objects() == []
    assert set(run.summary["balance"]) >= {"score", "grade", "windows", "threshold"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_a_run_stopped_mid_drain_on_kubernetes_leaves_no_node_cordoned_and_no_object(alice, kube):
    sandbox, api = kube
    node = sandbox.nodes()[0]
    scenario = ScenarioFactory(owner=alice, users=8, spawn_rate=8, duration_s=30)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=kubernetes_target(alice, sandbox), scenario=scenario,
        chaos=[f"node_drain@2s:20s:high:{node}", "partition@3s:20s"]), queue=False)
    # stopped once both faults are in place: the node cordoned and the partition's NetworkChaos created
    run = services.execute_run(run.pk, should_stop=lambda: bool(api.state.cordoned) and bool(api.lblab_objects()))
    assert run.status == LoadTestRun.Status.CANCELLED, run.error
    assert api.state.cordoned == set()
    assert api.lblab_objects() == []
    assert_no_faults(sandbox)


@pytest.mark.django_db(transaction=True)
def test_the_reaper_uncordons_and_puts_the_balancer_back_after_a_dead_worker(alice, kube):
    sandbox, api = kube
    target = kubernetes_target(alice, sandbox, kubernetes_balancer="istio")
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=ScenarioFactory(owner=alice, duration_s=60), chaos=["node_drain@1s:50s"]), queue=False)
    # the worker drained a node and the tuner switched Istio's algorithm, then the worker died
    worker = TARGET_KINDS["kubernetes"].open(target.spec(), run_id=run.pk)
    node = sandbox.nodes()[0]
    worker.drain(node)
    worker.set_algorithm("random")
    worker.close()
    assert api.state.cordoned == {node} and [obj["kind"] for obj in api.lblab_objects()] == ["DestinationRule"]
    assert sandbox.client.call("GET", "/algorithm")["algorithm"] == "random"
    LoadTestRun.objects.filter(pk=run.pk).update(status=LoadTestRun.Status.RUNNING,
                                                 heartbeat_at=timezone.now() - timedelta(seconds=31))
    assert services.reap_stale_runs() == 1
    assert api.state.cordoned == set()
    assert api.lblab_objects() == []
    assert sandbox.client.call("GET", "/algorithm")["algorithm"] == "round_robin"  # the sandbox's own, as at the start


@pytest.mark.django_db(transaction=True)
def test_an_unknown_context_or_a_selector_of_no_pod_is_refused_before_anything(alice, kube):
    sandbox, api = kube
    with pytest.raises(CommandError) as unknown:
        call_command("loadtest", "--kubernetes", "--context", "nowhere", "--namespace", "web", "--selector", "app=web",
                     "--target", sandbox.endpoint, stdout=io.StringIO())
    assert unknown.value.returncode == 2
    assert str(unknown.value).startswith("--context: kubeconfig: ") and "nowhere" in str(unknown.value)
    with pytest.raises(CommandError) as empty:
        call_command("loadtest", "--kubernetes", "--namespace", "web", "--selector", "app=shop",
                     "--target", sandbox.endpoint, stdout=io.StringIO())
    assert str(empty.value) == "--selector: the selector 'app=shop' picks no pod in namespace 'web'"
    assert not LoadTestRun.objects.exists()
    assert {request.method for request in api.requests} <= {"GET"}
