"""A whole run on a Kubernetes target, through the official client, against the API emulator
(tests/kube_emulator.py) whose pods are real processes: the load goes to the Service's address, a
pod kill is a delete the API sees, its ReplicaSet's replacement shows in the run's healing, and
the summary has the same chaos fields as a sandbox run's. Nothing is left cordoned."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests.factories import ScenarioFactory, TargetFactory
from tests.kube_emulator import KubeApiEmulator
from tests_app import services
from tests_app.models import LoadTestRun

AGREE_S = 0.25


@pytest.fixture
def kube(tmp_path, monkeypatch, settings):
    """A namespace `web` of 3 real pods behind the emulated API, reached by KUBECONFIG."""
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    with SandboxCluster(SandboxConfig(pods=3, nodes=2)) as sandbox, KubeApiEmulator(sandbox) as api:
        monkeypatch.setenv("KUBECONFIG", api.write_kubeconfig(tmp_path / "kubeconfig"))
        yield sandbox, api


def kubernetes_target(owner, sandbox, **fields):
    return TargetFactory(owner=owner, kind="kubernetes", namespace="web", service="web", label_selector="app=web",
                         base_url=sandbox.endpoint, **fields)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_a_pod_kill_on_kubernetes_is_measured_like_the_sandboxs(alice, kube):
    sandbox, api = kube
    target = kubernetes_target(alice, sandbox)
    scenario = ScenarioFactory(owner=alice, users=12, spawn_rate=12, duration_s=9)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, chaos=["pod_kill@3s:0s"]), queue=False)
    run = services.execute_run(run.pk)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error
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


@pytest.mark.django_db
def test_what_a_kubernetes_target_cannot_take_is_refused_before_the_run(alice, kube, settings):
    sandbox, _ = kube
    target = kubernetes_target(alice, sandbox)
    scenario = ScenarioFactory(owner=alice, duration_s=20)

    def submit(*chaos, on=target):
        return services.submit_run(owner=alice, request=services.RunRequest(
            target=on, scenario=scenario, chaos=list(chaos)), queue=False)

    with pytest.raises(ValidationError) as refused:
        submit("latency@5s:5s")
    message = refused.value.message_dict["chaos"][0]
    assert "latency on a Kubernetes target needs Chaos Mesh" in message and "node_drain, pod_kill" in message
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
