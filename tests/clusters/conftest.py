"""Shared fixtures for the cluster tests: real sandboxes, plain HTTP helpers, polling.

Every sandbox a test starts is closed in a finally, so no process outlives a test.
"""

from __future__ import annotations

import collections
import http.client as httpclient
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from clusters.kubernetes.api import KubeApi
from clusters.kubernetes.cluster import KubernetesCluster
from clusters.sandbox import SandboxCluster, SandboxConfig, ServiceTime
from clusters.sandbox.stateful.postgres import PatroniSet
from clusters.sandbox.stateful.redis import RedisSentinelSet
from tests.kube_emulator import KubeApiEmulator

FAST = ServiceTime(distribution="fixed", mean_ms=0.0)


def quick_config(**overrides) -> SandboxConfig:
    """A sandbox tuned for tests: instant pods, fast health checks and restarts."""
    settings = {"pods": 3, "service_time": FAST, "health_interval_s": 0.1, "restart_delay_s": 0.3,
                "drain_grace_s": 2.0} | overrides
    return SandboxConfig(**settings)


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxCluster]]:
    """Start sandboxes with `start_sandbox(pods=4, ...)`; all are closed after the test."""
    started: list[SandboxCluster] = []

    def start(**overrides) -> SandboxCluster:
        cluster = SandboxCluster(quick_config(**overrides))
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            cluster.close()


@pytest.fixture
def emulated_kube(start_sandbox) -> Iterator[tuple]:
    """A sandbox of 3 pods on 2 nodes as namespace `web` of the Kubernetes API emulator, and
    `open_cluster(**arguments)`: a KubernetesCluster on it (pods `app=web`, the sandbox's endpoint,
    then the arguments given); every cluster opened is closed after the test."""
    sandbox = start_sandbox(pods=3, nodes=2)
    with KubeApiEmulator(sandbox, namespace="web") as api:
        opened: list[KubernetesCluster] = []

        def open_cluster(endpoint_url: str = sandbox.endpoint, **arguments) -> KubernetesCluster:
            opened.append(KubernetesCluster(KubeApi(api.client(), namespace="web", selector="app=web"),
                                            endpoint_url=endpoint_url, **arguments))
            return opened[-1]

        try:
            yield sandbox, api, open_cluster
        finally:
            for cluster in opened:
                cluster.close()


@pytest.fixture
def redis_set() -> Iterator[RedisSentinelSet]:
    """A Redis primary, replica and three Sentinels that agree on the primary; closed after the test."""
    started = RedisSentinelSet()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def start_patroni_set() -> Iterator[Callable[..., PatroniSet]]:
    """Start Patroni sets with `start_patroni_set(durability="async")` (an etcd member and two
    nodes, pg-0 the primary, about 8 s); all are closed after the test."""
    started: list[PatroniSet] = []

    def start(**options) -> PatroniSet:
        started.append(PatroniSet(**options))
        return started[-1]

    try:
        yield start
    finally:
        for pg_set in started:
            pg_set.close()


@pytest.fixture(scope="module")
def module_sandbox(request) -> Iterator[SandboxCluster]:
    """One sandbox per module; a module sets `SANDBOX = {...}` to configure it."""
    cluster = SandboxCluster(quick_config(**getattr(request.module, "SANDBOX", {})))
    try:
        yield cluster
    finally:
        cluster.close()


class Http:
    """Minimal HTTP client helpers: count `X-Pod` over fresh or kept-alive connections."""

    @staticmethod
    def connect(url_or_address: str, timeout: float = 10.0) -> httpclient.HTTPConnection:
        if "://" in url_or_address:
            parts = urlsplit(url_or_address)
            return httpclient.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        host, port = url_or_address.rsplit(":", 1)
        return httpclient.HTTPConnection(host, int(port), timeout=timeout)

    @staticmethod
    def get(conn: httpclient.HTTPConnection, path: str = "/", headers: dict | None = None):
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, response.getheader("X-Pod"), body

    def count(self, url: str, n: int, *, keep_alive: bool = True,
              headers: dict | None = None) -> collections.Counter:
        counts: collections.Counter = collections.Counter()
        conn = self.connect(url)
        try:
            for _ in range(n):
                if not keep_alive:
                    conn.close()
                    conn = self.connect(url)
                status, pod, _ = self.get(conn, headers=headers)
                assert status == 200, status
                counts[pod] += 1
        finally:
            conn.close()
        return counts

    def count_parallel(self, url: str, clients: int, per_client: int, *, keep_alive: bool = True):
        """`clients` threads, each sending `per_client` requests; returns (counts, errors)."""
        counts: collections.Counter = collections.Counter()
        errors: list = []
        lock = threading.Lock()

        def client():
            try:
                mine = self.count(url, per_client, keep_alive=keep_alive)
            except Exception as exc:  # collected and asserted on by the test
                with lock:
                    errors.append(exc)
                return
            with lock:
                counts.update(mine)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        return counts, errors


@pytest.fixture(scope="session")
def http() -> Http:
    return Http()


def poll(predicate: Callable[[], object], *, timeout: float = 20.0, interval: float = 0.05,
         message: str = ""):
    """Call `predicate` until it returns something truthy; fail after a generous deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout:g} s: {message} (last value {last!r})")


@pytest.fixture(scope="session")
def wait_until():
    return poll
