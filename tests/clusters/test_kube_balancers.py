"""What each algorithm of the registry becomes on the Kubernetes balancers LB Lab can set
(clusters/kubernetes/balancers.py): Envoy Gateway's BackendTrafficPolicy, Istio's DestinationRule,
ingress-nginx's Ingress annotations and kube-proxy's Service; every object valid for its schema
(Kubernetes' own through kubernetes-validate, the custom resources' documented fields), and a clear
error on the field where a balancer has no equivalent."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from clusters.algorithms import ALGORITHMS
from clusters.base import ClusterError
from clusters.kubernetes.balancers import KUBERNETES_BALANCERS, Where, kubernetes_balancer
from tests.kube_crd_schemas import validate_custom
from tests.kube_emulator import merge_patch

WHERE = Where(namespace="shop", service="web", route="web-route", ingress="web-ingress", run_label="42")
INGRESS = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web-ingress", "namespace": "shop"},
           "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
               "service": {"name": "web", "port": {"number": 80}}}}]}}]}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
# what each balancer runs of the registry: the table the README gives
SUPPORTED = {
    "gateway": {"round_robin", "least_conn", "random", "p2c", "consistent_hash"},
    "istio": {"round_robin", "least_conn", "random", "p2c", "consistent_hash"},
    "ingress-nginx": {"round_robin", "ewma", "consistent_hash"},
    "none": {"consistent_hash", "l4_connection"},
}


def valid(change) -> None:
    if change.create is not None:
        validate_custom(change.create)
        assert change.create["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "lblab", "lblab.io/run": "42"}
    else:
        base = {"Ingress": INGRESS, "Service": SERVICE}[change.kind]
        kubernetes_validate.validate(merge_patch(base, change.patch), "1.35.0", strict=True)


@pytest.mark.parametrize("balancer", sorted(KUBERNETES_BALANCERS))
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_each_algorithm_is_its_equivalent_or_a_clear_refusal(balancer, algorithm):
    backend = kubernetes_balancer(balancer)
    if algorithm in SUPPORTED[balancer]:
        valid(backend.change(algorithm, {}, WHERE))
    else:
        with pytest.raises(ClusterError) as refused:
            backend.change(algorithm, {}, WHERE)
        assert refused.value.field == "algorithm"
        assert refused.value.args[0].startswith(f"{backend.label} has no {algorithm}; it has ")


def test_the_objects_say_what_each_balancer_reads():
    policy = kubernetes_balancer("gateway").change("consistent_hash", {"header": "X-User"}, WHERE).create
    assert policy["spec"] == {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "web-route"}],
                              "loadBalancer": {"type": "ConsistentHash",
                                               "consistentHash": {"type": "Header", "header": {"name": "X-User"}}}}
    assert kubernetes_balancer("gateway").change("p2c", {}, WHERE).create["spec"]["loadBalancer"] == {"type": "LeastRequest"}
    rule = kubernetes_balancer("istio").change("least_conn", {}, WHERE).create
    assert rule["spec"] == {"host": "web.shop.svc.cluster.local",
                            "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"}}}
    assert kubernetes_balancer("istio").change("consistent_hash", {}, WHERE).create["spec"]["trafficPolicy"] == {
        "loadBalancer": {"consistentHash": {"useSourceIp": True}}}
    nginx = kubernetes_balancer("ingress-nginx").change("consistent_hash", {"header": "X-User-Id"}, WHERE)
    assert nginx.patch["metadata"]["annotations"]["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$http_x_user_id"
    assert kubernetes_balancer("ingress-nginx").change("ewma", {}, WHERE).patch["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/load-balance"] == "ewma"
    assert kubernetes_balancer("none").change("consistent_hash", {}, WHERE).patch == {"spec": {"sessionAffinity": "ClientIP"}}


NO_ROUTE = Where(namespace="shop", service="web")


@pytest.mark.parametrize(("balancer", "algorithm", "options", "where", "field", "message"), [
    ("istio", "round_robin", {"weights": {"web-1": 2}}, WHERE, "weights", "per-pod weights are not a setting of Istio"),
    ("none", "consistent_hash", {"header": "X-User"}, WHERE, "algorithm", "kube-proxy cannot read a request header"),
    ("none", "l4_connection", {"pick": "round_robin"}, WHERE, "algorithm", "kube-proxy's pick is its mode"),
    ("gateway", "round_robin", {}, NO_ROUTE, "service", "attaches to the target's HTTPRoute"),
    ("ingress-nginx", "ewma", {}, NO_ROUTE, "service", "set on the target's Ingress"),
])
def test_what_a_balancer_cannot_do_is_refused_on_its_field(balancer, algorithm, options, where, field, message):
    with pytest.raises(ClusterError, match=message) as refused:
        kubernetes_balancer(balancer).change(algorithm, options, where)
    assert refused.value.field == field


def test_an_unknown_balancer_names_the_known_ones():
    with pytest.raises(ClusterError, match="unknown balancer 'traefik'; one of gateway, istio, ingress-nginx, none"):
        kubernetes_balancer("traefik")


def test_the_schemas_refuse_a_misplaced_field():
    policy = kubernetes_balancer("gateway").change("random", {}, WHERE).create
    policy["spec"]["loadbalancer"] = policy["spec"].pop("loadBalancer")
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(policy)
