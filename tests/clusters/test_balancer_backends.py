"""The sandbox behind real nginx and HAProxy (`--balancer nginx|haproxy`), real processes: every pod
serves, weights hold, switching drops nothing, killed pods come back, faults at the pods show, and
closing the sandbox leaves none of the balancer's processes."""

from __future__ import annotations

import collections
import http.client
import os
import signal
import statistics
import threading
import time

import pytest

from clusters.algorithms import ALGORITHMS
from clusters.base import ClusterError
from clusters.sandbox import SandboxConfig, ServiceTime
from clusters.sandbox.backends import BALANCER_BACKENDS, backend_named
from tests.clusters.support import HELD_REQUESTS, Load, get_once, kill_under_load
from tests.procs import alive

pytestmark = pytest.mark.timeout(120)


def installed(name: str) -> bool:
    try:
        backend_named(name).located()
        return True
    except ClusterError:
        return False


REAL = [pytest.param(name, marks=pytest.mark.skipif(not installed(name), reason=f"{name} is not installed: make balancers"))
        for name in BALANCER_BACKENDS if name != "lblab"]
EVERY = [pytest.param("lblab"), *REAL]
SPREAD_ALGORITHMS = ("round_robin", "least_conn", "p2c")  # p2c: nginx's random two least_conn, HAProxy's random(2)
SLOW = ServiceTime(distribution="fixed", mean_ms=2.0)  # requests overlap, so least_conn and p2c see load


