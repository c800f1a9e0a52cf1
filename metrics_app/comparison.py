"""Comparing runs (`GET /api/runs/compare/`, the compare page): every figure of the runs'
summaries side by side with its difference from the first run and a verdict that knows about
noise, and each run's per-second series for the charts.

Pure: numpy and clusters.balance only, no Django. `metrics_app.services.compare_runs` reads
the runs and their seconds and calls `figures`, `notes` and `run_series`.

Noise. Two runs of the same thing on these machines differ by up to 10 % (ARCHITECTURE.md s9),
so a figure that differs from the first run's by less than `NOISE_PCT` % of the first run's value
is "within noise". For the balance score the runs' own variation counts too: its band is the
larger of that and the standard deviation (population) of either run's window scores
(`summary.balance.windows`), since a score that moves that much from one window to the next
cannot tell two runs apart by less.

Tiny values: a figure may have an absolute noise floor (`Figure.floor`: 0.01 of CV, 0.5 points of
score, 0.1 ms of latency...) under which a difference is noise whatever the relative change, so
two even runs with a CV of 0.004 and 0.000 are the same, not "-100 % better".

Verdicts, one per run (None for the first, the reference): None when either value is missing,
"same" when the values are equal, "within noise" inside the band, "not comparable" on a figure
that depends on the load (`Figure.load_bound`) when the run's scenario sent other load than the
first's (shape, users, duration or arrival rate differ, not only the scenario's name), else
"better" or "worse" by the figure's direction (`better`: "higher", "lower", or None for figures
that are neither, such as the duration; those get None beyond noise). A count that is 0 in the
first run and not in another is beyond noise: there is no band around 0 (no failures, then
some, is worse). `deltas` are in the figure's unit (other - first), `delta_pct` relative to the
first run's value (None when that is 0, missing, or within the figure's noise floor).

Series, per run, one point per recorded second (the run's MetricSample rows), computed as the
live stream computes its `sample` messages (metrics_app.live), so a finished run compares with
what its live page showed:

- `t`, `rps`, `p95_ms`: the second's totals (`p95_ms` None when the second had no requests);
- `score`: the balance score (`clusters.balance`) of the per-pod requests summed over the last
  `window_s` recorded seconds (fewer at the start), over the pods the run's `ExpectedPods` judges
  over them (`ExpectedPods.window_pods`: the pods seen so far, but a replaced pod once its
  replacement had appeared by the window's first second; a pod seen earlier and idle now counts
  as 0, and so does an expected pod that never answered, from the first second; "unattributed"
  is not a pod), with the target's expected shares; None for a second without traffic (a gap);
- `pod_spread`: max / mean of the second's per-pod load over the same pods, the load being a
  pod's requests divided by its expected share (for equal shares, simply max / mean of the pods'
  requests): 1.0 is a perfectly even second; None when the second had no traffic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from clusters import balance
from metrics_app.summary import WINDOW_S

NOISE_PCT = 10.0
UNATTRIBUTED = balance.UNATTRIBUTED
SCORE_DECIMALS = 2
SPREAD_DECIMALS = 3


# --------------------------------------------------------------------------- figures


def _number(value) -> float | None:
    """A finite number, or None (missing, null, text, bool, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _at(*path: str) -> Callable[[Mapping], float | None]:
    def read(summary: Mapping) -> float | None:
        value = summary
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return _number(value)

    return read


def _error_rate(summary: Mapping) -> float | None:
    requests, failures = _number(summary.get("requests")), _number(summary.get("failures"))
    if not requests or failures is None:
        return None
    return failures / requests * 100.0


def _pod_count(summary: Mapping) -> int | None:
    pods = summary.get("pods")
    return len(pods) if isinstance(pods, Mapping) else None


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    better: str | None  # "higher", "lower", or None when neither is better
    read: Callable[[Mapping], float | None]
    optional: bool = False  # shown only when some run has it
    # A difference this small (absolute, in the figure's unit) is noise whatever the value: a
    # CV of 0.004 against 0.000 is two even runs, not "-100 % better".
    floor: float = 0.0
    # The figure depends on how much load was sent (users, shape, duration, arrival rate): two
    # runs that sent different load cannot be compared on it.
    load_bound: bool = False


FIGURES: tuple[Figure, ...] = (
    Figure("duration_s", "Duration", "s", None, _at("duration_s"), load_bound=True),
    Figure("requests", "Requests", "requests", None, _at("requests"), load_bound=True),
    Figure("failures", "Failures", "requests", "lower", _at("failures"), load_bound=True),
    Figure("error_rate", "Error rate", "%", "lower", _error_rate, floor=0.1),
    Figure("rps", "Throughput", "req/s", "higher", _at("rps"), load_bound=True),
    Figure("p50_ms", "Latency p50", "ms", "lower", _at("latency_ms", "p50"), floor=0.1, load_bound=True),
    Figure("p95_ms", "Latency p95", "ms", "lower", _at("latency_ms", "p95"), floor=0.1, load_bound=True),
    Figure("p99_ms", "Latency p99", "ms", "lower", _at("latency_ms", "p99"), floor=0.1, load_bound=True),
    Figure("max_ms", "Latency max", "ms", "lower", _at("latency_ms", "max"), floor=0.1, load_bound=True),
    Figure("balance_score", "Balance score", "%", "higher", _at("balance", "score"), floor=0.5),
    Figure("cv", "Coefficient of variation", "", "lower", _at("balance", "cv"), floor=0.01),
    Figure("jain", "Jain's fairness index", "", "higher", _at("balance", "jain"), floor=0.001),
    Figure("max_over_mean", "Busiest pod / mean", "", "lower", _at("balance", "max_over_mean"), floor=0.01),
    # A p-value says how surprising the spread is, not how good it is: with enough requests a
    # tiny imbalance gives p ~ 0, so neither direction is "better".
    Figure("p_value", "Chi-square p-value", "", None, _at("balance", "p_value")),
    Figure("utilisation_score", "CPU balance score", "%", "higher", _at("utilisation", "score"), optional=True),
    Figure("pods", "Pods", "pods", None, _pod_count),
    Figure("unattributed", "Unattributed requests", "requests", "lower", _at("unattributed")),
)
FIGURE_BY_KEY = {figure.key: figure for figure in FIGURES}


def window_spread(summary: Mapping) -> float | None:
    """Standard deviation (population) of a run's window scores, None with fewer than two."""
    figures_of_balance = summary.get("balance")
    windows = figures_of_balance.get("windows") if isinstance(figures_of_balance, Mapping) else None
    values = [v for v in map(_number, windows) if v is not None] if isinstance(windows, list | tuple) else []
    return float(np.std(values)) if len(values) >= 2 else None


def noise_band(figure: Figure, first: float, other_summary: Mapping, first_summary: Mapping) -> tuple[float, str]:
    """The absolute difference under which `figure` is noise, and why (for the notes)."""
    relative = abs(first) * NOISE_PCT / 100.0
    if figure.key == "balance_score":
        spreads = [s for s in (window_spread(first_summary), window_spread(other_summary)) if s is not None]
        if spreads and max(spreads) > max(relative, figure.floor):
            return max(spreads), "spread"
    if figure.floor > relative:
        return figure.floor, "floor"
    return relative, "relative"


def verdict(figure: Figure, first: float | None, other: float | None, band: float) -> str | None:
    if first is None or other is None:
        return None
    delta = other - first
    if delta == 0:
        return "same"
    if (first != 0 or figure.floor) and abs(delta) < band:
        return "within noise"
    if figure.better is None:
        return None
    return "better" if (delta > 0) == (figure.better == "higher") else "worse"


# What of a scenario decides how much load a run sends: runs that differ in any of these are
# not comparable on the figures that depend on the load (`Figure.load_bound`).
LOAD_KEYS = (("shape", "shape"), ("users", "users"), ("duration_s", "duration"), ("arrival_rate", "arrival rate"))


def load_differences(first: Mapping | None, other: Mapping | None) -> list[str]:
    """What differs in the load two runs' scenarios send, in words ("users 10 vs 50"); [] when the same."""
    first, other = first or {}, other or {}
    return [f"{label} {first.get(key)} vs {other.get(key)}" for key, label in LOAD_KEYS
            if first.get(key) != other.get(key)]


def figures(summaries: Sequence[Mapping], scenarios: Sequence[Mapping] | None = None) -> list[dict]:
    """Every figure of the summaries (ARCHITECTURE.md s6), one value per run, compared with the first.
    With the runs' `scenarios`, a run that sent other load than the first gets the verdict "not
    comparable" on the figures that depend on the load."""
    summaries = [summary if isinstance(summary, Mapping) else {} for summary in summaries]
    scenarios = list(scenarios) if scenarios is not None else [{}] * len(summaries)
    other_load = [bool(load_differences(scenarios[0], scenario)) for scenario in scenarios] if scenarios else []
    found = []
    for figure in FIGURES:
        values = [figure.read(summary) for summary in summaries]
        if figure.optional and all(value is None for value in values):
            continue
        first = values[0] if values else None
        deltas, delta_pct, verdicts = [None], [None], [None]
        for index, (value, summary) in enumerate(zip(values[1:], summaries[1:], strict=True), start=1):
            delta = None if first is None or value is None else value - first
            deltas.append(delta)
            # a reference within the noise floor is too small to be a base for a percentage
            tiny = first is None or abs(first) <= figure.floor or not first
            delta_pct.append(None if delta is None or tiny else delta / abs(first) * 100.0)
            band = noise_band(figure, first, summary, summaries[0])[0] if first is not None else 0.0
            comparable = not (figure.load_bound and other_load[index])
            verdicts.append(verdict(figure, first, value, band) if comparable else "not comparable")
        found.append({
            "key": figure.key, "label": figure.label, "unit": figure.unit, "better": figure.better,
            "values": values, "deltas": deltas, "delta_pct": delta_pct, "verdicts": verdicts,
        })
    return found


# --------------------------------------------------------------------------- notes


def _amount(figure: Mapping, index: int) -> str:
    """How much run `index` differs from the first, in words: "+12.3 %", or "+3.1 points" for percents."""
    delta, pct = figure["deltas"][index], figure["delta_pct"][index]
    if figure["unit"] == "%":
        return f"{delta:+.1f} points"
    if pct is not None:
        return f"{pct:+.1f} %"
    unit = f" {figure['unit']}" if figure["unit"] else ""
    return f"{delta:+g}{unit}"


def notes(runs: Sequence[Mapping], found: Sequence[Mapping]) -> list[str]:
    """Human sentences on the comparison: what differs in the setup, then per run what is better,
    worse and within noise, and why. `runs`: id, status, target, scenario, summary, threshold."""
    if not runs:
        return []
    said = []
    first = runs[0]
    names = [f"#{run['id']}" for run in runs]
    for run, name in zip(runs, names, strict=True):
        if not run.get("summary"):
            said.append(f"{name} has no summary yet (status {run.get('status')}): its figures are empty.")
        elif run.get("status") in ("queued", "running", "stopping"):
            said.append(f"{name} is still {run['status']}: its figures may change.")
    for key, what in (("target", "targets"), ("scenario", "scenarios")):
        labels = [str((run.get(key) or {}).get("name")) for run in runs]
        if len(set(labels)) > 1:
            said.append(f"The runs used different {what} ({', '.join(dict.fromkeys(labels))}): "
                        "differences may come from them, not only from the balancing.")
    for run, name in zip(runs[1:], names[1:], strict=True):
        differences = load_differences(first.get("scenario"), run.get("scenario"))
        if differences:
            said.append(f"{name} sent other load than {names[0]} ({', '.join(differences)}): throughput, latency "
                        "and request counts are not comparable between them; the balance figures are.")
    thresholds = [run.get("threshold") for run in runs]
    if len({t for t in thresholds if t is not None}) > 1:
        said.append(f"The runs were judged against different balance thresholds "
                    f"({', '.join(f'{t:g} %' for t in dict.fromkeys(thresholds) if t is not None)}); "
                    f"the line on the charts is {names[0]}'s.")
    for index in range(1, len(runs)):
        better = [f"{f['label'].lower()} ({_amount(f, index)})" for f in found if f["verdicts"][index] == "better"]
        worse = [f"{f['label'].lower()} ({_amount(f, index)})" for f in found if f["verdicts"][index] == "worse"]
        other = [f"{f['label'].lower()} ({_amount(f, index)})" for f in found
                 if f["better"] is None and f["verdicts"][index] is None and f["deltas"][index]]
        noise = [f for f in found if f["verdicts"][index] == "within noise"]
        parts = []
        if better:
            parts.append("better on " + ", ".join(better))
        if worse:
            parts.append("worse on " + ", ".join(worse))
        if other:
            parts.append("different " + ", ".join(other))
        if parts:
            said.append(f"{names[index]} against {names[0]}: {'; '.join(parts)}.")
        bands = {
            f["key"]: noise_band(FIGURE_BY_KEY[f["key"]], f["values"][0], runs[index].get("summary") or {},
                                 first.get("summary") or {})
            for f in noise
        }
        relative = [f["label"].lower() for f in noise if bands[f["key"]][1] in ("relative", "floor")]
        if relative:
            verb = "differs" if len(relative) == 1 else "differ"
            said.append(f"{names[index]} against {names[0]}: {', '.join(relative)} {verb} by less than "
                        f"{NOISE_PCT:g} %, within the run-to-run noise of these machines.")
        for figure in noise:
            band, why = bands[figure["key"]]
            if why == "spread":
                said.append(f"{names[index]}'s balance score differs from {names[0]}'s by "
                            f"{abs(figure['deltas'][index]):.1f} points, less than the window-to-window spread of "
                            f"the runs' scores ({band:.1f} points, the standard deviation of their window "
                            f"scores): within noise.")
    if len(runs) > 1 and first.get("summary") and not any(
        f["verdicts"][i] in ("better", "worse") for f in found for i in range(1, len(runs))
    ):
        said.append(f"Nothing is better or worse than in {names[0]} beyond noise.")
    return said


# --------------------------------------------------------------------------- series


@dataclass(frozen=True)
class RunSeconds:
    """A run's recorded seconds as arrays, aligned by second (row) and pod (column).

    `t`, `rps`, `p95_ms`: one value per second (NaN where a value is missing); `pods`: the pods
    that have rows, "unattributed" left out; `counts[i, j]`: requests of `pods[j]` in second i
    (0 where it has no row); `first_seen[j]`: the first second (row index) with a row for `pods[j]`.
    """

    t: np.ndarray
    rps: np.ndarray
    p95_ms: np.ndarray
    pods: tuple[str, ...]
    counts: np.ndarray
    first_seen: np.ndarray

    @classmethod
    def from_seconds(cls, seconds: Sequence[Mapping]) -> RunSeconds:
        """From seconds in the shape `metrics_app.services.samples_since` gives them."""
        index: dict[str, int] = {}
        first_seen: list[int] = []
        cells: list[tuple[int, int, float]] = []
        for row, second in enumerate(seconds):
            for pod, figures in (second.get("pods") or {}).items():
                if pod == UNATTRIBUTED:
                    continue
                if pod not in index:
                    index[pod] = len(index)
                    first_seen.append(row)
                cells.append((row, index[pod], float((figures or {}).get("requests") or 0)))
        counts = np.zeros((len(seconds), len(index)))
        for row, column, requests in cells:
            counts[row, column] = requests
        return cls(
            t=_floats([second.get("t") for second in seconds]), rps=_floats([second.get("rps") for second in seconds]),
            p95_ms=_floats([second.get("p95_ms") for second in seconds]), pods=tuple(index), counts=counts,
            first_seen=np.array(first_seen, dtype=np.int64),
        )


def _floats(values: Sequence) -> np.ndarray:
    return np.array([np.nan if value is None else float(value) for value in values], dtype=float)


def _listed(values: np.ndarray, decimals: int | None = None) -> list[float | None]:
    """JSON-ready: NaN becomes None."""
    if decimals is not None:
        values = np.round(values, decimals)
    return [None if value != value else value for value in values.tolist()]


def run_series(seconds: RunSeconds, *, expected: balance.ExpectedPods | None = None,
               window_s: int = WINDOW_S) -> dict:
    """{"t", "rps", "p95_ms", "score", "pod_spread"}: one value per recorded second (module
    docstring), over the pods `expected` judges (None: the pods seen, equal shares)."""
    if isinstance(window_s, bool) or int(window_s) != window_s or window_s < 1:
        raise ValueError(f"window_s must be whole seconds >= 1, got {window_s!r}")
    expected = expected or balance.ExpectedPods()
    pods, first_seen = list(seconds.pods), seconds.first_seen
    n = seconds.counts.shape[0]
    score = np.full(n, np.nan)
    spread = np.full(n, np.nan)
    if n and pods:
        # one column of zeros stands for every expected pod no row names (0 from the first second)
        counts = np.hstack([seconds.counts, np.zeros((n, 1))])
        column_of = {pod: index for index, pod in enumerate(pods)}
        cumulative = np.zeros((n + 1, counts.shape[1]))
        np.cumsum(counts, axis=0, out=cumulative[1:])
        rows = np.arange(n)
        sums = cumulative[rows + 1] - cumulative[np.maximum(0, rows + 1 - int(window_s))]
        # The pods judged change only when a pod is first seen, or (a replaced pod retired) when its
        # replacement's first second becomes the window's first: score each stretch at once.
        firsts = first_seen.tolist()
        breaks = {0, *firsts, *((first + int(window_s) - 1 for first in firsts) if expected.replaced else ())}
        starts = sorted(b for b in breaks if 0 <= b < n)
        first_of = dict(zip(pods, firsts, strict=True))
        for start, end in zip(starts, [*starts[1:], n], strict=True):
            judged = expected.window_pods(first_of, max(0, start - int(window_s) + 1), start + 1)
            columns = [column_of.get(pod, len(pods)) for pod in judged]
            weights = balance.share_weights(judged, expected.shares(judged))
            second_counts = counts[start:end][:, columns]
            traffic_now = second_counts.sum(axis=1) > 0  # a second without traffic is a gap, as live
            score[start:end] = np.where(traffic_now, balance.scores_of_sums(sums[start:end][:, columns], weights), np.nan)
            load = second_counts / weights
            mean = load.mean(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                spread[start:end] = np.where(mean > 0, load.max(axis=1) / np.where(mean > 0, mean, 1.0), np.nan)
    return {
        "t": _listed(seconds.t), "rps": _listed(seconds.rps), "p95_ms": _listed(seconds.p95_ms),
        "score": _listed(score, SCORE_DECIMALS), "pod_spread": _listed(spread, SPREAD_DECIMALS),
    }
