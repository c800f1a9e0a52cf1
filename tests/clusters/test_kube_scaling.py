"""Scale changes of a Kubernetes target's Deployment in `KubernetesCluster`'s event log
(clusters/kubernetes/cluster.py), against the API emulator with real pods: the Deployment is found
from the pods the selector picks; a change the HorizontalPodAutoscaler made is logged `by: hpa`
with its reading (desired replicas, CPU current and target), one someone else made (`kubectl
scale`) `by: external`, and LB Lab's own once, `by: lblab`."""

from __future__ import annotations

import pytest

from clusters.base import EventType
from clusters.kubernetes.api import KubeApi
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(120)
SCALE_PATH = "/apis/apps/v1/namespaces/web/deployments/web/scale"


@pytest.fixture
def emulated(emulated_kube):
    sandbox, api, open_cluster = emulated_kube
    return sandbox, api, open_cluster()


def scaled(cluster) -> list:
    return [event for event in cluster.events(0) if event.type == EventType.SCALED]


def scale_reads_after(api, request_index: int) -> int:
    """How many times the adapter read the Deployment's scale after request number `request_index`."""
    return sum(1 for request in api.requests[request_index:] if request.method == "GET" and request.path == SCALE_PATH)


def test_the_deployment_is_the_one_whose_pods_the_selector_picks(emulated):
    _, api, cluster = emulated
    assert cluster.deployment == "web"
    assert any(request.path == "/apis/apps/v1/namespaces/web/deployments" for request in api.requests)


def test_an_hpa_scale_up_is_logged_with_the_reading_it_decided_on(emulated):
    sandbox, api, cluster = emulated
    api.add_hpa(min_replicas=2, max_replicas=6, cpu_target=60)
    api.hpa_scales(5, cpu_utilisation=85)
    [event] = wait_for(lambda: scaled(cluster), "the HPA's scale-up in the log")
    assert event.details == {"replicas": 5, "previous": 3, "by": "hpa", "autoscaler": "web", "desired": 5,
                             "current": 3, "bounds": [2, 6],
                             "metrics": [{"name": "cpu", "current": 85, "target": 60, "unit": "%"}]}
    wait_for(lambda: len(sandbox.pods()) == 5, "the fifth pod")


def test_lb_labs_own_scale_is_logged_once_and_kubectl_scale_as_external(emulated):
    sandbox, api, cluster = emulated
    cluster.scale(4)
    patched = len(api.requests)
    wait_for(lambda: scale_reads_after(api, patched) >= 2, "two reads of the scale after LB Lab's")
    assert [(event.details["by"], event.details["previous"], event.details["replicas"]) for event in scaled(cluster)] \
        == [("lblab", 3, 4)]
    # someone else scales it down, as `kubectl scale deployment web --replicas=2` does
    KubeApi(api.client(), namespace="web", selector="app=web").scale("web", 2)
    wait_for(lambda: len(scaled(cluster)) == 2, "the second scale change")
    assert scaled(cluster)[1].details == {"replicas": 2, "previous": 4, "by": "external"}  # no HPA: no reading
