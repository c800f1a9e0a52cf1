"""Prometheus attribution from the balancer's own per-endpoint metrics (issue 19), the PromQL
LB Lab writes for Envoy Gateway and Istio (clusters/kubernetes/balancers.py), evaluated by a real
Prometheus: neither Envoy nor an Istio sidecar runs here, so an exporter on loopback publishes
their metrics in their exposition format (Envoy's per-endpoint stats by endpoint address with
kube-state-metrics' kube_pod_info mapping pod IPs to names; Istio's destination-reported requests
by pod, split across response codes), each figure the pods' own request counter as it is at the
scrape. The run's per-pod counts must equal the pods' own counters. ingress-nginx and kube-proxy
have no per-pod metric: a Prometheus-attributed target on them must give its own query."""

from __future__ import annotations

import pytest

from clusters.base import ClusterError
from clusters.kubernetes.balancers import Where, kubernetes_balancer
from clusters.sandbox import SandboxCluster, SandboxConfig
from tests.prometheus_server import Prometheus
from tests_app.engine.testing import LoopbackHTTPServer, QuietHandler, base_config, delta, pod_requests, run_to_end

WHERE = Where(namespace="web", service="web", route="web")


def exposition(balancer: str, counts: dict[str, int], ips: dict[str, str]) -> str:
    """The balancer's metrics as Prometheus scrapes them, from each pod's own request count."""
    lines = []
    if balancer == "gateway":
        lines.append("# TYPE envoy_cluster_endpoint_rq_total counter")
        for pod, served in counts.items():
            lines.append(f'envoy_cluster_endpoint_rq_total{{envoy_cluster_name="httproute/web/web/rule/0",'
                         f'envoy_endpoint_address="{ips[pod]}:8080"}} {served}')
        lines.append("# TYPE kube_pod_info gauge")
        for pod in counts:
            lines.append(f'kube_pod_info{{namespace="web",pod="{pod}",pod_ip="{ips[pod]}",node="node-0"}} 1')
    else:
        lines.append("# TYPE istio_requests_total counter")
        for pod, served in counts.items():
            for code, share in (("200", served - served // 3), ("503", served // 3)):
                lines.append(f'istio_requests_total{{reporter="destination",destination_service_namespace="web",'
                             f'destination_service_name="web",response_code="{code}",pod="{pod}"}} {share}')
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("balancer", ["gateway", "istio"])
def test_the_balancers_own_metrics_attribute_every_request_to_its_pod(tmp_path, balancer):
    query = kubernetes_balancer(balancer).attribution_query(WHERE)
    with SandboxCluster(SandboxConfig(pods=3)) as cluster:
        names = sorted(pod.name for pod in cluster.pods())
        ips = {pod: f"10.0.0.{index + 1}" for index, pod in enumerate(names)}  # as pods have an IP each

        class Exporter(QuietHandler):
            def do_GET(self):
                body = exposition(balancer, pod_requests(cluster), ips).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        with LoopbackHTTPServer(Exporter) as exporter, \
                Prometheus(tmp_path, jobs={"balancer": [exporter.url.removeprefix("http://")]}) as prometheus:
            assert len(prometheus.wait_for(query, count=3)) == 3  # the query itself names every pod
            before = pod_requests(cluster)
            result = run_to_end(base_config(cluster.endpoint, users=3, duration_s=4, expected_pods=names,
                                            attribution={"method": "prometheus", "url": prometheus.url,
                                                         "query": query}))
            served = delta(before, pod_requests(cluster))
    final = result.final
    assert final is not None, result.log
    assert final["requests"] > 0 and final["unattributed"] == 0
    assert {name: pod["requests"] for name, pod in final["pods"].items()} == served


@pytest.mark.parametrize("balancer", ["ingress-nginx", "none"])
def test_a_balancer_without_per_pod_metrics_says_so_on_the_query_field(balancer):
    with pytest.raises(ClusterError) as refused:
        kubernetes_balancer(balancer).attribution_query(WHERE)
    assert refused.value.field == "prometheus_query"
    assert "cannot attribute requests to pods through Prometheus" in refused.value.args[0]
