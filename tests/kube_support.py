"""A namespace of the Kubernetes API emulator (tests/kube_emulator.py) whose pods are a sandbox's
real processes, reached by KUBECONFIG, and a Kubernetes target on it: what the whole-run tests on
Kubernetes share."""

from __future__ import annotations

from clusters.sandbox import SandboxCluster, SandboxConfig
from tests.factories import TargetFactory
from tests.kube_emulator import KubeApiEmulator


def emulated_namespace(tmp_path, monkeypatch, settings, *, chaos_mesh=True, **sandbox_config):
    """A namespace `web` of real pods (3, unless `sandbox_config` says otherwise) behind the
    emulated API, reached by KUBECONFIG."""
    settings.LBLAB_ALLOWED_NAMESPACES = ["web"]
    with SandboxCluster(SandboxConfig(**{"pods": 3, "nodes": 2, **sandbox_config})) as sandbox, \
            KubeApiEmulator(sandbox, chaos_mesh=chaos_mesh) as api:
        monkeypatch.setenv("KUBECONFIG", api.write_kubeconfig(tmp_path / "kubeconfig"))
        yield sandbox, api


def kubernetes_target(owner, sandbox, **fields):
    return TargetFactory(owner=owner, kind="kubernetes", namespace="web", service="web", label_selector="app=web",
                         base_url=sandbox.endpoint, **fields)


def changing(api, since: int = 0) -> list[tuple[str, str, dict | None]]:
    """The requests that change something (all but GETs) the emulator took since request `since`."""
    return [(request.method, request.path, request.body) for request in api.requests[since:] if request.method != "GET"]
