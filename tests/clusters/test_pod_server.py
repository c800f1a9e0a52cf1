"""A pod answers with X-Pod and a JSON body, serves Prometheus metrics, health and
readiness, and queues requests beyond its capacity."""

import json
import threading

import pytest

from clusters.sandbox import ServiceTime

pytestmark = pytest.mark.timeout(60)


def test_answers_any_path_with_x_pod_and_json(start_sandbox, http):
    cluster = start_sandbox(pods=1)
    pod = cluster.pods()[0]
    conn = http.connect(pod.address)
    try:
        for path in ("/", "/api/items/7?x=1", "/deep/path"):
            status, name, body = http.get(conn, path)
            assert (status, name) == (200, pod.name)
            assert json.loads(body) == {"pod": pod.name, "hostname": pod.name, "node": pod.node}
        # Through the balancer the header is unchanged.
        balancer = http.connect(cluster.endpoint)
        try:
            assert http.get(balancer)[1] == pod.name
        finally:
            balancer.close()
    finally:
        conn.close()


def test_prometheus_metrics_count_requests(start_sandbox, http):
    cluster = start_sandbox(pods=1)
    pod = cluster.pods()[0]
    conn = http.connect(pod.address)
    try:
        for _ in range(7):
            http.get(conn, "/work")
        status, _, body = http.get(conn, "/metrics")
    finally:
        conn.close()
    text = body.decode()
    assert status == 200
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    label = f'{{pod="{pod.name}",node="{pod.node}"}}'
    assert samples[f"lblab_pod_requests_total{label}"] == "7"
    assert samples[f"lblab_pod_failures_total{label}"] == "0"
    assert samples[f"lblab_pod_request_duration_seconds_count{label}"] == "7"
    assert float(samples["process_cpu_seconds_total"]) > 0
    assert int(samples["process_resident_memory_bytes"]) > 1_000_000
    assert "# TYPE lblab_pod_request_duration_seconds histogram" in text
    metrics = cluster.pod_metrics()[pod.name]
    assert metrics.requests == 7
    assert metrics.memory_bytes > 0
    assert metrics.ready


def test_requests_beyond_capacity_queue(start_sandbox, http, wait_until):
    cluster = start_sandbox(pods=1, capacity=1, service_time=ServiceTime("fixed", 500.0))
    pod = cluster.pods()[0]
    statuses = []

    def one():
        conn = http.connect(pod.address)
        try:
            statuses.append(http.get(conn)[0])
        finally:
            conn.close()

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    # With capacity 1 and 500 ms each, all three are held by the pod at once: one served, two queued.
    seen = wait_until(lambda: cluster.pod_metrics()[pod.name].in_flight == 3, timeout=10,
                      interval=0.02, message="three requests held")
    assert seen
    for thread in threads:
        thread.join(30)
    assert statuses == [200, 200, 200]


def test_scale_adds_and_removes_pods(start_sandbox, http, wait_until):
    cluster = start_sandbox(pods=2)
    cluster.scale(4)
    wait_until(lambda: len([p for p in cluster.pods() if p.ready]) == 4, message="four ready")
    assert len(http.count(cluster.endpoint, 8)) == 4
    cluster.scale(1)
    wait_until(lambda: len(cluster.pods()) == 1, message="scaled to one")
    assert cluster.pods()[0].name.startswith("pod-0-")
    assert set(http.count(cluster.endpoint, 4)) == {cluster.pods()[0].name}
