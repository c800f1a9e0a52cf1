"""Test support for the tuning controller (clusters/tuning): seconds as the run driver measures
them, fed to a Controller one by one."""

from __future__ import annotations

from collections.abc import Mapping

from clusters.tuning.controller import Controller, Decision


def second(counts: Mapping[str, int], *, p95: Mapping[str, float] | None = None,
           in_flight: Mapping[str, float] | None = None, delayed: Mapping[str, float] | None = None,
           users: int = 6, p95_ms: float = 2.0) -> tuple[dict, dict]:
    """(totals, pods) of one second: `counts` requests per pod, each pod's p95 (2 ms unless named in
    `p95`; none for an idle pod) and, when given, its requests in flight and of those the ones held
    before its servers (`delayed`)."""
    pods = {}
    for pod, requests in counts.items():
        pods[pod] = {"requests": requests, "failures": 0, "p95_ms": (p95 or {}).get(pod, 2.0) if requests else None,
                     "cpu": None, "memory_bytes": None, "ready": True}
        if in_flight is not None:
            pods[pod]["in_flight"] = in_flight[pod]
        if delayed is not None:
            pods[pod] |= {"delayed": delayed[pod], "queued": 0.0}
    totals = {"users": users, "requests": sum(counts.values()), "rps": float(sum(counts.values())), "p95_ms": p95_ms}
    return totals, pods


def feed(controller: Controller, seconds: int, start: float, counts: Mapping[str, int], **shape) -> list[Decision]:
    """Feed the same second `seconds` times from `start`; the decisions returned, in order."""
    totals, pods = second(counts, **shape)
    out = []
    for offset in range(seconds):
        out += controller.on_second(start + offset, totals, pods)
    return out


PINNED = {"pod-0": 300, "pod-1": 100, "pod-2": 200, "pod-3": 0}  # 6 keep-alive users on l4_connection
EVEN = {"pod-0": 150, "pod-1": 150, "pod-2": 150, "pod-3": 150}
