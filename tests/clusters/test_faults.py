"""Each fault applies to the pod it names and clears itself after its duration."""

import socket
import time

import pytest

SANDBOX = {"pods": 3}

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def cluster(module_sandbox, wait_until):
    module_sandbox.restore()
    module_sandbox.set_algorithm("round_robin")
    wait_until(lambda: len([p for p in module_sandbox.pods() if p.ready]) == 3, message="all pods ready")
    return module_sandbox


def pod(cluster, slot=0):
    return next(p for p in cluster.pods() if p.name.startswith(f"pod-{slot}-"))


def active_faults(cluster, name):
    return cluster.client.call("GET", "/pods/metrics")["pods"][name]["faults"]


def test_latency_delays_answers_then_clears(cluster, http, wait_until):
    target = pod(cluster)
    fault = cluster.add_latency([target.name], ms=300, jitter=0, duration=1.5)
    assert fault.kind == "latency"
    assert fault.pods == (target.name,)
    conn = http.connect(target.address)
    try:
        started = time.monotonic()
        status, name, _ = http.get(conn)
        # A lower bound only: the injected delay cannot be skipped.
        assert time.monotonic() - started >= 0.3
        assert (status, name) == (200, target.name)
        assert active_faults(cluster, target.name) == ["latency"]
        wait_until(lambda: active_faults(cluster, target.name) == [], message="latency cleared")
    finally:
        conn.close()


def test_errors_answer_the_status_then_clear(cluster, http, wait_until):
    target = pod(cluster)
    cluster.add_errors([target.name], rate=1.0, status=503, duration=1.0)
    conn = http.connect(target.address)
    try:
        statuses = {http.get(conn)[0] for _ in range(10)}
        assert statuses == {503}
        wait_until(lambda: http.get(conn)[0] == 200, message="errors cleared")
    finally:
        conn.close()
    metrics = cluster.pod_metrics()[target.name]
    assert metrics.failures >= 10


def test_error_rate_is_a_fraction_of_requests(cluster, http):
    target = pod(cluster)
    cluster.add_errors([target.name], rate=0.5, status=500, duration=30)
    conn = http.connect(target.address)
    try:
        statuses = [http.get(conn)[0] for _ in range(200)]
    finally:
        conn.close()
        cluster.restore()
    assert 40 < statuses.count(500) < 160
    assert statuses.count(500) + statuses.count(200) == 200


def test_partition_blackholes_the_pod_and_the_balancer_routes_around(cluster, http, wait_until):
    target = pod(cluster)
    cluster.partition([target.name], duration=2.5)
    host, port = target.address.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.settimeout(0.5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(socket.timeout):
            sock.recv(100)  # accepted, never answered
    wait_until(lambda: not pod(cluster).ready, message="partitioned pod out of rotation")
    counts = http.count(cluster.endpoint, 30)
    assert target.name not in counts
    assert sum(counts.values()) == 30
    wait_until(lambda: pod(cluster).ready, message="pod back after the partition")
    wait_until(lambda: target.name in http.count(cluster.endpoint, 6), message="traffic returns")


def test_not_ready_takes_the_pod_out_then_back(cluster, http, wait_until):
    target = pod(cluster, slot=1)
    cluster.set_not_ready([target.name], duration=1.5)
    wait_until(lambda: not pod(cluster, 1).ready, message="not-ready pod out of rotation")
    conn = http.connect(target.address)
    try:
        assert http.get(conn, "/readyz")[0] == 503
        assert http.get(conn, "/healthz")[0] == 200  # alive, just not ready
    finally:
        conn.close()
    counts = http.count(cluster.endpoint, 20)
    assert target.name not in counts
    wait_until(lambda: pod(cluster, 1).ready, message="ready again")
    assert target.name in http.count(cluster.endpoint, 6)


def test_cpu_stress_burns_cpu_then_stops(cluster, wait_until):
    target = pod(cluster, slot=2)
    before = cluster.pod_metrics()[target.name].cpu_seconds
    cluster.stress_cpu([target.name], workers=1, duration=1.5)
    wait_until(lambda: cluster.pod_metrics()[target.name].cpu_seconds > before + 0.3,
               message="stressed pod uses CPU")
    wait_until(lambda: active_faults(cluster, target.name) == [], message="stress cleared")
    settled = cluster.pod_metrics()[target.name].cpu_seconds
    time.sleep(0.5)
    assert cluster.pod_metrics()[target.name].cpu_seconds - settled < 0.25


def test_restore_clears_faults_before_their_duration(cluster, http, wait_until):
    target = pod(cluster)
    cluster.add_errors([target.name], rate=1.0, status=500, duration=600)
    cluster.add_latency([target.name], ms=50, duration=600)
    assert sorted(active_faults(cluster, target.name)) == ["errors", "latency"]
    assert len(cluster.client.status()["faults"]) == 2
    cluster.restore()
    assert active_faults(cluster, target.name) == []
    assert cluster.client.status()["faults"] == []
    conn = http.connect(target.address)
    try:
        assert http.get(conn)[0] == 200
    finally:
        conn.close()
    cluster.restore()  # twice is fine


def test_clearing_one_fault_leaves_the_others(cluster):
    first, second = pod(cluster, 0), pod(cluster, 1)
    cluster.add_latency([first.name, second.name], ms=50, duration=600)
    cluster.add_errors([first.name], rate=1.0, status=503, duration=600)
    assert cluster.client.clear_fault("latency", [first.name]) == 1
    assert active_faults(cluster, first.name) == ["errors"]
    assert active_faults(cluster, second.name) == ["latency"]
    assert [(f["kind"], f["pods"]) for f in cluster.client.status()["faults"]] == [
        ("latency", [second.name]), ("errors", [first.name])]
    cleared = [e for e in cluster.events(0) if e.type == "fault_cleared" and e.details.get("reason") == "cleared"]
    assert [(e.details["kind"], e.details["pods"]) for e in cleared][-1] == ("latency", [first.name])
    assert cluster.client.clear_fault("latency", [first.name]) == 0  # nothing left of it there: fine
    with pytest.raises(Exception, match="unknown fault 'slowness'"):
        cluster.client.clear_fault("slowness", [first.name])
    cluster.restore()
