"""The pods' requests in flight over one second, per slot, for the tuner's utilisation view.

A pod's in-flight gauge is a snapshot of a number that moves by whole requests: a few readings a
second of it are noisy where few requests are in flight. Where the pod also counts the time its
answered requests spent with it (`PodMetrics.request_seconds`: arrival to answer, summed), that
counter's increase over an interval divided by the interval is the mean number in flight over it
(Little's law), every request counted, nothing sampled. Readings without that counter (a cluster
that has only the gauge) give the mean of the snapshots. Where the pod also counts the part of that
time spent waiting for or at a server (`PodMetrics.server_seconds`), the rest gives `delayed`: of
those in flight, how many were not at a server (held by a latency fault before them, or waiting on
the store after them), which hold no server and so are no sign of a slow one. The two counters are
bumped at slightly different moments of a request (its server's end, its answer), so over an
interval the difference is held between 0 and the whole time.

    meter = InFlightMeter(slot_of=pod_key)
    meter.read(cluster.pod_metrics(), now)      # a few times a second
    meter.take()                                # each second: {"pod-0": {"in_flight": 2.4, "delayed": 1.8, "queued": 0.2}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from clusters.base import PodMetrics


class InFlightMeter:
    """`slot_of` names the slot a pod counts for (a replaced pod and its replacement: one slot)."""

    def __init__(self, slot_of: Callable[[str], str]):
        self.slot_of = slot_of
        self.snapshots: list[dict[str, dict[str, float]]] = []  # per reading: slot -> in_flight, queued
        # figure (in_flight, delayed) -> slot -> request seconds counted since the last take
        self.gained: dict[str, dict[str, float]] = {"in_flight": {}, "delayed": {}}
        self.uncounted: dict[str, set[str]] = {"in_flight": set(), "delayed": set()}  # slots a pod of which lacked it
        self.elapsed = 0.0  # seconds those counts span
        self.last: dict[str, tuple[float, float | None]] = {}  # pod -> its (request, server) seconds at the last reading
        self.last_at: float | None = None

    def read(self, metrics: Mapping[str, PodMetrics], now: float) -> None:
        snapshot: dict[str, dict[str, float]] = {}
        spans = self.last_at is not None and now > self.last_at
        for name, pod in metrics.items():
            key = self.slot_of(name)
            slot = snapshot.setdefault(key, {"in_flight": 0.0})
            slot["in_flight"] += pod.in_flight
            if pod.queued is not None:
                slot["queued"] = slot.get("queued", 0.0) + pod.queued
            if pod.request_seconds is None:
                self.uncounted["in_flight"].add(key)
            if pod.request_seconds is None or pod.server_seconds is None:
                self.uncounted["delayed"].add(key)
            if pod.request_seconds is None or not spans:
                continue
            before = self.last.get(name)
            if before is None or pod.request_seconds < before[0]:
                # a pod new since the last reading (or whose counter went back: a new process) spent all
                # it counts within this interval
                before = (0.0, 0.0)
            request = pod.request_seconds - before[0]
            self.gained["in_flight"][key] = self.gained["in_flight"].get(key, 0.0) + request
            if pod.server_seconds is not None and before[1] is not None:
                delayed = min(max(request - (pod.server_seconds - before[1]), 0.0), request)
                self.gained["delayed"][key] = self.gained["delayed"].get(key, 0.0) + delayed
        # A pod missing from this reading while no other pod of its slot is in it (its metrics call
        # failed) keeps its counters, so when read again its increase is counted from them, not from
        # its start; one whose slot another pod reports now (its replacement) is gone.
        slots_read = {self.slot_of(name) for name in metrics}
        self.last = {name: counters for name, counters in self.last.items()
                     if name not in metrics and self.slot_of(name) not in slots_read}
        self.last.update({name: (pod.request_seconds, pod.server_seconds) for name, pod in metrics.items()
                          if pod.request_seconds is not None})
        if spans:
            self.elapsed += now - self.last_at
        self.last_at = now
        self.snapshots.append(snapshot)

    def take(self) -> dict[str, dict[str, float]]:
        """Per slot since the last take: in_flight (the counter's mean where its pods always had it,
        else the snapshots' mean), delayed (where its pods always counted both) and queued (the
        snapshots' mean, where the pods say)."""
        snapshots, gained, elapsed, uncounted = self.snapshots, self.gained, self.elapsed, self.uncounted
        self.snapshots, self.elapsed = [], 0.0
        self.gained = {"in_flight": {}, "delayed": {}}
        self.uncounted = {"in_flight": set(), "delayed": set()}
        out: dict[str, dict[str, float]] = {}
        for slot in {key for snapshot in snapshots for key in snapshot}:
            values = [snapshot[slot] for snapshot in snapshots if slot in snapshot]
            figures = {"in_flight": sum(value["in_flight"] for value in values) / len(snapshots)}
            for figure, counted in gained.items():
                if elapsed > 0 and slot in counted and slot not in uncounted[figure]:
                    figures[figure] = counted[slot] / elapsed
            queued = [value["queued"] for value in values if "queued" in value]
            if queued:
                figures["queued"] = sum(queued) / len(queued)
            out[slot] = figures
        return out
