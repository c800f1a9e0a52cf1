"""A Kubernetes target's slow start (`slow_start_s`): Envoy Gateway's BackendTrafficPolicy
`loadBalancer.slowStart.window` and Istio's DestinationRule `loadBalancer.warmupDurationSecs`,
written at the run's start on the algorithm the balancer runs now and kept by the tuner's
switches, each body checked against the CRDs' fields in the API emulator; refused on its field,
before anything is sent, on a balancer without one (ingress-nginx, kube-proxy) or an algorithm
without one (Random, ConsistentHash), in the adapter, the model, the API and the CLI."""

from __future__ import annotations

import jsonschema
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from clusters.base import ClusterError
from clusters.kubernetes.api import UNDO_ANNOTATION
from clusters.kubernetes.balancers import BalancerOptions, Where, kubernetes_balancer
from clusters.kubernetes.cluster import KubernetesCluster
from tests.factories import TargetFactory
from tests.kube_crd_schemas import validate_custom
from tests.kube_support import changing, emulated_namespace

pytestmark = pytest.mark.timeout(120)
POLICIES = "/apis/gateway.envoyproxy.io/v1alpha1/namespaces/web/backendtrafficpolicies"
RULES = "/apis/networking.istio.io/v1/namespaces/web/destinationrules"


def user_rule(load_balancer: dict) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "web-rule", "namespace": "web"},
            "spec": {"host": "web", "trafficPolicy": {"loadBalancer": load_balancer}}}


@pytest.fixture
def emulated(emulated_kube):
    _, api, open_cluster = emulated_kube

    def cluster(balancer, run_id=7, **options) -> KubernetesCluster:
        return open_cluster(run_id=run_id, balancer=balancer, service="web", route="shop",
                            balancer_options=BalancerOptions(**options))

    return api, cluster


def test_envoy_gateway_gets_a_slow_start_window_kept_by_the_tuners_switches(emulated):
    api, cluster = emulated
    gateway = cluster("gateway", slow_start_s=30)
    gateway.apply_balancer_options()
    [(method, path, body)] = changing(api)
    assert (method, path) == ("POST", POLICIES)
    assert body["spec"]["loadBalancer"] == {"type": "LeastRequest", "slowStart": {"window": "30s"}}  # what ran, + it
    sent = len(api.requests)
    gateway.set_algorithm("round_robin")
    [(method, path, body)] = changing(api, sent)
    assert (method, path) == ("PUT", f"{POLICIES}/lblab-shop")
    assert body["spec"]["loadBalancer"] == {"type": "RoundRobin", "slowStart": {"window": "30s"}}
    sent = len(api.requests)
    with pytest.raises(ClusterError) as refused:
        gateway.set_algorithm("random")
    assert refused.value.field == "slow_start_s"
    assert refused.value.args[0] == ("Envoy Gateway ramps new pods up (slow start) with round_robin, least_conn, "
                                     "p2c only, not random")
    assert changing(api, sent) == []
    gateway.restore()
    assert api.state.balancer_objects["BackendTrafficPolicy"] == {}


def test_istio_gets_warmup_on_the_users_rule_and_it_is_put_back_as_it_was(emulated):
    api, cluster = emulated
    api.add_balancer_object(user_rule({"simple": "ROUND_ROBIN"}))
    istio = cluster("istio", slow_start_s=2.5)
    istio.check_balancer_options()  # reads only
    assert changing(api) == []
    istio.apply_balancer_options()
    [(method, path, body)] = changing(api)
    assert (method, path) == ("PATCH", f"{RULES}/web-rule")
    assert body["spec"] == {"trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN", "warmupDurationSecs": "2500ms"}}}
    assert "warmupDurationSecs" in api.state.balancer_objects["DestinationRule"]["web-rule"]["spec"]["trafficPolicy"][
        "loadBalancer"]
    cluster("istio", run_id=7).restore()  # the reaper's adapter
    rule = api.state.balancer_objects["DestinationRule"]["web-rule"]
    assert rule["spec"]["trafficPolicy"] == {"loadBalancer": {"simple": "ROUND_ROBIN"}}
    assert UNDO_ANNOTATION not in (rule["metadata"].get("annotations") or {})


def test_a_consistent_hash_there_now_refuses_a_slow_start_before_anything_is_sent(emulated):
    api, cluster = emulated
    api.add_balancer_object(user_rule({"consistentHash": {"useSourceIp": True}}))
    istio = cluster("istio", slow_start_s=30)
    with pytest.raises(ClusterError, match="Istio ramps new pods up .slow start. with round_robin, least_conn, p2c "
                                           "only, not consistent_hash") as refused:
        istio.check_balancer_options()
    assert refused.value.field == "slow_start_s"
    with pytest.raises(ClusterError):
        istio.apply_balancer_options()
    assert changing(api) == []


@pytest.mark.parametrize("balancer", ["ingress-nginx", "none"])
def test_a_balancer_without_slow_start_refuses_it_on_its_field(emulated, balancer):
    api, cluster = emulated
    with pytest.raises(ClusterError, match="has no slow start LB Lab can set") as refused:
        cluster(balancer, slow_start_s=30)
    assert refused.value.field == "slow_start_s"
    assert changing(api) == []


