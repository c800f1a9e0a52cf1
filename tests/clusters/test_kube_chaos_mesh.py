"""Latency, partition and CPU stress on Kubernetes as Chaos Mesh objects (clusters/kubernetes),
against the API emulator (tests/kube_emulator.py): the exact requests and bodies, each object
checked against Chaos Mesh's documented schema, its effect on the emulator's real pods, and
`restore()` (this process's or the reaper's) deleting this run's objects and no other's."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest

from clusters.base import ClusterError, EventType
from clusters.kubernetes.api import KubeApi
from clusters.kubernetes.cluster import KubernetesCluster, go_duration_ms, go_duration_s
from tests.clusters.support import assert_no_faults
from tests.kube_emulator import ApiError, KubeApiEmulator, validate_chaos_mesh

pytestmark = pytest.mark.timeout(120)

BASE = "/apis/chaos-mesh.org/v1alpha1/namespaces/web"
RUN_42 = "app.kubernetes.io/managed-by=lblab,lblab.io/run=42"


def open_cluster(api, sandbox, *, run_id=42, require_pods=True):
    return KubernetesCluster(KubeApi(api.client(), namespace="web", selector="app=web"),
                             endpoint_url=sandbox.endpoint, run_id=run_id, require_pods=require_pods)


@pytest.fixture
def emulated(start_sandbox):
    sandbox = start_sandbox(pods=3, nodes=2)
    with KubeApiEmulator(sandbox, namespace="web") as api:
        cluster = open_cluster(api, sandbox)
        try:
            yield sandbox, api, cluster
        finally:
            cluster.close()


def held(sandbox) -> dict[str, list[str]]:
    return sandbox.client.faults()["held"]


def labels(run="42"):
    return {"app.kubernetes.io/managed-by": "lblab", "lblab.io/run": run}


def selector(*pods):
    return {"namespaces": ["web"], "pods": {"web": list(pods)}}


def test_each_fault_is_a_labelled_chaos_mesh_object_that_reaches_its_pods(emulated):
    sandbox, api, cluster = emulated
    first, second, third = (pod.name for pod in cluster.pods())
    latency = cluster.add_latency([first], 250, 20, 30)
    partition = cluster.partition([second], 12.5)
    stress = cluster.stress_cpu([third], 2, 30)
    posts = [request for request in api.requests if request.method == "POST"]
    assert [(request.path, request.body) for request in posts] == [
        (f"{BASE}/networkchaos", {
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
            "metadata": {"generateName": "lblab-latency-", "namespace": "web", "labels": labels()},
            "spec": {"action": "delay", "delay": {"latency": "250ms", "jitter": "20ms"}, "mode": "all",
                     "selector": selector(first), "duration": "30s"}}),
        (f"{BASE}/networkchaos", {
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
            "metadata": {"generateName": "lblab-partition-", "namespace": "web", "labels": labels()},
            "spec": {"action": "loss", "loss": {"loss": "100"}, "mode": "all", "selector": selector(second),
                     "duration": "12500ms"}}),
        (f"{BASE}/stresschaos", {
            "apiVersion": "chaos-mesh.org/v1alpha1", "kind": "StressChaos",
            "metadata": {"generateName": "lblab-cpu-stress-", "namespace": "web", "labels": labels()},
            "spec": {"stressors": {"cpu": {"workers": 2, "load": 100}}, "mode": "all", "selector": selector(third),
                     "duration": "30s"}}),
    ]
    # Chaos Mesh's group was asked for once, before the first object
    discovery = [request for request in api.requests if request.path == "/apis/chaos-mesh.org/v1alpha1"]
    assert len(discovery) == 1 and api.requests.index(discovery[0]) < api.requests.index(posts[0])
    assert re.fullmatch(r"networkchaos/lblab-latency-\w{5}", latency.params["object"])
    assert (latency.kind, latency.pods, latency.duration_s, latency.params["ms"]) == ("latency", (first,), 30, 250)
    assert (partition.kind, stress.kind, stress.params["workers"]) == ("partition", "cpu_stress", 2)
    assert held(sandbox) == {first: ["latency"], second: ["partition"], third: ["cpu_stress"]}
    applied = [event.details["kind"] for event in cluster.events(0) if event.type == EventType.FAULT_APPLIED]
    assert applied == ["latency", "partition", "cpu_stress"]

    before = len(api.requests)
    cluster.restore()
    lists = [request for request in api.requests[before:] if request.method == "GET" and request.path in (
        f"{BASE}/networkchaos", f"{BASE}/stresschaos")]  # (the poller of their ends lists them so too)
    assert {(request.path, tuple(request.query["labelSelector"])) for request in lists} == {
        (f"{BASE}/networkchaos", (RUN_42,)), (f"{BASE}/stresschaos", (RUN_42,))}
    deletes = sorted(request.path for request in api.requests if request.method == "DELETE")
    assert deletes == sorted(f"{BASE}/{fault.params['object']}" for fault in (latency, partition, stress))
    assert api.lblab_objects() == []
    assert_no_faults(sandbox)
    cluster.restore()  # twice is fine: nothing left to delete


def test_deleting_one_object_ends_only_its_fault(emulated):
    sandbox, api, cluster = emulated
    pod = cluster.pods()[0].name
    latency = cluster.add_latency([pod], 100, 0, 60)
    cluster.stress_cpu([pod], 1, 60)
    cluster.api.delete_chaos("networkchaos", latency.params["object"].split("/")[1])
    assert held(sandbox) == {pod: ["cpu_stress"]}
    assert [obj["kind"] for obj in api.lblab_objects()] == ["StressChaos"]
    cluster.restore()
    assert_no_faults(sandbox)


def test_restore_after_a_dead_worker_deletes_that_runs_objects_and_no_other(emulated):
    sandbox, api, cluster = emulated
    first, second, _ = (pod.name for pod in cluster.pods())
    cluster.add_latency([first], 100, 0, 60)
    other = open_cluster(api, sandbox, run_id=43)
    try:
        other.partition([second], 60)
    finally:
        other.close()
    cluster.close()  # the worker of run 42 died: its adapter never restored
    reopened = open_cluster(api, sandbox, run_id=42, require_pods=False)  # the reaper's
    try:
        reopened.restore()
    finally:
        reopened.close()
    assert [(obj["kind"], obj["metadata"]["labels"]["lblab.io/run"]) for obj in api.lblab_objects()] == [
        ("NetworkChaos", "43")]
    assert held(sandbox) == {second: ["partition"]}
    # an adapter opened without a run labels what it makes with its own id: its restore spares runs
    loose = open_cluster(api, sandbox, run_id=None)
    try:
        assert loose.run_label.startswith("local-")
        loose.restore()
        assert len(api.lblab_objects()) == 1
    finally:
        loose.close()
    last = open_cluster(api, sandbox, run_id=43, require_pods=False)
    try:
        last.restore()
    finally:
        last.close()
    assert api.lblab_objects() == []
    assert_no_faults(sandbox)


def test_errors_are_refused_with_the_reason(emulated):
    _, api, cluster = emulated
    with pytest.raises(ClusterError, match="HTTPChaos .* no faithful mapping") as refused:
        cluster.add_errors([cluster.pods()[0].name], 0.2)
    assert refused.value.field == "kind"
    assert not [request for request in api.requests if request.method == "POST"]


def test_without_chaos_mesh_a_fault_is_refused_and_nothing_is_created(start_sandbox):
    sandbox = start_sandbox(pods=2, nodes=1)
    with KubeApiEmulator(sandbox, chaos_mesh=False) as api:
        cluster = open_cluster(api, sandbox)
        try:
            with pytest.raises(ClusterError, match=r"latency: needs Chaos Mesh, and the cluster does not serve its "
                                                   r"API \(chaos-mesh.org/v1alpha1\)") as refused:
                cluster.add_latency([cluster.pods()[0].name], 100)
            assert refused.value.field == "kind"
            with pytest.raises(ClusterError, match="cpu_stress: needs Chaos Mesh"):
                cluster.stress_cpu([cluster.pods()[0].name])
            cluster.restore()  # nothing of Chaos Mesh to find: fine
        finally:
            cluster.close()
        assert not [request for request in api.requests if request.method == "POST"]
        assert_no_faults(sandbox)


def test_an_invalid_chaos_mesh_object_is_refused_with_422(emulated):
    sandbox, api, cluster = emulated
    pod = cluster.pods()[0].name
    body = {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
            "metadata": {"generateName": "lblab-latency-", "labels": labels()},
            "spec": {"action": "delay", "dealy": {"latency": "250ms"}, "mode": "all", "selector": selector(pod),
                     "duration": "30s"}}
    request = urllib.request.Request(f"{api.url}{BASE}/networkchaos", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=10)
    status = json.loads(answered.value.read())
    assert (answered.value.code, status["reason"]) == (422, "Invalid")
    assert "spec: Additional properties are not allowed ('dealy' was unexpected)" in status["message"], status
    # through the adapter's client, the server's words reach the user
    with pytest.raises(ClusterError, match="creating NetworkChaos: NetworkChaos is invalid: spec.duration"):
        cluster.api.create_chaos("networkchaos", {**body, "spec": {
            "action": "delay", "delay": {"latency": "250ms"}, "mode": "all", "selector": selector(pod),
            "duration": "thirty seconds"}})
    assert api.lblab_objects() == [] and held(sandbox) == {}


@pytest.mark.parametrize(("spec", "where"), [
    ({"action": "delay", "mode": "all", "selector": {}}, "spec"),  # a delay without its `delay`
    ({"action": "loss", "loss": {"loss": "150"}, "mode": "all", "selector": {}}, "spec.loss.loss"),
    ({"action": "delay", "delay": {"latency": "1s"}, "mode": "every", "selector": {}}, "spec.mode"),
    ({"action": "delay", "delay": {"latency": "1s"}, "mode": "all", "selector": {"pod": {}}}, "spec.selector"),
])
def test_the_schema_refuses_what_chaos_mesh_would(spec, where):
    with pytest.raises(ApiError) as refused:
        validate_chaos_mesh({"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "NetworkChaos",
                             "metadata": {"name": "x"}, "spec": spec})
    assert refused.value.code == 422 and refused.value.causes[0]["field"] == where, refused.value
    with pytest.raises(ApiError, match="stressors.cpu.workers"):
        validate_chaos_mesh({"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "StressChaos", "metadata": {"name": "x"},
                             "spec": {"mode": "all", "selector": {}, "stressors": {"cpu": {"workers": 0}}}})


def test_durations_are_written_as_go_durations():
    assert [go_duration_ms(250), go_duration_ms(2.5), go_duration_s(30), go_duration_s(2.5)] == [
        "250ms", "2.5ms", "30s", "2500ms"]


def test_without_chaos_mesh_a_partition_is_a_deny_all_ingress_network_policy(start_sandbox, wait_until):
    sandbox = start_sandbox(pods=3, nodes=1)
    with KubeApiEmulator(sandbox, chaos_mesh=False) as api:
        cluster = open_cluster(api, sandbox)
        try:
            first, second, _ = (pod.name for pod in cluster.pods())
            long = cluster.partition([first], 60)
            short = cluster.partition([second], 0.5)
            labels_patched = [request for request in api.requests if request.method == "PATCH"]
            [mark_long] = {request.body["metadata"]["labels"]["lblab.io/partition"] for request in labels_patched
                           if request.path.endswith(first)}
            assert re.fullmatch(r"42-[0-9a-f]{6}", mark_long)
            assert [request.path for request in labels_patched[:1]] == [f"/api/v1/namespaces/web/pods/{first}"]
            post = next(request for request in api.requests if request.method == "POST")
            assert (post.path, post.body) == ("/apis/networking.k8s.io/v1/namespaces/web/networkpolicies", {
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"generateName": "lblab-partition-", "namespace": "web", "labels": labels()},
                "spec": {"podSelector": {"matchLabels": {"lblab.io/partition": mark_long}},
                         "policyTypes": ["Ingress"]}})
            assert long.params["object"].startswith("networkpolicies/lblab-partition-")
            assert not [request for request in api.requests if "chaos-mesh.org/v1alpha1/namespaces" in request.path]
            # the short one is lifted by LB Lab after its duration: policy deleted, label removed, pod free
            wait_until(lambda: held(sandbox) == {first: ["partition"]}
                       and "lblab.io/partition" not in api._find_pod(second)["metadata"]["labels"],
                       message="the short partition lifted")
            assert [obj["spec"]["podSelector"]["matchLabels"] for obj in api.lblab_objects()] == [
                {"lblab.io/partition": mark_long}]
            assert short.pods == (second,)
        finally:
            cluster.close()
        reopened = open_cluster(api, sandbox, require_pods=False)  # the reaper's, after the worker died
        try:
            reopened.restore()
        finally:
            reopened.close()
        assert api.lblab_objects() == []
        assert "lblab.io/partition" not in api._find_pod(first)["metadata"]["labels"]
        assert_no_faults(sandbox)


def test_an_object_chaos_mesh_ends_on_its_own_is_logged_as_expired(emulated, wait_until):
    sandbox, api, cluster = emulated
    first, second, _ = (pod.name for pod in cluster.pods())
    latency = cluster.add_latency([first], 250, 0, 30)
    partition = cluster.partition([second], 30)
    latency_name = latency.params["object"].split("/", 1)[1]
    assert api.state.chaos["networkchaos"][latency_name]["status"]["experiment"]["desiredPhase"] == "Run"
    time.sleep(2.5)  # two polls of running objects: nothing logged
    assert [event for event in cluster.events(0) if event.type == EventType.FAULT_CLEARED] == []
    lists = [request for request in api.requests if request.method == "GET" and request.path == f"{BASE}/networkchaos"]
    assert lists and {request.query["labelSelector"][0] for request in lists} == {RUN_42}

    api.end_chaos("networkchaos", latency_name)  # its duration elapsed: Chaos Mesh recovered the pod
    [ended] = wait_until(lambda: [event for event in cluster.events(0) if event.type == EventType.FAULT_CLEARED],
                         message="the ended NetworkChaos logged")
    assert (ended.details["kind"], ended.details["pods"], ended.details["reason"], ended.details["object"]) == (
        "latency", [first], "expired", latency.params["object"])
    assert held(sandbox) == {second: ["partition"]}  # the other object still runs, and is not logged
    time.sleep(1.5)
    assert len([event for event in cluster.events(0) if event.type == EventType.FAULT_CLEARED]) == 1  # once
    cluster.restore()
    assert api.state.chaos["networkchaos"] == {} and partition.params["object"].startswith("networkchaos/")
    polled = len(api.requests)
    time.sleep(1.5)  # nothing of this process's open any more: no more polling
    assert [request.path for request in api.requests[polled:] if "chaos-mesh" in request.path] == []


def test_a_chaos_mesh_end_is_kept_on_the_runs_timeline_and_labelled():
    from clusters.base import ClusterEvent
    from metrics_app.figures import MARKS, timeline_label
    from tests_app.execution import on_timeline

    ended = ClusterEvent(seq=3, t=1.0, type=str(EventType.FAULT_CLEARED),
                         details={"kind": "latency", "pods": ["web-0"], "reason": "expired", "by": "chaos-mesh"})
    restored = ClusterEvent(seq=4, t=2.0, type=str(EventType.FAULT_CLEARED),
                            details={"kind": "latency", "pods": ["web-0"], "reason": "restored"})
    assert on_timeline(ended) and not on_timeline(restored)
    assert "fault_cleared" in MARKS["timeline"]
    assert timeline_label({"type": "fault_cleared", **ended.details}) == "latency ended by chaos-mesh"
