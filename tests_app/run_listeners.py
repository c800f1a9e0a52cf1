"""The listeners every run has, attached to its events before the driver starts.

A feature that acts every second of a run (recording, the chaos schedule, the tuner) gives an
`attach(events)` in its own app's `run_listeners.py`; it is listed here, and the driver
(tests_app.execution) never names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from metrics_app import run_listeners as metrics_listeners
from tests_app.run_events import RunEvents

EVERY_RUN: tuple[Callable[[RunEvents], None], ...] = (
    metrics_listeners.attach,  # each second recorded, and published to live viewers
)


def attach(events: RunEvents, *, extra: Iterable[Callable[[RunEvents], None]] = ()) -> None:
    """Every run's listeners, then the caller's own (the CLI's live panel)."""
    for attach_listener in (*EVERY_RUN, *extra):
        attach_listener(events)
