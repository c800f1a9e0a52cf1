"""Test support for anything that drives a Cluster: a recording fake and the no-fault-left check.

Importable from every test folder (`from tests.clusters.support import assert_no_faults`), unlike
the fixtures of tests/clusters/conftest.py.
"""

from __future__ import annotations

from collections.abc import Sequence

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

    def restore(self):
        self._record("restore")
