"""Balancer settings on a Kubernetes target (`KubernetesCluster.set_algorithm`,
clusters/kubernetes/balancers.py) against the API emulator, whose balancer is the sandbox's: what
each balancer reads is written (an Istio DestinationRule or an Envoy Gateway BackendTrafficPolicy
created then replaced, an Ingress's ingress-nginx annotations or the Service's session affinity
patched), checked against the schemas, and the pods' balancer runs it; `restore()`, this
process's or the reaper's after a dead worker, deletes what LB Lab created and puts back the
values it patched, which it kept on the object."""

from __future__ import annotations

import json

import pytest

from clusters.base import ClusterError, EventType
from clusters.kubernetes.api import UNDO_ANNOTATION
from clusters.kubernetes.cluster import KubernetesCluster
from tests.kube_emulator import INGRESS_NGINX
from tests.kube_support import changing

pytestmark = pytest.mark.timeout(120)
RULES = "/apis/networking.istio.io/v1/namespaces/web/destinationrules"


@pytest.fixture
def emulated(emulated_kube):
    sandbox, api, open_cluster = emulated_kube

    def cluster(balancer: str, run_id: int = 7, **where) -> KubernetesCluster:
        return open_cluster(run_id=run_id, balancer=balancer, service="web", **where)

    return sandbox, api, cluster


def running(sandbox) -> tuple[str, dict]:
    found = sandbox.client.call("GET", "/algorithm")
    return found["algorithm"], {key: value for key, value in found["options"].items() if key == "header"}


