"""`KubernetesCluster` (clusters/kubernetes/cluster.py) against the API emulator with real pods:
its event log tells a kill, the replacement the ReplicaSet made and its readiness (what healing is
measured from), a drain's evictions and refusals; `restore()` uncordons what it cordoned."""

from __future__ import annotations

import time

import pytest

from clusters.base import ClusterError, EventType
from clusters.kubernetes.api import KubeApi
from clusters.kubernetes.cluster import KubernetesCluster
from tests.conftest import wait_for
from tests.kube_emulator import KubeApiEmulator

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def emulated(emulated_kube):
    sandbox, api, open_cluster = emulated_kube
    return sandbox, api, open_cluster(endpoint_url=sandbox.endpoint + "/", deployment="web")


def events_until(cluster, predicate):
    """The cluster's events once `predicate` holds of them."""
    return wait_for(lambda: (lambda events: events if predicate(events) else None)(cluster.events(0)),
                    "the cluster's events", deadline_s=20.0, poll_s=0.05)


def of(events, type_, **details):
    return [event for event in events if event.type == type_ and all(
        getattr(event, key, None) == value or event.details.get(key) == value for key, value in details.items())]


def test_a_kill_its_replacement_and_its_readiness_are_logged(emulated):
    sandbox, api, cluster = emulated
    assert cluster.endpoint == sandbox.endpoint
    victim = cluster.pods()[0].name
    cluster.kill_pod(victim)
    delete = next(request for request in api.requests if request.method == "DELETE")
    assert delete.query["gracePeriodSeconds"] == ["0"]
    events = events_until(cluster, lambda events: of(events, EventType.POD_STARTED, replaces=victim) and of(
        events, EventType.POD_READY, pod=of(events, EventType.POD_STARTED, replaces=victim)[0].pod))
    [killed] = of(events, EventType.POD_KILLED, pod=victim)
    [started] = of(events, EventType.POD_STARTED, replaces=victim)
    [ready] = of(events, EventType.POD_READY, pod=started.pod)
    assert killed.t <= started.t <= ready.t
    assert not of(events, EventType.POD_EXITED, pod=victim)  # LB Lab's own kill is logged once, as a kill
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert cluster.events(killed.seq) == events[killed.seq:]
    with pytest.raises(ClusterError, match=f"unknown pod {victim!r}"):
        cluster.kill_pod(victim)


def test_a_drain_is_logged_and_restore_uncordons(emulated):
    sandbox, api, cluster = emulated
    node = cluster.pods()[0].node
    on_node = sorted(pod.name for pod in cluster.pods() if pod.node == node)
    cluster.drain(node)
    [drained] = of(cluster.events(0), EventType.NODE_DRAINED, node=node)
    assert sorted(drained.details["moved"]) == on_node and drained.details["refused"] == {}
    assert sandbox.client.faults()["cordoned"] == [node]
    cluster.restore()
    assert sandbox.client.faults()["cordoned"] == []
    assert of(cluster.events(0), EventType.NODE_UNCORDONED, node=node)
    cluster.restore()  # twice is fine: nothing left to undo
    assert [request.body["spec"] for request in api.requests if request.method == "PATCH"] == [
        {"unschedulable": True}, {"unschedulable": False}]


def test_restore_finds_the_cordons_of_a_process_that_died(emulated):
    sandbox, api, cluster = emulated
    node = cluster.pods()[0].node
    cluster.drain(node)
    # the reaper's new adapter, after the worker that drained died: it knows the cordon from the API
    reopened = KubernetesCluster(KubeApi(api.client(), namespace="web", selector="app=web"),
                                 endpoint_url=sandbox.endpoint)
    try:
        assert reopened.cordoned == set()
        reopened.restore()
    finally:
        reopened.close()
    assert sandbox.client.faults()["cordoned"] == []
    assert api._node(node)["spec"]["unschedulable"] is False


def test_a_selector_that_picks_no_pod_is_refused_on_its_field(emulated):
    sandbox, api, _ = emulated
    with pytest.raises(ClusterError, match="picks no pod") as refused:
        KubernetesCluster(KubeApi(api.client(), namespace="web", selector="app=nothing"),
                          endpoint_url=sandbox.endpoint)
    assert refused.value.field == "label_selector"


def test_faults_without_a_faithful_kubernetes_mapping_are_refused_not_pretended(emulated):
    _, api, cluster = emulated
    pods = [cluster.pods()[0].name]
    for call, reason in ((lambda: cluster.add_errors(pods, 0.5), "no faithful mapping"),
                         (lambda: cluster.set_not_ready(pods), "no Kubernetes equivalent")):
        with pytest.raises(ClusterError, match=reason) as refused:
            call()
        assert refused.value.field == "kind"
    assert not [request for request in api.requests if request.method == "POST"]


def test_pod_cpu_and_memory_come_from_the_metrics_server(emulated):
    sandbox, api, cluster = emulated
    pods = [pod.name for pod in cluster.pods()]
    stressed = pods[0]
    cluster.pod_metrics()  # the first reading: the rates are added up from here
    sandbox.stress_cpu([stressed], workers=1, duration=3.0)
    time.sleep(1.5)
    cluster.pod_metrics()  # the emulator's metrics server measures its rate over this second and a half
    time.sleep(1.0)
    metrics = cluster.pod_metrics()
    assert set(metrics) == set(pods)
    assert metrics[stressed].cpu_seconds > 0.2  # up to a core for the last second, on a shared machine less
    assert all(metrics[pod].cpu_seconds < metrics[stressed].cpu_seconds / 2 for pod in pods[1:])
    assert all(reading.memory_bytes > 0 and reading.ready for reading in metrics.values())
    [read] = {request.path for request in api.requests if "metrics.k8s.io" in request.path}
    assert read == "/apis/metrics.k8s.io/v1beta1/namespaces/web/pods"
    assert {tuple(request.query["labelSelector"]) for request in api.requests if request.path == read} == {("app=web",)}
    assert cluster.usage_missing == ""


def test_without_a_metrics_server_pods_report_readiness_and_the_run_is_told(start_sandbox):
    sandbox = start_sandbox(pods=2, nodes=1)
    with KubeApiEmulator(sandbox, namespace="web", metrics_server=False) as api:
        cluster = KubernetesCluster(KubeApi(api.client(), namespace="web", selector="app=web"),
                                    endpoint_url=sandbox.endpoint)
        try:
            metrics = cluster.pod_metrics()
        finally:
            cluster.close()
    assert all(reading.ready and reading.cpu_seconds == 0 and reading.memory_bytes == 0 for reading in metrics.values())
    assert cluster.usage_missing == "the cluster has no metrics server (metrics.k8s.io answered 404)"


def test_a_container_restarted_in_place_is_an_exit_and_a_start_of_the_same_pod(emulated):
    _, api, cluster = emulated
    pod = cluster.pods()[0].name
    api.restart_container(pod)
    events = events_until(cluster, lambda events: of(events, EventType.POD_STARTED, pod=pod, reason="restarted"))
    [exited] = of(events, EventType.POD_EXITED, pod=pod)
    [started] = of(events, EventType.POD_STARTED, pod=pod, reason="restarted")
    assert exited.details["expected"] is False and exited.details["restarts"] == 1
    assert started.details["replaces"] is None and exited.seq < started.seq
    assert [p.restarts for p in cluster.pods() if p.name == pod] == [1]
