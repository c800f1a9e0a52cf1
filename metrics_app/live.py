"""The live view of a run, one recorded second at a time: the `sample` and `alert` messages of
the live run protocol (`/ws/runs/<id>/`), from the seconds as `metrics_app.services.samples_since`
gives them.

Pure: no Django, so the run driver (which publishes each second) and the consumer (which
replays the backlog and tails the database) compute the same messages from the same seconds.

- `score`: `balance.analyse` of the per-pod requests summed over the last `window_s` recorded
  seconds (fewer at the start of the run), over every pod seen so far: a pod seen earlier and
  idle now counts as 0. None when that window had no traffic at all.
- alerts follow `balance.alerts` on full windows, as the seconds arrive: one opens (`end_t`
  None) at the first full window under the threshold, and is sent again, closed, when a full
  window is back at or above it, with the lowest score seen while it was open. A full window
  without traffic scores 0 there, as in `balance.alerts`, so it alerts as "no traffic".

State is O(window): the last `window_s` seconds' pod counts, their sums, the pods seen, and
the open alert.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from clusters import balance

UNATTRIBUTED = balance.UNATTRIBUTED
# What a `sample` message carries of a second and of each of its pods (the MetricSample and
# PodSample columns that `samples_since` reads).
SECOND_FIELDS = (
    "users", "requests", "failures", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms",
    "active_connections",
)
POD_FIELDS = ("requests", "failures", "p95_ms", "cpu", "memory_bytes", "ready")


def request_stats_message(*, t: float, endpoints: list, errors: list) -> dict:
    """The live protocol's `request_stats` message: the run's per-endpoint table and failures so
    far, as of second `t` (the plugin's lines carry them, tests_app/engine/README.md)."""
    return {"type": "request_stats", "t": float(t), "endpoints": list(endpoints), "errors": list(errors)}


class LiveSeries:
    """Turns each recorded second into the messages a live client gets for it.

    Feed the seconds of one run in order with `feed`; `shares` are the expected shares per pod
    when the target has weights (None: equal shares), as `balance.analyse` takes them.
    """

    def __init__(self, threshold: float, window_s: int, shares: Mapping[str, float] | None = None):
        if isinstance(window_s, bool) or int(window_s) != window_s or window_s < 1:
            raise ValueError(f"window_s must be whole seconds >= 1, got {window_s!r}")
        self.threshold = float(threshold)
        self.window_s = int(window_s)
        self.shares = dict(shares) if shares else None
        self._window: deque[dict[str, int]] = deque()
        self._sums: dict[str, int] = {}
        self._pods: dict[str, None] = {}  # every pod seen, in first-seen order
        self._full_windows = 0
        self._alert: dict | None = None

    @property
    def alert_may_predate_history(self) -> bool:
        """An alert is open and opened on the first full window this series judged: it may have
        begun before the first second it was fed (a reader replaying from the middle of a run
        should read further back to find its true start)."""
        return self._alert is not None and self._alert["window"] == 1

    def feed(self, second: Mapping) -> list[dict]:
        """The messages of one recorded second, in order: its `sample`, then the `alert` it
        opens or closes, if any. `second` is one item of `samples_since`: the totals and
        `pods` (name -> figures), where an "unattributed" entry is not a pod."""
        t = float(second["t"])
        recorded = second.get("pods") or {}
        unattributed = int((recorded.get(UNATTRIBUTED) or {}).get("requests") or 0)
        pods = {
            name: {key: figures.get(key) for key in POD_FIELDS}
            for name, figures in recorded.items() if name != UNATTRIBUTED
        }
        counts = {name: int(figures["requests"] or 0) for name, figures in pods.items()}
        self._slide(counts)
        judged = balance.analyse(self._sums, self.shares, expected_pods=tuple(self._pods), threshold=self.threshold)
        sample = {
            "type": "sample", "t": t, **{key: second.get(key) for key in SECOND_FIELDS},
            "pods": pods, "unattributed": unattributed, "score": judged.score if judged.has_traffic else None,
        }
        messages = [sample]
        if len(self._window) == self.window_s:
            alert = self._judge_full_window(t, judged)
            if alert is not None:
                messages.append(alert)
        return messages

    def _slide(self, counts: dict[str, int]) -> None:
        if len(self._window) == self.window_s:
            for name, requests in self._window.popleft().items():
                self._sums[name] -= requests
        self._window.append(counts)
        for name, requests in counts.items():
            self._sums[name] = self._sums.get(name, 0) + requests
            self._pods.setdefault(name, None)

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
        return {"type": "alert", "start_t": alert["start_t"], "end_t": end_t, "score": alert["score"],
                "worst_pod": alert["worst_pod"], "message": text}


def _worst_pod(judged: balance.Balance) -> tuple[str | None, float | None]:
    """The pod furthest from its fair share (normalised load furthest from 1.0) and its load;
    (None, None) without traffic."""
    if not judged.has_traffic:
        return None, None
    index = max(range(len(judged.pods)), key=lambda i: abs(judged.loads[i] - 1.0))
    return judged.pods[index], judged.loads[index]