def test_istio_gets_a_destination_rule_replaced_on_a_second_switch_and_deleted_on_restore(emulated):
    sandbox, api, cluster = emulated
    before = running(sandbox)
    istio = cluster("istio")
    istio.set_algorithm("round_robin")
    assert running(sandbox) == ("round_robin", {})
    [rule] = api.state.balancer_objects["DestinationRule"].values()
    assert rule["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "lblab", "lblab.io/run": "7"}
    assert rule["spec"] == {"host": "web.web.svc.cluster.local",
                            "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}
    istio.set_algorithm("consistent_hash", {"header": "X-User"})
    [replace] = [request for request in api.requests if request.method == "PUT"]
    assert replace.path == f"{RULES}/lblab-web" and replace.body["metadata"]["resourceVersion"] == "1"
    assert running(sandbox) == ("consistent_hash", {"header": "X-User"})
    assert [event.details["algorithm"] for event in istio.events(0) if event.type == EventType.ALGORITHM_SET] == [
        "round_robin", "consistent_hash"]
    istio.restore()
    assert api.state.balancer_objects["DestinationRule"] == {}
    assert running(sandbox) == before


def test_an_algorithm_a_balancer_lacks_is_refused_and_nothing_is_sent(emulated):
    _, api, cluster = emulated
    istio = cluster("istio")
    sent = len(api.requests)
    with pytest.raises(ClusterError) as refused:
        istio.set_algorithm("ewma")
    assert refused.value.field == "algorithm" and refused.value.args[0].startswith("Istio has no ewma; it has ")
    assert [request for request in api.requests[sent:] if request.method != "GET"] == []


def test_envoy_gateway_gets_a_policy_on_the_route(emulated):
    sandbox, api, cluster = emulated
    gateway = cluster("gateway", route="shop")
    gateway.set_algorithm("random")
    [policy] = api.state.balancer_objects["BackendTrafficPolicy"].values()
    assert policy["spec"]["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "shop"}]
    assert policy["spec"]["loadBalancer"] == {"type": "Random"}
    assert running(sandbox) == ("random", {})
    gateway.restore()
    assert api.state.balancer_objects["BackendTrafficPolicy"] == {}


def test_ingress_nginx_annotations_are_put_back_by_the_reaper_after_a_dead_worker(emulated):
    sandbox, api, cluster = emulated
    api.add_ingress("web", annotations={INGRESS_NGINX + "load-balance": "round_robin", "team": "shop"})
    original = dict(api.state.ingresses["web"]["metadata"]["annotations"])
    worker = cluster("ingress-nginx")
    worker.set_algorithm("ewma")
    worker.set_algorithm("consistent_hash", {"header": "X-User"})  # the first change's values are the ones kept
    annotations = api.state.ingresses["web"]["metadata"]["annotations"]
    assert annotations[INGRESS_NGINX + "upstream-hash-by"] == "$http_x_user"
    assert INGRESS_NGINX + "load-balance" not in annotations
    assert json.loads(annotations[UNDO_ANNOTATION]) == {"run": "7", "values": {"metadata": {"annotations": {
        INGRESS_NGINX + "load-balance": "round_robin", INGRESS_NGINX + "upstream-hash-by": None}}}}
    assert running(sandbox) == ("consistent_hash", {"header": "x-user"})
    cluster("ingress-nginx", run_id=8).restore()  # another run's restore leaves this run's values alone
    assert UNDO_ANNOTATION in api.state.ingresses["web"]["metadata"]["annotations"]
    cluster("ingress-nginx", run_id=7).restore()  # the reaper's adapter for the dead worker's run
    assert api.state.ingresses["web"]["metadata"]["annotations"] == original
    assert running(sandbox) == ("round_robin", {})


def test_kube_proxy_alone_gets_the_services_session_affinity(emulated):
    _, api, cluster = emulated
    proxy = cluster("none")
    proxy.set_algorithm("consistent_hash")
    assert api.state.services["web"]["spec"]["sessionAffinity"] == "ClientIP"
    with pytest.raises(ClusterError, match="kube-proxy cannot read a request header"):
        proxy.set_algorithm("consistent_hash", {"header": "X-User"})
    proxy.restore()
    assert api.state.services["web"]["spec"]["sessionAffinity"] == "None"
    assert UNDO_ANNOTATION not in (api.state.services["web"]["metadata"].get("annotations") or {})


# ------------------------------------------------------------ what is there before LB Lab is read, and put back

USER_RULE = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
             "metadata": {"name": "web-rule", "namespace": "web", "labels": {"team": "shop"}},
             "spec": {"host": "web", "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}}}


def as_stored(obj: dict) -> dict:
    return {**obj, "metadata": {key: value for key, value in obj["metadata"].items() if key != "resourceVersion"}}


def test_a_users_destination_rule_has_its_setting_replaced_and_put_back_exactly(emulated):
    sandbox, api, cluster = emulated
    api.add_balancer_object(USER_RULE)
    original = as_stored(api.state.balancer_objects["DestinationRule"]["web-rule"])
    assert running(sandbox) == ("random", {})
    istio = cluster("istio")
    assert istio.running_algorithm() == ("random", {})  # read from the cluster, not Istio's default
    sent = len(api.requests)
    istio.set_algorithm("round_robin")
    [(method, path, body)] = changing(api, sent)  # no DestinationRule of LB Lab's beside the user's
    assert (method, path) == ("PATCH", f"{RULES}/web-rule")
    undo = json.loads(body["metadata"]["annotations"].pop(UNDO_ANNOTATION))
    assert body == {"spec": {"trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}, "metadata": {"annotations": {}}}
    assert undo == {"run": "7", "values": {"spec": {"trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}}}}
    assert running(sandbox) == ("round_robin", {})
    sent = len(api.requests)
    istio.set_algorithm("consistent_hash", {"header": "X-User"})
    [(method, path, body)] = changing(api, sent)
    assert body["spec"] == {"trafficPolicy": {"loadBalancer": {"consistentHash": {"httpHeaderName": "X-User"},
                                                               "simple": None}}}
    assert json.loads(body["metadata"]["annotations"][UNDO_ANNOTATION])["values"] == {  # the first values kept
        "spec": {"trafficPolicy": {"loadBalancer": {"simple": "RANDOM", "consistentHash": None}}}}
    assert running(sandbox) == ("consistent_hash", {"header": "X-User"})
    [event] = [event for event in istio.events(0) if event.details.get("algorithm") == "consistent_hash"]
    assert event.details["object"] == "DestinationRule/web-rule"
    assert event.details["previous"] == {"simple": "ROUND_ROBIN"}
    assert event.details["setting"] == {"consistentHash": {"httpHeaderName": "X-User"}}
    cluster("istio", run_id=8).restore()  # another run's restore leaves this run's values alone
    assert UNDO_ANNOTATION in api.state.balancer_objects["DestinationRule"]["web-rule"]["metadata"]["annotations"]
    cluster("istio", run_id=7).restore()  # the reaper's adapter after the worker died: the annotation says it all
    assert as_stored(api.state.balancer_objects["DestinationRule"]["web-rule"]) == original
    assert list(api.state.balancer_objects["DestinationRule"]) == ["web-rule"]
    assert running(sandbox) == ("random", {})


def test_the_tuners_rollback_to_the_start_puts_back_what_was_there(emulated):
    sandbox, api, cluster = emulated
    api.add_balancer_object(USER_RULE)
    original = as_stored(api.state.balancer_objects["DestinationRule"]["web-rule"])
    istio = cluster("istio")
    istio.set_algorithm("round_robin")
    sent = len(api.requests)
    istio.set_algorithm("random")  # the rollback: what the cluster ran, read before the first change
    [(method, path, body)] = changing(api, sent)
    assert (method, path) == ("PATCH", f"{RULES}/web-rule")
    assert body == {"spec": {"trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}},
                    "metadata": {"annotations": {UNDO_ANNOTATION: None}}}
    assert as_stored(api.state.balancer_objects["DestinationRule"]["web-rule"]) == original
    assert [event.details.get("restored") for event in istio.events(0) if event.type == EventType.ALGORITHM_SET] == [
        None, True]


def test_a_rollback_to_envoy_gateways_default_deletes_lblabs_policy_rather_than_writing_the_default(emulated):
    sandbox, api, cluster = emulated
    before = running(sandbox)
    gateway = cluster("gateway", route="shop")
    assert gateway.running_algorithm() == ("least_conn", {})  # no policy: Envoy Gateway's LeastRequest
    gateway.set_algorithm("round_robin")
    sent = len(api.requests)
    gateway.set_algorithm("least_conn")
    assert changing(api, sent) == [
        ("DELETE", "/apis/gateway.envoyproxy.io/v1alpha1/namespaces/web/backendtrafficpolicies/lblab-shop", None)]
    assert api.state.balancer_objects["BackendTrafficPolicy"] == {}
    assert running(sandbox) == before


@pytest.mark.parametrize("before", ["ClientIP", None])
def test_a_services_session_affinity_is_put_back_as_it_was_absent_included(emulated, before):
    sandbox, api, cluster = emulated
    spec = api.state.services["web"]["spec"]
    if before is None:
        spec.pop("sessionAffinity")
    else:
        spec.update(sessionAffinity=before, sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})
    original = json.loads(json.dumps(api.state.services["web"]))
    proxy = cluster("none")
    assert proxy.running_algorithm() == ("consistent_hash" if before else "l4_connection", {})
    sent = len(api.requests)
    proxy.set_algorithm("l4_connection" if before else "consistent_hash")
    [(method, path, body)] = changing(api, sent)
    assert (method, path) == ("PATCH", "/api/v1/namespaces/web/services/web")
    assert json.loads(body["metadata"]["annotations"][UNDO_ANNOTATION])["values"] == {"spec": {"sessionAffinity": before}}
    proxy.restore()
    assert api.state.services["web"] == original
