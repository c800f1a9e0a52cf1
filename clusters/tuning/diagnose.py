"""Why a window's score is below target, from the window's own per-pod figures.

Causes (stable codes), each a `Finding` with the pods it names and the evidence it read:

- `connection_pinning`: the algorithm picks a pod per client connection, clients keep their
  connections (keep-alive) and there are few of them (at most 4 per pod, the same heuristic as
  clusters.balance.diagnose): the requests follow a handful of connections;
- `slow_pod`: a pod whose latency (Little's law: its requests in flight over its throughput, else its
  p95) is at least 1.5 times the median pod's while the weights are equal; in flight per request, not
  raw, so a pod that holds more because it gets more (pinned connections) is not called slow;
- `weights_out_of_line`: the weights differ from the pods' observed capacity by more than 25 %, both
  ways the window measures it (how fast a pod serves and how fast it answers);
- `too_few_replicas`: every pod is busy (requests in flight at 90 % of its capacity or more).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from clusters.algorithms import algorithm_named
from clusters.balance import FEW_CONNECTIONS_PER_POD
from clusters.tuning.state import TargetState
from clusters.tuning.window import Window

CAUSES: tuple[str, ...] = ("connection_pinning", "slow_pod", "weights_out_of_line", "too_few_replicas")
SLOW_FACTOR = 1.5
WEIGHT_TOLERANCE = 0.25
BUSY = 0.9


@dataclass(frozen=True)
class Finding:
    cause: str
    explanation: str
    pods: tuple[str, ...] = ()
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**asdict(self), "pods": list(self.pods)}


def diagnose(window: Window, state: TargetState) -> list[Finding]:
    """Every cause the window shows, most specific first (empty: none the controller knows)."""
    return [finding for finding in (_pinning(window, state), _slow_pod(window, state), _weights(window, state),
                                    _too_few(window, state)) if finding is not None]


def _pinning(window: Window, state: TargetState) -> Finding | None:
    algorithm = algorithm_named(state.algorithm)
    k = len(window.pods)
    if not (state.keep_alive and algorithm.picks_per_connection(state.options) and k > 1):
        return None
    if not 0 < window.users <= FEW_CONNECTIONS_PER_POD * k:
        return None
    idle = tuple(pod.name for pod in window.pods if pod.requests == 0)
    return Finding("connection_pinning",
                   f"{state.algorithm} picks a pod per connection and {window.users} keep-alive clients over {k} pods "
                   f"stay on the pod chosen when they connected"
                   + (f"; {len(idle)} pod{'s' if len(idle) != 1 else ''} got nothing." if idle else "."),
                   pods=idle, evidence={"users": window.users, "pods": k, "counts": window.counts()})


def _uniform(state: TargetState, pods: Sequence[str]) -> bool:
    return len({state.weight(pod) for pod in pods}) <= 1


def _slow_pod(window: Window, state: TargetState) -> Finding | None:
    names = [pod.name for pod in window.pods]
    if len(names) < 2 or not _uniform(state, names):
        return None
    latencies = window.latencies()
    slow = set()
    if len(latencies) >= 2:
        typical = statistics.median(latencies.values())
        slow |= {pod for pod, latency in latencies.items() if latency >= SLOW_FACTOR * typical}
    if not slow or len(slow) == len(names):
        return None
    pods = tuple(sorted(slow))
    return Finding("slow_pod",
                   f"{', '.join(pods)} {'is' if len(pods) == 1 else 'are'} slower or more loaded than the others "
                   f"(latency at least {SLOW_FACTOR:g} times the median pod's) with equal weights.",
                   pods=pods, evidence={"latency_ms": {p: round(v, 3) for p, v in latencies.items()}})


def _weights(window: Window, state: TargetState) -> Finding | None:
    names = [pod.name for pod in window.pods]
    if len(names) < 2 or _uniform(state, names) or not algorithm_named(state.algorithm).weighted:
        return None
    bases = window.capacities(state.capacity)
    speeds = bases.get("service", {})
    if len(speeds) < 2:
        return None
    total_w = sum(state.weight(pod) for pod in speeds)
    out = None  # the pods off in every basis: weights set by either one are in line
    for basis in bases.values():
        total = sum(basis.values())
        off = {pod for pod, speed in basis.items()
               if abs(state.weight(pod) / total_w / (speed / total) - 1.0) > WEIGHT_TOLERANCE}
        out = off if out is None else out & off
    out = tuple(sorted(out or ()))
    if not out:
        return None
    return Finding("weights_out_of_line",
                   f"the weights of {', '.join(out)} are more than {WEIGHT_TOLERANCE:.0%} off the capacity the "
                   f"window shows.", pods=out,
                   evidence={"weights": {pod: state.weight(pod) for pod in speeds},
                             "speeds": {pod: round(speed, 3) for pod, speed in speeds.items()}})


def _too_few(window: Window, state: TargetState) -> Finding | None:
    in_flight = {pod.name: pod.in_flight for pod in window.pods if pod.in_flight is not None}
    if not window.pods or len(in_flight) < len(window.pods):
        return None
    if min(in_flight.values()) < BUSY * state.capacity:
        return None
    return Finding("too_few_replicas",
                   f"every pod holds at least {BUSY:.0%} of its capacity ({state.capacity}) in flight: "
                   f"{state.replicas} replicas are too few for the load.",
                   evidence={"in_flight": in_flight, "capacity": state.capacity, "replicas": state.replicas})
