"""The tuning controller: a state machine fed once a second, returning `Decision` records.

Each second it is given the run's measured second. While no change is pending:

1. it waits for a full window of seconds (`window_s`) measured since its last change (or since the
   start), and for the cooldown after its last decision;
2. when the window's score in the policy's view is at or above target it does nothing;
3. below target it diagnoses the cause (`diagnose`), ranks the allowed candidates by the simulator's
   predicted score (`rank`, with the p95 guard) and takes the best one predicted to gain: applied
   through the action's `Cluster` method, or, in dry-run, only recorded (`recommended`). When no
   balancer setting is predicted to gain and the imbalance is connection-level, the advice is
   recorded (`advised`, once a run). When nothing would help, it looks again a window later.

After a change it waits for the cooldown and a full window of seconds measured after the change
(max(cooldown_s, window_s) seconds), then compares that window's observed score and p95 with the
ones before and with the prediction. A change that made things worse (score lower by more than a
point, or p95 worse than the policy's margin allows) is rolled back (then the cooldown and a fresh
window again), and never tried again in this run; the decision is returned again (same `seq`)
with its observed effect and outcome.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from clusters.base import Cluster
from clusters.tuning.actions import ACTIONS
from clusters.tuning.diagnose import diagnose
from clusters.tuning.policy import Policy
from clusters.tuning.rank import Candidate, Ranking, rank
from clusters.tuning.state import Change, TargetState
from clusters.tuning.window import Observed, fold

log = logging.getLogger(__name__)

WORSE_BY = 1.0  # score points an action may lose before it counts as making things worse
OUTCOMES: tuple[str, ...] = ("applied", "improved", "reverted", "failed", "recommended", "advised")


@dataclass(frozen=True)
class Decision:
    """One decision, shaped for metrics_app's TuningDecision (see `MODEL_FIELDS`)."""

    seq: int  # the controller's count: a later record with the same seq updates this one
    t: float
    action: str
    before: dict
    after: dict
    reason: str
    outcome: str
    score_before: float
    p95_before_ms: float | None
    predicted_score: float | None
    predicted_p95_ms: float | None
    score_after: float | None = None
    p95_after_ms: float | None = None
    prediction_error: float | None = None  # observed - predicted score, points
    view: str = "requests"
    data: dict = field(default_factory=dict)  # the window and the findings it used
    alternatives: tuple[dict, ...] = ()  # the ranked candidates, the chosen one first

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__} | {"alternatives": list(self.alternatives)}

    def summary_entry(self) -> dict:
        """The summary's `tuning` list entry (ARCHITECTURE.md s6), with the prediction beside it."""
        def one(values: dict):
            return next(iter(values.values())) if len(values) == 1 else values
        return {"t": self.t, "action": self.action, "from": one(self.before), "to": one(self.after),
                "score_before": self.score_before, "score_after": self.score_after, "outcome": self.outcome,
                "predicted_score": self.predicted_score, "prediction_error": self.prediction_error,
                "p95_before_ms": self.p95_before_ms, "p95_after_ms": self.p95_after_ms, "reason": self.reason}


# TuningDecision's fields today, and those a migration adds for the rest of a Decision
MODEL_FIELDS = ("t", "action", "before", "after", "reason", "score_before", "score_after", "outcome")
PROPOSED_FIELDS = ("view", "p95_before_ms", "p95_after_ms", "predicted_score", "predicted_p95_ms",
                   "prediction_error", "data", "alternatives")


def _same(pod: str) -> str:
    return pod


@dataclass(frozen=True)
class TuningPlan:
    """What a run's tuner starts from, handed to the run's listeners (RunContext.tuning): the checked
    policy, the balancer's setting at the start, and the name a pod's weight is given under (the
    sandbox's slot, `pod-0`, which a replaced pod keeps)."""

    policy: Policy
    state: TargetState
    pod_key: Callable[[str], str] = _same


@dataclass
class _Pending:
    decision: Decision
    change: Change


