"""The allowed candidate actions ranked by the what-if simulator's predicted score on the observed
pods and traffic.

The window gives the model: each pod's speed relative to the fastest (`Window.speeds`: pods within
noise of each other equally fast), the delay a pod holds requests for before its servers (a latency
fault, `Window.delays_ms`: slow to answer, not slow to serve, so it holds no server), the fastest
pod's service time (`Window.service_times`), the
users as the closed model's clients, the think time that Little's law leaves between the users,
the window's throughput and latency, and the state's capacity, weights and keep-alive. Every
candidate and the setting in force (the baseline) are simulated with the same seed, so their
differences are not noise. The p95 guard: a candidate whose predicted p95 is worse than the
baseline's by more than the policy's margin is not allowed. In the utilisation view the predicted
score is the one a window as long as the decision's is expected to show, the pods'
second-to-second noise included (`clusters.balance.expected_window_cv`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from clusters.balance import expected_window_cv, score_of_cv, utilisation_balance
from clusters.base import ClusterError
from clusters.simulate import PodSpec, Workload, simulate
from clusters.tuning.actions import ACTIONS
from clusters.tuning.diagnose import Finding
from clusters.tuning.policy import Policy
from clusters.tuning.state import Change, TargetState
from clusters.tuning.window import Window

# The predicted score's own noise stays under a point (at 20,000 it swung by several, as much as
# the 5 points predictions are held to); 15-30 ms a candidate, once a window at most.
SIM_REQUESTS = 200_000
SEED = 0
MIN_GAIN = 1.0  # score points a candidate must be predicted to gain over the setting in force
MIN_SERVICE_MS = 0.05


@dataclass(frozen=True)
class Predicted:
    score: float
    p95_ms: float
    pods: dict  # pod -> requests share and utilisation

    def to_dict(self) -> dict:
        return {"score": round(self.score, 2), "p95_ms": round(self.p95_ms, 3), "pods": self.pods}


@dataclass(frozen=True)
class Candidate:
    change: Change
    predicted: Predicted | None
    allowed: bool
    note: str = ""  # why it is not allowed, or what it is

    def to_dict(self) -> dict:
        return {"action": self.change.action, "before": self.change.before, "after": self.change.after,
                "predicted_score": None if self.predicted is None else round(self.predicted.score, 2),
                "predicted_p95_ms": None if self.predicted is None else round(self.predicted.p95_ms, 3),
                "allowed": self.allowed, "note": self.note}


@dataclass(frozen=True)
class Ranking:
    baseline: Predicted | None  # the setting in force, as the simulator sees it
    candidates: tuple[Candidate, ...]  # allowed first, best predicted score first

    def best(self, *, changes_cluster: bool) -> Candidate | None:
        """The best allowed candidate of the kind asked that gains at least MIN_GAIN over the baseline."""
        floor = (self.baseline.score if self.baseline else 0.0) + MIN_GAIN
        for candidate in self.candidates:
            if (candidate.allowed and ACTIONS[candidate.change.action].changes_cluster == changes_cluster
                    and candidate.predicted is not None and candidate.predicted.score >= floor):
                return candidate
        return None


def model(window: Window, state: TargetState) -> tuple[list[PodSpec], Workload]:
    """The pods and the traffic the simulator is given for `state` (its replicas: pods added by a
    scale are modelled at the median speed and with no delay, pods removed are the last ones)."""
    speeds, delays = window.speeds(state.capacity), window.delays_ms()
    names = [pod.name for pod in window.pods]
    typical = statistics.median(speeds.values()) if speeds else 1.0
    while len(names) < state.replicas:
        names.append(f"(new pod {len(names) + 1})")
    names = names[:state.replicas]
    pods = [PodSpec(name=name, speed=speeds.get(name, typical), capacity=state.capacity, weight=state.weight(name),
                    delay_ms=delays.get(name, 0.0)) for name in names]
    times, latencies = window.service_times(state.capacity, pooled=True), window.latencies()
    service = max(min(times.values()) if times else 1.0, MIN_SERVICE_MS)  # the fastest pod's
    # Little's law on the whole system: users = throughput x (latency + think time)
    mean_latency = (sum(latencies.get(pod.name, service) * pod.requests for pod in window.pods) / window.requests
                    if window.requests else service)
    think = max(window.users * 1000.0 / window.rps - mean_latency, 0.0) if window.rps > 0 else 0.0
    workload = Workload(requests=SIM_REQUESTS, users=max(window.users, 1), think_time_ms=think,
                        service_time_ms=service, keep_alive=state.keep_alive)
    return pods, workload


def predict(window: Window, state: TargetState, view: str) -> Predicted:
    pods, workload = model(window, state)
    prediction = simulate(pods, workload, state.algorithm, seed=SEED, options=dict(state.options))
    if view == "utilisation":
        # the quantity the window's score reads, so prediction and observation are comparable: the
        # pods' in-flight gauges (requests queued or in service) where the cluster has them, else
        # their CPU, which follows the busy time
        in_flight = window.utilisation_source() == "in_flight"
        values = {pod.name: pod.in_flight if in_flight else pod.utilisation for pod in prediction.pods}
        # ... and the score a window will show, not the simulator's noise-free one: the pods' shares
        # move from second to second (CPU sharing, bursts), which only adds to their spread, so a
        # window of identical pods never scores 100 (a window of 4 s measured 3 to 4 points under
        # the noise-free prediction). That noise is the decision window's, and the window judged
        # after a change is as long as this one (the policy's window_s).
        noise = window.utilisation_rel_var()
        score = (score_of_cv(expected_window_cv(values, noise, window.seconds)) if noise and any(values.values())
                 else utilisation_balance(values).score)
    else:
        score = prediction.score
    return Predicted(score=score, p95_ms=prediction.latency_p95_ms,
                     pods={pod.name: {"share": round(pod.share, 4), "utilisation": round(pod.utilisation, 4),
                                      "in_flight": round(pod.in_flight, 3)} for pod in prediction.pods})


def rank(window: Window, state: TargetState, policy: Policy, findings: Sequence[Finding], *,
         exclude: frozenset = frozenset()) -> Ranking:
    """Every candidate the policy's actions propose for `findings`, simulated and ranked. `exclude`:
    keys of changes not to propose again (rolled back before)."""
    if window.users <= 0 or not window.pods:
        return Ranking(None, ())
    baseline = predict(window, state, policy.view)
    guard = baseline.p95_ms * (1.0 + policy.p95_margin_pct / 100.0)
    out = []
    for name in policy.actions:
        action = ACTIONS[name]
        for change in action.candidates(policy=policy, state=state, window=window, findings=findings):
            if change.key() in exclude:
                out.append(Candidate(change, None, False, "rolled back before: made things worse"))
                continue
            try:
                action.check(change, policy=policy, state=state)
                predicted = predict(window, action.predicted_state(change, state), policy.view)
            except ClusterError as error:
                out.append(Candidate(change, None, False, str(error)))
                continue
            if predicted.p95_ms > guard:
                out.append(Candidate(change, predicted, False,
                                     f"p95 guard: predicted p95 {predicted.p95_ms:.1f} ms is more than "
                                     f"{policy.p95_margin_pct:g} % over {baseline.p95_ms:.1f} ms"))
            else:
                out.append(Candidate(change, predicted, True,
                                     "advice" if not action.changes_cluster else ""))
    out.sort(key=lambda c: (not c.allowed, -(c.predicted.score if c.predicted else -1.0),
                            c.predicted.p95_ms if c.predicted else 0.0))
    return Ranking(baseline, tuple(out))
