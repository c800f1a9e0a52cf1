"""How a run recovered from each injected fault, from the load's own requests at 100 ms resolution
and from the cluster's own events: the figures of the summary's `chaos` list, the live page, the
reports and the API (one computation, so they never disagree).

Pure: no Django. Inputs, all on the load's clock (seconds since the run's t=0, the plugin's
`clock` line; the caller converts the cluster's wall-clock events with `t - t0_unix`):

- `buckets`: the run's 100 ms buckets in time order, as the sample lines carry them
  (tests_app/engine/README.md): `t` (start), `requests`, `failures`, `pods` (pod -> requests),
  `latency_hist` (`clusters.latency_hist` pairs: histograms add up, p95s do not, so every p95
  here is computed from the merged histograms of the buckets it covers). A bucket the load did
  not report had no request.
- `events`: `clusters.base.EventType` events, each `{"t", "type", "pod", ...}`.
- the injection: `{"step", "kind", "target", "severity", "started_at_s", "ended_at_s"}`.

Definitions (each figure is None when it cannot be measured, never a guess):

- `rto_s` (user-visible recovery): from the injection to the start of the first window of
  `RECOVERY_WINDOW_S` (3 s), at 100 ms steps from the injection's bucket, in which requests
  completed and their error rate and p95 stay within the steady state (`SteadyState`): over
  the whole window, and in its first 100 ms bucket (so the window starts after the last bucket
  outside the bounds, not inside a tail of failures that 3 s of clean traffic would dilute
  under the bound). 0.0 when the service never left it; None when no such window came before
  the load ended.
  `recovered_at_s` is the injection plus `rto_s`.
- `availability`, `requests`, `requests_failed`: the requests that completed from the
  injection's bucket to `recovered_at_s` (to the load's end if it never recovered), and the
  share of them that succeeded. `availability` is None when that stretch holds no request (the
  service never left the steady state).
- `p95_during_ms`: from the injection to the later of the fault's end and the recovery (to the
  load's end if it never recovered); `p95_after_ms`: from there to the next injection or the
  load's end.
- `first_failure_s`, `last_failure_s`: bounds at 100 ms from the buckets between the injection
  and the next one (or the end): the first failure came at or after the start of the first
  bucket with one, the last before the end of the last bucket with one.
- `healing_s`: from the injection until every pod the cluster took down after it (killed,
  stopped, exited, not ready) was ready again, itself or the pod that replaced it (the last
  `pod_ready`). None when the cluster keeps no events, when nothing went down, or when a pod
  never came back.
- `balance_recovery_s`: from the injection to the start of the first 3 s window (100 ms steps)
  whose balance score over the pods' requests is at or above the threshold:
  `clusters.balance.analyse`, the score every other view uses, over the window's pods, the
  expected ones included (a pod the cluster replaced under a new name is expected as its
  replacement) and padded to the expected count with pods that got nothing. So the
  replacement of a killed pod must have taken its share again.
- `passed`: recovered within the kind's RTO limit (`DEFAULT_RTO_LIMITS_S`, editable per
  experiment), with the availability at or above the steady state's floor when it sets one;
  None when the recovery could not be measured. `reason` says why in one sentence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from clusters import balance, latency_hist
from clusters.base import EventType
from clusters.faults.steady_state import SteadyState  # the bounds recovery is judged against

BUCKET_S = 0.1
BUCKETS_PER_S = 10
RECOVERY_WINDOW_S = 3.0
WINDOW_BUCKETS = round(RECOVERY_WINDOW_S * BUCKETS_PER_S)
# Seconds before the injection's recorded start that a cluster event still belongs to it: the
# fault is applied, and logged by the cluster, a moment before the run records its start.
EVENT_LEAD_S = 0.25
DEFAULT_RTO_LIMITS_S = {"pod_kill": 30.0, "partition": 60.0, "node_drain": 120.0}
DEFAULT_RTO_LIMIT_S = 60.0
FIGURE_KEYS = (
    "rto_s", "recovered_at_s", "healing_s", "balance_recovery_s", "availability", "requests", "requests_failed",
    "p95_during_ms", "p95_after_ms", "first_failure_s", "last_failure_s", "passed", "reason",
)
DOWN_EVENTS = frozenset({EventType.POD_KILLED, EventType.POD_STOPPING, EventType.POD_EXITED, EventType.POD_NOT_READY})


def rto_limit_for(kind: str, rto_limits: Mapping[str, float] | None = None, max_rto_s: float | None = None) -> float:
    """The RTO limit of a fault kind: the experiment's own for the kind, else its hypothesis's
    `max_rto_s` (every kind), else the kind's default."""
    if rto_limits and kind in rto_limits and rto_limits[kind] is not None:
        return float(rto_limits[kind])
    if max_rto_s is not None:
        return float(max_rto_s)
    return DEFAULT_RTO_LIMITS_S.get(kind, DEFAULT_RTO_LIMIT_S)


