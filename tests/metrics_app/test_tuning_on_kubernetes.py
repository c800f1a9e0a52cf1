"""The tuner on a Kubernetes target, through the API emulator: kube-proxy alone in front of the pods
(`balancer: none`, a pod per connection) with keep-alive users pins them; the only setting kube-proxy
has (session affinity) cannot fix that, so the tuner advises on connection reuse instead of acting,
and says why; a policy that allows weights is refused before the run (no Kubernetes balancer has
per-pod weights). Nothing is left changed on the cluster."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from metrics_app.models import TuningDecision
from tests.factories import ScenarioFactory, TuningPolicyFactory
from tests.kube_support import emulated_namespace, kubernetes_target
from tests_app import services
from tests_app.models import LoadTestRun, Target


@pytest.fixture
def kube_proxy(tmp_path, monkeypatch, settings):
    yield from emulated_namespace(tmp_path, monkeypatch, settings, pods=4, algorithm="l4_connection")


@pytest.mark.solo  # beside another test on 2 cores the pods' CPU, not the pinned users, can even out the counts
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_kube_proxy_pinning_gets_advice_not_a_setting_it_cannot_make(alice, kube_proxy):
    sandbox, api = kube_proxy
    target = kubernetes_target(alice, sandbox, kubernetes_balancer="none")
    scenario = ScenarioFactory(owner=alice, users=5, spawn_rate=50, duration_s=14, keep_alive=True)
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm", "advise_connection_reuse"],
                                 algorithms=["consistent_hash"], window_s=3, cooldown_s=3, p95_margin_pct=1000.0)
    run = services.submit_run(owner=alice, request=services.RunRequest(
        target=target, scenario=scenario, autotune=policy.name), queue=False)
    run = services.execute_run(run.pk)
    assert run.status in (LoadTestRun.Status.PASSED, LoadTestRun.Status.FAILED), run.error

    decisions = list(TuningDecision.objects.filter(run=run).order_by("t"))
    assert decisions, "no decision in a run pinned by kube-proxy"
    assert decisions[0].action == "advise_connection_reuse", [(d.action, d.reason) for d in decisions]
    advice = decisions[0]
    assert advice.outcome == "advised" and "No balancer setting the policy allows" in advice.reason
    assert advice.data["state"]["algorithm"] == "l4_connection"  # what kube-proxy alone runs
    assert advice.data["state"]["balancer"] == "none"
    assert advice.data["findings"][0]["cause"] == "connection_pinning"
    # consistent_hash (session affinity) was ranked, and predicted not to fix it
    assert [alternative["after"].get("algorithm") for alternative in advice.alternatives
            if alternative["action"] == "set_algorithm"] == ["consistent_hash"]
    assert [item["action"] for item in run.summary["tuning"]] == [d.action for d in decisions]
    # the tuner changed nothing on the cluster: no Service patched
    assert not [request for request in api.requests if request.method in ("PATCH", "POST", "PUT")
                and "/services" in request.path]
    assert api.state.services["web"]["spec"]["sessionAffinity"] == "None"


@pytest.mark.django_db
def test_a_policy_with_weights_is_refused_on_a_kubernetes_target_before_the_run(alice, settings):
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    target = kubernetes_target(alice, type("Sandbox", (), {"endpoint": "http://127.0.0.1:9"})(),
                               kubernetes_balancer="istio")
    policy = TuningPolicyFactory(allowed_actions=["set_weights"], algorithms=[])
    with pytest.raises(services.RunRejected) as refused:
        services.submit_run(owner=alice, request=services.RunRequest(
            target=target, scenario=ScenarioFactory(owner=alice), autotune=policy.name), queue=False)
    assert refused.value.message_dict == {"autotune": [
        f"policy {policy.name!r} cannot act on the istio balancer: allowed_actions: per-pod weights are not a "
        "setting of Istio; allow set_algorithm or scale instead"]}
    assert not LoadTestRun.objects.exists()


@pytest.mark.django_db
def test_the_balancer_in_front_of_kubernetes_pods_is_a_field_of_the_target(alice, api_for, settings):
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    settings.LBLAB_ALLOWED_TARGETS = ["127.0.0.1/32"]
    api = api_for(alice)
    fields = {"name": "shop", "kind": "kubernetes", "namespace": "web", "service": "web", "label_selector": "app=web",
              "base_url": "http://127.0.0.1:9"}
    created = api.post(reverse("api:target-list"), {**fields, "kubernetes_balancer": "gateway", "route": "shop-route"},
                       format="json")
    assert created.status_code == 201, created.content
    assert (created.json()["kubernetes_balancer"], created.json()["route"]) == ("gateway", "shop-route")
    refused = api.post(reverse("api:target-list"), {**fields, "name": "other", "kubernetes_balancer": "nginx"},
                       format="json")
    assert refused.status_code == 400
    assert list(refused.json()) == ["kubernetes_balancer"]
    assert Target.objects.count() == 1
    sandbox = api.post(reverse("api:target-list"), {"name": "lab", "kind": "sandbox"}, format="json").json()
    assert "kubernetes_balancer" not in sandbox and "route" not in sandbox  # a sandbox's balancer is `balancer`


@pytest.mark.django_db
def test_loadtest_refuses_a_balancer_kubernetes_has_not_in_one_line(settings):
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    with pytest.raises(CommandError) as refused:
        call_command("loadtest", "--kubernetes", "--namespace", "web", "--selector", "app=web", "--target",
                     "http://127.0.0.1:9", "--balancer", "nginx", stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert str(refused.value) == ("--balancer: unknown balancer 'nginx' in front of Kubernetes pods; one of gateway, "
                                  "istio, ingress-nginx, none")
    assert not Target.objects.exists()
