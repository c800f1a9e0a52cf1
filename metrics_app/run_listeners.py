"""metrics_app's listeners of a run's events (tests_app.run_events): each measured second is
recorded and published to the run's live viewers."""

from __future__ import annotations

from metrics_app.services import record_second


def attach(events) -> None:
    events.second.add_listener(record)


def record(ctx, second) -> None:
    """`ctx` is the run's RunContext, `second` the Second just measured (tests_app.run_events)."""
    record_second(run_id=ctx.run_id, t=second.t, totals=second.totals, pods=second.pods,
                  unattributed=second.unattributed, messages=second.messages, endpoints=second.endpoints,
                  errors=second.errors)