class _Timeline:
    """The buckets on a dense 100 ms grid (index = tenths of a second since t=0), with running
    sums so any stretch's requests and failures are two lookups."""

    def __init__(self, buckets: Sequence[Mapping]):
        self.by_index: dict[int, list[Mapping]] = {}
        for bucket in buckets:
            self.by_index.setdefault(_index(bucket["t"]), []).append(bucket)
        self.first = min(self.by_index, default=0)
        self.last = max(self.by_index, default=-1)
        size = max(0, self.last - self.first + 1)
        self.requests = [0] * (size + 1)
        self.failures = [0] * (size + 1)
        for offset in range(size):
            parts = self.by_index.get(self.first + offset, ())
            self.requests[offset + 1] = self.requests[offset] + sum(int(b.get("requests") or 0) for b in parts)
            self.failures[offset + 1] = self.failures[offset] + sum(int(b.get("failures") or 0) for b in parts)

    def _cum(self, sums: list[int], index: int) -> int:
        return sums[min(max(index - self.first, 0), len(sums) - 1)]

    def counts(self, start: int, end: int) -> tuple[int, int]:
        """(requests, failures) of buckets [start, end)."""
        if end <= start:
            return 0, 0
        return (self._cum(self.requests, end) - self._cum(self.requests, start),
                self._cum(self.failures, end) - self._cum(self.failures, start))

    def hist(self, start: int, end: int) -> dict[float, int]:
        merged: dict[float, int] = {}
        for index in range(max(start, self.first), min(end, self.last + 1)):
            for bucket in self.by_index.get(index, ()):
                latency_hist.add_pairs(merged, bucket.get("latency_hist") or ())
        return merged

    def p95(self, start: int, end: int) -> float | None:
        return latency_hist.percentile_ms(self.hist(start, end), 95.0)

    def pods_rows(self, start: int, end: int) -> list[dict[str, int]]:
        rows = []
        for index in range(start, end):
            row: dict[str, int] = {}
            for bucket in self.by_index.get(index, ()):
                for pod, count in (bucket.get("pods") or {}).items():
                    row[pod] = row.get(pod, 0) + int(count)
            rows.append(row)
        return rows

    def failing(self, start: int, end: int) -> list[int]:
        return [index for index in range(max(start, self.first), min(end, self.last + 1))
                if any(int(b.get("failures") or 0) for b in self.by_index.get(index, ()))]


def _index(t: float) -> int:
    return round(float(t) * BUCKETS_PER_S)


def _floor_index(t: float) -> int:
    """The bucket holding instant t."""
    return math.floor(float(t) * BUCKETS_PER_S + 1e-6)