def spread(endpoint: str, clients: int = 6, per_client: int = 60) -> collections.Counter:
    """Requests from `clients` threads over kept-alive connections, counted by the X-Pod answering;
    every one answered 200 (a kept-alive connection a reload closed is retried, as clients do)."""
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()
    host, port = endpoint.split("//")[1].rsplit(":", 1)

    errors: list = []

    def client():
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        mine: collections.Counter = collections.Counter()
        try:
            for _ in range(per_client):
                status, pod, _ = get_once(conn, retry_stale=True)
                if status != 200:
                    errors.append(status)
                mine[pod] += 1  # HAProxy lower-cases the name: getheader does not care
        except Exception as exc:  # asserted below
            errors.append(exc)
        finally:
            conn.close()
        with lock:
            counts.update(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return counts


def pod_named(cluster, slot: int) -> str:
    return next(p.name for p in cluster.pods() if p.name.startswith(f"pod-{slot}-"))


@pytest.mark.parametrize("balancer", EVERY)
def test_every_pod_gets_traffic_for_each_algorithm(start_sandbox, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer, service_time=SLOW)
    assert cluster.client.status()["balancer"] == balancer
    pods = {p.name for p in cluster.pods()}
    for algorithm in SPREAD_ALGORITHMS:
        cluster.set_algorithm(algorithm)
        before = {name: s["requests"] for name, s in cluster.client.balancer_stats().items()}
        counts = spread(cluster.endpoint)
        assert set(counts) == pods, (algorithm, counts)
        assert sum(counts.values()) == 360
        # The per-pod stats and the pods' metrics agree with what the clients saw, behind every balancer.
        after = cluster.client.balancer_stats()
        assert {name: after[name]["requests"] - before[name] for name in pods} == dict(counts), algorithm
    metrics = cluster.pod_metrics()
    assert sum(m.requests for m in metrics.values()) == 3 * 360


@pytest.mark.parametrize("balancer", REAL)
def test_algorithm_without_equivalent_is_refused(start_sandbox, balancer):
    with pytest.raises(ClusterError) as refused:
        SandboxConfig(balancer=balancer, algorithm="ewma")
    assert refused.value.field == "algorithm"
    assert "no " + balancer + " equivalent" in str(refused.value)
    cluster = start_sandbox(pods=3, balancer=balancer)
    with pytest.raises(ClusterError) as refused:
        cluster.set_algorithm("ewma")
    assert refused.value.field == "algorithm"
    assert cluster.client.status()["algorithm"] == "round_robin"
    assert len(spread(cluster.endpoint, clients=2, per_client=30)) == 3  # it still serves, unchanged


def test_unknown_balancer_is_refused_with_its_field():
    with pytest.raises(ClusterError) as refused:
        SandboxConfig(balancer="envoy")
    assert refused.value.field == "balancer"


@pytest.mark.parametrize("balancer", REAL)
def test_weights_3_1_1_give_60_20_20(start_sandbox, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer, algorithm="weighted_round_robin")
    # Weights changed on the running balancer: HAProxy's runtime API, nginx's reload.
    cluster.set_algorithm("weighted_round_robin", {"weights": {"pod-0": 3}})
    counts = spread(cluster.endpoint, clients=5, per_client=100)
    total = sum(counts.values())
    heavy = counts[pod_named(cluster, 0)] / total
    assert 0.55 <= heavy <= 0.65, counts
    for slot in (1, 2):
        assert 0.15 <= counts[pod_named(cluster, slot)] / total <= 0.25, counts


@pytest.mark.parametrize("balancer", REAL)
def test_switching_algorithm_and_weights_under_load_loses_no_request(start_sandbox, wait_until, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer, service_time=SLOW)
    host, port = cluster.endpoint.split("//")[1].rsplit(":", 1)
    fresh: collections.Counter = collections.Counter()
    stop = threading.Event()

    def one_connection_per_request():  # nothing to retry: any failure is a lost request
        while not stop.is_set():
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                conn.request("GET", "/", headers={"Connection": "close"})
                response = conn.getresponse()
                response.read()
                fresh[response.status] += 1
            except (OSError, http.client.HTTPException) as exc:
                fresh[type(exc).__name__] += 1
            finally:
                conn.close()

    closing = threading.Thread(target=one_connection_per_request)
    closing.start()
    with Load(cluster.endpoint, clients=4, retry_stale=True) as load:
        for _ in range(3):
            for algorithm, options in (("least_conn", {}), ("weighted_round_robin", {"weights": {"pod-0": 3}}),
                                       ("weighted_round_robin", {"weights": {"pod-0": 1, "pod-1": 2}}),
                                       ("p2c", {}), ("l4_connection", {}), ("round_robin", {})):
                cluster.set_algorithm(algorithm, options)
                answered = load.answered
                wait_until(lambda a=answered: load.answered > a + 20, message=f"load goes on after {algorithm}")
    stop.set()
    closing.join(30)
    assert load.failures == 0, (load.statuses, load.retried)
    assert load.statuses[200] > 300
    assert set(fresh) == {200} and fresh[200] > 20, fresh


@pytest.mark.parametrize("balancer", REAL)
def test_killed_pod_comes_back_and_gets_traffic(start_sandbox, wait_until, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer)
    victim = pod_named(cluster, 1)
    cluster.kill_pod(victim)
    replaced = wait_until(lambda: [p.name for p in cluster.pods() if p.name.startswith("pod-1-") and p.name != victim
                                   and p.ready], message="the pod's replacement is ready")
    counts = wait_until(lambda: (c := spread(cluster.endpoint, clients=3, per_client=30))[replaced[0]] and c,
                        message="the replacement gets traffic")
    assert victim not in counts
    assert len(counts) == 3


@pytest.mark.parametrize("balancer", REAL)
def test_not_ready_pod_is_taken_out_and_back(start_sandbox, wait_until, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer)
    pod = pod_named(cluster, 2)
    cluster.set_not_ready([pod], duration=2.0)
    wait_until(lambda: not next(p for p in cluster.pods() if p.name == pod).ready, message="marked not ready")
    counts = spread(cluster.endpoint, clients=3, per_client=40)
    assert pod not in counts and len(counts) == 2, counts
    wait_until(lambda: pod in spread(cluster.endpoint, clients=2, per_client=10), message="back in the rotation")


@pytest.mark.parametrize("balancer", REAL)
def test_closing_the_sandbox_leaves_no_balancer_process(start_sandbox, balancer):
    cluster = start_sandbox(pods=2, balancer=balancer)
    cluster.set_algorithm("least_conn")  # a reload: old and new workers are ours alike
    started = cluster.client.status()["pids"]["balancer"]
    assert len(started) >= 2  # a master and its worker
    pids = cluster.pids()
    assert set(started) <= set(pids)
    workdir = cluster._workdir
    assert os.path.isfile(os.path.join(workdir, f"{'nginx.conf' if balancer == 'nginx' else 'haproxy.cfg'}"))
    cluster.close()
    assert not os.path.exists(workdir)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in started):
        time.sleep(0.05)
    assert [pid for pid in started if alive(pid)] == []


