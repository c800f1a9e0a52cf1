"""Balance analysis: how evenly requests were spread over pods (ARCHITECTURE.md section 4).

Pure: numpy and scipy only, no Django, so the Locust plugin, the CLI, the run task and the
benchmarks share one implementation.

Definitions, for the request counts ``n_i`` of the ``k`` pods expected to receive traffic
and their expected shares ``w_i`` (normalised to sum 1; equal unless weights are given):

- normalised load ``x_i = n_i / (w_i * sum n)``: 1.0 is exactly the fair share;
- ``cv = std(x) / mean(x)``, population std (ddof=0); for equal shares ``std(n) / mean(n)``;
- ``score = max(0, 1 - cv / 0.5) * 100`` (percent); ``balanced`` when ``score >= threshold``;
- ``jain = (sum x)^2 / (k * sum x^2)`` on the normalised loads, which for equal shares is
  Jain's ``(sum n)^2 / (k * sum n^2)``; ``max_over_mean = max(x) / mean(x)``;
- ``p_value``: chi-square goodness of fit of the counts against ``w_i * sum n``
  (``k - 1`` degrees of freedom): small means the spread is unlikely to be chance;
- ``grade``: A >= 95, B >= 85, C >= 70, D >= 50, else F.

Which pods count: the union, in first-seen order, of the pods named in the counts, in
``expected_pods`` and in ``shares``. A pod that is expected but absent counts as 0 (so a pod
that got nothing lowers the score instead of being invisible). Requests counted under
``"unattributed"`` are not a pod: they are left out of the pod set and reported apart.
When shares are given, a pod they do not name gets the mean of the named weights (weights
are relative, so this does not depend on their scale). Which pods a run expects is
`ExpectedPods` (from its target: every judgement of the run, live or final, uses the same).

Seconds without traffic are gaps, not balance: a window (or a live second, see
metrics_app.live) without any attributed request has no score (None), never 100 %. A window
with some traffic and some empty seconds is scored on its sums, to which the empty seconds
add nothing: the same score as its seconds with traffic alone.

Edge cases give defined values, never exceptions (only invalid input raises ValueError:
a share that is zero, negative or not finite; a count that is negative or not finite;
a window or step under one second):

- no traffic at all (no pods, or every count 0): there is nothing to judge, and an empty run
  must not pass. ``score`` 0.0, ``grade`` "F", ``balanced`` False (whatever the threshold,
  even 0: the one exception to ``score >= threshold``). The spread figures describe
  what was measured, and nothing was: ``cv`` 0.0, ``jain`` 0.0 and ``max_over_mean`` 0.0 (both
  outside their ranges for real traffic, [1/k, 1] and >= 1, so a reader sees "no data"), and
  ``p_value`` 1.0 (no evidence against the expected shares). ``has_traffic`` is False.
- one pod: it gets every request, which is its fair share: score 100, cv 0, jain 1,
  max_over_mean 1, p_value 1.0 (chi-square with zero degrees of freedom tests nothing).
- a pod with zero requests is counted like any other pod and lowers the score.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import chain, repeat

import numpy as np

from clusters.algorithms import ALGORITHMS

UNATTRIBUTED = "unattributed"
# --------------------------------------------------------------------------- pod names a target gives
# A pod's name comes from the target (a header, a JSON field, a Prometheus label): hostile input.
# It is cleaned before it is counted (`clean_pod_name`), and a run keeps at most MAX_DISTINCT_PODS
# distinct names: the requests of any other name are counted together under OTHER_PODS, so a target
# answering with a new name per request cannot bloat a run (the Locust plugin, tests_app/engine).
POD_NAME_MAX = 253  # a Kubernetes name's longest, and the length PodSample.pod keeps
MAX_DISTINCT_PODS = 200
OTHER_PODS = "(other pods)"
TOTALS_ROW = "(total)"  # a second's totals row in the exports (metrics_app.exports)
# Names LB Lab gives rows itself; a pod named so by a target is shown as "<name> (pod)".
RESERVED_POD_NAMES = frozenset({UNATTRIBUTED, OTHER_PODS, TOTALS_ROW})
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
DEFAULT_THRESHOLD = 95.0
DEFAULT_WINDOW_S = 10
CV_AT_ZERO_SCORE = 0.5  # score = max(0, 1 - cv / 0.5): a CV of 0.5 or more scores 0
GRADES = ((95.0, "A"), (85.0, "B"), (70.0, "C"), (50.0, "D"))

# connection-skew diagnosis (see `diagnose`)
FEW_CONNECTIONS_PER_POD = 4  # without connection counts: users <= 4 x pods is "few connections"
TRACKING_DISTANCE = 0.10  # requests follow connections when their distributions differ by <= 10 %
MULTIPLE_TOLERANCE = 0.25  # counts within 0.25 of a whole number of per-connection throughputs


def grade(score: float) -> str:
    """Letter grade of a balance score in percent: A >= 95, B >= 85, C >= 70, D >= 50, else F."""
    for floor, letter in GRADES:
        if score >= floor:
            return letter
    return "F"


def score_of_cv(cv: float) -> float:
    """``max(0, 1 - cv / 0.5) * 100``."""
    return max(0.0, 1.0 - cv / CV_AT_ZERO_SCORE) * 100.0


@dataclass(frozen=True)
class Balance:
    """One balance judgement. ``pods``, ``counts``, ``shares`` (normalised) and ``loads``
    (the normalised loads x) are aligned tuples. ``p_value`` is None for utilisation balance
    (chi-square needs counts). ``window_s``/``windows`` are set by `with_windows`."""

    score: float
    cv: float
    jain: float
    max_over_mean: float
    p_value: float | None
    grade: str
    threshold: float
    balanced: bool
    total: float  # requests (an int) for request balance, the summed values for utilisation
    pods: tuple[str, ...]
    counts: tuple[float, ...] = ()
    shares: tuple[float, ...] = ()
    loads: tuple[float, ...] = ()
    unattributed: int = 0
    window_s: int | None = None
    windows: tuple[float | None, ...] = field(default=())

    @property
    def has_traffic(self) -> bool:
        return self.total > 0

    def with_windows(self, windows: Sequence[float | None], window_s: int) -> Balance:
        """The same judgement carrying the sliding-window scores of the run (None: a window
        without traffic, a gap)."""
        return Balance(**{**asdict(self), "windows": tuple(None if w is None else float(w) for w in windows),
                          "window_s": window_s})

    def to_dict(self) -> dict:
        """Exactly the summary's "balance" object (ARCHITECTURE.md section 6)."""
        return {
            "score": self.score, "cv": self.cv, "jain": self.jain, "max_over_mean": self.max_over_mean,
            "p_value": self.p_value, "grade": self.grade, "threshold": self.threshold, "balanced": self.balanced,
            "window_s": self.window_s, "windows": list(self.windows),
        }