def _ceil_index(t: float) -> int:
    """The first bucket starting at or after instant t."""
    return math.ceil(float(t) * BUCKETS_PER_S - 1e-6)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _within(timeline: _Timeline, start: int, end: int, bounds: SteadyState) -> bool:
    """Whether buckets [start, end) hold requests with an error rate and p95 within `bounds`."""
    requests, failures = timeline.counts(start, end)
    if requests <= 0 or failures / requests > bounds.max_error_rate:
        return False
    if bounds.max_p95_ms is not None:
        p95 = timeline.p95(start, end)
        if p95 is None or p95 > bounds.max_p95_ms:
            return False
    return True


def _first_window_within(timeline: _Timeline, start: int, end: int, bounds: SteadyState,
                         horizon: int | None = None) -> int | None:
    """The first bucket s in [start, end - WINDOW_BUCKETS] whose window [s, s + 3 s) holds
    requests with an error rate and p95 within `bounds`, and whose own first bucket does: a
    window that starts inside the tail of the failures, which the 3 s after it would dilute
    under the bound, does not count as recovered. And none before the last 100 ms out of
    bounds up to `horizon` (the next injection or the end): buckets count requests when they
    complete, so requests held by a blackholed pod fail seconds after a clean-looking window,
    and users saw errors until then."""
    last_bad = -1
    for index in range(start, end if horizon is None else min(end, horizon)):
        if timeline.counts(index, index + 1)[0] > 0 and not _within(timeline, index, index + 1, bounds):
            last_bad = index
    for first in range(max(start, last_bad + 1), end - WINDOW_BUCKETS + 1):
        if _within(timeline, first, first + 1, bounds) and _within(timeline, first, first + WINDOW_BUCKETS, bounds):
            return first
    return None


def breaching_bucket(buckets: Sequence[Mapping], bounds: SteadyState, *, start_s: float,
                     end_s: float | None = None) -> float | None:
    """The start of the first 100 ms among `buckets` in [start_s, end_s) (end_s None: no end)
    holding requests outside `bounds`, or None. A recovery found before such a bucket does not
    stand when it lies before the next injection: `_first_window_within` places the recovery
    after the last one (the live figures watch for it, `tests_app.live_recovery`)."""
    timeline = _Timeline(buckets)
    last = timeline.last + 1 if end_s is None else min(_ceil_index(end_s), timeline.last + 1)
    for index in range(max(_floor_index(start_s), timeline.first), last):
        if timeline.counts(index, index + 1)[0] > 0 and not _within(timeline, index, index + 1, bounds):
            return index / BUCKETS_PER_S
    return None


def _healing_s(events: Sequence[Mapping], started: float, horizon: float) -> float | None:
    """Seconds from the injection until every pod taken down after it was ready again (see the
    module docstring); None when nothing went down, or a pod never came back."""
    ordered = sorted(events, key=lambda event: float(event["t"]))
    down: dict[str, float] = {}
    for event in ordered:
        t = float(event["t"])
        if event.get("type") in DOWN_EVENTS and event.get("pod") and started - EVENT_LEAD_S <= t < horizon:
            down.setdefault(event["pod"], t)
    if not down:
        return None
    back_at = []
    for pod, went_down in down.items():
        replacements = {pod}
        ready_at = None
        for event in ordered:
            t = float(event["t"])
            if t < went_down:
                continue
            if event.get("type") == EventType.POD_STARTED and event.get("replaces") in replacements:
                replacements.add(event.get("pod"))
            elif event.get("type") == EventType.POD_READY and event.get("pod") in replacements:
                ready_at = t
                break
        if ready_at is None:
            return None
        back_at.append(ready_at)
    return max(0.0, max(back_at) - started)


def _replaced_names(expected_pods: Sequence[str], events: Sequence[Mapping]) -> list[str]:
    """The expected pods under their current names: a pod the cluster replaced under a new name
    (`pod_started` with `replaces`, as the sandbox and a ReplicaSet do) is expected as its
    replacement, so a dead pod is not waited for forever."""
    current = {name: name for name in expected_pods}
    for event in sorted(events, key=lambda event: float(event["t"])):
        if event.get("type") == EventType.POD_STARTED and event.get("pod"):
            for name, now in current.items():
                if now == event.get("replaces"):
                    current[name] = event["pod"]
    return sorted(set(current.values()))


