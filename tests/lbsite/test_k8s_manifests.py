"""k8s/ as a real kustomize renders it (`kubectl kustomize`, kustomize 5), every overlay: each object
valid for the Kubernetes 1.35 schemas in strict mode (kubernetes-validate: unknown fields refused),
custom resources for their upstream CRDs (tests/kustomize.py), and what operators rely on checked:
pinned images, probes on /healthz, non-root pods with limits, selectors that find their pods, settings the app reads."""

from __future__ import annotations

import re

import pytest
from django.urls import resolve

from tests import kustomize
from tests.conftest import REPO

OVERLAYS = sorted(path.name for path in (REPO / "k8s" / "overlays").iterdir())
# Every variable the settings read (lbsite/settings.py, lbsite/env.py); a ConfigMap key outside it is a typo.
KNOWN_VARIABLES = {name for module in ("settings.py", "env.py")
                   for name in re.findall(r'"([A-Z][A-Z0-9_]+)"', (REPO / "lbsite" / module).read_text())}
WORKLOADS = ("Deployment", "StatefulSet", "Job")
ROLES = set(re.findall(r"^  ([a-z-]+)\)", (REPO / "docker" / "entrypoint.sh").read_text(), re.M))


def rendered(overlay: str) -> list[dict]:
    return kustomize.rendered(f"overlays/{overlay}")


def pod_specs(docs):
    for doc in docs:
        if doc["kind"] in WORKLOADS:
            yield doc, doc["spec"]["template"]["spec"]


def test_both_overlays_exist():
    assert OVERLAYS == ["dev", "prod"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_is_valid_for_kubernetes(overlay):
    docs = rendered(overlay)
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "StatefulSet", "Job", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "NetworkPolicy", "Ingress", "HTTPRoute", "ServiceAccount", "ConfigMap"} <= kinds, kinds
    for doc in docs:
        kustomize.validate(doc)
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "lblab", doc["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned_and_pods_run_unprivileged_with_requests_and_limits(overlay):
    for doc, spec in pod_specs(rendered(overlay)):
        name = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"]:
            image = container["image"]
            assert re.fullmatch(r"[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.]+)?", image), (name, image)  # a version, never latest
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"], name
            if image.startswith("ghcr.io/lblab/lblab:"):
                assert container["args"][0] in ROLES, (name, container["args"])  # a role the entrypoint has


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_healthz_and_services_find_their_pods(overlay):
    docs = rendered(overlay)
    workloads = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] in ("Deployment", "StatefulSet")}
    web = workloads["lblab-web"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert resolve(web[probe]["httpGet"]["path"]).url_name == "healthz"
    for name in ("postgres", "redis"):
        container = workloads[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"] and container["livenessProbe"], name
    for workload in workloads.values():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for service in (doc for doc in docs if doc["kind"] == "Service"):
        found = [w for w in workloads.values()
                 if service["spec"]["selector"].items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert found, service["metadata"]["name"]
        ports = {port["name"] for w in found for c in w["spec"]["template"]["spec"]["containers"] for port in c["ports"]}
        assert all(port["targetPort"] in ports for port in service["spec"]["ports"]), service["metadata"]["name"]
    hpa = next(doc for doc in docs if doc["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] in workloads
    pdb = next(doc for doc in docs if doc["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= web_labels(workloads).items()


def web_labels(workloads):
    return workloads["lblab-web"]["spec"]["template"]["metadata"]["labels"]


def test_prod_scales_the_web_from_3_to_10_on_cpu_and_keeps_2_through_a_drain():
    docs = rendered("prod")
    hpa = next(doc for doc in docs if doc["kind"] == "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    pdb = next(doc for doc in docs if doc["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 2
    assert not any(doc["kind"] == "Secret" for doc in docs)  # production brings its own


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_keys_are_settings_the_app_reads_and_secrets_are_referenced_not_inlined(overlay):
    docs = rendered(overlay)
    # the settings' ConfigMap; the other one is a file (the Locust worker Job's template), mounted
    config_maps = [doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "lblab-config"]
    assert config_maps
    for config_map in config_maps:
        assert set(config_map["data"]) <= KNOWN_VARIABLES, set(config_map["data"]) - KNOWN_VARIABLES
        assert not {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(config_map["data"])
    for _, spec in pod_specs(docs):
        for container in spec["containers"]:
            for source in container.get("envFrom", ()):
                name = (source.get("configMapRef") or source.get("secretRef"))["name"]
                assert name in ("lblab-config", "lblab-secrets"), name
            for variable in container.get("env", ()):  # LB Lab's own (PostgreSQL's image reads POSTGRES_*)
                assert not variable["name"].startswith("LBLAB_") or variable["name"] in KNOWN_VARIABLES, variable
