"""The listeners every run has, attached to its events before the driver starts.

A feature that acts every second of a run (recording, the chaos schedule, the tuner) gives an
`attach(events)` in its own app's `run_listeners.py`; it is listed here, and the driver
(tests_app.execution) never names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from chaos_app import run_listeners as chaos_listeners
from metrics_app import run_listeners as metrics_listeners
from metrics_app.services import publish_to_run
from tests_app import durability_probe, live_recovery
from tests_app.run_events import RunEvents
from tests_app.selectors import run_events


def publish_events(run_id: int) -> None:
    """The run's chaos and tuning as the live protocol's `events` message, pushed to its viewers
    (tailing viewers read the same from the database)."""
    publish_to_run(run_id, [{"type": "events", **run_events(run_id)}])


EVERY_RUN: tuple[Callable[[RunEvents], None], ...] = (
    metrics_listeners.attach,  # each second recorded, and published to live viewers
    partial(chaos_listeners.attach, publish=publish_events),  # the chaos schedule, injections recorded and published
    partial(live_recovery.attach, publish=publish_events),  # each injection's recovery figures, once it recovered
    partial(metrics_listeners.attach_tuning, publish=publish_events),  # the tuner, when the run has a policy
    durability_probe.attach,  # a stateful target's Jepsen set writer, its writes read back and judged at the end
)


def attach(events: RunEvents, *, extra: Iterable[Callable[[RunEvents], None]] = ()) -> None:
    """Every run's listeners, then the caller's own (the CLI's live panel)."""
    for attach_listener in (*EVERY_RUN, *extra):
        attach_listener(events)