def _balance_recovery_s(timeline: _Timeline, start: int, end: int, started: float, *, threshold: float,
                        expected_pods: Sequence[str], expected_count: int) -> float | None:
    """Seconds from the injection to the start of the first 3 s window (100 ms steps) whose
    balance score (`clusters.balance.analyse`, the score every view uses) is at or above the
    threshold. Each window is judged over its own pods, as `balance.ExpectedPods.judged` judges
    a run: the expected pods and those that served in it, padded to `expected_count` with
    pods that got nothing (so a pod that is gone and not yet replaced counts as 0)."""
    if end - start < WINDOW_BUCKETS:
        return None
    rows = timeline.pods_rows(start, end)
    sums: dict[str, int] = {}

    def add(row: Mapping[str, int], sign: int) -> None:
        for pod, count in row.items():
            if pod != balance.UNATTRIBUTED:
                sums[pod] = sums.get(pod, 0) + sign * count

    for row in rows[:WINDOW_BUCKETS]:
        add(row, 1)
    for offset in range(end - start - WINDOW_BUCKETS + 1):
        if offset:
            add(rows[offset - 1], -1)
            add(rows[offset + WINDOW_BUCKETS - 1], 1)
        counts = {pod: count for pod, count in sums.items() if count > 0}
        if counts:
            judged = balance.ExpectedPods(named=tuple(expected_pods), count=expected_count).judged(counts)
            if balance.analyse(counts, expected_pods=judged, threshold=threshold).score >= threshold:
                return max(0.0, (start + offset) / BUCKETS_PER_S - started)
    return None


def _reason(kind: str, *, rto_s: float | None, limit: float | None, measurable: str | None,
            availability: float | None, bounds: SteadyState, left_after_s: float) -> tuple[bool | None, str]:
    if measurable is not None:
        return None, measurable
    if rto_s is None:
        return False, (f"{kind} never recovered before the load ended, {left_after_s:.1f} s after the injection "
                       f"(no {RECOVERY_WINDOW_S:g} s window within the steady state)")
    if limit is None:
        passed, said = True, f"{kind} recovered in {rto_s:.1f} s (no RTO limit set)"
    elif rto_s <= limit:
        passed, said = True, f"{kind} recovered in {rto_s:.1f} s, within {limit:g} s"
    else:
        passed, said = False, f"{kind} recovered in {rto_s:.1f} s, over the {limit:g} s limit"
    if bounds.min_availability is not None and availability is not None and availability < bounds.min_availability:
        return False, (f"{said}, but its availability {availability * 100:.2f} % is under the "
                       f"{bounds.min_availability * 100:.2f} % floor")
    return passed, said


