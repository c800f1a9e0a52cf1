"""chaos_app's listeners of a run's events (tests_app.run_events): the run's chaos schedule
(chaos_app.schedule) driven by the load's clock, each injection written as a `ChaosInjection` row
to the millisecond and told to the run's live viewers as it happens.

The run's cluster is the one the driver opened; the schedule removes every fault it applied when
the load ends, however it ends, and the driver then calls `cluster.restore()` for anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from chaos_app.models import ChaosInjection
from chaos_app.schedule import Schedule
from clusters.faults import FAULT_KINDS, FaultStep

log = logging.getLogger(__name__)

Publish = Callable[[int], None]  # tells the run's live viewers its injections changed


def attach(events, *, publish: Publish = lambda run_id: None) -> None:
    listener = ChaosListener(publish)
    events.start.add_listener(listener.start)
    events.second.add_listener(listener.second)
    events.tick.add_listener(listener.tick)
    events.stopping.add_listener(listener.stopping)
    events.stop.add_listener(listener.stop)


class ChaosListener:
    """One run's schedule: made at `start` when the run has chaos, fed each second and each tick."""

    def __init__(self, publish: Publish):
        self.publish = publish
        self.schedule: Schedule | None = None

    def start(self, ctx) -> None:
        if ctx.chaos is None or not ctx.chaos.steps:
            return
        recorder = InjectionRecorder(ctx.run_id, self.publish)
        # Refused at submission (only `external` steps, which inject nothing, run without a cluster);
        # a target changed since cannot take faults either.
        if ctx.cluster is None and any(FAULT_KINDS[step.kind].injects for step in ctx.chaos.steps):
            for index, step in enumerate(ctx.chaos.steps):
                recorder.not_run(index, step, "not run: LB Lab cannot reach this target's cluster")
            return
        self.schedule = Schedule(ctx.chaos, ctx.cluster, recorder, clock=ctx.load_s)

    def second(self, ctx, second) -> None:
        if self.schedule is not None:
            totals = second.totals
            self.schedule.on_second(second.t, requests=int(totals.get("requests") or 0),
                                    failures=int(totals.get("failures") or 0), p95_ms=totals.get("p95_ms"),
                                    users=int(totals.get("users") or 0))

    def tick(self, ctx) -> None:
        # Nothing before the load's clock is known: offsets are on that clock.
        if self.schedule is not None and ctx.load_t0_unix is not None:
            self.schedule.on_tick()

    def stopping(self, ctx) -> None:
        # A user who stops a failing run gets no new fault in Locust's grace, and loses the applied ones now.
        if self.schedule is not None and ctx.load_t0_unix is not None:
            self.schedule.abort("the run was stopped")

    def stop(self, ctx) -> None:
        schedule = self.schedule
        if schedule is None:
            return
        if ctx.load_t0_unix is None:  # the load never started its clock: nothing was applied
            schedule.clock = lambda: 0.0
        schedule.finish()
        ctx.report["chaos_run"] = {"steady_state_problem": schedule.steady_problem or None,
                                   "aborted": schedule.aborted or None,
                                   "stop_condition": schedule.plan.stop.describe()}
        if schedule.steady_problem:
            ctx.reasons.append(f"chaos: no fault injected, the steady state did not hold: {schedule.steady_problem}")
        if schedule.aborted:
            ctx.reasons.append(f"chaos: the experiment was aborted and rolled back: {schedule.aborted}")


class InjectionRecorder:
    """The schedule's Recorder: one `ChaosInjection` row per step of the run."""

    def __init__(self, run_id: int, publish: Publish):
        self.run_id, self.publish = run_id, publish

    def _save(self, index: int, step: FaultStep, **fields) -> None:
        ChaosInjection.objects.update_or_create(
            run_id=self.run_id, step=index,
            defaults={"kind": step.kind, "severity": step.severity, "spec": step.to_spec(), **fields})
        self.publish(self.run_id)

    def injected(self, index: int, step: FaultStep, targets: Sequence[str], at_s: float) -> None:
        self._save(index, step, target=",".join(targets)[:253], started_at_s=at_s,
                   rollback=ChaosInjection.Rollback.PENDING)

    def ended(self, index: int, at_s: float, *, rolled_back: bool, error: str = "") -> None:
        rollback = ChaosInjection.Rollback.ROLLED_BACK if rolled_back else ChaosInjection.Rollback.FAILED
        ChaosInjection.objects.filter(run_id=self.run_id, step=index).update(ended_at_s=at_s, rollback=rollback,
                                                                           error=error)
        self.publish(self.run_id)

    def failed(self, index: int, step: FaultStep, at_s: float, error: str) -> None:
        why = f"not run: it could not be applied: {error}"
        self._save(index, step, target=step.target[:253], started_at_s=at_s, ended_at_s=at_s,
                   rollback=ChaosInjection.Rollback.NOT_RUN, error=why, reason=why)

    def not_run(self, index: int, step: FaultStep, reason: str) -> None:
        # started_at_s holds the offset it was planned for: it never started.
        self._save(index, step, target=step.target[:253], started_at_s=step.start_s,
                   rollback=ChaosInjection.Rollback.NOT_RUN, error=reason, reason=reason)

    def note(self, what: str, message: str) -> None:
        log.warning("run %s: chaos %s: %s", self.run_id, what, message)


def open_injections(run_id: int) -> int:
    """How many of the run's faults are applied and not yet undone."""
    return ChaosInjection.objects.filter(run_id=run_id, rollback=ChaosInjection.Rollback.PENDING).count()


def roll_back_open_injections(run_id: int, *, how: str) -> int:
    """Mark the run's injections still applied as rolled back, saying `how` (the reaper, once the
    faults are undone); returns how many."""
    return ChaosInjection.objects.filter(run_id=run_id, rollback=ChaosInjection.Rollback.PENDING).update(
        rollback=ChaosInjection.Rollback.ROLLED_BACK, error=how)


def mark_rollback_failed(run_id: int, *, error: str) -> int:
    return ChaosInjection.objects.filter(run_id=run_id, rollback=ChaosInjection.Rollback.PENDING).update(
        rollback=ChaosInjection.Rollback.FAILED, error=error)
