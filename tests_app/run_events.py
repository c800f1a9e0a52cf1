"""What happens every second of a run, and who hears of it: modelled on Locust's `Environment`
and `EventHook`. Pure: no Django, and no feature of its own.

The run driver (`tests_app.execution.drive`) fires these events on a `RunEvents`:

- `start(ctx)`: the cluster is open and Locust is about to start;
- `second(ctx, second)`: one second was measured (a `Second`), in order, none skipped;
- `tick(ctx)`: about every TICK_S (50 ms) while the load runs, for what needs finer timing than
  a second (the chaos schedule applies a step at its offset to the tenth of a second); read the
  load's clock with `ctx.load_s()` (None until the plugin's `clock` line arrived);
- `stopping(ctx)`: the user stopped the run (or it overran): Locust is given its grace to report,
  and listeners stop acting on the cluster now (the chaos schedule aborts and removes its
  faults); `tick` is not fired any more;
- `stop(ctx)`: the load has ended, however it ended (passed, stopped, crashed, Ctrl-C): a
  listener that changed the cluster undoes it here.

Listeners are plain callables. `tests_app.run_listeners` attaches the ones every run has
(recording and publishing each second); a caller adds its own (the CLI's live panel). The
driver knows none of them by name: a feature that acts each second (the chaos schedule, the
tuner) is one more listener, and the loop does not change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clusters.base import Cluster

log = logging.getLogger(__name__)


class EventHook:
    """Listeners of one event, called in the order they were added (Locust's EventHook)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[..., Any]] = []

    def add_listener(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        self._listeners.append(listener)
        return listener

    def remove_listener(self, listener: Callable[..., Any]) -> None:
        self._listeners.remove(listener)

    def fire(self, *args: Any) -> None:
        """Every listener hears the event; an exception stops the run (the driver sees it)."""
        for listener in self._listeners:
            listener(*args)

    def fire_all(self, *args: Any) -> list[BaseException]:
        """Every listener hears the event even if some fail (for `stop`: each must get its chance
        to undo what it did); returns the failures, each already logged."""
        failures = []
        for listener in self._listeners:
            try:
                listener(*args)
            except BaseException as error:  # noqa: BLE001 - collected and re-raised by the caller
                log.exception("run event listener %r failed", listener)
                failures.append(error)
        return failures


TICK_S = 0.05  # how often `tick` fires while the load runs


class RunEvents:
    def __init__(self) -> None:
        self.start, self.second, self.tick = EventHook(), EventHook(), EventHook()
        self.stopping, self.stop = EventHook(), EventHook()


@dataclass(frozen=True)
class Second:
    """One measured second of a run, as recorded: Locust's totals, every pod known so far (idle
    ones as zeros, with the cluster's CPU, memory and readiness where it has them), the requests
    no pod was named for, the run's per-endpoint table and failures so far, and the live
    messages (`sample`, `alert` computed from it by the run's one `LiveSeries`, then
    `request_stats`)."""

    t: float
    totals: dict  # users, requests, failures, rps, failures_per_s, p50_ms, p95_ms, p99_ms, max_ms, active_connections
    pods: dict[str, dict]  # pod -> requests, failures, p95_ms, cpu, memory_bytes, ready
    unattributed: int
    messages: list[dict] = field(default_factory=list)
    endpoints: list[dict] = field(default_factory=list)  # endpoint, requests, failures, rps, ... since the start
    errors: list[dict] = field(default_factory=list)  # endpoint, type, status, message, count, first_s, last_s


@dataclass
class RunContext:
    """What listeners may read about the run they hear of."""

    run_id: int
    scenario: Any  # tests_app.scenario_spec.ScenarioSpec: typed and frozen
    cluster: Cluster | None  # open for the whole run when LB Lab can reach the target's cluster
    live: Any  # metrics_app.live.LiveSeries: the one score computation of the live views
    expected_pods: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    clock: Callable[[], float] = time.monotonic
    chaos: Any = None  # chaos_app.schedule.ChaosPlan of the run, None without chaos
    tuning: Any = None  # clusters.tuning.controller.TuningPlan of the run, None without a policy
    # The load's origin on the wall clock (time.time()), from the plugin's `clock` line: every
    # sample's `t` and every chaos timestamp are seconds since it. None until the line arrives.
    load_t0_unix: float | None = None
    wall_clock: Callable[[], float] = time.time
    # The load's 100 ms buckets so far, in time order, as the sample lines carry them (each
    # `Second`'s are in before it is fired): what recovery is measured from, live and in the summary.
    buckets: list[dict] = field(default_factory=list)
    # What listeners report back for the summary (sections by name) and the verdict (reasons the
    # run fails), filled by the time `stop` has been heard.
    report: dict = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def load_s(self) -> float | None:
        """Seconds since the load's origin now (the samples' clock), or None before it is known."""
        return None if self.load_t0_unix is None else self.wall_clock() - self.load_t0_unix