def injection_figures(injection: Mapping, buckets: Sequence[Mapping], *, events: Sequence[Mapping] = (),
                      bounds: SteadyState, rto_limit_s: float | None, threshold_balance: float,
                      expected_pods: Sequence[str] = (), end_s: float,
                      next_started_at_s: float | None = None, expected_count: int | None = None) -> dict:
    """One injection's recovery figures (the module docstring defines each), a dict with exactly
    `FIGURE_KEYS`, JSON-serialisable. `next_started_at_s`: the next injection's start, where
    `p95_after_ms` and the failure bounds stop (default: the load's end). `expected_pods` and
    `expected_count`: the run's `balance.ExpectedPods` `named` and `count` (default: as many as
    named)."""
    kind = str(injection.get("kind") or "fault")
    started = float(injection["started_at_s"])
    ended = injection.get("ended_at_s")
    ended = started if ended is None else max(started, float(ended))
    end_s = float(end_s)
    horizon = end_s if next_started_at_s is None else min(end_s, max(started, float(next_started_at_s)))
    timeline = _Timeline(buckets)
    start, end = _floor_index(started), _floor_index(end_s)
    horizon_index = _ceil_index(horizon)

    measurable = None
    recovered_index = None
    if started >= end_s:
        measurable = f"{kind} started at {started:.1f} s, after the load ended: recovery not measurable"
    elif end - start < WINDOW_BUCKETS:
        measurable = (f"{kind}: the load ended {end_s - started:.1f} s after the injection, before a "
                      f"{RECOVERY_WINDOW_S:g} s recovery window: recovery not measurable")
    elif timeline.counts(start, end)[0] == 0:
        measurable = f"{kind}: no request completed after the injection: recovery not measurable"
    else:
        recovered_index = _first_window_within(timeline, start, end, bounds, horizon_index)

    rto_s = recovered_at_s = None
    if recovered_index is not None:
        rto_s = max(0.0, recovered_index / BUCKETS_PER_S - started)
        recovered_at_s = started + rto_s
    disrupted_end = recovered_index if recovered_index is not None else end
    requests, failed = timeline.counts(start, disrupted_end) if measurable is None else (0, 0)
    availability = (requests - failed) / requests if requests else None

    during_end_s = end_s if recovered_at_s is None else min(end_s, max(ended, recovered_at_s))
    during_end = _ceil_index(during_end_s)
    p95_during = timeline.p95(start, during_end) if during_end > start else None
    p95_after = timeline.p95(during_end, horizon_index) if horizon_index > during_end else None
    failing = timeline.failing(start, horizon_index)
    passed, reason = _reason(kind, rto_s=rto_s, limit=rto_limit_s, measurable=measurable, availability=availability,
                             bounds=bounds, left_after_s=end_s - started)
    healing = _healing_s(events, started, horizon) if events else None
    balance_s = None if measurable is not None else _balance_recovery_s(
        timeline, start, end, started, threshold=threshold_balance, expected_pods=_replaced_names(expected_pods, events),
        expected_count=len(expected_pods) if expected_count is None else int(expected_count))
    return {
        "rto_s": _seconds(rto_s),
        "recovered_at_s": _seconds(recovered_at_s),
        "healing_s": _seconds(healing),
        "balance_recovery_s": _seconds(balance_s),
        "availability": None if availability is None else round(availability, 6),
        "requests": requests,
        "requests_failed": failed,
        "p95_during_ms": p95_during,
        "p95_after_ms": p95_after,
        "first_failure_s": _seconds(failing[0] / BUCKETS_PER_S) if failing else None,
        "last_failure_s": _seconds((failing[-1] + 1) / BUCKETS_PER_S) if failing else None,
        "passed": passed,
        "reason": reason,
    }


def chaos_section(injections: Sequence[Mapping], buckets: Sequence[Mapping], *, events: Sequence[Mapping] = (),
                  bounds: SteadyState, rto_limits: Mapping[str, float] | None = None, max_rto_s: float | None = None,
                  threshold_balance: float, expected_pods: Sequence[str] = (), end_s: float,
                  expected_count: int | None = None) -> list[dict]:
    """The summary's `chaos` list: each injection's own fields, its `rto_limit_s` and its figures,
    in step order. `rto_limits` and `max_rto_s` as `rto_limit_for` reads them."""
    starts = sorted(float(injection["started_at_s"]) for injection in injections)
    section = []
    for injection in sorted(injections, key=lambda item: (item.get("step", 0), float(item["started_at_s"]))):
        started = float(injection["started_at_s"])
        later = [start for start in starts if start > started]
        limit = rto_limit_for(str(injection.get("kind")), rto_limits, max_rto_s)
        figures = injection_figures(injection, buckets, events=events, bounds=bounds, rto_limit_s=limit,
                                    threshold_balance=threshold_balance, expected_pods=expected_pods, end_s=end_s,
                                    next_started_at_s=later[0] if later else None, expected_count=expected_count)
        section.append({**dict(injection), "rto_limit_s": limit, **figures})
    return section
