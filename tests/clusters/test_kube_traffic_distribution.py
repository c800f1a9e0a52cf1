"""kube-proxy's Service `trafficDistribution` (balancer none; PreferSameZone, PreferSameNode, GA in
Kubernetes 1.35) as a Kubernetes target's option: written on the Service at the run's start, after
reading what is there, the patch valid for the 1.35 schema in the API emulator; put back as it was
(absent included) by restore and the reaper; refused on its field on any other balancer, before
anything is sent, in the adapter, the model, the API and the CLI."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from clusters.base import ClusterError, EventType
from clusters.kubernetes.api import UNDO_ANNOTATION, KubeApi
from clusters.kubernetes.balancers import BalancerOptions
from clusters.kubernetes.cluster import KubernetesCluster
from tests.factories import TargetFactory
from tests.kube_support import changing, emulated_namespace

pytestmark = pytest.mark.timeout(120)
SERVICE = "/api/v1/namespaces/web/services/web"


@pytest.fixture
def emulated(emulated_kube):
    _, api, open_cluster = emulated_kube

    def cluster(balancer="none", run_id=7, **options) -> KubernetesCluster:
        return open_cluster(run_id=run_id, balancer=balancer, service="web", route="web",
                            balancer_options=BalancerOptions(**options))

    return api, cluster


@pytest.mark.parametrize("before", [None, "PreferSameZone"])
def test_the_services_traffic_distribution_is_set_for_the_run_and_put_back_as_it_was(emulated, before):
    api, cluster = emulated
    if before:
        api.state.services["web"]["spec"]["trafficDistribution"] = before
    original = json.loads(json.dumps(api.state.services["web"]))
    proxy = cluster(traffic_distribution="PreferSameNode")
    sent = len(api.requests)
    proxy.apply_balancer_options()
    [(method, path, body)] = changing(api, sent)
    assert (method, path) == ("PATCH", SERVICE)
    assert body["spec"] == {"trafficDistribution": "PreferSameNode"}
    assert json.loads(body["metadata"]["annotations"][UNDO_ANNOTATION]) == {
        "run": "7", "values": {"spec": {"trafficDistribution": before}}}
    assert api.state.services["web"]["spec"]["trafficDistribution"] == "PreferSameNode"
    [event] = [event for event in proxy.events(0) if event.type == EventType.BALANCER_OPTIONS_SET]
    assert event.details["options"] == {"traffic_distribution": "PreferSameNode"}
    # the tuner's session affinity leaves it alone, and the first values are the ones put back
    proxy.set_algorithm("consistent_hash")
    assert api.state.services["web"]["spec"]["trafficDistribution"] == "PreferSameNode"
    assert api.state.services["web"]["spec"]["sessionAffinity"] == "ClientIP"
    cluster(run_id=7).restore()  # the reaper's adapter: the annotation says what to put back
    assert api.state.services["web"] == original


def test_an_unknown_value_is_refused_by_the_emulated_api_as_kubernetes_1_35_does(emulated):
    api, cluster = emulated
    client = KubeApi(api.client(), namespace="web", selector="app=web")
    with pytest.raises(ClusterError, match='spec.trafficDistribution: Unsupported value: "PreferSameRack"'):
        client.patch_balancer_setting("Service", "web", {"spec": {"trafficDistribution": "PreferSameRack"}},
                                      run_label="7")


def test_prefer_close_is_the_older_name_of_prefer_same_zone(emulated):
    api, cluster = emulated
    cluster(traffic_distribution="PreferClose").apply_balancer_options()
    assert api.state.services["web"]["spec"]["trafficDistribution"] == "PreferSameZone"


@pytest.mark.parametrize("balancer", ["gateway", "istio", "ingress-nginx"])
def test_on_another_balancer_it_is_refused_on_its_field_and_nothing_is_sent(emulated, balancer):
    api, cluster = emulated
    with pytest.raises(ClusterError) as refused:
        cluster(balancer, traffic_distribution="PreferSameZone")
    assert refused.value.field == "traffic_distribution"
    assert "trafficDistribution is the Service's setting for kube-proxy (balancer none)" in refused.value.args[0]
    assert changing(api) == []


@pytest.mark.django_db
def test_the_target_refuses_it_on_another_balancer_and_an_unknown_value():
    target = TargetFactory.build(kind="kubernetes", namespace="web", service="web", label_selector="app=web",
                                 base_url="http://127.0.0.1:8080", kubernetes_balancer="istio",
                                 traffic_distribution="PreferSameZone")
    with pytest.raises(ValidationError) as refused:
        target.full_clean(exclude=["owner"])
    assert "Service's setting for kube-proxy" in refused.value.message_dict["traffic_distribution"][0]
    target.kubernetes_balancer, target.traffic_distribution = "none", "PreferSameRack"
    with pytest.raises(ValidationError) as refused:
        target.full_clean(exclude=["owner"])
    assert list(refused.value.message_dict) == ["traffic_distribution"]
    target.traffic_distribution = "PreferClose"
    target.full_clean(exclude=["owner"])
    assert target.traffic_distribution == "PreferSameZone"


@pytest.mark.django_db
def test_the_api_answers_400_on_the_field(alice, api_for, settings):
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    answer = api_for(alice).post("/api/targets/", {
        "name": "k", "kind": "kubernetes", "namespace": "web", "service": "web", "label_selector": "app=web",
        "base_url": "http://127.0.0.1:8080", "kubernetes_balancer": "gateway",
        "traffic_distribution": "PreferSameNode"}, format="json")
    assert answer.status_code == 400
    assert "kube-proxy" in answer.json()["traffic_distribution"][0]


@pytest.mark.django_db(transaction=True)
def test_the_cli_exits_2_naming_the_flag(tmp_path, monkeypatch, settings):
    settings.LBLAB_ALLOWED_TARGETS = ["127.0.0.1/32"]
    for sandbox, api in emulated_namespace(tmp_path, monkeypatch, settings):
        with pytest.raises(CommandError) as refused:
            call_command("loadtest", "--kubernetes", "--namespace", "web", "--selector", "app=web", "--target",
                         sandbox.endpoint, "--balancer", "istio", "--traffic-distribution", "PreferSameZone",
                         "--dry-run")
        assert refused.value.returncode == 2
        assert str(refused.value).startswith("--traffic-distribution: trafficDistribution is the Service's setting")
        assert changing(api) == []
