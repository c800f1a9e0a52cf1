"""The durability probe of a run on a stateful target (issue 21): a Jepsen set writer beside the
load's users (clusters/sandbox/stateful/probe.py) from `start` to `stop`, then everything read
back from the store's primary now and judged (clusters/durability.py).

It reports two summary sections (ARCHITECTURE.md s6):
- `durability`: acked, lost, recovered, unexpected, lost_ids, rpo_s (async), failed, the mode and
  what it promises; a mode that promises no loss (sync) fails the run on any acknowledged write lost;
- `stateful`: the store, its mode, and the failover as its events on the load clock (LB Lab's
  kill or stop, Sentinel's +odown... or Patroni's role changes, the promotion, the old primary's return).
A run on a target without a store hears nothing of it.
"""

from __future__ import annotations

import logging

from clusters.base import ClusterError, EventType
from clusters.sandbox.stateful import PROMISES, PROMISES_NO_LOSS
from clusters.sandbox.stateful.probe import DurabilityProbe, read_records
from tests_app.live_recovery import cluster_events_on_load_clock

log = logging.getLogger(__name__)

STORE_EVENTS = frozenset({EventType.PRIMARY_KILLED, EventType.PRIMARY_STOPPED, EventType.FAILOVER,
                          EventType.STORE_EVENT, EventType.STORE_RESTARTED})


def attach(events) -> None:
    listener = ProbeListener()
    events.start.add_listener(listener.start)
    events.stop.add_listener(listener.stop)


def timeline_entry(event: dict) -> dict:
    """A store event on the load clock as the timeline shows it: when (`t`), its `type`, what
    happened (`event`: Sentinel's or Patroni's name for it, else the type), the `server` (or the
    Sentinel or Patroni node that said it) and a `detail` (for a promotion: old → new primary)."""
    detail = f"{event['old']} → {event['new']}" if event["type"] == EventType.FAILOVER else event.get("detail", "")
    return {"t": event["t"], "type": event["type"], "event": event.get("event") or event["type"],
            "server": event.get("server") or event.get("source") or "", "detail": detail}


class ProbeListener:
    def __init__(self):
        self.probe: DurabilityProbe | None = None
        self.store: dict | None = None

    def start(self, ctx) -> None:
        self.store = ctx.cluster.stateful() if ctx.cluster is not None else None
        if self.store is None:
            return
        self.probe = DurabilityProbe(ctx.cluster.endpoint, prefix=f"run{ctx.run_id}-", mode=self.store["durability"])
        self.probe.start()

    def stop(self, ctx) -> None:
        if self.probe is None:
            return
        writes = self.probe.stop()
        store, mode = self.store["store"], self.store["durability"]
        ctx.report["stateful"] = {"store": store, "durability": mode, "timeline": [
            timeline_entry(event) for event in cluster_events_on_load_clock(ctx.cluster, ctx.load_t0_unix)
            if event["type"] in STORE_EVENTS and event["t"] >= 0]}  # not the Sentinels' start-up chatter
        section = {"mode": mode, "promise": PROMISES.get((store, mode), ""), "failed": len(writes.failed),
                   "errors": dict(writes.errors)}
        try:
            present = read_records(self.store)
        except ClusterError as error:
            ctx.report["durability"] = {**section, "error": str(error)}
            ctx.reasons.append(f"durability: the writes could not be read back: {error}")
            return
        result = self.probe.check(present)
        ctx.report["durability"] = {**result.summary(), **section}
        if result.lost and mode in PROMISES_NO_LOSS:
            ctx.reasons.append(f"durability: {result.lost} acknowledged writes lost in {mode} mode "
                               f"(ids {', '.join(map(str, result.lost_ids[:5]))}{'...' if result.lost > 5 else ''})")
