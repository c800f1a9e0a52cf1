"""The Kubernetes adapter against a real cluster, when one is given: LBLAB_TEST_KUBECONFIG (and
LBLAB_TEST_NAMESPACE, LBLAB_TEST_SELECTOR: default `default` and `app=echo`, the demo target of
k8s/demo). Read-only: it lists, it never deletes or cordons. Reported as skipped otherwise."""

from __future__ import annotations

import os

import pytest

from clusters.kubernetes.api import KubeApi

KUBECONFIG = os.environ.get("LBLAB_TEST_KUBECONFIG")
pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="no real cluster: set LBLAB_TEST_KUBECONFIG to run these")


def test_the_selected_pods_and_the_nodes_are_read_from_a_real_cluster():
    api = KubeApi.from_kubeconfig(namespace=os.environ.get("LBLAB_TEST_NAMESPACE", "default"),
                                  selector=os.environ.get("LBLAB_TEST_SELECTOR", "app=echo"), kubeconfig=KUBECONFIG)
    nodes = api.nodes()
    assert nodes
    pods = api.pods()
    assert pods, "the selector picks no pod: deploy k8s/demo or set LBLAB_TEST_SELECTOR"
    assert all(pod.node in nodes and pod.address for pod in pods)
