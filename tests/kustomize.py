"""k8s/ as an operator applies it: a kustomization rendered by the real kustomize (`kubectl
kustomize`, kustomize 5; never a renderer of our own), and each rendered object validated as an API
server validating strictly takes it: Kubernetes' own kinds against the 1.35 schemas in strict mode
(kubernetes-validate: unknown fields refused), custom resources against their upstream CRDs
(tests/kube_crd_schemas.py)."""

from __future__ import annotations

import functools
import shutil
import subprocess

import kubernetes_validate
import yaml

from tests.conftest import REPO
from tests.kube_crd_schemas import KUBERNETES_VERSION, validate_custom


@functools.cache
def rendered(kustomization: str) -> list[dict]:
    """The objects `kubectl kustomize k8s/<kustomization>` renders (cached: treat as read-only)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) is needed to render k8s/"
    out = subprocess.run([kubectl, "kustomize", str(REPO / "k8s" / kustomization)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def validate(obj: dict) -> None:
    """jsonschema.ValidationError unless `obj` is valid for its kind: Kubernetes' schema, or else its CRD's."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        validate_custom(obj)