class Controller:
    def __init__(self, policy: Policy, state: TargetState, cluster: Cluster | None = None, *,
                 clock: Callable[[], float | None] | None = None):
        """`clock`: the seconds' clock now (the run's load clock, `RunContext.load_s`), so the seconds
        measured before a change took effect are told from those after it even when deciding took a
        while and seconds queued up meanwhile; None (or a None reading): the decided second's `t`."""
        self.policy = policy.validate(state.balancer, state.balancer_options)
        self.state = state
        self.cluster = cluster
        self.clock = clock
        self.effective_from = float("-inf")  # the first second's `t` wholly after the last change
        self.seconds: deque[Observed] = deque(maxlen=max(self.policy.window_s, self.policy.cooldown_s) + 1)
        self.pending: _Pending | None = None
        self.quiet_until = float("-inf")
        self.rolled_back: set[tuple] = set()
        self.advised = False
        self.decisions: dict[int, Decision] = {}  # seq -> its latest record
        self._seq = 0

    # ------------------------------------------------------------------ the state machine

    def on_second(self, t: float, totals: Mapping, pods: Mapping[str, Mapping]) -> list[Decision]:
        """Feed one measured second; returns the decisions made or updated by it."""
        if t < self.effective_from:  # measured (in part) before the last change took effect
            return []
        self.seconds.append(Observed(float(t), dict(totals), {name: dict(row) for name, row in pods.items()}))
        policy = self.policy
        if self.pending is not None:
            if len(self.seconds) >= max(policy.cooldown_s, policy.window_s):
                return [self._evaluate(float(t))]
            return []
        if t < self.quiet_until or len(self.seconds) < policy.window_s:
            return []
        window = fold(list(self.seconds)[-policy.window_s:])
        score = window.score(policy.view, self.state)
        if score is None or score >= policy.target_score:
            return []
        findings = diagnose(window, self.state)
        ranking = rank(window, self.state, policy, findings, exclude=frozenset(self.rolled_back))
        data = {"window": window.to_dict(), "findings": [finding.to_dict() for finding in findings],
                "state": self.state.describe(), "target_score": policy.target_score,
                "baseline": None if ranking.baseline is None else ranking.baseline.to_dict()}
        causes = "; ".join(finding.explanation for finding in findings) or "no known cause found"
        best = ranking.best(changes_cluster=True)
        if best is None:
            advice = ranking.best(changes_cluster=False)
            if advice is not None and not self.advised:
                self.advised = True
                self.quiet_until = t + max(policy.cooldown_s, policy.window_s)
                return [self._record(t, advice, ranking, data, score, window.p95_ms, "advised",
                                     f"{causes} No balancer setting the policy allows is predicted to fix it: "
                                     f"reuse connections less (more connections, or no keep-alive).")]
            self.quiet_until = t + policy.window_s  # nothing would help: look again a window later
            return []
        reason = (f"Score {score:.1f} below target {policy.target_score:g} ({policy.view}): {causes} "
                  f"{ACTIONS[best.change.action].label} predicted to score {best.predicted.score:.1f}.")
        if policy.dry_run:
            self.quiet_until = t + max(policy.cooldown_s, policy.window_s)
            return [self._record(t, best, ranking, data, score, window.p95_ms, "recommended", reason)]
        return [self._apply(t, best, ranking, data, score, window.p95_ms, reason)]

    # ------------------------------------------------------------------ steps

    def _record(self, t, chosen: Candidate, ranking: Ranking, data, score, p95, outcome, reason) -> Decision:
        self._seq += 1
        decision = Decision(
            seq=self._seq, t=t, action=chosen.change.action, before=chosen.change.before, after=chosen.change.after,
            reason=reason, outcome=outcome, score_before=round(score, 2),
            p95_before_ms=None if p95 is None else round(p95, 3),
            predicted_score=round(chosen.predicted.score, 2), predicted_p95_ms=round(chosen.predicted.p95_ms, 3),
            view=self.policy.view, data=data,
            alternatives=tuple([chosen.to_dict()] + [c.to_dict() for c in ranking.candidates if c is not chosen]),
        )
        self.decisions[decision.seq] = decision
        return decision

    def _apply(self, t, chosen: Candidate, ranking, data, score, p95, reason) -> Decision:
        action = ACTIONS[chosen.change.action]
        new_state = action.predicted_state(chosen.change, self.state)
        try:
            if self.cluster is None:
                raise RuntimeError("no cluster to apply it to")
            action.apply(self.cluster, new_state)
        except Exception as error:  # noqa: BLE001 - a refused change is a failed decision, not a dead run
            log.warning("tuning: %s failed: %s", action.name, error)
            self.quiet_until = t + max(self.policy.cooldown_s, self.policy.window_s)
            return self._record(t, chosen, ranking, data, score, p95, "failed", f"{reason} It failed: {error}")
        decision = self._record(t, chosen, ranking, data, score, p95, "applied", reason)
        self.pending = _Pending(decision, chosen.change)
        self.state = new_state
        self._changed(t)
        return decision

    def _changed(self, t: float) -> None:
        """A change took effect now: the window starts again with the seconds wholly after it."""
        self.seconds.clear()
        now = self.clock() if self.clock is not None else None
        self.effective_from = (t if now is None else max(t, now)) + 1.0

    def _evaluate(self, t: float) -> Decision:
        pending, policy = self.pending, self.policy
        self.pending = None
        window = fold(list(self.seconds)[-policy.window_s:])
        decision = pending.decision
        observed = window.score(policy.view, self.state)
        observed = 0.0 if observed is None else observed
        p95 = window.p95_ms
        p95_worse = (p95 is not None and decision.p95_before_ms is not None
                     and p95 > decision.p95_before_ms * (1.0 + policy.p95_margin_pct / 100.0))
        worse = observed < decision.score_before - WORSE_BY or p95_worse
        updates = {"score_after": round(observed, 2), "p95_after_ms": None if p95 is None else round(p95, 3),
                   "prediction_error": round(observed - decision.predicted_score, 2)}
        if worse:
            why = (f"p95 {p95:.1f} ms is more than {policy.p95_margin_pct:g} % over {decision.p95_before_ms:.1f} ms"
                   if p95_worse else f"the score fell from {decision.score_before:.1f} to {observed:.1f}")
            try:
                if self.cluster is None:
                    raise RuntimeError("no cluster to roll back")
                # the change undone (every field it set, set back), not the old state: a balancer keeps
                # what it is not given
                action = ACTIONS[decision.action]
                back = action.predicted_state(pending.change.inverse(), self.state)
                action.apply(self.cluster, back)
                self.state = back
                self.rolled_back.add(pending.change.key())
                updates |= {"outcome": "reverted", "reason": f"{decision.reason} Rolled back at {t:g} s: {why}."}
            except Exception as error:  # noqa: BLE001
                log.warning("tuning: rolling back %s failed: %s", decision.action, error)
                updates |= {"outcome": "failed", "reason": f"{decision.reason} Rolling back failed: {error}."}
            self._changed(t)
            self.quiet_until = t + policy.cooldown_s  # a rollback is a change too: its cooldown, then a fresh window
        else:
            improved = observed > decision.score_before + WORSE_BY
            updates["outcome"] = "improved" if improved else "applied"
            self.quiet_until = t  # the window after the change is a full one already
        decision = replace(decision, **updates)
        self.decisions[decision.seq] = decision
        return decision
