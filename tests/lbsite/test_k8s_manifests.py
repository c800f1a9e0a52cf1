"""k8s/ checked offline: every document well-formed, consistent with the image and the settings."""

import re

import pytest
import yaml
from django.urls import resolve

from tests.conftest import REPO

MANIFESTS = sorted((REPO / "k8s").glob("*.yaml"))
# Every variable the settings read (lbsite/settings.py); a ConfigMap key outside it is a typo.
KNOWN_VARIABLES = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', (REPO / "lbsite" / "settings.py").read_text()))


def documents():
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_specs():
    for doc in documents():
        if doc["kind"] in ("Deployment", "Job"):
            yield doc, doc["spec"]["template"]["spec"]


def test_every_document_names_its_kind_and_version():
    docs = documents()
    assert MANIFESTS and docs
    for doc in docs:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]


def test_selectors_match_their_pod_labels_and_the_service_finds_the_web_pods():
    docs = documents()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for deployment in deployments.values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = next(d for d in docs if d["kind"] == "Service")
    web_labels = deployments["lblab-web"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= web_labels.items()
    port_names = {p["name"] for p in deployments["lblab-web"]["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert all(p["targetPort"] in port_names for p in service["spec"]["ports"])


def test_config_keys_are_settings_the_app_reads():
    config_maps = [d for d in documents() if d["kind"] == "ConfigMap"]
    assert config_maps
    for config_map in config_maps:
        assert set(config_map["data"]) <= KNOWN_VARIABLES, set(config_map["data"]) - KNOWN_VARIABLES


def test_containers_run_unprivileged_with_limits_and_known_commands():
    dockerfile_cmd = re.search(r"^CMD (\[.*\])$", (REPO / "Dockerfile").read_text(), re.M).group(1)
    config_names = {d["metadata"]["name"] for d in documents() if d["kind"] == "ConfigMap"}
    for doc, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        for container in spec["containers"]:
            assert container["resources"]["limits"]["memory"], container["name"]
            command = container["command"]
            assert command == yaml.safe_load(dockerfile_cmd) or command[:2] == ["python", "manage.py"]
            refs = [r["configMapRef"]["name"] for r in container["envFrom"] if "configMapRef" in r]
            assert set(refs) <= config_names


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_probes_hit_a_real_page(probe):
    web = next(spec for doc, spec in pod_specs() if doc["metadata"]["name"] == "lblab-web")
    path = web["containers"][0][probe]["httpGet"]["path"]
    assert resolve(path).url_name == "login"

