"""metrics_app's listeners of a run's events (tests_app.run_events): each measured second is
recorded and published to the run's live viewers; the tuning controller (clusters.tuning), when the
run has a policy, is fed each second and its decisions written as TuningDecision rows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from clusters.tuning.controller import Controller
from clusters.tuning.in_flight import InFlightMeter
from metrics_app.services import record_second, record_tuning_decision

log = logging.getLogger(__name__)


def attach(events) -> None:
    events.second.add_listener(record)


def record(ctx, second) -> None:
    """`ctx` is the run's RunContext, `second` the Second just measured (tests_app.run_events)."""
    record_second(run_id=ctx.run_id, t=second.t, totals=second.totals, pods=second.pods,
                  unattributed=second.unattributed, messages=second.messages, endpoints=second.endpoints,
                  errors=second.errors)


def attach_tuning(events, *, publish: Callable[[int], None] = lambda run_id: None) -> None:
    listener = TuningListener(publish)
    events.start.add_listener(listener.start)
    events.tick.add_listener(listener.tick)
    events.second.add_listener(listener.second)


IN_FLIGHT_EVERY_S = 0.2  # how often the pods' requests in flight are read between two seconds


class TuningListener:
    """One run's tuning controller: made at `start` when the run has a policy and a cluster LB Lab can
    act on, fed each second with the pods' requests in flight read from that cluster every
    IN_FLIGHT_EVERY_S (on `tick`; once at the second when no tick came): their mean over the second,
    from the time the pods count their requests spent with them where they do, else from the
    gauge's snapshots (clusters/tuning/in_flight.py)."""

    def __init__(self, publish: Callable[[int], None]):
        self.publish = publish
        self.controller: Controller | None = None
        self.meter: InFlightMeter | None = None
        self.last_read = float("-inf")

    def _read(self, ctx) -> None:
        try:
            metrics = ctx.cluster.pod_metrics()
        except Exception as error:  # noqa: BLE001 - a missed reading leaves the request view intact
            log.warning("run %s: tuning: reading the pods' metrics failed: %s", ctx.run_id, error)
            return
        self.meter.read(metrics, time.monotonic())

    def tick(self, ctx) -> None:
        # Nothing is read before the load's clock started (the plugin's `clock` line): the first
        # second's mean would span the time Locust took to start too, with nothing in flight, and the
        # first window's pods would look faster than they are and the time outside them (the think
        # time the simulator is given) longer, so the pods' queueing after a change was under-predicted.
        if self.controller is None or ctx.load_s() is None or ctx.clock() - self.last_read < IN_FLIGHT_EVERY_S:
            return
        self.last_read = ctx.clock()
        self._read(ctx)

    def _in_flight(self, ctx) -> dict[str, dict[str, float]]:
        """Per slot, since the last second: in_flight, and delayed and queued where the pods say."""
        if not self.meter.snapshots:  # no reading since the last second
            self._read(ctx)
        return self.meter.take()

    def start(self, ctx) -> None:
        plan = ctx.tuning
        if plan is None or ctx.cluster is None:
            return
        self.controller = Controller(plan.policy, plan.state, ctx.cluster, clock=ctx.load_s)
        self.pod_key = plan.pod_key
        self.meter = InFlightMeter(slot_of=plan.pod_key)

    def second(self, ctx, second) -> None:
        if self.controller is None:
            return
        in_flight = self._in_flight(ctx)
        pods: dict[str, dict] = {}
        for name, row in second.pods.items():
            key = self.pod_key(name)
            if key in pods:  # a replaced pod and its replacement in the same second: one slot
                pods[key] = merged(pods[key], row)
            else:
                pods[key] = {**row, **in_flight.get(key, {"in_flight": None})} if in_flight else dict(row)
        try:
            decisions = self.controller.on_second(second.t, second.totals, pods)
        except Exception as error:  # noqa: BLE001 - a tuner's fault ends the tuning, not the run's load
            log.exception("run %s: the tuning controller failed; tuning stops for this run", ctx.run_id)
            ctx.report["tuning_error"] = f"the tuning controller failed at {second.t:g} s and stopped: {error}"
            self.controller = None
            return
        for decision in decisions:
            record_tuning_decision(run_id=ctx.run_id, decision=decision)
        if decisions:
            self.publish(ctx.run_id)


def merged(first: dict, second: dict) -> dict:
    """Two pods' figures of one second as one slot's: counts added, the worse p95."""
    out = dict(first)
    for name in ("requests", "failures"):
        out[name] = (first.get(name) or 0) + (second.get(name) or 0)
    p95s = [value for value in (first.get("p95_ms"), second.get("p95_ms")) if value is not None]
    out["p95_ms"] = max(p95s) if p95s else None
    return out
