"""Pod health: whether one pod's error rate or p95 latency stands out from the other pods'.

Request balance cannot see it: a pod that fails 30 % of its requests while it keeps its share
of them scores 100 %. Kept beside the request balance and the utilisation balance as a third
view. Pure: no Django. The summary judges the run's per-pod totals (Locust's final report),
the live view (metrics_app.live) the per-pod sums of its last window, both with `judge_pods`.

Definitions, among the pods with requests, for pod i with ``n_i`` requests, ``f_i`` failures
and a p95 latency ``p_i``:

- error rate ``r_i = 100 * f_i / n_i`` (%); the other pods' rate ``r_o`` is the sum of their
  failures over the sum of their requests. Pod i's error rate stands out when it has at least
  `MIN_REQUESTS` requests and `MIN_FAILURES` failures, the other pods together at least
  `MIN_REQUESTS` requests, and ``r_i`` is at least `ERROR_RATE_POINTS` points above ``r_o``
  and at least `ERROR_RATE_RATIO` times it. Errors spread over every pod are the target's, not
  one pod's: the verdict's error rate judges those.
- p95: pod i's p95 stands out when it has at least `MIN_REQUESTS` requests and ``p_i`` is at
  least `P95_RATIO` times the median p95 of the other pods (those with `MIN_REQUESTS` requests
  and a p95) and at least `P95_GAP_MS` above it, so a few ms of jitter on a shared machine is
  not a slow pod.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from clusters.balance import UNATTRIBUTED, Diagnosis

MIN_REQUESTS = 20  # fewer requests say nothing about a pod's rates
MIN_FAILURES = 5  # a handful of failures can be chance
ERROR_RATE_POINTS = 5.0
ERROR_RATE_RATIO = 2.0
P95_RATIO = 2.0
P95_GAP_MS = 20.0

ERROR_RATE, P95 = "error_rate", "p95_ms"


@dataclass(frozen=True)
class Outlier:
    """A pod whose ``figure`` ("error_rate" in %, or "p95_ms") stands out: its ``value`` against
    ``others`` (the other pods' error rate, or the median of their p95s)."""

    pod: str
    figure: str
    value: float
    others: float
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PodHealth:
    """``error_rate_pct``: each pod's error rate in % (None without requests); ``outliers`` in
    pod order, errors before latency for the same pod."""

    error_rate_pct: dict[str, float | None]
    outliers: tuple[Outlier, ...]

    def diagnosis(self) -> Diagnosis | None:
        if not self.outliers:
            return None
        pods = list(dict.fromkeys(outlier.pod for outlier in self.outliers))
        explanation = (f"{'A pod stands' if len(pods) == 1 else 'Some pods stand'} out from the others, which the "
                       f"balance score cannot show (it counts requests, not how they were answered): "
                       + "; ".join(outlier.message for outlier in self.outliers) + ".")
        figures = {outlier.figure for outlier in self.outliers}
        advice = []
        if ERROR_RATE in figures:
            advice.append("Look at the failing pod (its logs, restarts, the node it runs on); a balancer with "
                          "outlier detection or passive health checks (Envoy outlier detection, nginx max_fails) "
                          "takes a failing pod out of rotation.")
        if P95 in figures:
            advice.append("A slow pod (a noisy neighbour, CPU throttling, a busy node) still gets its full share "
                          "from round robin; least_conn, p2c or ewma send less to a slow pod.")
        return Diagnosis(cause="pod_outlier", explanation=explanation, advice=" ".join(advice))

    def to_dict(self) -> dict:
        """The summary's "pod_health" section."""
        diagnosis = self.diagnosis()
        return {"error_rate_pct": dict(self.error_rate_pct), "outliers": [o.to_dict() for o in self.outliers],
                "diagnosis": diagnosis.to_dict() if diagnosis else None}


def judge_pods(figures: Mapping[str, Mapping]) -> PodHealth:
    """The pods whose error rate or p95 stands out (module docstring). ``figures``: pod ->
    {"requests", "failures", "p95_ms"} ("unattributed" is not a pod; a missing or None value
    counts as 0 requests or failures, or an unknown p95)."""
    pods = {pod: (int(f.get("requests") or 0), int(f.get("failures") or 0), f.get("p95_ms"))
            for pod, f in figures.items() if pod != UNATTRIBUTED}
    rates = {pod: (100.0 * failures / requests if requests else None) for pod, (requests, failures, _) in pods.items()}
    total_requests = sum(requests for requests, _, _ in pods.values())
    total_failures = sum(failures for _, failures, _ in pods.values())
    p95s = {pod: float(p95) for pod, (requests, _, p95) in pods.items() if requests >= MIN_REQUESTS and p95 is not None}
    ordered_p95s = sorted(p95s.values())
    outliers = []
    for pod, (requests, failures, _) in pods.items():
        if requests < MIN_REQUESTS:
            continue
        other_requests, other_failures = total_requests - requests, total_failures - failures
        if failures >= MIN_FAILURES and other_requests >= MIN_REQUESTS:
            rate, others = rates[pod], 100.0 * other_failures / other_requests
            if rate - others >= ERROR_RATE_POINTS and rate >= ERROR_RATE_RATIO * others:
                outliers.append(Outlier(pod, ERROR_RATE, rate, others, (
                    f"{pod} failed {rate:.1f} % of its requests ({failures} of {requests}) while the other pods "
                    f"failed {others:.1f} %")))
        if pod in p95s and len(ordered_p95s) >= 2:
            p95 = p95s[pod]
            median = _median_without(ordered_p95s, p95)
            if p95 >= P95_RATIO * median and p95 - median >= P95_GAP_MS:
                outliers.append(Outlier(pod, P95, p95, median, (
                    f"{pod} answered with a p95 of {p95:.1f} ms while the median p95 of the other pods was "
                    f"{median:.1f} ms")))
    return PodHealth(error_rate_pct=rates, outliers=tuple(outliers))


def _median_without(ordered: list[float], value: float) -> float:
    """The median of ``ordered`` (sorted) once one ``value`` it holds is taken out: the other
    pods' median p95 for each pod in O(log n), not a new list per pod (the live view judges
    every second)."""
    removed = bisect.bisect_left(ordered, value)
    count = len(ordered) - 1

    def at(index: int) -> float:  # the index-th of the values left
        return ordered[index if index < removed else index + 1]

    middle = count // 2
    return at(middle) if count % 2 else (at(middle - 1) + at(middle)) / 2
