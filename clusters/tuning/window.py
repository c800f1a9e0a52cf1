"""One evaluation window: the observed seconds of a run folded into per-pod figures, the score of
the view a policy keeps, and each pod's capacity as the window shows it.

A second comes as the run driver measures it (tests_app.run_events.Second): `totals` (users, rps,
p95_ms ...) and `pods` (pod -> requests, failures, p95_ms, cpu, ready, and in_flight, queued and
delayed where the cluster reports them: clusters/tuning/in_flight.py)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from clusters.balance import UNATTRIBUTED, analyse, utilisation_balance
from clusters.tuning.state import TargetState

SPEED_FLOOR = 0.01  # a pod is never modelled slower than 1/100 of the fastest
# Pods whose service times differ by less than this many standard errors of the difference are
# taken as equally fast (`Window.service_times(pooled=True)`): two standard errors is what
# identical pods differ by less than 95 % of the time.
SAME_WITHIN_SE = 2.0


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
    # of those in flight, the requests waiting for a free server (mean); None where the cluster
    # does not say, and then in flight beyond the pod's capacity is taken as its queue
    queued: float | None = None
    # of those in flight, the requests not at a server (held before them by a latency fault, or
    # waiting on the store after them; mean); None where the cluster does not say, and then such a
    # delay counts as service
    delayed: float | None = None
    # the pod's figures of each second of the window (oldest first), for the spread of its seconds
    rows: tuple[Mapping, ...] = field(default=(), repr=False, compare=False)

    def service_ms_seconds(self, capacity: int) -> list[float]:
        """The pod's service time estimate of each second with traffic (as `Window.service_times`)."""
        out = []
        for row in self.rows:
            in_flight, requests, queued = row.get("in_flight"), row.get("requests") or 0, row.get("queued")
            if in_flight is None or in_flight <= 0 or requests <= 0:
                continue
            out.append(_serving(in_flight, queued, row.get("delayed"), capacity) / requests * 1000.0)
        return out

    def to_dict(self) -> dict:
        return {name: value for name, value in asdict(self).items() if name != "rows"}


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

    def utilisation_source(self) -> str | None:
        """What the utilisation view reads: "in_flight" where the cluster reports it, else "cpu"; None
        without either."""
        for attribute in ("in_flight", "cpu"):
            if any(getattr(pod, attribute) is not None for pod in self.pods):
                return attribute
        return None

    def utilisation(self) -> dict[str, float] | None:
        """Per pod in flight (when reported) else CPU: the utilisation view's values; None without either."""
        source = self.utilisation_source()
        return None if source is None else {pod.name: getattr(pod, source) for pod in self.pods}

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

    def utilisation_rel_var(self) -> dict[str, float]:
        """Per pod, how much its share of the utilisation view's total moves from second to second:
        the sample variance (n - 1) of its seconds' shares over their mean squared. Shares, not the
        values: a second in which every pod holds more (a burst, the machine busy elsewhere) moves
        no pod's share, and the balance score, a CV, does not see it either. Only the seconds in
        which every pod reports the value count; empty with fewer than two of them."""
        source = self.utilisation_source()
        if source is None:
            return {}
        seconds = []
        for index in range(self.seconds):
            values = {pod.name: pod.rows[index].get(source) if index < len(pod.rows) else None for pod in self.pods}
            total = sum(value for value in values.values() if value is not None)
            if all(value is not None for value in values.values()) and total > 0:
                seconds.append({name: value / total for name, value in values.items()})
        if len(seconds) < 2:
            return {}
        out = {}
        for pod in self.pods:
            shares = [second[pod.name] for second in seconds]
            mean = sum(shares) / len(shares)
            if mean > 0:
                out[pod.name] = statistics.variance(shares) / mean ** 2
        return out

    def service_times(self, capacity: int = 1, *, pooled: bool = False) -> dict[str, float]:
        """Each pod's service time estimate in ms, queueing left out: by the utilisation law, busy
        servers / throughput, the busy servers being the requests in flight less those the pod says
        wait for a server or are not at one (`PodFigures.delayed`: a latency fault), or, where it does
        not say, the requests in flight up to the pod's `capacity` (a saturated pod serves `capacity`
        at a time, the rest wait). A pod that reports nothing in flight falls back on its p95 (which
        counts its queue too). Pods without a figure are left out."""
        out = {}
        for pod in self.pods:
            rate = pod.requests / self.seconds if self.seconds else 0.0
            if pod.in_flight is not None and rate > 0 and pod.in_flight > 0:
                out[pod.name] = _serving(pod.in_flight, pod.queued, pod.delayed, capacity) / rate * 1000.0
            elif pod.p95_ms is not None and pod.p95_ms > 0 and pod.requests > 0:
                out[pod.name] = float(pod.p95_ms)
        return self._pooled(out, capacity) if pooled else out

    def delays_ms(self) -> dict[str, float]:
        """Each pod's time per request not at a server in ms (Little's law: delayed in flight /
        throughput), for the pods that report it: what a latency fault adds to its requests."""
        return {pod.name: max(pod.delayed, 0.0) / (pod.requests / self.seconds) * 1000.0 for pod in self.pods
                if pod.delayed is not None and pod.requests > 0 and self.seconds}

    def capacities(self, capacity: int = 1) -> dict[str, dict[str, float]]:
        """Each pod's capacity relative to the fastest, two ways: `service`, how fast its servers serve
        (`speeds`), and `answer`, how fast it answers (`latencies`: its queue and a latency fault's
        delay included; only when every pod has a latency). They differ where a pod holds requests
        without serving them: weights by service leave it its share, weights by answer give it less."""
        out = {}
        speeds = self.speeds(capacity)
        if speeds:
            out["service"] = speeds
        latencies = self.latencies()
        if latencies and set(latencies) == {pod.name for pod in self.pods} and min(latencies.values()) > 0:
            quickest = min(latencies.values())
            out["answer"] = {pod: quickest / latency for pod, latency in latencies.items()}
        return out

    def _pooled(self, times: dict[str, float], capacity: int) -> dict[str, float]:
        """`times` with the pods that are within noise of each other given their group's mean.

        Pods that are really identical never measure the same: over a few seconds on a shared
        machine their service times differ by several per cent (CPU sharing), and a model that
        takes those differences as real predicts an imbalance that will not be there (a pod
        "7 % slower" holds 7 % more in flight at equal weights). A pod's estimate is the mean of
        its seconds', so its standard error is their standard deviation / sqrt(seconds). Sorted
        fastest first, a pod joins the group before it when it differs from the group's mean by
        less than SAME_WITHIN_SE standard errors of the difference; a pod without two seconds to
        judge its noise by stays alone."""
        errors = {}
        for pod in self.pods:
            seconds = pod.service_ms_seconds(capacity)
            if pod.name in times and len(seconds) >= 2:
                errors[pod.name] = statistics.stdev(seconds) / math.sqrt(len(seconds))
        groups: list[list[str]] = []
        for name in sorted(times, key=times.get):
            group = groups[-1] if groups else None
            if group and name in errors and all(member in errors for member in group):
                mean = sum(times[member] for member in group) / len(group)
                group_error = math.sqrt(sum(errors[member] ** 2 for member in group)) / len(group)
                if abs(times[name] - mean) <= SAME_WITHIN_SE * math.hypot(errors[name], group_error):
                    group.append(name)
                    continue
            groups.append([name])
        out = {}
        for group in groups:
            mean = sum(times[member] for member in group) / len(group)
            out |= {member: mean for member in group}
        return out

    def speeds(self, capacity: int = 1) -> dict[str, float]:
        """Each pod's speed relative to the fastest (1.0) from the pooled `service_times` (pods within
        noise of each other equally fast); a pod without a figure is taken at the median of the
        others. Empty when no pod has a figure."""
        times = self.service_times(capacity, pooled=True)
        if not times:
            return {}
        fastest = min(times.values())
        known = {pod: max(fastest / time, SPEED_FLOOR) for pod, time in times.items()}
        typical = statistics.median(known.values())
        return {pod.name: known.get(pod.name, typical) for pod in self.pods}

    def to_dict(self) -> dict:
        return {"start_t": self.start_t, "end_t": self.end_t, "seconds": self.seconds, "users": self.users,
                "rps": self.rps, "p95_ms": self.p95_ms, "pods": [pod.to_dict() for pod in self.pods],
                "utilisation_rel_var": {pod: round(value, 6) for pod, value in self.utilisation_rel_var().items()}}


def _serving(in_flight: float, queued: float | None, delayed: float | None, capacity: int) -> float:
    """Of `in_flight` requests, those at a server: less the ones the pod says are held before the
    servers and wait for one; told nothing of a queue (or readings that disagree), the ones at the
    servers up to the capacity (a saturated pod serves `capacity` at a time, the rest wait)."""
    at_servers = in_flight - max(delayed or 0.0, 0.0)
    if at_servers <= 0:  # readings that disagree
        at_servers = in_flight
    serving = at_servers - queued if queued is not None else 0.0
    return serving if serving > 0 else min(at_servers, capacity)


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
            queued=_mean([row.get("queued") for row in rows]),
            delayed=_mean([row.get("delayed") for row in rows]),
            rows=tuple(dict(row) for row in rows),
        ))
    return Window(
        start_t=seconds[0].t, end_t=seconds[-1].t, seconds=len(seconds), pods=tuple(pods),
        users=int(seconds[-1].totals.get("users") or 0),
        rps=float(sum(second.totals.get("rps") or 0.0 for second in seconds) / len(seconds)),
        p95_ms=_weighted_mean([(second.totals.get("p95_ms"), second.totals.get("rps") or 0.0) for second in seconds]),
    )
