"""A run's chaos schedule: its steps applied at their offsets on the load's own clock, removed at
their ends, the steady state checked before the first one and the stop condition watched while
the experiment runs (as AWS FIS's stop conditions). Pure: no Django; the cluster is the
`clusters.base.Cluster` the run opened, and what happens is told to a `Recorder` (chaos_app's
run listeners write it to the database and to the run's live viewers).

Times are load-relative seconds: seconds since the Locust plugin's `clock` line's `t0_unix`,
the origin of every sample's `t` and of the recovery analysis, to the millisecond.

    plan = ChaosPlan.build(["pod_kill@5s:0s::pod-1"], hypothesis={}, stop_conditions={})
    schedule = Schedule(plan, cluster, recorder, clock=lambda: time.time() - t0_unix)
    schedule.on_second(t, requests=..., failures=..., p95_ms=...)   # every measured second
    schedule.on_tick()                                            # every ~50 ms
    schedule.finish()                                             # however the run ends
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from clusters.base import Cluster, ClusterError, Fault, check_number
from clusters.durations import SpecError
from clusters.faults import FAULT_KINDS, FaultStep, parse_step
from clusters.faults.steady_state import SteadyState
from clusters.faults.targets import ALL, EXTERNAL, FIXED, NAMED, NODE, ON_NODE, PODS, STATEFUL, parse_target

log = logging.getLogger(__name__)

STEADY_WINDOW_S = 3  # the seconds before the first injection the steady state must hold over
# AWS FIS's example: abort when the error rate stays above 50 % for 10 s.
DEFAULT_STOP = {"max_error_rate": 0.5, "for_s": 10.0}
STOP_KEYS = ("max_error_rate", "for_s")


def stop_conditions_problem(value) -> str | None:
    """Why `value` is not a stop condition object, or None (the model's `clean` and the API)."""
    if not isinstance(value, Mapping):
        return f"An object with keys among: {', '.join(STOP_KEYS)}."
    unknown = set(value) - set(STOP_KEYS)
    if unknown:
        return f"Unknown key(s) {', '.join(sorted(map(str, unknown)))}; keys among: {', '.join(STOP_KEYS)}."
    try:
        if "max_error_rate" in value:
            check_number(value["max_error_rate"], "max_error_rate", minimum=0, maximum=1)
        if "for_s" in value:
            check_number(value["for_s"], "for_s", minimum=1, maximum=3600)
    except ClusterError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class StopCondition:
    """Abort the experiment when the error rate stays above `max_error_rate` for `for_s` seconds."""

    max_error_rate: float = DEFAULT_STOP["max_error_rate"]
    for_s: float = DEFAULT_STOP["for_s"]

    def describe(self) -> str:
        return f"error rate above {self.max_error_rate * 100:g} % for {self.for_s:g} s"


@dataclass(frozen=True)
class ChaosPlan:
    """What a run's chaos is: its steps, steady state and stop condition, frozen at submission."""

    steps: tuple[FaultStep, ...]
    steady: SteadyState = field(default_factory=SteadyState)
    stop: StopCondition = field(default_factory=StopCondition)
    seed: int = 0

    @classmethod
    def build(cls, specs: Iterable[str], *, hypothesis: Mapping | None = None,
              stop_conditions: Mapping | None = None, seed: int = 0) -> ChaosPlan:
        stop = {**DEFAULT_STOP, **(stop_conditions or {})}
        return cls(
            steps=tuple(parse_step(spec) for spec in specs),
            steady=SteadyState.from_hypothesis(hypothesis),
            stop=StopCondition(max_error_rate=float(stop["max_error_rate"]), for_s=float(stop["for_s"])),
            seed=seed,
        )


class Recorder(Protocol):
    """Who hears what the schedule does (chaos_app.run_listeners: the database and live viewers)."""

    def injected(self, index: int, step: FaultStep, targets: Sequence[str], at_s: float) -> None: ...
    def ended(self, index: int, at_s: float, *, rolled_back: bool, error: str = "") -> None: ...
    def failed(self, index: int, step: FaultStep, at_s: float, error: str) -> None: ...
    def not_run(self, index: int, step: FaultStep, reason: str) -> None: ...
    def note(self, what: str, message: str) -> None: ...  # what: "steady_state" | "aborted"


@dataclass
class _Active:
    index: int
    step: FaultStep
    fault: Fault
    ends_at_s: float


class Schedule:
    """Applies a plan's steps to `cluster` at their offsets on `clock` (load-relative seconds).
    `cluster` is None for a target LB Lab cannot reach (a URL): then every step is of a kind that
    does not inject (`external`), and only marks when the user's own fault starts and ends."""

    def __init__(self, plan: ChaosPlan, cluster: Cluster | None, recorder: Recorder, *, clock: Callable[[], float]):
        self.plan, self.cluster, self.recorder, self.clock = plan, cluster, recorder, clock
        self.rng = random.Random(plan.seed)
        self.pending = sorted(enumerate(plan.steps), key=lambda item: (item[1].start_s, item[0]))
        self.active: list[_Active] = []
        self.recent: deque[dict] = deque(maxlen=STEADY_WINDOW_S)
        self.started = False  # the first step was reached (and the steady state checked)
        self.breach_s = 0  # consecutive seconds the stop condition's error rate was exceeded
        self.aborted = ""
        self.steady_problem = ""
        self.done = False

    # ------------------------------------------------------------ fed by the run

    def on_second(self, t: float, *, requests: int, failures: int, p95_ms: float | None, users: int = 1) -> None:
        """One measured second (its `t` on the load clock): kept for the steady state, and the stop
        condition watched while the experiment runs."""
        self.recent.append({"t": t, "requests": requests, "failures": failures, "p95_ms": p95_ms})
        if not self.started or self.done or not (self.pending or self.active):
            return
        # A second with users and no answer at all counts as failed (a blackhole answers nothing).
        rate = failures / requests if requests > 0 else (1.0 if users > 0 else 0.0)
        self.breach_s = self.breach_s + 1 if rate > self.plan.stop.max_error_rate else 0
        if self.breach_s >= self.plan.stop.for_s:
            self.abort(f"stop condition met: {self.plan.stop.describe()}")

    def on_tick(self) -> None:
        """Apply every step whose offset has come, remove every one whose end has."""
        if self.done:
            return
        now = self.clock()
        for item in list(self.active):
            if now >= item.ends_at_s:
                self._end(item, now)
        while self.pending and self.pending[0][1].start_s <= now:
            if not self.started:
                self.started = True
                self.steady_problem = self.plan.steady.problem(list(self.recent))
                if self.steady_problem:
                    reason = f"steady state did not hold before the first injection: {self.steady_problem}"
                    self.recorder.note("steady_state", reason)
                    self._skip_pending(f"not run: {reason}")
                    self.done = True
                    return
            index, step = self.pending.pop(0)
            self._inject(index, step)
            now = self.clock()
        for item in list(self.active):  # a step of 0 s ends as soon as it is applied
            if now >= item.ends_at_s:
                self._end(item, now)

    def abort(self, reason: str) -> None:
        """Stop the experiment: every applied fault removed, every step not reached marked not run."""
        if self.done:
            return
        self.aborted = reason
        self.recorder.note("aborted", reason)
        self._end_all()
        self._skip_pending(f"not run: the experiment was aborted ({reason})")
        self.done = True

    def finish(self) -> None:
        """The run ended (however): remove what is applied; steps not reached are marked not run."""
        if not self.done:
            self._end_all()
            self._skip_pending("not run: the load ended before its offset")
            self.done = True

    # ------------------------------------------------------------ steps

    def _inject(self, index: int, step: FaultStep) -> None:
        kind = FAULT_KINDS[step.kind]
        at = round(self.clock(), 3)
        try:
            fault = kind.inject(self.cluster, step, rng=self.rng)
        except Exception as error:  # noqa: BLE001 - a step that cannot be applied is recorded, the run goes on
            log.warning("chaos step %d (%s) could not be applied: %s", index, step.to_spec(), error)
            self.recorder.failed(index, step, at, str(error))
            return
        # Tracked before it is recorded: a recording that fails still leaves the fault to be removed.
        self.active.append(_Active(index, step, fault, ends_at_s=at + step.duration_s))
        targets = list(fault.pods) or [str(node) for node in fault.params.get("nodes", ())]
        self.recorder.injected(index, step, targets, at)

    def _end(self, item: _Active, now: float) -> None:
        try:
            FAULT_KINDS[item.step.kind].restore(self.cluster, item.fault)
        except Exception as error:  # noqa: BLE001 - recorded; cluster.restore() at the run's end still runs
            self.active.remove(item)
            self.recorder.ended(item.index, round(now, 3), rolled_back=False, error=f"restore failed: {error}")
            return
        self.active.remove(item)  # only once undone: an interruption before leaves it to finish()
        self.recorder.ended(item.index, round(now, 3), rolled_back=True)

    def _end_all(self) -> None:
        now = self.clock()
        for item in list(self.active):
            self._end(item, now)

    def _skip_pending(self, reason: str) -> None:
        for index, step in self.pending:
            self.recorder.not_run(index, step, reason)
        self.pending = []


# ------------------------------------------------------------------ checks before a run starts


STEP_SPEC_MAX = 300  # a step as written, as ChaosInjection.spec holds it


NO_STORE = "a primary fault needs a stateful store beside the pods: a sandbox target with --stateful redis"


@dataclass(frozen=True)
class Layout:
    """What a target will have when the run starts, as far as LB Lab knows before it: the pods'
    slot names (`pod-0`...) and the nodes (None: unknown, nothing is checked against them)."""

    slots: tuple[str, ...] | None
    nodes: tuple[str, ...] | None
    stateful: str = ""  # the store beside the pods (`--stateful redis|postgres`), "" for none


def plan_problem(specs: Sequence[str], *, duration_s: float, layout: Layout) -> str | None:
    """Why a run's chaos steps cannot run on a target laid out as `layout` within a load of
    `duration_s` seconds, or None: one message, naming the step."""
    steps = []
    for spec in specs:
        try:
            steps.append(parse_step(spec))
        except (SpecError, ClusterError) as error:
            return error.args[0]
    for step in steps:
        if len(step.to_spec()) > STEP_SPEC_MAX:
            return f"{step.to_spec()[:60]}...: a step is at most {STEP_SPEC_MAX} characters written out"
        problem = _step_problem(step, duration_s, layout)
        if problem:
            return f"{step.to_spec()}: {problem}"
    return _conflict(steps, layout)


def _step_problem(step: FaultStep, duration_s: float, layout: Layout) -> str:
    if step.start_s >= duration_s:
        return f"starts at {step.start_s:g} s, at or after the end of the {duration_s:g} s load"
    kind = FAULT_KINDS[step.kind]
    if kind.acts_on == STATEFUL:
        return "" if layout.stateful else NO_STORE
    if kind.acts_on == EXTERNAL:
        return ""
    target = parse_target(step.target, kind.acts_on)
    if kind.acts_on == NODE or target.mode == ON_NODE:
        if target.mode == ON_NODE and layout.nodes is not None and target.names[0] not in layout.nodes:
            return f"unknown node {target.names[0]!r}; the target has {', '.join(layout.nodes)}"
        if kind.acts_on == NODE and layout.nodes is not None and len(layout.nodes) < 2:
            return "a node drain needs a second node for the pods to move to; the target has one"
        return ""
    if layout.slots is None:
        return ""
    if target.mode == NAMED:
        for name in target.names:
            if name not in layout.slots:
                if name.rsplit("-", 1)[0] in layout.slots:
                    return (f"{name!r} names a pod by its suffix, which changes on every start; "
                            f"name its slot {name.rsplit('-', 1)[0]!r}")
                return f"unknown pod {name!r}; the target's pods are {', '.join(layout.slots)}"
    if target.mode == FIXED and target.count > len(layout.slots):
        return f"asks for {target.count} pods; the target has {len(layout.slots)}"
    return ""


def _pods_of(step: FaultStep, layout: Layout) -> set[str] | None:
    """The slots a step surely acts on before the run (None: chosen at run time, or unknown)."""
    kind = FAULT_KINDS[step.kind]
    if kind.acts_on != PODS:
        return None
    target = parse_target(step.target, PODS)
    if target.mode == NAMED:
        return set(target.names)
    if target.mode == ALL and layout.slots is not None:
        return set(layout.slots)
    return None  # ONE, FIXED, FIXED_PERCENT, ON_NODE: which pods is known only at run time


def _conflict(steps: Sequence[FaultStep], layout: Layout) -> str | None:
    """Two steps on the same pod at once where one would undo or replace the other: the same kind
    twice (the second replaces the first), or a kill while another fault holds the pod (the fault
    dies with it)."""
    for i, first in enumerate(steps):
        for second in steps[i + 1:]:
            first_pods, second_pods = _pods_of(first, layout), _pods_of(second, layout)
            if first_pods is None or second_pods is None:  # one picks at run time: surely shared only with `all`
                every = set(layout.slots or ())
                acting = FAULT_KINDS[first.kind].acts_on == FAULT_KINDS[second.kind].acts_on == PODS
                shared = acting and (first_pods == every or second_pods == every)
                both = (first_pods or second_pods or set()) if shared and every else set()
            else:
                both = first_pods & second_pods
            if not both:
                continue
            a, b = sorted((first, second), key=lambda step: step.start_s)
            a_end = a.start_s + a.duration_s
            overlap = b.start_s < a_end or (b.start_s == a.start_s)
            if not overlap:
                continue
            pods = ", ".join(sorted(both))
            if a.kind == b.kind:
                return (f"{a.to_spec()} and {b.to_spec()} both apply {a.kind} to {pods} at once; "
                        f"the second would replace the first")
            if "pod_kill" in (a.kind, b.kind):
                return (f"{a.to_spec()} and {b.to_spec()} overlap on {pods}: the kill would end the other "
                        f"fault with the pod")
    return None