@dataclass(frozen=True)
class Alert:
    """A span during which the windowed score stayed under the threshold.

    Seconds are positions in the per-second sequence (row i is second i); the span is
    ``[start_s, end_s)``. ``worst_pod`` is the pod furthest from its fair share over the span
    (over all the seconds the alert's windows cover if the span itself had no traffic),
    ``direction`` "over" or "under" it, ``worst_load`` its normalised load (1.0 = fair share);
    all three are None when there was no traffic at all.
    ``ongoing`` is True when the score had not recovered by the last second."""

    start_s: int
    end_s: int
    worst_score: float
    worst_pod: str | None
    direction: str | None
    worst_load: float | None
    message: str
    ongoing: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Diagnosis:
    """Why a run is unbalanced, in words a user can act on. ``cause`` is a stable code."""

    cause: str
    explanation: str
    advice: str

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- the pods a run expects


@lru_cache(maxsize=4096)  # per response: the same few names again and again
def clean_pod_name(raw: str | None) -> str | None:
    """The name a pod is counted under: control and invisible formatting characters removed,
    blanks trimmed, cut to POD_NAME_MAX, a reserved name marked as a pod's; None for nothing left."""
    if raw is None:
        return None
    name = _INVISIBLE.sub("", str(raw)).strip()[:POD_NAME_MAX].rstrip()
    if not name:
        return None
    if name.lower() in RESERVED_POD_NAMES:
        name = f"{name} (pod)"
    return name


def placeholder_pod(index: int) -> str:
    """The name under which the ``index``-th expected pod is judged while no pod has answered
    for it: ``expected-3 (no response)``. No cluster names a pod so (a space, parentheses), so
    it cannot be read as a real pod such as ``pod-3-x7k2p``."""
    return f"expected-{index} (no response)"


