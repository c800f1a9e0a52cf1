"""One evaluation window: the observed seconds of a run folded into per-pod figures, the score of
the view a policy keeps, and each pod's capacity as the window shows it.

A second comes as the run driver measures it (tests_app.run_events.Second): `totals` (users, rps,
p95_ms ...) and `pods` (pod -> requests, failures, p95_ms, cpu, ready, and in_flight where the
cluster reports it)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from clusters.balance import UNATTRIBUTED, analyse, utilisation_balance
from clusters.tuning.state import TargetState

SPEED_FLOOR = 0.01  # a pod is never modelled slower than 1/100 of the fastest


@dataclass(frozen=True)
class Observed:
    """One second as the controller keeps it."""

    t: float
    totals: Mapping
    pods: Mapping[str, Mapping]


@dataclass(frozen=True)
class PodFigures:
    name: str
    requests: int
    failures: int
    p95_ms: float | None  # request-weighted mean of the seconds' p95
    in_flight: float | None  # mean over the seconds that report it
    cpu: float | None  # mean over the seconds that report it
    ready: bool


@dataclass(frozen=True)
class Window:
    start_t: float
    end_t: float
    seconds: int
    pods: tuple[PodFigures, ...]
    users: int
    rps: float
    p95_ms: float | None

    @property
    def requests(self) -> int:
        return sum(pod.requests for pod in self.pods)

    def counts(self) -> dict[str, int]:
        return {pod.name: pod.requests for pod in self.pods}

    def utilisation(self) -> dict[str, float] | None:
        """Per pod in flight (when reported) else CPU: the utilisation view's values; None without either."""
        for attribute in ("in_flight", "cpu"):
            values = {pod.name: getattr(pod, attribute) for pod in self.pods}
            if any(value is not None for value in values.values()):
                return values
        return None

    def score(self, view: str, state: TargetState) -> float | None:
        """The window's balance score in `view`; None when the window has nothing to judge."""
        if view == "utilisation":
            values = self.utilisation()
            if not values or not any(values.values()):
                return None
            return utilisation_balance(values).score
        if self.requests <= 0:
            return None
        names = [pod.name for pod in self.pods]
        return analyse(self.counts(), {pod: state.weight(pod) for pod in names}, expected_pods=names).score

    def latencies(self) -> dict[str, float]:
        """Each pod's latency estimate in ms: Little's law (in flight / throughput) where the pod reports
        requests in flight, else its p95. Pods without a figure are left out."""
        out = {}
        for pod in self.pods:
            rate = pod.requests / self.seconds if self.seconds else 0.0
            if pod.in_flight is not None and rate > 0 and pod.in_flight > 0:
                out[pod.name] = pod.in_flight / rate * 1000.0
            elif pod.p95_ms is not None and pod.p95_ms > 0 and pod.requests > 0:
                out[pod.name] = float(pod.p95_ms)
        return out

    def service_times(self, capacity: int = 1) -> dict[str, float]:
        """Each pod's service time estimate in ms, queueing left out: by the utilisation law, busy
        servers / throughput, the busy servers being the requests in flight up to the pod's `capacity`
        (a saturated pod serves `capacity` at a time, the rest wait). A pod that reports nothing in
        flight falls back on its p95 (which counts its queue too). Pods without a figure are left out."""
        out = {}
        for pod in self.pods:
            rate = pod.requests / self.seconds if self.seconds else 0.0
            if pod.in_flight is not None and rate > 0 and pod.in_flight > 0:
                out[pod.name] = min(pod.in_flight, capacity) / rate * 1000.0
            elif pod.p95_ms is not None and pod.p95_ms > 0 and pod.requests > 0:
                out[pod.name] = float(pod.p95_ms)
        return out

    def speeds(self, capacity: int = 1) -> dict[str, float]:
        """Each pod's speed relative to the fastest (1.0) from `service_times`; a pod without a figure
        is taken at the median of the others. Empty when no pod has a figure."""
        times = self.service_times(capacity)
        if not times:
            return {}
        fastest = min(times.values())
        known = {pod: max(fastest / time, SPEED_FLOOR) for pod, time in times.items()}
        typical = statistics.median(known.values())
        return {pod.name: known.get(pod.name, typical) for pod in self.pods}

    def to_dict(self) -> dict:
        return {"start_t": self.start_t, "end_t": self.end_t, "seconds": self.seconds, "users": self.users,
                "rps": self.rps, "p95_ms": self.p95_ms, "pods": [asdict(pod) for pod in self.pods]}


def _weighted_mean(pairs: Sequence[tuple[float | None, float]]) -> float | None:
    known = [(value, weight) for value, weight in pairs if value is not None]
    if not known:
        return None
    total = sum(weight for _, weight in known)
    if total <= 0:
        return sum(value for value, _ in known) / len(known)
    return sum(value * weight for value, weight in known) / total


def _mean(values: Sequence[float | None]) -> float | None:
    known = [float(value) for value in values if value is not None]
    return sum(known) / len(known) if known else None


def fold(seconds: Sequence[Observed]) -> Window:
    """The window of `seconds` (oldest first, at least one)."""
    names: list[str] = []
    for second in seconds:
        names += [name for name in second.pods if name not in names and name != UNATTRIBUTED]
    pods = []
    for name in names:
        rows = [second.pods.get(name) or {} for second in seconds]
        pods.append(PodFigures(
            name=name,
            requests=int(sum(row.get("requests") or 0 for row in rows)),
            failures=int(sum(row.get("failures") or 0 for row in rows)),
            p95_ms=_weighted_mean([(row.get("p95_ms"), row.get("requests") or 0) for row in rows]),
            in_flight=_mean([row.get("in_flight") for row in rows]),
            cpu=_mean([row.get("cpu") for row in rows]),
            ready=all(row.get("ready") is not False for row in rows),
        ))
    return Window(
        start_t=seconds[0].t, end_t=seconds[-1].t, seconds=len(seconds), pods=tuple(pods),
        users=int(seconds[-1].totals.get("users") or 0),
        rps=float(sum(second.totals.get("rps") or 0.0 for second in seconds) / len(seconds)),
        p95_ms=_weighted_mean([(second.totals.get("p95_ms"), second.totals.get("rps") or 0.0) for second in seconds]),
    )
