"""Test support for anything that drives a Cluster: a recording fake, the no-fault-left check and
load from threads that counts what clients saw.

Importable from every test folder (`from tests.clusters.support import assert_no_faults`), unlike
the fixtures of tests/clusters/conftest.py.
"""

from __future__ import annotations

import collections
import http.client
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from clusters.base import Cluster, Fault, Pod


class RecordingCluster(Cluster):
    """Our own interface, answering every call by writing it down; `pods` are what `pods()` lists."""

    def __init__(self, pods: Sequence[Pod] = ()):
        self.calls: list[tuple] = []
        self._pods = list(pods)

    def _record(self, method, *args):
        self.calls.append((method, *args))

    def _fault(self, method, kind, pods, duration, **params):
        self._record(method, list(pods), *params.values(), duration)
        return Fault(kind=kind, pods=tuple(pods), duration_s=duration, params=params)

    @property
    def endpoint(self):
        return "http://127.0.0.1:1"

    def pods(self):
        return list(self._pods)

    def pod_metrics(self):
        return {}

    def kill_pod(self, pod):
        self._record("kill_pod", pod)

    def add_latency(self, pods, ms, jitter=0.0, duration=30.0):
        return self._fault("add_latency", "latency", pods, duration, ms=ms, jitter=jitter)

    def add_errors(self, pods, rate, status=500, duration=30.0):
        return self._fault("add_errors", "errors", pods, duration, rate=rate, status=status)

    def partition(self, pods, duration=30.0):
        return self._fault("partition", "partition", pods, duration)

    def stress_cpu(self, pods, workers=1, duration=30.0):
        return self._fault("stress_cpu", "cpu_stress", pods, duration, workers=workers)

    def set_not_ready(self, pods, duration=30.0):
        return self._fault("set_not_ready", "not_ready", pods, duration)

    def drain(self, node):
        self._record("drain", node)

    def uncordon(self, node):
        self._record("uncordon", node)

    def scale(self, replicas):
        self._record("scale", replicas)

    def set_algorithm(self, name, options=None):
        self._record("set_algorithm", name, options)

    def kill_primary(self):
        self._record("kill_primary")
        return "redis-0"

    def stop_primary(self):
        self._record("stop_primary")
        return "redis-0"

    def restore_stateful(self):
        self._record("restore_stateful")
        return ["redis-0"]

    def restore(self):
        self._record("restore")


def assert_no_faults(cluster) -> None:
    """Fail unless a sandbox has nothing applied: no fault on the control API's record, none held by
    a pod process, no node cordoned. Call it after `restore()`, after every chaos test."""
    left = cluster.client.faults()
    assert left == {"faults": [], "held": {}, "cordoned": []}, f"left behind: {left}"
    assert cluster.client.status()["faults"] == []


STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def get_once(conn: http.client.HTTPConnection, *, retry_stale: bool = False) -> tuple[int, str | None, bool]:
    """GET / on `conn`: (status, X-Pod, whether it was sent twice). With `retry_stale`, a request
    whose kept-alive connection the server closed before answering anything is sent again once on
    a new connection, as HTTP clients do (RFC 9112 section 9.3.1; urllib3, browsers)."""
    reused = conn.sock is not None
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
    except STALE:
        conn.close()
        if not (retry_stale and reused):
            raise
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Pod"), True
    response.read()
    return response.status, response.getheader("X-Pod"), False


class Load:
    """`clients` threads sending GETs to `endpoint` over kept-alive connections until the block
    ends; `statuses` counts each answer's status, "error" for a connection that failed.

    `retry_stale`: a GET whose kept-alive connection the server closed before answering anything
    is sent again once on a new connection, as HTTP clients do (RFC 9112 section 9.3.1; urllib3,
    browsers): a real balancer's reload closes idle kept-alive connections, and one that carried a
    request in that instant is not a lost request. `retried` counts them; any other failure, or a
    second one, is an "error"."""

    def __init__(self, endpoint: str, clients: int, *, retry_stale: bool = False):
        self.retry_stale = retry_stale
        self.retried = 0
        parts = urlsplit(endpoint)
        self.host, self.port = parts.hostname, parts.port
        self.statuses: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    @property
    def answered(self) -> int:
        with self._lock:
            return sum(self.statuses.values())

    @property
    def failures(self) -> int:
        with self._lock:
            return sum(count for status, count in self.statuses.items() if status != 200)

    def _client(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            while not self._stop.is_set():
                try:
                    status, _, retried = get_once(conn, retry_stale=self.retry_stale)
                except (OSError, http.client.HTTPException):
                    status, retried = "error", False
                    conn.close()  # http.client reconnects on the next request
                with self._lock:
                    self.statuses[status] += 1
                    self.retried += retried
        finally:
            conn.close()

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


HELD_S = 30.0  # a latency fault far longer than the test: requests stay on the pod until it dies
HELD_REQUESTS = 4  # requests surely in flight on the pod when it is killed


def kill_under_load(cluster, wait_until, slot: int, *, retry_stale: bool = False) -> tuple[Load, str]:
    """Kill a sandbox's pod in `slot` under load (8 clients), wait for its replacement to be ready
    and serve, and return what the clients saw and the killed pod's name. `retry_stale`: the
    clients' (Load's), for nginx and HAProxy, whose reloads close idle kept-alive connections.

    A latency fault first holds requests on the pod, so that at least HELD_REQUESTS are in flight
    when it dies whatever the timing of the kill: counts of failures then do not depend on luck."""
    victim = next(p.name for p in cluster.pods() if p.name.startswith(f"pod-{slot}-"))
    cluster.add_latency([victim], ms=HELD_S * 1000, duration=HELD_S)
    with Load(cluster.endpoint, clients=8, retry_stale=retry_stale) as load:
        wait_until(lambda: cluster.client.balancer_stats()[victim]["in_flight"] >= HELD_REQUESTS,
                   message="requests held on the pod")
        cluster.kill_pod(victim)

        def replaced():
            return [p for p in cluster.pods() if p.name.startswith(f"pod-{slot}-") and p.name != victim and p.ready]

        wait_until(replaced, message="the pod's replacement is ready")
        answered = load.answered
        wait_until(lambda: load.answered > answered + 20, message="load goes on after the replacement")
    return load, victim