@dataclass(frozen=True)
class ExpectedPods:
    """The pods a run's balance is judged over, and their expected shares, known from its target
    alone (`clusters.targets.TargetKind.expected_pod_set`) and the pods the cluster replaced
    during the run: the run driver, the live stream's replay, the report and the comparison all
    judge with the same, so their numbers agree.

    ``named`` are the pods expected by name before any request (a URL target's declared pods);
    ``count`` how many pods should get traffic (the declared count, the pods the sandbox
    starts); ``shares_for(pods)`` the expected share of each pod (None: equal shares);
    ``replaced`` maps a pod the cluster replaced under a new name to that name (its
    `pod_started` event's ``replaces``, as the sandbox and a ReplicaSet log it).

    A replaced pod is retired from the expected pods from the moment its replacement appears
    (the first second with a row for it, or for a later replacement of it): a window of seconds
    that starts before that moment still judges it (the kill's dip is real), a window that
    starts at or after it judges the replacement with the other live pods instead (`window_pods`).
    Over the whole run a pod and the pods that replaced it are one expected pod, their requests
    judged together under the latest name (`run_pods`, `merged`).
    """

    named: tuple[str, ...] = ()
    count: int = 0
    shares_for: Callable[[Sequence[str]], Mapping[str, float] | None] | None = None
    replaced: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def with_shares(cls, shares: Mapping[str, float]) -> ExpectedPods:
        """The pods ``shares`` name, with those fixed shares."""
        return cls(named=tuple(pod for pod in shares if pod != UNATTRIBUTED), shares_for=lambda pods: dict(shares))

    def with_replacements(self, replaced: Mapping[str, str] | None) -> ExpectedPods:
        """The same expectation, with the pods ``replaced`` names (old -> new) replaced too."""
        added = {str(old): str(new) for old, new in (replaced or {}).items() if old and new and old != new}
        if all(self.replaced.get(old) == new for old, new in added.items()):
            return self
        return dataclasses.replace(self, replaced={**self.replaced, **added})

    def _successors(self, pod: str) -> Iterator[str]:
        """The pods that replaced ``pod``, in order (its replacement, the replacement's...)."""
        visited = {pod}
        while (pod := self.replaced.get(pod)) is not None and pod not in visited:
            visited.add(pod)
            yield pod

    def retired(self, seen: Iterable[str]) -> set[str]:
        """The replaced pods whose replacement (or a later replacement of it) is among ``seen``."""
        seen = set(seen)
        return {old for old in self.replaced if any(pod in seen for pod in self._successors(old))}

    def judged(self, seen: Iterable[str], retired: Iterable[str] = ()) -> list[str]:
        """The pods to judge once ``seen`` have appeared: the named and the seen pods in name
        order ("unattributed" is not a pod) but the ``retired`` ones, then a `placeholder_pod` for
        each pod still missing from ``count``. Placeholders count as 0; a pod that answers later
        takes the place of one (the number of pods judged stays ``count`` until more than
        ``count`` have appeared)."""
        pods = sorted({*self.named, *seen} - {UNATTRIBUTED} - set(retired))
        return pods + [placeholder_pod(index) for index in range(len(pods) + 1, self.count + 1)]

    def window_pods(self, first_seen: Mapping[str, int], start: int, end: int) -> list[str]:
        """The pods judged over the seconds ``[start, end)`` of a run, ``first_seen[pod]`` being
        the first second (row) with a row for the pod: those seen before ``end``, but a replaced
        pod whose replacement had appeared by ``start`` (the window holding the moment its
        replacement appeared still judges it)."""
        seen = [pod for pod, first in first_seen.items() if first < end]
        if not self.replaced:
            return self.judged(seen)
        return self.judged(seen, retired=self.retired(pod for pod, first in first_seen.items() if first <= start))

    def run_pods(self, seen: Iterable[str]) -> list[str]:
        """The pods the whole run is judged over once ``seen`` have appeared: every replaced pod
        is counted with its replacement (`merged`), so only the latest name is judged."""
        seen = list(seen)
        return self.judged(seen, retired=self.retired(seen))

    def merged(self, counts: Mapping[str, float]) -> dict[str, float]:
        """``counts`` with the requests of each retired pod (its replacement among the names of
        ``counts``) added to those of its latest replacement there: the whole run's counts per
        expected pod."""
        retired = self.retired(counts)
        merged = {pod: count for pod, count in counts.items() if pod not in retired}
        for old in retired:
            latest = [pod for pod in self._successors(old) if pod in counts and pod not in retired]
            if latest:  # always, but for a cycle of names no cluster gives
                merged[latest[-1]] = (merged.get(latest[-1]) or 0) + (counts[old] or 0)
        return merged

    def shares(self, pods: Sequence[str]) -> Mapping[str, float] | None:
        return self.shares_for(pods) if self.shares_for is not None else None


# --------------------------------------------------------------------------- inputs