@pytest.mark.parametrize("balancer", REAL)
def test_latency_fault_at_a_pod_shows_behind_the_balancer(start_sandbox, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer)
    slow = pod_named(cluster, 0)
    cluster.add_latency([slow], ms=300, duration=30)
    host, port = cluster.endpoint.split("//")[1].rsplit(":", 1)
    seconds: dict[str, list[float]] = collections.defaultdict(list)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for _ in range(9):
            started = time.monotonic()
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            seconds[response.getheader("X-Pod")].append(time.monotonic() - started)
    finally:
        conn.close()
    assert len(seconds) == 3
    assert min(seconds[slow]) >= 0.25  # the pod holds each request 300 ms (its loop timer may fire a little early)
    others = [s for pod, values in seconds.items() if pod != slow for s in values]
    assert statistics.median(others) < min(seconds[slow])
    cluster.restore()


@pytest.mark.parametrize("balancer", REAL)
def test_every_algorithm_with_an_equivalent_runs_and_the_rest_are_refused(start_sandbox, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer)
    backend = backend_named(balancer)
    pods = {p.name for p in cluster.pods()}
    for name, algorithm in ALGORITHMS.items():
        options = {"header": "X-User"} if name == "consistent_hash" else {}
        if backend.equivalent(algorithm) is None:
            with pytest.raises(ClusterError) as refused:
                cluster.set_algorithm(name, options)
            assert refused.value.field == "algorithm"
            continue
        cluster.set_algorithm(name, options)  # nginx -t / haproxy -c accepted what LB Lab wrote
        assert cluster.client.status()["algorithm"] == name
        assert set(spread(cluster.endpoint, clients=3, per_client=40)) <= pods
    # consistent_hash on a header: one key, one pod, whatever the connection
    cluster.set_algorithm("consistent_hash", {"header": "X-User"})
    host, port = cluster.endpoint.split("//")[1].rsplit(":", 1)
    seen = set()
    for _ in range(10):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/", headers={"X-User": "alice"})
        response = conn.getresponse()
        response.read()
        seen.add(response.getheader("X-Pod"))
        conn.close()
    assert len(seen) == 1


@pytest.mark.parametrize("balancer", REAL)
def test_scaling_adds_and_removes_pods_at_the_balancer(start_sandbox, wait_until, balancer):
    cluster = start_sandbox(pods=2, balancer=balancer)
    cluster.scale(3)
    wait_until(lambda: len([p for p in cluster.pods() if p.ready]) == 3, message="scaled up")
    added = pod_named(cluster, 2)
    assert spread(cluster.endpoint, clients=3, per_client=30)[added] > 0
    cluster.scale(1)
    wait_until(lambda: [p.name for p in cluster.pods()] == [pod_named(cluster, 0)], message="scaled down")
    assert set(spread(cluster.endpoint, clients=2, per_client=20)) == {pod_named(cluster, 0)}


