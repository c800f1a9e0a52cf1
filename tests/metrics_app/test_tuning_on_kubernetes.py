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

from clusters.sandbox.config import ServiceTime
from clusters.targets import target_kind
from metrics_app.models import TuningDecision
from metrics_app.services import check_policy_on
from tests.factories import ScenarioFactory, TuningPolicyFactory
from tests.kube_support import emulated_namespace, kubernetes_target
from tests_app import services
from tests_app.models import LoadTestRun, Target


@pytest.fixture
def kube_proxy(tmp_path, monkeypatch, settings):
    # Pods that wait 20 ms a request: the users' pace is the pods' wait, not the CPU, so the pod two
    # pinned users share serves twice the others' requests even on a busy machine (with 1 ms of CPU
    # work a request, a loaded CI machine slowed that pod's two users to the others' pace).
    yield from emulated_namespace(tmp_path, monkeypatch, settings, pods=4, algorithm="l4_connection",
                                  service_time=ServiceTime("fixed", 20.0))


@pytest.mark.solo  # the pinned users' counts are the finding: another test's load would blur them
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
    assert decisions, ("no decision in a run pinned by kube-proxy", run.status, run.error,
                       run.summary.get("tuning_error"),
                       {pod: figures.get("requests") for pod, figures in run.summary["pods"].items()})
    assert decisions[0].action == "advise_connection_reuse", [(d.action, d.reason) for d in decisions]
    advice = decisions[0]
    assert advice.outcome == "advised" and "No balancer setting the policy allows" in advice.reason
    assert advice.data["state"]["algorithm"] == "l4_connection"  # what kube-proxy alone runs
    assert advice.data["state"]["balancer"] == "none"
    assert advice.data["findings"][0]["cause"] == "connection_pinning"
    # the setting in force is predicted pinned too: a Kubernetes pod's concurrency is unknown, so it is
    # modelled serving all its users at once (modelled one at a time it queued its pinned users and
    # the simulator evened their counts out: predicted 88-98, and no advice over it)
    assert advice.data["baseline"]["score"] < 60
    # consistent_hash (session affinity) was ranked, and predicted not to fix it
    assert [alternative["after"].get("algorithm") for alternative in advice.alternatives
            if alternative["action"] == "set_algorithm"] == ["consistent_hash"]
    assert [item["action"] for item in run.summary["tuning"]] == [d.action for d in decisions]
    # the tuner changed nothing on the cluster: no Service patched
    assert not [request for request in api.requests if request.method in ("PATCH", "POST", "PUT")
                and "/services" in request.path]
    assert api.state.services["web"]["spec"]["sessionAffinity"] == "None"


UNREACHED = type("Sandbox", (), {"endpoint": "http://127.0.0.1:9"})()  # a target URL no run is sent to


def refused(owner, target, policy) -> dict:
    """The errors of a run of `target` with `policy` attached, refused before anything is created."""
    with pytest.raises(services.RunRejected) as caught:
        services.submit_run(owner=owner, request=services.RunRequest(
            target=target, scenario=ScenarioFactory(owner=owner), autotune=policy.name), queue=False)
    assert not LoadTestRun.objects.exists()
    return caught.value.message_dict


@pytest.mark.django_db
def test_a_policy_with_weights_is_refused_on_a_kubernetes_target_before_the_run(alice, settings):
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    policy = TuningPolicyFactory(allowed_actions=["set_weights"], algorithms=[])
    assert refused(alice, kubernetes_target(alice, UNREACHED, kubernetes_balancer="istio"), policy) == {"autotune": [
        f"policy {policy.name!r} cannot act on the istio balancer: allowed_actions: per-pod weights are not a "
        "setting of Istio; allow set_algorithm or scale instead"]}


@pytest.mark.django_db
def test_a_policy_switching_to_an_algorithm_the_targets_slow_start_cannot_go_with_is_refused_before_the_run(
        alice, settings):
    # Envoy Gateway ramps new pods up with RoundRobin and LeastRequest only (its CEL rule): a target
    # with a slow start cannot be switched to Random, so a policy that may do it is refused here, not
    # when the tuner would first try it mid-run
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    target = kubernetes_target(alice, UNREACHED, kubernetes_balancer="gateway", slow_start_s=30)
    policy = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["least_conn", "random"])
    assert refused(alice, target, policy) == {"autotune": [
        f"policy {policy.name!r} cannot act on the gateway balancer: algorithms: Envoy Gateway ramps new pods up "
        "(slow start) with round_robin, least_conn, p2c only, not random"]}
    # with algorithms that go with it, or without the slow start, the policy fits the target
    kind = target_kind("kubernetes")
    assert kind.balancer_options(target.spec()) == {"slow_start_s": 30}
    ok = TuningPolicyFactory(allowed_actions=["set_algorithm"], algorithms=["least_conn", "round_robin"])
    check_policy_on(ok, balancer="gateway", balancer_options=kind.balancer_options(target.spec()))
    plain = kubernetes_target(alice, UNREACHED, kubernetes_balancer="gateway", name="plain")
    check_policy_on(policy, balancer="gateway", balancer_options=kind.balancer_options(plain.spec()))


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