def _pod_set(names_in_order: Sequence[Sequence[str]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for names in names_in_order:
        for name in names:
            if name != UNATTRIBUTED:
                seen.setdefault(name, None)
    return tuple(seen)


def share_weights(pods: Sequence[str], shares: Mapping[str, float] | None) -> np.ndarray:
    """Raw (unnormalised) weights aligned with pods; all 1.0 for equal shares."""
    if shares is None:
        return np.ones(len(pods))
    named = {}
    for pod, weight in shares.items():
        if pod == UNATTRIBUTED:
            continue
        value = float(weight)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"share of pod {pod!r} must be a finite number > 0, got {weight!r}; "
                             "leave a pod that should get no traffic out of the expected pods instead")
        named[pod] = value
    default = sum(named.values()) / len(named) if named else 1.0
    return np.array([named.get(pod, default) for pod in pods], dtype=float)


def _check_counts(n: np.ndarray, what: str = "request counts") -> None:
    if n.size and (not np.all(np.isfinite(n)) or n.min() < 0):
        raise ValueError(f"{what} must be finite and >= 0")


def _matrix(per_second: Sequence[Mapping[str, int]], shares: Mapping[str, float] | None,
            expected_pods: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """(pods, counts) with counts[t, i] the requests of pod i in second t."""
    in_rows = set().union(*per_second) if per_second else set()
    pods = _pod_set([sorted(in_rows), expected_pods, list(shares or ())])
    if not per_second or not pods:
        return pods, np.zeros((len(per_second), len(pods)))
    shape = (len(per_second), len(pods))
    # one flat pass in C; a None in the rows (numpy reads it as NaN) takes the slow path, where it is 0
    flat = chain.from_iterable(map(row.get, pods, repeat(0)) for row in per_second)
    counts = np.fromiter(flat, dtype=float, count=shape[0] * shape[1]).reshape(shape)
    if np.isnan(counts).any():
        counts = np.array([[row.get(pod) or 0 for pod in pods] for row in per_second], dtype=float)
    _check_counts(counts)
    return pods, counts


# --------------------------------------------------------------------------- the figures


def _judge(pods: tuple[str, ...], n: np.ndarray, w: np.ndarray, *, threshold: float, counts_test: bool,
           unattributed: int = 0) -> Balance:
    total = float(n.sum())
    shares = tuple((w / w.sum()).tolist()) if w.size else ()
    if counts_test and np.all(n == np.rint(n)):  # request counts stay whole numbers
        total, n_out = int(total), tuple(int(v) for v in n.tolist())
    else:
        n_out = tuple(n.tolist())
    if not pods or total <= 0:
        return Balance(score=0.0, cv=0.0, jain=0.0, max_over_mean=0.0, p_value=1.0 if counts_test else None,
                       grade="F", threshold=threshold, balanced=False, total=total, pods=pods,
                       counts=n_out, shares=shares, loads=tuple(0.0 for _ in pods),
                       unattributed=unattributed)
    # x_i = (n_i / sum n) / (w_i / sum w): exact 1.0 for a perfect spread over equal raw weights
    x = n * w.sum() / (w * total)
    mean = float(x.mean())
    cv = float(x.std() / mean)
    jain = float(x.sum() ** 2 / (x.size * float(np.dot(x, x))))
    score = score_of_cv(cv)
    p_value = _chi_square_p(n, w / w.sum() * total) if counts_test else None
    return Balance(score=score, cv=cv, jain=jain, max_over_mean=float(x.max() / mean), p_value=p_value,
                   grade=grade(score), threshold=threshold, balanced=score >= threshold, total=total, pods=pods,
                   counts=n_out, shares=shares, loads=tuple(x.tolist()), unattributed=unattributed)


def _chi_square_p(observed: np.ndarray, expected: np.ndarray) -> float:
    if observed.size < 2:
        return 1.0
    from scipy.special import chdtrc  # survival function of chi2; lighter to import than scipy.stats

    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return float(chdtrc(observed.size - 1, statistic))


def analyse(counts: Mapping[str, int], shares: Mapping[str, float] | None = None, *,
            expected_pods: Sequence[str] = (), threshold: float = DEFAULT_THRESHOLD) -> Balance:
    """Request balance of per-pod counts (see the module docstring for every definition and
    edge case). ``counts`` may hold ``"unattributed"``: kept apart, not a pod."""
    pods = _pod_set([list(counts), expected_pods, list(shares or ())])
    n = np.array([counts.get(pod) or 0 for pod in pods], dtype=float)
    _check_counts(n)
    w = share_weights(pods, shares)
    return _judge(pods, n, w, threshold=float(threshold), counts_test=True,
                  unattributed=int(counts.get(UNATTRIBUTED) or 0))


def utilisation_balance(values: Mapping[str, float], threshold: float = DEFAULT_THRESHOLD) -> Balance:
    """Utilisation balance: the same CV-based score, cv, jain and max/mean on a per-pod load
    such as CPU cores or requests in flight, always against equal shares. Kept apart from
    request balance: a pod can serve its fair share of requests and still burn twice the CPU.

    A pod whose value is None or NaN is unknown (no reading), not idle: it is left out.
    ``p_value`` is None (chi-square needs counts). All values 0 is judged like no traffic:
    score 0, grade F, not balanced."""
    known = {pod: float(v) for pod, v in values.items() if pod != UNATTRIBUTED and v is not None and not math.isnan(v)}
    pods = tuple(known)
    n = np.array([known[pod] for pod in pods], dtype=float)
    _check_counts(n, "utilisation values")
    return _judge(pods, n, np.ones(len(pods)), threshold=float(threshold), counts_test=False)


def expected_window_cv(values: Mapping[str, float], share_rel_var: Mapping[str, float], seconds: int) -> float:
    """The CV a window of `seconds` is expected to show of pods whose values (in flight, CPU) are
    `values` in the long run, when each pod's share of the total moves from second to second with
    the relative variance `share_rel_var[pod]` (a pod it does not name: the mean of those it names).

    Why: the window's CV is that of the pods' shares p_i = m_i / sum(m) of its means m_i. Each
    observed share is its long-run share P_i (mean 1/k) plus an error e_i; the errors' mean is 0
    (the shares sum to 1), so E[var(p)] = var(P) + mean(Var(e_i)), and, the seconds independent,
    Var(e_i) = Var(second's share_i) / seconds = share_rel_var_i * P_i^2 / seconds. Divided by
    (1/k)^2:

        E[cv_observed^2] = cv^2 + mean_i(share_rel_var_i * v_i^2) / (seconds * mean(v)^2)

    Noise only ever adds to the spread, so identical pods observed over a few seconds never score
    100, and a noise-free prediction is above what is observed by about this much."""
    known = {pod: float(v) for pod, v in values.items() if v is not None and not math.isnan(v)}
    v = np.array(list(known.values()), dtype=float)
    if v.size == 0 or v.mean() <= 0 or seconds < 1:
        return 0.0
    cv2 = float(v.var() / v.mean() ** 2)
    typical = float(np.mean(list(share_rel_var.values()))) if share_rel_var else 0.0
    r = np.array([share_rel_var.get(pod, typical) for pod in known], dtype=float)
    return math.sqrt(cv2 + float(np.mean(r * v ** 2)) / (seconds * float(v.mean()) ** 2))


# --------------------------------------------------------------------------- windows


def _window_bounds(seconds: int, window_s: int, step_s: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Start and end (exclusive) of each window, and whether the last one is partial."""
    if any(isinstance(v, bool) or v != int(v) or v < 1 for v in (window_s, step_s)):
        raise ValueError(f"window_s and step_s must be whole seconds >= 1, got {window_s!r} and {step_s!r}")
    window_s, step_s = int(window_s), int(step_s)
    starts = np.arange(0, seconds - window_s + 1, step_s, dtype=np.int64)
    ends = starts + window_s
    last_end = int(ends[-1]) if ends.size else 0
    partial = False
    if last_end < seconds:
        next_start = int(starts[-1]) + step_s if starts.size else 0
        if next_start < seconds:
            starts = np.append(starts, next_start)
            ends = np.append(ends, seconds)
            partial = True
    return starts, ends, partial


def _cumulative(counts: np.ndarray) -> np.ndarray:
    """Row t holds the per-pod sums of seconds [0, t): a window's sums are two lookups."""
    cumulative = np.zeros((counts.shape[0] + 1, counts.shape[1]))
    np.cumsum(counts, axis=0, out=cumulative[1:])
    return cumulative


def scores_of_sums(sums: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Score of each row of per-pod sums; 0.0 for a row without traffic (as `analyse`)."""
    if sums.shape[1] == 0:
        return np.zeros(sums.shape[0])
    totals = sums.sum(axis=1)
    traffic = totals > 0
    x = sums * w.sum() / (w[None, :] * np.where(traffic, totals, 1.0)[:, None])
    mean = x.mean(axis=1)
    cv = np.where(traffic, x.std(axis=1) / np.where(traffic, mean, 1.0), 0.0)
    return np.where(traffic, np.maximum(0.0, 1.0 - cv / CV_AT_ZERO_SCORE) * 100.0, 0.0)


def first_seen(per_second: Sequence[Mapping[str, int]]) -> dict[str, int]:
    """pod -> the first second (row) that has it ("unattributed" is not a pod)."""
    found: dict[str, int] = {}
    for row, names in enumerate(per_second):
        for name in names:
            if name not in found and name != UNATTRIBUTED:
                found[name] = row
    return found


@dataclass(frozen=True)
class _Judged:
    """The running per-pod sums of a run's seconds (a last column of zeros stands for every judged
    pod no row names) and, per window, the pods it judges, their columns and raw weights."""

    cumulative: np.ndarray
    windows: list[tuple[tuple[str, ...], list[int], np.ndarray]]  # per window: judged, columns, weights


def _judged_windows(per_second: Sequence[Mapping[str, int]], expected: ExpectedPods, starts: np.ndarray,
                    ends: np.ndarray) -> _Judged:
    """Each window ``[starts[k], ends[k])`` with the pods `ExpectedPods.window_pods` judges over it,
    as the live series judges the second that ends it."""
    pods, counts = _matrix(per_second, None, expected.named)
    zeros = len(pods)  # one column of zeros for every judged pod no row names (a placeholder)
    cumulative = _cumulative(np.hstack([counts, np.zeros((counts.shape[0], 1))]))
    column_of = {pod: index for index, pod in enumerate(pods)}
    seen = first_seen(per_second)
    firsts = sorted(seen.values())
    by_key: dict[tuple[int, int], tuple[tuple[str, ...], list[int], np.ndarray]] = {}
    windows = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        # the pods judged only change when one is first seen (before the end, or by the start)
        key = (bisect.bisect_left(firsts, end), bisect.bisect_right(firsts, start) if expected.replaced else 0)
        if key not in by_key:
            judged = tuple(expected.window_pods(seen, start, end))
            by_key[key] = (judged, [column_of.get(pod, zeros) for pod in judged],
                           share_weights(judged, expected.shares(judged)))
        windows.append(by_key[key])
    return _Judged(cumulative=cumulative, windows=windows)


def _scores_judged(judged: _Judged, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores, traffic) of each window over its own pods; traffic: any request in the window."""
    sums = judged.cumulative[ends] - judged.cumulative[starts]
    scores = np.zeros(len(judged.windows))
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, (pods, _, _) in enumerate(judged.windows):
        groups.setdefault(pods, []).append(index)
    for indexes in groups.values():
        _, columns, weights = judged.windows[indexes[0]]
        scores[indexes] = scores_of_sums(sums[indexes][:, columns], weights)
    return scores, sums.sum(axis=1) > 0


def windowed_scores(per_second: Sequence[Mapping[str, int]], window_s: int = DEFAULT_WINDOW_S,
                    shares: Mapping[str, float] | None = None, expected_pods: Sequence[str] = (),
                    step_s: int | None = None, *, expected: ExpectedPods | None = None) -> list[float | None]:
    """The balance score of each window of ``window_s`` consecutive seconds.

    ``per_second[t]`` maps pod -> requests in second t ("unattributed" ignored). Windows start
    at 0, ``step_s``, 2 x ``step_s``... (default ``step_s = window_s``: non-overlapping) and
    every window that fits in the run is scored, the same way `analyse` scores the window's
    sums; empty seconds add nothing to them, and a full window without any traffic is a gap
    (None: users at 0, a pause between stages), not a score. When seconds at the end are in
    no full window, one final partial window from the next start to the end is scored only if
    it has traffic: the tail of a run (e.g. 4 s after the last 10 s window) is still judged,
    while an empty tail after the load stopped is not. A run shorter than one window gives
    one window over the whole run if it had traffic, else none.

    Over which pods: with ``expected`` (a run's `ExpectedPods`), each window is judged over the
    pods `ExpectedPods.window_pods` gives for it, with their shares: the pods seen by its end,
    a replaced pod not once its replacement had appeared by its start, as the live series
    judges its last second (``shares`` and ``expected_pods`` are then not read). Without it,
    every window is judged over every pod of the rows, ``expected_pods`` and ``shares``.
    """
    step_s = window_s if step_s is None else step_s
    if expected is not None:
        starts, ends, partial = _window_bounds(len(per_second), window_s, step_s)
        if not starts.size:
            return []
        scores, traffic = _scores_judged(_judged_windows(per_second, expected, starts, ends), starts, ends)
    else:
        pods, counts = _matrix(per_second, shares, expected_pods)
        starts, ends, partial = _window_bounds(counts.shape[0], window_s, step_s)
        if not starts.size:
            return []
        cumulative = _cumulative(counts)
        sums = cumulative[ends] - cumulative[starts]
        scores = scores_of_sums(sums, share_weights(pods, shares))
        traffic = sums.sum(axis=1) > 0
    if partial and not traffic[-1]:
        scores, traffic = scores[:-1], traffic[:-1]
    return [score if has_traffic else None for score, has_traffic in zip(scores.tolist(), traffic.tolist(), strict=True)]


# --------------------------------------------------------------------------- alerts


def alerts(per_second: Sequence[Mapping[str, int]], window_s: int = DEFAULT_WINDOW_S,
           threshold: float = DEFAULT_THRESHOLD, shares: Mapping[str, float] | None = None,
           expected_pods: Sequence[str] = (), *, expected: ExpectedPods | None = None) -> list[Alert]:
    """Spans where the balance score over a ``window_s`` window, sliding by one second, was
    under ``threshold``.

    An alert opens with the first window under the threshold and closes with the first window
    back at or above it. Its span is estimated from the seconds that tipped the score: the
    window ``[i, i + w)`` went under because second ``i + w - 1`` came in, so the alert starts
    there (at 0 when the run's first window is already under); the window ``[j, j + w)`` came
    back because second ``j - 1`` left it, so the alert ends at ``j``. For a sharp imbalance
    over ``[a, b)`` this gives exactly ``[a, b)``; a mild one is seen later and ends sooner.
    The span is at least one second; an alert still open at the end ends at the run's last
    second (``ongoing``). A window without traffic scores 0 here, as in `analyse`, so a stretch
    of ``window_s`` seconds without any traffic is reported too ("no traffic": the balance could
    not be judged there; `windowed_scores` shows such a window as a gap).

    ``expected``: each window judged over its own pods, as `windowed_scores` says; the worst pod
    of an alert is then sought among the pods of its worst window.
    """
    seconds = len(per_second)
    starts, ends, partial = _window_bounds(seconds, window_s, 1)
    if not starts.size:
        return []
    if expected is not None:
        judged = _judged_windows(per_second, expected, starts, ends)
        cumulative = judged.cumulative
        scores, traffic = _scores_judged(judged, starts, ends)
    else:
        pods, counts = _matrix(per_second, shares, expected_pods)
        cumulative = _cumulative(counts)
        sums = cumulative[ends] - cumulative[starts]
        w = share_weights(pods, shares)
        scores, traffic = scores_of_sums(sums, w), sums.sum(axis=1) > 0
    if partial and not traffic[-1]:
        starts, ends, scores = starts[:-1], ends[:-1], scores[:-1]
    under = scores < threshold
    if not under.any():
        return []
    # runs of consecutive windows under the threshold
    edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
    first_windows = np.flatnonzero(edges == 1)
    after_windows = np.flatnonzero(edges == -1)  # index of the first window back at/above (or len)
    found = []
    for first, after in zip(first_windows.tolist(), after_windows.tolist(), strict=True):
        start_s = 0 if first == 0 else int(ends[first]) - 1
        ongoing = after >= scores.size
        end_s = seconds if ongoing else int(starts[after])
        end_s = max(end_s, start_s + 1)
        worst_score = float(scores[first:after].min())
        # the worst pod over the span; over all seconds of its windows if the span had no traffic
        covered = cumulative[end_s] - cumulative[start_s]
        if not covered.sum() > 0:
            covered = cumulative[int(ends[after - 1])] - cumulative[int(starts[first])]
        if expected is not None:  # the pods of the worst window
            window_pods, columns, w = judged.windows[first + int(np.argmin(scores[first:after]))]
            pods, covered = window_pods, covered[columns]
        found.append(_alert(pods, covered, w, start_s=start_s, end_s=end_s, worst_score=worst_score,
                            threshold=float(threshold), ongoing=ongoing))
    return found


def _alert(pods: tuple[str, ...], covered: np.ndarray, w: np.ndarray, *, start_s: int, end_s: int,
           worst_score: float, threshold: float, ongoing: bool) -> Alert:
    span = f"from {start_s} s to {end_s} s" + (" (still under at the end of the run)" if ongoing else "")
    total = covered.sum()
    if total <= 0:
        return Alert(start_s=start_s, end_s=end_s, worst_score=worst_score, worst_pod=None, direction=None,
                     worst_load=None, ongoing=ongoing,
                     message=f"No traffic {span}: balance cannot be judged (score 0 %, threshold {threshold:g} %).")
    x = covered * w.sum() / (w * total)
    worst = int(np.argmax(np.abs(x - 1.0)))
    load = float(x[worst])
    direction = "over" if load > 1.0 else "under"
    return Alert(start_s=start_s, end_s=end_s, worst_score=worst_score, worst_pod=pods[worst], direction=direction,
                 worst_load=load, ongoing=ongoing,
                 message=(f"Balance fell to {worst_score:.1f} % (threshold {threshold:g} %) {span}: "
                          f"{pods[worst]} served {load:.2f}x its fair share ({direction})."))


# --------------------------------------------------------------------------- diagnosis


def diagnose(counts: Mapping[str, int], *, connections_per_pod: Mapping[str, int] | None, keep_alive: bool,
             algorithm: str | None, users: int, pods: int, threshold: float = DEFAULT_THRESHOLD,
             never_answered: Sequence[str] = ()) -> Diagnosis | None:
    """Explain an imbalance that comes from pods that never answered or from connections rather
    than requests, else None.

    ``never_answered``: expected pods that got no request in the whole run and that no cluster
    reported running (a `placeholder_pod`, or a URL target's declared pod). When there are any
    (and some traffic), the diagnosis is theirs ("pods_never_answered"): the pod is not ready,
    not selected by the Service, or there are fewer pods than expected. Connection pinning
    cannot explain a pod that is not there.

    A connection-level balancer (kube-proxy, the sandbox's ``l4_connection``) picks a pod
    once per connection; with keep-alive every later request on that connection goes to the
    same pod, so a few connections pin the traffic. The heuristic, in order:

    1. silent when the requests are balanced (score >= threshold), when there is no traffic,
       when keep-alive is off (every request opens a connection, so connections spread like
       requests), or when ``algorithm`` names an L7 balancer that picks per request;
    2. with ``connections_per_pod`` (connections each pod holds, from the cluster or the
       balancer): fires when the connections themselves are unevenly spread and requests
       follow them, i.e. the counts are within 10 % (total variation distance) of
       ``sum n * c_i / sum c`` and clearly closer to it than to the expected equal spread.
       A slow pod with its fair share of connections does not fire: requests no longer
       follow connections there;
    3. without it, connections are taken to be one per user (Locust users keep one
       connection each): fires when users are few (at most 4 per pod) and either some pod
       got nothing, or every pod's count is a whole multiple of the per-connection
       throughput ``sum n / users`` (within 0.25) and those multiples add up to the users.

    ``pods`` is the number of pods behind the balancer: pods missing from ``counts`` (and from
    ``connections_per_pod``) count as pods that served nothing.
    """
    known = _pod_set([list(counts), list(connections_per_pod or ())])
    expected = [*known, *(f"(pod {index})" for index in range(len(known) + 1, int(pods) + 1))]
    balance = analyse(counts, expected_pods=[*expected, *never_answered], threshold=threshold)
    if balance.has_traffic and never_answered:
        return _never_answered(never_answered, balance)
    if not balance.has_traffic or balance.balanced or not keep_alive:
        return None
    if algorithm in ALGORITHMS and ALGORITHMS[algorithm].layer == "L7":
        return None
    n = np.array(balance.counts)
    k = n.size
    if connections_per_pod is not None:
        c = np.array([connections_per_pod.get(pod) or 0 for pod in balance.pods], dtype=float)
        _check_counts(c, "connections")
        if c.sum() <= 0:
            return None
        share = n / n.sum()
        follow = 0.5 * float(np.abs(share - c / c.sum()).sum())
        equal = 0.5 * float(np.abs(share - 1.0 / k).sum())
        if follow > TRACKING_DISTANCE or follow > 0.5 * equal:
            return None
        connections = int(c.sum())
    else:
        if users <= 0 or users > FEW_CONNECTIONS_PER_POD * k:
            return None
        per_connection = n.sum() / users
        multiples = n / per_connection
        whole = np.rint(multiples)
        pinned = bool(np.all(np.abs(multiples - whole) <= MULTIPLE_TOLERANCE)) and int(whole.sum()) == users
        idle = bool(np.any(n == 0))
        if not (pinned or idle):
            return None
        connections = int(users)
    idle_pods = int(np.sum(n == 0))
    balancer = ("the l4_connection balancer, like kube-proxy," if algorithm == "l4_connection"
                else "a connection-level balancer (such as kube-proxy)")
    explanation = (f"Requests are unbalanced (score {balance.score:.1f} %) because {balancer} balances connections, "
                   f"not requests: {connections} keep-alive connection{'s' if connections != 1 else ''} over {k} pods "
                   f"pin clients to the pod chosen when each connection opened"
                   + (f"; {idle_pods} pod{'s' if idle_pods != 1 else ''} got no connection and served nothing."
                      if idle_pods else "."))
    advice = ("Use more connections (more users, or several connections per user), disable keep-alive, "
              "or put an L7 balancer in front that picks a pod per request (least_conn, p2c).")
    return Diagnosis(cause="connection_skew", explanation=explanation, advice=advice)


def _never_answered(missing: Sequence[str], balance: Balance) -> Diagnosis:
    count, k = len(missing), len(balance.pods)
    them = "it" if count == 1 else "them"
    explanation = (f"{count} of the {k} expected pods never answered: {', '.join(missing)}. No request reached "
                   f"{them} in the whole run, so the balance is judged with {them} at zero "
                   f"(score {balance.score:.1f} %).")
    advice = ("Check that every expected pod is running and ready (its readiness probe), that the Service selects "
              "it (its endpoints list it) and that there are as many replicas as expected; if fewer pods are "
              "intended, expect fewer (--expect-pods).")
    return Diagnosis(cause="pods_never_answered", explanation=explanation, advice=advice)
