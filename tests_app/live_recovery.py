"""Each injection's recovery figures while the run goes on, and the terms they are measured on.

One computation: live and in the summary, an injection's figures are `metrics_app.recovery`'s
`injection_figures` (which the summary's `chaos_section` calls for each injection) over the same
buckets (`RunContext.buckets`, which the driver fills and the summary reads), the cluster's same
events and the same `RecoveryTerms`. So once an injection has recovered, the figures its viewers
were sent are the figures of the run's summary.

The listener (`attach`): on each second, for each applied injection whose recovery is still open,
the figures from the buckets since the injection; when its RTO becomes known they are stored on
its `ChaosInjection` row and its live viewers are told (the `events` message carries the rows),
and again when its healing or balance recovery becomes known. Once all three are known and the
fault has ended, it is not computed again; only the new buckets before the next injection are
looked at, for a 100 ms outside the steady state, which moves the RTO of the summary's definition
later (requests that fail seconds after a clean-looking window): the injection is then open again.

`p95_after_ms` is left to the summary: it runs to the next injection or the load's end.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from chaos_app.selectors import FIGURES
from chaos_app.selectors import injections as chaos_injections
from chaos_app.services import store_figures
from clusters.base import Cluster
from metrics_app.recovery import (
    BUCKETS_PER_S,
    DOWN_EVENTS,
    EVENT_LEAD_S,
    SteadyState,
    breaching_bucket,
    chaos_section,
    injection_figures,
    rto_limit_for,
)
from tests_app.models import LoadTestRun

log = logging.getLogger(__name__)

Publish = Callable[[int], None]  # tells the run's live viewers its injections changed

# Stored on the row as they are known during the run; the summary stores every figure at the end.
LIVE_FIGURES = tuple(name for name in FIGURES if name != "p95_after_ms")


def cluster_events_on_load_clock(cluster: Cluster | None, t0_unix: float | None) -> list[dict]:
    """The cluster's own events (kills, readiness, failure streaks...) in load-relative seconds."""
    if cluster is None or t0_unix is None:
        return []
    try:
        logged = cluster.events(0)
    except Exception as error:  # noqa: BLE001 - without them healing is unknown (None), never guessed
        log.warning("cluster events unavailable: %s", error)
        return []
    return [{**event.details, "t": round(event.t - t0_unix, 4), "type": str(event.type), "pod": event.pod,
             "node": event.node, "seq": event.seq} for event in logged]


@dataclass(frozen=True)
class RecoveryTerms:
    """What a run's injections are measured against: the steady state of its hypothesis, its RTO
    limits, the balance threshold (the experiment's, else the scenario's) and the pods it expects
    (its `balance.ExpectedPods`, so each balance window is judged over its own pods, as the run is)."""

    bounds: SteadyState
    rto_limits: Mapping[str, float] | None
    max_rto_s: float | None
    threshold_balance: float
    expected_pods: tuple[str, ...]
    expected_count: int

    @classmethod
    def of_run(cls, chaos_settings: Mapping | None, *, threshold_balance: float, expected) -> RecoveryTerms:
        settings_ = chaos_settings or {}
        hypothesis = settings_.get("hypothesis") or {}
        own = hypothesis.get("min_balance_score")
        return cls(bounds=SteadyState.from_hypothesis(hypothesis), rto_limits=settings_.get("rto_limits_s"),
                   max_rto_s=hypothesis.get("max_rto_s"),
                   threshold_balance=float(threshold_balance if own is None else own),
                   expected_pods=tuple(expected.named), expected_count=expected.count)

    def section(self, injections: Sequence[Mapping], buckets: Sequence[Mapping], *, events: Sequence[Mapping],
                end_s: float) -> list[dict]:
        """The summary's `chaos` list of these injections (`chaos_section`)."""
        return chaos_section(injections, buckets, events=events, bounds=self.bounds, rto_limits=self.rto_limits,
                             max_rto_s=self.max_rto_s, threshold_balance=self.threshold_balance,
                             expected_pods=list(self.expected_pods), expected_count=self.expected_count,
                             end_s=end_s)

    def figures(self, injection: Mapping, buckets: Sequence[Mapping], *, events: Sequence[Mapping], end_s: float,
                next_started_at_s: float | None) -> dict:
        """One injection's figures, as `chaos_section` computes them for it."""
        limit = rto_limit_for(str(injection.get("kind")), self.rto_limits, self.max_rto_s)
        return injection_figures(injection, buckets, events=events, bounds=self.bounds, rto_limit_s=limit,
                                 threshold_balance=self.threshold_balance, expected_pods=list(self.expected_pods),
                                 end_s=end_s, next_started_at_s=next_started_at_s,
                                 expected_count=self.expected_count)


