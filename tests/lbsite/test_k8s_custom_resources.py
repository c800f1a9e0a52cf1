"""The custom resources in k8s/ as the real kustomize renders them: Gateway API HTTPRoutes for LB
Lab's web (k8s/base) and the demo target (k8s/demo), prometheus-operator's ServiceMonitor and
PrometheusRule (k8s/monitoring). Each is valid for its upstream CRD (tests/crds/, through the one
validation path of every rendered object, tests/kustomize.py), a misspelt or mistyped field fails
that validation, and each points at what exists: the routes at the Services' ports, the monitor at
the web pods' /metrics (which then accept the scrape's Host), the rule at the alerts of
lblab-rules.yml, exactly."""

from __future__ import annotations

import copy
import re

import jsonschema
import pytest
import yaml
from django.http.request import validate_host
from django.urls import resolve

from tests import kustomize
from tests.conftest import REPO
from tests.kube_crd_schemas import upstream_schemas

# what each kustomization brings besides Kubernetes' own kinds
CUSTOM_KINDS = {"overlays/dev": {"HTTPRoute"}, "overlays/prod": {"HTTPRoute"}, "demo": {"HTTPRoute"},
                "monitoring": {"ServiceMonitor", "PrometheusRule"}}
RULES_FILE = REPO / "k8s" / "monitoring" / "lblab-rules.yml"


def custom_resources(kustomization: str) -> list[dict]:
    return [doc for doc in kustomize.rendered(kustomization) if (doc["apiVersion"], doc["kind"]) in upstream_schemas()]


def one(kustomization: str, kind: str) -> dict:
    [found] = [doc for doc in kustomize.rendered(kustomization) if doc["kind"] == kind]
    return found


@pytest.mark.parametrize("kustomization", sorted(CUSTOM_KINDS))
def test_custom_resources_render_valid_for_their_upstream_crds(kustomization):
    resources = custom_resources(kustomization)
    assert {doc["kind"] for doc in resources} == CUSTOM_KINDS[kustomization]
    for doc in kustomize.rendered(kustomization):
        kustomize.validate(doc)


def misspell(field_holder: dict, field: str) -> None:
    field_holder[field + "x"] = field_holder.pop(field)


@pytest.mark.parametrize(("kustomization", "kind", "break_it"), [
    ("overlays/prod", "HTTPRoute", lambda route: misspell(route["spec"]["rules"][0]["backendRefs"][0], "port")),
    ("overlays/prod", "HTTPRoute", lambda route: route["spec"]["rules"][0]["backendRefs"][0].update(port="http")),
    ("overlays/prod", "HTTPRoute", lambda route: misspell(route["spec"], "parentRefs")),
    ("demo", "HTTPRoute", lambda route: misspell(route["metadata"], "labels")),
    ("monitoring", "ServiceMonitor", lambda monitor: misspell(monitor["spec"]["endpoints"][0], "path")),
    ("monitoring", "ServiceMonitor", lambda monitor: monitor["spec"]["endpoints"][0].update(interval="30 seconds")),
    ("monitoring", "PrometheusRule", lambda rule: misspell(rule["spec"]["groups"][0]["rules"][0], "expr")),
    ("monitoring", "PrometheusRule", lambda rule: rule["spec"]["groups"][0].update(rules={"alert": "LBLabDown"})),
])
def test_a_misspelt_or_mistyped_field_fails_its_crd(kustomization, kind, break_it):
    broken = copy.deepcopy(one(kustomization, kind))
    break_it(broken)
    with pytest.raises(jsonschema.ValidationError):
        kustomize.validate(broken)


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_the_web_route_serves_the_ingress_host_from_the_web_service(overlay):
    route, ingress = one(overlay, "HTTPRoute"), one(overlay, "Ingress")
    assert route["spec"]["hostnames"] == [rule["host"] for rule in ingress["spec"]["rules"]]
    [backend] = route["spec"]["rules"][0]["backendRefs"]
    assert backend["name"] == ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    assert_backend_is_a_service_port(overlay, backend)
    assert route["spec"]["parentRefs"][0]["name"]  # a Gateway the operator names (README)


def test_the_demo_route_is_named_as_its_service_so_a_target_finds_it_by_default():
    route = one("demo", "HTTPRoute")
    [backend] = route["spec"]["rules"][0]["backendRefs"]
    assert_backend_is_a_service_port("demo", backend)
    assert route["metadata"]["name"] == backend["name"]  # Where.of_target: the route defaults to the Service's name


def assert_backend_is_a_service_port(kustomization: str, backend: dict) -> None:
    services = {doc["metadata"]["name"]: doc for doc in kustomize.rendered(kustomization) if doc["kind"] == "Service"}
    assert backend["name"] in services, backend
    assert backend["port"] in {port["port"] for port in services[backend["name"]]["spec"]["ports"]}, backend


def test_the_prometheus_rule_holds_exactly_the_rules_file_that_promtool_checks():
    assert one("monitoring", "PrometheusRule")["spec"]["groups"] == yaml.safe_load(RULES_FILE.read_text())["groups"]


def test_the_service_monitor_scrapes_the_web_pods_metrics_as_the_job_the_alerts_ask_for():
    monitor = one("monitoring", "ServiceMonitor")
    services = [doc for doc in kustomize.rendered("overlays/prod") if doc["kind"] == "Service"
                and monitor["spec"]["selector"]["matchLabels"].items() <= doc["metadata"]["labels"].items()]
    assert [service["metadata"]["name"] for service in services] == ["lblab"]
    assert monitor["metadata"]["namespace"] == services[0]["metadata"]["namespace"]  # its own: no namespaceSelector
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in services[0]["spec"]["ports"]}
    assert resolve(endpoint["path"]).url_name == "metrics"
    # without `jobLabel`, prometheus-operator names the job after the Service
    jobs = set(re.findall(r'job="([^"]+)"', RULES_FILE.read_text()))
    assert "jobLabel" not in monitor["spec"] and jobs == {"lblab"}


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_the_web_pods_accept_a_scrape_at_their_own_address(overlay):
    """Prometheus asks http://<pod IP>:8000/metrics with that address as Host; Django answers 400 to
    a host outside ALLOWED_HOSTS. The environment as the kubelet builds it: envFrom first, then
    env in order, `$(NAME)` expanded from what is already defined."""
    docs = kustomize.rendered(overlay)
    web = next(doc for doc in docs if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "lblab-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    config_maps = {doc["metadata"]["name"]: doc["data"] for doc in docs if doc["kind"] == "ConfigMap"}
    env = {key: value for source in container["envFrom"] if "configMapRef" in source
           for key, value in config_maps[source["configMapRef"]["name"]].items()}
    downward = {"status.podIP": "10.244.1.17", "metadata.name": "lblab-web-7d4b9-x2kq"}
    for variable in container["env"]:
        if "valueFrom" in variable:
            env[variable["name"]] = downward[variable["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[variable["name"]] = re.sub(r"\$\((\w+)\)", lambda name: env.get(name[1], name[0]), variable["value"])
    allowed = env["ALLOWED_HOSTS"].split(",")
    assert validate_host("10.244.1.17", allowed)
    assert {"lblab", "localhost"} <= set(allowed)  # the configured hosts are kept