@pytest.mark.parametrize("balancer", REAL)
def test_retries_map_to_the_real_balancer(start_sandbox, wait_until, balancer):
    """`retries` is nginx's proxy_next_upstream tries and HAProxy's retries + redispatch: with 0 the
    requests held on a killed pod come back as errors; with 2 they go to the other pods."""
    cluster = start_sandbox(pods=3, balancer=balancer, retries=0, service_time=ServiceTime("fixed", 5.0))
    off, _ = kill_under_load(cluster, wait_until, slot=1, retry_stale=True)
    cluster.set_retries(2)
    on, _ = kill_under_load(cluster, wait_until, slot=2, retry_stale=True)
    # Off: each request held on the pod comes back as a 502, or (seldom, when the balancer closes the
    # client's connection instead) as a cut the client itself sends again: never retried by the balancer.
    seen = (off.statuses, on.statuses, off.retried, on.retried)
    assert off.failures + off.retried >= HELD_REQUESTS, seen
    assert off.failures >= 1, seen
    assert on.failures * 4 <= off.failures + off.retried, seen
    assert on.statuses[200] > 0


@pytest.mark.parametrize("balancer", REAL)
def test_sigkilled_controller_takes_the_balancer_with_it(start_sandbox, wait_until, balancer):
    """Nothing asks it to stop: the master's parent-death signal (SIGTERM) stops it and its workers."""
    cluster = start_sandbox(pods=2, balancer=balancer)
    started = cluster.client.status()["pids"]["balancer"]
    workdir = cluster._workdir
    assert os.path.isdir(workdir)
    os.kill(cluster.controller_pid, signal.SIGKILL)
    wait_until(lambda: not any(alive(pid) for pid in started), timeout=15,
               message=f"{balancer} gone after the controller's SIGKILL")
    cluster.close()
    assert not os.path.exists(workdir)  # its config dir too, which the controller could not remove


@pytest.mark.parametrize("balancer", REAL)
def test_error_and_partition_faults_at_a_pod_show_behind_the_balancer(start_sandbox, wait_until, balancer):
    cluster = start_sandbox(pods=3, balancer=balancer, upstream_timeout_s=1.0)
    failing, cut = pod_named(cluster, 0), pod_named(cluster, 1)
    cluster.add_errors([failing], rate=1.0, status=503, duration=30)
    host, port = cluster.endpoint.split("//")[1].rsplit(":", 1)
    statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        for _ in range(30):
            status, pod, _ = get_once(conn, retry_stale=True)
            statuses[pod][status] += 1
    finally:
        conn.close()
    assert set(statuses[failing]) == {503}  # the pod's answer reaches the client, attributed to it
    assert all(set(counts) == {200} for pod, counts in statuses.items() if pod != failing)
    # A partitioned pod fails its readiness checks: the balancer stops sending it anything.
    cluster.partition([cut], duration=30)
    wait_until(lambda: not next(p for p in cluster.pods() if p.name == cut).ready, message="partitioned pod out")
    cluster.add_errors([failing], rate=0.0, status=503, duration=30)  # only the partition now
    assert cut not in spread(cluster.endpoint, clients=2, per_client=20)
    cluster.restore()
    wait_until(lambda: all(p.ready for p in cluster.pods()), message="restored")
    counts = spread(cluster.endpoint, clients=3, per_client=30)
    assert set(counts) == {p.name for p in cluster.pods()}


@pytest.mark.parametrize("balancer", REAL)
def test_l4_connection_pins_each_connection_to_one_pod(start_sandbox, balancer):
    """nginx's stream module, HAProxy's mode tcp: a pod per client connection, as kube-proxy's."""
    cluster = start_sandbox(pods=3, balancer=balancer, algorithm="l4_connection",
                            algorithm_options={"pick": "round_robin"})
    host, port = cluster.endpoint.split("//")[1].rsplit(":", 1)
    first_pods = collections.Counter()
    for _ in range(6):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            pods = {get_once(conn)[1] for _ in range(10)}
        finally:
            conn.close()
        assert len(pods) == 1, pods  # every request of the connection on one pod
        first_pods.update(pods)
    assert sorted(first_pods.values()) == [2, 2, 2], first_pods  # connections taken in turn
    cluster.set_algorithm("round_robin")  # and back to L7 on the same port
    assert len(spread(cluster.endpoint, clients=1, per_client=9)) == 3
