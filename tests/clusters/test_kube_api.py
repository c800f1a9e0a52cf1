"""The Kubernetes API calls of the adapter (clusters/kubernetes/api.py), on the official client,
against the API emulator (tests/kube_emulator.py): the exact requests, every body valid for
Kubernetes' schemas, and their effect on the emulator's real pods."""

from __future__ import annotations

import pytest

from clusters.base import ClusterError
from clusters.kubernetes.api import KubeApi
from tests.conftest import wait_for
from tests.kube_emulator import KubeApiEmulator, selector_matches, validate

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cluster(start_sandbox):
    sandbox = start_sandbox(pods=3, nodes=2)
    with KubeApiEmulator(sandbox, namespace="web") as api:
        yield sandbox, api, KubeApi(api.client(), namespace="web", selector="app=web")


def test_pods_are_read_by_label_selector_with_node_address_and_readiness(cluster):
    sandbox, api, kube = cluster
    pods = kube.pods()
    assert [(pod.name, pod.node, pod.address, pod.ready) for pod in pods] == [
        (pod.name, pod.node, pod.address, pod.ready) for pod in sorted(sandbox.pods(), key=lambda p: p.name)]
    [listing] = [request for request in api.requests if request.path == "/api/v1/namespaces/web/pods"]
    assert (listing.method, listing.query["labelSelector"]) == ("GET", ["app=web"])
    assert KubeApi(api.client(), namespace="web", selector="app=other").pods() == []


def test_a_deleted_pod_dies_and_its_replicaset_replaces_it(cluster):
    sandbox, api, kube = cluster
    victim = kube.pods()[1].name
    kube.delete_pod(victim, grace_period_s=0)
    [delete] = [request for request in api.requests if request.method == "DELETE"]
    assert delete.path == f"/api/v1/namespaces/web/pods/{victim}"
    assert delete.query["gracePeriodSeconds"] == ["0"]  # the client sends it as a parameter
    names = wait_for(lambda: (lambda now: now if victim not in now and len(now) == 3 else None)(
        [pod.name for pod in kube.pods() if pod.ready]), "the victim's replacement", poll_s=0.05)
    assert victim not in names and len(names) == 3
    with pytest.raises(ClusterError, match=f'deleting pod {victim}: pods "{victim}" not found'):
        kube.delete_pod(victim)


def test_a_drain_cordons_evicts_and_reports_what_a_disruption_budget_refused(cluster):
    sandbox, api, kube = cluster
    node = kube.pods()[0].node
    on_node = [pod.name for pod in kube.pods() if pod.node == node]
    # a budget that lets no pod of three go: every eviction is refused, nothing dies
    api.add_pdb("web-pdb", {"app": "web"}, min_available=3)
    refused = kube.drain(node, grace_period_s=5)
    cordon = next(request for request in api.requests if request.method == "PATCH")
    assert (cordon.path, cordon.body) == (f"/api/v1/nodes/{node}", {
        "metadata": {"annotations": {"lblab.io/cordoned": "true"}}, "spec": {"unschedulable": True}})
    assert kube.cordoned_by_lblab() == [node]
    assert cordon.content_type == "application/strategic-merge-patch+json"
    evictions = [request for request in api.requests if request.path.endswith("/eviction")]
    assert [request.path for request in evictions] == [f"/api/v1/namespaces/web/pods/{pod}/eviction" for pod in on_node]
    for request in evictions:
        assert request.body["metadata"]["name"] in request.path
        assert request.body["deleteOptions"] == {"gracePeriodSeconds": 5}
    assert refused.evicted == () and sorted(refused.refused) == sorted(on_node)
    for why in refused.refused.values():
        assert "disruption budget web-pdb needs 3 healthy pods and has 3" in why, why
    assert sorted(pod.name for pod in kube.pods()) == sorted(pod.name for pod in sandbox.pods())
    assert set(on_node) <= {pod.name for pod in kube.pods()}  # still there
    assert sandbox.client.faults()["cordoned"] == [node]

    # without the budget the same drain evicts them, and they come back on the other node
    api.state.pdbs.clear()
    drained = kube.drain(node, grace_period_s=5)
    assert sorted(drained.evicted) == sorted(on_node) and drained.refused == {}
    wait_for(lambda: len([pod for pod in kube.pods() if pod.ready]) == 3
             and all(pod.node != node for pod in kube.pods()), "the evicted pods on the other node", poll_s=0.05)
    kube.uncordon(node)
    uncordon = [request for request in api.requests if request.method == "PATCH"][-1]
    assert uncordon.body == {"metadata": {"annotations": {"lblab.io/cordoned": None}}, "spec": {"unschedulable": False}}
    assert sandbox.client.faults()["cordoned"] == [] and kube.cordoned_by_lblab() == []


def test_scale_goes_through_the_deployments_scale_subresource(cluster):
    sandbox, api, kube = cluster
    assert kube.replicas("web") == 3
    kube.scale("web", 4)
    patch = [request for request in api.requests if request.method == "PATCH"][-1]
    assert (patch.path, patch.body) == ("/apis/apps/v1/namespaces/web/deployments/web/scale", {"spec": {"replicas": 4}})
    wait_for(lambda: len(sandbox.pods()) == 4, "a fourth pod", poll_s=0.05)
    # the server's schema refuses what the adapter must never send; its message reaches the user
    with pytest.raises(ClusterError, match="scaling deployment web: Scale is invalid: spec.replicas"):
        kube.scale("web", "four")


def test_the_emulator_refuses_what_the_schemas_refuse():
    validate({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"},
              "deleteOptions": {"gracePeriodSeconds": 1}})
    with pytest.raises(Exception, match="deleteOptions.gracePeriodSeconds"):
        validate({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"},
                  "deleteOptions": {"gracePeriodSeconds": "soon"}})
    with pytest.raises(Exception, match="'unscheduable' was unexpected"):
        validate({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {"unscheduable": True}})


@pytest.mark.parametrize(("selector", "labels", "matches"), [
    ("app=web", {"app": "web"}, True),
    ("app==web,tier!=db", {"app": "web", "tier": "fe"}, True),
    ("app=web,tier!=db", {"app": "web", "tier": "db"}, False),
    ("app in (web, api),!canary", {"app": "api"}, True),
    ("app notin (web)", {"app": "web"}, False),
    ("tier", {"app": "web"}, False),
    ("", {"app": "web"}, True),
])
def test_label_selectors_as_the_api_server_reads_them(selector, labels, matches):
    assert selector_matches(selector, labels) is matches