def test_the_schemas_refuse_slow_start_where_the_projects_do():
    where = Where(namespace="web", service="web", route="shop", run_label="7")
    policy = kubernetes_balancer("gateway").change("round_robin", {}, where, BalancerOptions(slow_start_s=30)).create
    validate_custom(policy)
    policy["spec"]["loadBalancer"]["type"] = "Random"  # Envoy Gateway's CEL rule: not with Random
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(policy)
    rule = kubernetes_balancer("istio").change("least_conn", {}, where, BalancerOptions(slow_start_s=30)).create
    assert rule["spec"]["trafficPolicy"]["loadBalancer"] == {"simple": "LEAST_REQUEST", "warmupDurationSecs": "30s"}
    validate_custom(rule)
    rule["spec"]["trafficPolicy"]["loadBalancer"]["simple"] = "RANDOM"
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(rule)


@pytest.mark.django_db
@pytest.mark.parametrize(("balancer", "seconds", "says"), [
    ("ingress-nginx", 30, "has no slow start"), ("gateway", -1, "must be >= 0"), ("istio", 7200, "less than or equal"),
])
def test_the_target_refuses_it_on_its_field(balancer, seconds, says):
    target = TargetFactory.build(kind="kubernetes", namespace="web", service="web", label_selector="app=web",
                                 base_url="http://127.0.0.1:8080", kubernetes_balancer=balancer, slow_start_s=seconds)
    with pytest.raises(ValidationError) as refused:
        target.full_clean(exclude=["owner"])
    assert says in " ".join(refused.value.message_dict["slow_start_s"])


@pytest.mark.django_db
def test_the_api_answers_400_on_the_field(alice, api_for, settings):
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    answer = api_for(alice).post("/api/targets/", {
        "name": "k", "kind": "kubernetes", "namespace": "web", "service": "web", "label_selector": "app=web",
        "base_url": "http://127.0.0.1:8080", "kubernetes_balancer": "none", "slow_start_s": 30}, format="json")
    assert answer.status_code == 400
    assert "kube-proxy has no slow start" in answer.json()["slow_start_s"][0]
    # on a sandbox target it is no setting at all: refused on its field, not ignored
    answer = api_for(alice).post("/api/targets/", {"name": "s", "kind": "sandbox", "pods": 2, "slow_start_s": 30,
                                                   "traffic_distribution": "PreferSameNode"}, format="json")
    assert answer.status_code == 400
    assert set(answer.json()) == {"slow_start_s", "traffic_distribution"}
    assert "kubernetes target only" in answer.json()["slow_start_s"][0]


@pytest.mark.django_db(transaction=True)
def test_the_cli_exits_2_naming_the_flag_before_anything_is_sent(tmp_path, monkeypatch, settings):
    settings.LBLAB_ALLOWED_TARGETS = ["127.0.0.1/32"]
    for sandbox, api in emulated_namespace(tmp_path, monkeypatch, settings):
        base = ["loadtest", "--kubernetes", "--namespace", "web", "--selector", "app=web", "--target", sandbox.endpoint]
        with pytest.raises(CommandError) as refused:
            call_command(*base, "--balancer", "ingress-nginx", "--slow-start", "30s", "--dry-run")
        assert refused.value.returncode == 2
        assert str(refused.value) == ("--slow-start: ingress-nginx has no slow start LB Lab can set: Envoy Gateway's "
                                      "(slowStart) and Istio's (warmupDurationSecs) only")
        with pytest.raises(CommandError) as refused:
            call_command(*base, "--balancer", "istio", "--slow-start", "soon", "--dry-run")
        assert refused.value.returncode == 2 and str(refused.value).startswith("--slow-start: 'soon' is not a duration")
        assert changing(api) == []


@pytest.mark.django_db
def test_the_form_shows_the_error_on_the_field_and_saves_nothing(alice, client, settings):
    from django.urls import reverse

    from tests_app.models import Target

    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    settings.LBLAB_ALLOWED_TARGETS = ["127.0.0.1/32"]
    client.force_login(alice)
    form = {"name": "k", "kind": "kubernetes", "namespace": "web", "service": "web", "label_selector": "app=web",
            "base_url": "http://127.0.0.1:8080", "kubernetes_balancer": "ingress-nginx", "slow_start_s": "30",
            "attribution": "header", "pod_header": "X-Pod", "pods": 4, "nodes": 2, "algorithm": "round_robin",
            "service_time_ms": 1, "durability": "sync", "expected_pods": "[]", "weights": "{}"}
    response = client.post(reverse("target-new"), form)
    assert "ingress-nginx has no slow start" in response.context["form"].errors["slow_start_s"][0]
    assert not Target.objects.filter(owner=alice).exists()
    response = client.post(reverse("target-new"), {**form, "kubernetes_balancer": "gateway"})
    assert response.status_code == 302
    assert Target.objects.get(owner=alice).slow_start_s == 30