def attach(events, *, publish: Publish = lambda run_id: None) -> None:
    listener = LiveRecovery(publish)
    events.start.add_listener(listener.start)
    events.second.add_listener(listener.second)


@dataclass
class _Open:
    """Where one injection's recovery stands in the listener."""

    first: int  # the position in ctx.buckets of its first bucket (the buckets before it do not count)
    seen: int = 0  # how many of ctx.buckets were looked at
    sent: dict | None = None  # the figures stored and published, None until its RTO is known
    settled: bool = False  # RTO, healing and balance recovery known, and the fault ended: not computed again
    watched: bool = False  # the next injection started and every bucket before it was looked at

    @property
    def finished(self) -> bool:
        return self.settled and self.watched


class LiveRecovery:
    """One run's injections, their figures computed each second until they have recovered."""

    def __init__(self, publish: Publish):
        self.publish = publish
        self.terms: RecoveryTerms | None = None
        self.open: dict[int, _Open] = {}

    def start(self, ctx) -> None:
        # No cluster is needed: a step that injects nothing (on a URL target) is measured from the
        # load's own requests alone, and a step that could not run has no figures.
        if ctx.chaos is None or not ctx.chaos.steps:
            return
        chaos_settings = LoadTestRun.objects.values_list("chaos_settings", flat=True).get(pk=ctx.run_id)
        self.terms = RecoveryTerms.of_run(chaos_settings, threshold_balance=ctx.scenario.threshold_balance,
                                          expected=ctx.live.expected)

    def second(self, ctx, second) -> None:
        if self.terms is None or ctx.load_t0_unix is None:
            return
        applied = chaos_injections(ctx.run_id, applied_only=True)
        starts = sorted(float(item["started_at_s"]) for item in applied)
        events: list[dict] | None = None
        changed = False
        for injection in applied:
            started = float(injection["started_at_s"])
            state = self.open.get(injection["step"])
            if state is None:
                state = self.open[injection["step"]] = _Open(first=_first_at(ctx.buckets, started))
            if state.finished:
                continue
            later = [start for start in starts if start > started]
            next_start = later[0] if later else None
            new, state.seen = ctx.buckets[max(state.seen, state.first):], len(ctx.buckets)
            if state.sent is not None and not state.watched:
                if breaching_bucket(new, self.terms.bounds, start_s=started, end_s=next_start) is not None:
                    # the summary's RTO would start after it: not recovered after all
                    state.sent, state.settled = None, False
                    self._store(ctx.run_id, injection["step"], dict.fromkeys(LIVE_FIGURES))
                    changed = True
                else:
                    state.watched = next_start is not None and next_start <= second.t
            if state.settled:
                continue
            if events is None:
                events = cluster_events_on_load_clock(ctx.cluster, ctx.load_t0_unix)
            figures = self.terms.figures(injection, ctx.buckets[state.first:], events=events, end_s=second.t,
                                         next_started_at_s=next_start)
            if figures["rto_s"] is None:
                continue
            live = {name: figures.get(name) for name in LIVE_FIGURES}
            if live != state.sent:
                state.sent = live
                self._store(ctx.run_id, injection["step"], live)
                changed = True
            state.settled = (injection["ended_at_s"] is not None and live["balance_recovery_s"] is not None
                             and (live["healing_s"] is not None or not _went_down(events, started)))
            state.watched = next_start is not None and next_start <= second.t
        if changed:
            self.publish(ctx.run_id)

    @staticmethod
    def _store(run_id: int, step: int, figures: dict) -> None:
        store_figures(run_id, [{**dict.fromkeys(FIGURES), **figures, "step": step}])


def _first_at(buckets: Sequence[Mapping], started: float) -> int:
    """The position of the first bucket at or after the 100 ms holding `started` (buckets are in
    time order; an injection is recorded before the buckets of its second arrive)."""
    first = math.floor(started * BUCKETS_PER_S + 1e-6)
    position = len(buckets)
    while position > 0 and round(float(buckets[position - 1]["t"]) * BUCKETS_PER_S) >= first:
        position -= 1
    return position


def _went_down(events: Sequence[Mapping], started: float) -> bool:
    """Whether the cluster took a pod down since the injection (healing is then awaited)."""
    return any(event.get("type") in DOWN_EVENTS and event.get("pod") and float(event["t"]) >= started - EVENT_LEAD_S
               for event in events)
