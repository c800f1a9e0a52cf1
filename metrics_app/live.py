"""The live view of a run, one recorded second at a time: the `sample` and `alert` messages of
the live run protocol (`/ws/runs/<id>/`), from the seconds as `metrics_app.services.samples_since`
gives them.

Pure: no Django, so the run driver (which publishes each second) and the consumer (which
replays the backlog and tails the database) compute the same messages from the same seconds.

- the pods judged: the run's `ExpectedPods` (from its target and the pods the cluster replaced,
  `tests_app.selectors.live_series_for`) over every pod seen so far, from the first second: a pod
  seen earlier and idle now counts as 0, and so does an expected pod that has not answered yet
  (a `balance.placeholder_pod` when no name is known for it). A pod the cluster replaced is no
  longer judged once its replacement appeared before the window's first second
  (`ExpectedPods.window_pods`): the window of the kill shows the dip, later ones judge the
  replacement. The summary judges each window over the same set, so a run's live and final
  figures agree.
- `score`: `balance.analyse` of the per-pod requests summed over the last `window_s` recorded
  seconds (fewer at the start of the run), over the pods judged. None for a second without any
  attributed request (users at 0, a pause between stages): a gap, not 100 %. A second with
  traffic whose window also holds empty seconds is scored on the window's sums, to which the
  empty seconds add nothing, as `balance.windowed_scores` scores a window: at the last second
  of each of the summary's full windows the two are the same number.
- `pods`: the second's pods, and each expected pod that has not answered yet as zeros (the
  per-pod charts show the pod that got nothing).
- balance alerts (`kind` "balance") follow `balance.alerts` on full windows, as the seconds
  arrive: one opens (`end_t` None) at the first full window under the threshold, and is sent
  again, closed, when a full window is back at or above it, with the lowest score seen while it
  was open. A full window without traffic scores 0 there, as in `balance.alerts`, so it alerts
  as "no traffic".
- pod alerts (`kind` "pod_errors" or "pod_latency"): `pod_health.judge_pods` of each pod's
  requests and failures summed over the last `window_s` seconds and its p95 over them (the mean
  of its per-second p95s weighted by its requests), every second from the first (the rules
  need enough requests and failures, so a thin start says nothing). One opens when a pod's
  error rate or p95 stands out from the other pods' and closes at the first second it no longer
  does, with the worst value seen while it was open.

Every alert message has an `id` that its opening and its closing share.

State is O(window): the last `window_s` seconds' per-pod figures, their sums, the pods seen,
and the open alerts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from clusters import balance, pod_health

UNATTRIBUTED = balance.UNATTRIBUTED
# What a `sample` message carries of a second and of each of its pods (the MetricSample and
# PodSample columns that `samples_since` reads).
SECOND_FIELDS = (
    "users", "requests", "failures", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms",
    "active_connections",
)
POD_FIELDS = ("requests", "failures", "p95_ms", "cpu", "memory_bytes", "ready")
# An expected pod that has not answered: nothing served, nothing known of its readings.
NOT_ANSWERED = {"requests": 0, "failures": 0, "p95_ms": None, "cpu": None, "memory_bytes": None, "ready": None}
POD_ALERT_KINDS = {pod_health.ERROR_RATE: "pod_errors", pod_health.P95: "pod_latency"}


def request_stats_message(*, t: float, endpoints: list, errors: list) -> dict:
    """The live protocol's `request_stats` message: the run's per-endpoint table and failures so
    far, as of second `t` (the plugin's lines carry them, tests_app/engine/README.md)."""
    return {"type": "request_stats", "t": float(t), "endpoints": list(endpoints), "errors": list(errors)}


class LiveSeries:
    """Turns each recorded second into the messages a live client gets for it.

    Feed the seconds of one run in order with `feed`; `expected` are the pods the run expects
    and their shares (`balance.ExpectedPods`; None: the pods seen, equal shares).
    """

    def __init__(self, threshold: float, window_s: int, expected: balance.ExpectedPods | None = None):
        if isinstance(window_s, bool) or int(window_s) != window_s or window_s < 1:
            raise ValueError(f"window_s must be whole seconds >= 1, got {window_s!r}")
        self.threshold = float(threshold)
        self.window_s = int(window_s)
        self.expected = expected or balance.ExpectedPods()
        # per second: pod -> (requests, failures, p95 ms or None)
        self._window: deque[dict[str, tuple[int, int, float | None]]] = deque()
        self._sums: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self._p95_weighted: dict[str, float] = {}  # sum of p95 x requests of the seconds with a p95
        self._p95_requests: dict[str, int] = {}  # the requests of those seconds
        self._seen: dict[str, int] = {}  # every pod seen -> the first second (fed, from 0) that had it
        self._judged: list[str] = []
        self._judged_set: frozenset[str] = frozenset()
        self._shares: Mapping[str, float] | None = None
        self._judged_for: tuple | None = None  # what _judged was worked out for (`_judged_pods`)
        self._expected_version = 0  # counts the changes of `expected` (`retire`)
        self._fed = 0
        self._full_windows = 0
        self._alert: dict | None = None
        self._pod_alerts: dict[tuple[str, str], dict] = {}  # (pod, figure) -> the open alert

    @property
    def alert_may_predate_history(self) -> bool:
        """An alert is open that opened on the first full window this series judged (or before
        it): it may have begun before the first second it was fed (a reader replaying from the
        middle of a run should read further back to find its true start)."""
        return ((self._alert is not None and self._alert["window"] == 1)
                or any(alert["fed"] <= self.window_s for alert in self._pod_alerts.values()))

    def feed(self, second: Mapping) -> list[dict]:
        """The messages of one recorded second, in order: its `sample`, then the `alert`s it
        opens or closes, if any. `second` is one item of `samples_since`: the totals and
        `pods` (name -> figures), where an "unattributed" entry is not a pod."""
        t = float(second["t"])
        recorded = second.get("pods") or {}
        unattributed = int((recorded.get(UNATTRIBUTED) or {}).get("requests") or 0)
        pods = {
            name: {key: figures.get(key) for key in POD_FIELDS}
            for name, figures in recorded.items() if name != UNATTRIBUTED
        }
        self._slide({name: (int(figures["requests"] or 0), int(figures["failures"] or 0), figures["p95_ms"])
                     for name, figures in pods.items()})
        judged_pods = self._judged_pods()
        for name in judged_pods:
            if name not in self._seen:
                pods[name] = dict(NOT_ANSWERED)
        sums = self._sums if not self.expected.replaced else {
            name: count for name, count in self._sums.items() if name in self._judged_set}  # a retired pod is not judged
        judged = balance.analyse(sums, self._shares, expected_pods=judged_pods, threshold=self.threshold)
        traffic_now = any(requests for requests, _, _ in self._window[-1].values())
        sample = {
            "type": "sample", "t": t, **{key: second.get(key) for key in SECOND_FIELDS},
            "pods": pods, "unattributed": unattributed, "score": judged.score if traffic_now else None,
        }
        messages = [sample]
        if len(self._window) == self.window_s:
            alert = self._judge_full_window(t, judged)
            if alert is not None:
                messages.append(alert)
        messages.extend(self._judge_pods(t))
        return messages

    def _slide(self, figures: dict[str, tuple[int, int, float | None]]) -> None:
        if len(self._window) == self.window_s:
            for name, (requests, failures, p95) in self._window.popleft().items():
                self._sums[name] -= requests
                self._failures[name] -= failures
                if requests and p95 is not None:
                    self._p95_weighted[name] -= p95 * requests
                    self._p95_requests[name] -= requests
        self._window.append(figures)
        for name, (requests, failures, p95) in figures.items():
            self._sums[name] = self._sums.get(name, 0) + requests
            self._failures[name] = self._failures.get(name, 0) + failures
            if requests and p95 is not None:
                self._p95_weighted[name] = self._p95_weighted.get(name, 0.0) + p95 * requests
                self._p95_requests[name] = self._p95_requests.get(name, 0) + requests
            self._seen.setdefault(name, self._fed)
        self._fed += 1

    def retire(self, replaced: Mapping[str, str]) -> None:
        """Learn that the cluster replaced pods (old name -> new name, as `ExpectedPods.replaced`):
        each is judged until the window after its replacement appeared. Call it before feeding the
        second in which a replacement first appears (the run driver reads the cluster's events
        first; a replay knows them all from the start)."""
        expected = self.expected.with_replacements(replaced)
        if expected is not self.expected:
            self.expected = expected
            self._expected_version += 1

    def _judged_pods(self) -> list[str]:
        start = max(0, self._fed - self.window_s)  # the window's first second
        # pods seen only ever grow; a replacement retires its pod at a window start
        retiring = sum(1 for first in self._seen.values() if first <= start) if self.expected.replaced else 0
        key = (len(self._seen), retiring, self._expected_version)
        if key != self._judged_for:
            self._judged = self.expected.window_pods(self._seen, start, self._fed)
            self._judged_set = frozenset(self._judged)
            self._shares = self.expected.shares(self._judged)
            self._judged_for = key
        return self._judged

    def _judge_full_window(self, t: float, judged: balance.Balance) -> dict | None:
        self._full_windows += 1
        score = judged.score  # 0.0 without traffic, as balance.alerts scores such a window
        under = score < self.threshold
        alert = self._alert
        if alert is None:
            if not under:
                return None
            pod, load = _worst_pod(judged)
            self._alert = alert = {"start_t": t, "score": score, "worst_pod": pod, "load": load,
                                   "window": self._full_windows}
            return self._message(alert, end_t=None, now_score=score)
        if under:
            if score < alert["score"]:
                pod, load = _worst_pod(judged)
                alert.update(score=score, worst_pod=pod, load=load)
            return None
        self._alert = None
        return self._message(alert, end_t=t, now_score=score)

    def _message(self, alert: dict, *, end_t: float | None, now_score: float) -> dict:
        threshold, window = f"{self.threshold:g} %", f"the last {self.window_s} s"
        if end_t is None:
            if alert["worst_pod"] is None:
                text = f"No traffic over {window} at {alert['start_t']:g} s: balance cannot be judged (threshold {threshold})."
            else:
                text = (f"Balance over {window} fell to {alert['score']:.1f} % (threshold {threshold}) at "
                        f"{alert['start_t']:g} s: {alert['worst_pod']} served {alert['load']:.2f}x its fair share.")
        else:
            worst = f", worst {alert['worst_pod']} at {alert['load']:.2f}x its fair share" if alert["worst_pod"] else ""
            text = (f"Balance back at {now_score:.1f} % (threshold {threshold}) at {end_t:g} s after an alert from "
                    f"{alert['start_t']:g} s; lowest {alert['score']:.1f} %{worst}.")
        return {"type": "alert", "kind": "balance", "id": f"balance@{alert['start_t']:g}", "start_t": alert["start_t"],
                "end_t": end_t, "score": alert["score"], "worst_pod": alert["worst_pod"], "message": text}

    # ----------------------------------------------------------------- pod health

    def _judge_pods(self, t: float) -> list[dict]:
        """Close the pod alerts whose pod no longer stands out, then open those of pods that
        newly do (module docstring)."""
        window = {pod: {"requests": self._sums[pod], "failures": self._failures[pod], "p95_ms": self._window_p95(pod)}
                  for pod in self._seen}
        standing_out = {(outlier.pod, outlier.figure): outlier for outlier in pod_health.judge_pods(window).outliers}
        messages = []
        for key in [key for key in self._pod_alerts if key not in standing_out]:
            messages.append(self._pod_message(self._pod_alerts.pop(key), end_t=t))
        for key, outlier in standing_out.items():
            alert = self._pod_alerts.get(key)
            if alert is None:
                self._pod_alerts[key] = alert = {
                    "kind": POD_ALERT_KINDS[outlier.figure], "pod": outlier.pod, "figure": outlier.figure,
                    "start_t": t, "value": outlier.value, "others": outlier.others, "fed": self._fed,
                }
                messages.append(self._pod_message(alert, end_t=None, now=outlier))
            elif outlier.value > alert["value"]:
                alert.update(value=outlier.value, others=outlier.others)
        return messages

    def _window_p95(self, pod: str) -> float | None:
        """The pod's p95 over the window: its per-second p95s weighted by its requests."""
        served = self._p95_requests.get(pod)
        return self._p95_weighted[pod] / served if served else None

    def _pod_message(self, alert: dict, *, end_t: float | None, now: pod_health.Outlier | None = None) -> dict:
        pod, start_t = alert["pod"], alert["start_t"]
        if end_t is None:
            text = f"Over the last {self.window_s} s at {start_t:g} s, {now.message}."
        else:
            figure, worst = (("error rate", f"{alert['value']:.1f} %") if alert["figure"] == pod_health.ERROR_RATE
                             else ("p95", f"{alert['value']:.1f} ms"))
            text = (f"{pod} {figure} back in line with the other pods at {end_t:g} s after an alert from "
                    f"{start_t:g} s; highest {worst}.")
        return {"type": "alert", "kind": alert["kind"], "id": f"{alert['kind']}:{pod}@{start_t:g}",
                "start_t": start_t, "end_t": end_t, "pod": pod, "value": alert["value"], "others": alert["others"],
                "message": text}


def _worst_pod(judged: balance.Balance) -> tuple[str | None, float | None]:
    """The pod furthest from its fair share (normalised load furthest from 1.0) and its load;
    (None, None) without traffic."""
    if not judged.has_traffic:
        return None, None
    index = max(range(len(judged.pods)), key=lambda i: abs(judged.loads[i] - 1.0))
    return judged.pods[index], judged.loads[index]
