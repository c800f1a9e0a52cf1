"""Plotly figures of runs, as plain dicts ``{"data": [...], "layout": {...}}`` that ``json.dumps`` takes.

Pure: no Django, and no plotly Python package either (the browser draws them with plotly.js).

The live run page and the standalone report draw the same charts from one declaration,
`chart_specs`: the page ships the specs as JSON (Django's json_script) and
static/js/live_run.js builds the charts from them sample by sample, while `run_figures` builds
the finished figures from the same specs in Python. The two builders follow the same rules
(documented on each helper below and mirrored function by function in live_run.js), so a
chart drawn live and the same chart in the report hold the same traces and shapes.

Spec keys (every spec): ``id``, ``title``, ``kind``, ``x_title``, ``y_title``, ``layout`` (the
base Plotly layout), ``marks`` (how chaos injections and tuning decisions are drawn) and
``clock_xaxis`` (the x axis once the run's start is known), both None for a chart without a
time axis. By kind:

- ``time``: one line per entry of ``series`` (``field`` of the `sample` message, ``name``, ``color``);
- ``time_per_pod``: one line per pod, ``pods[pod][pod_field] * scale``, coloured from ``palette``
  in the order pods first appear (pods new in the same sample in name order); x is every
  sample's t, so a pod that appears later has leading nulls;
- ``pod_bar``: one bar per pod: the sum of ``pods[pod][pod_field]`` over every sample so far.

The ``balance`` spec also has ``threshold`` (a horizontal line) and ``alerts`` (how the spans of
the balance `alert` messages are shaded; a pod's error or latency alert is listed, not shaded).

Time axis: x is each sample's t, seconds since the run started, until the run's start is known
(``clock_origin_ms``, from its `status` message on the page); then, as in Grafana, the time
charts read clock time: x is the start plus t (``wall_clock_ms`` + t in ms, on a Plotly date
axis, ``clock_xaxis`` of the spec), and hovering shows the date and time of the point. Chaos
bands, tuning lines and alert spans move with it.
"""

from __future__ import annotations

import calendar
import copy
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

# Plotly's own qualitative palette (D3 category10): distinct, and familiar to Plotly users.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
INK = "#1b2733"  # the colours of static/css/lblab.css
ACCENT = "#1f4e79"
BAD = "#cf222e"
WARN = "#9a6700"

X_TITLE = "seconds since start"
# A time chart's x axis once the run's start is known: clock time, to the second on hover.
CLOCK_XAXIS = {"type": "date", "title": {"text": "time"}, "hoverformat": "%Y-%m-%d %H:%M:%S"}
CHART_HEIGHT_PX = 320
MIB = 1024 * 1024

MARKS = {
    # A fault without a duration (a pod kill) or still open is drawn as a band this wide, so it shows.
    "chaos": {"fillcolor": WARN, "opacity": 0.18, "min_width_s": 0.5, "label_color": WARN},
    # What a tuning action changes, for its label when before/after are plain values, not objects.
    "tuning": {"color": ACCENT, "label_max_chars": 48,
               "subjects": {"set_algorithm": "algorithm", "set_weights": "weights", "scale": "replicas"}},
    # What the cluster did, by the timeline entry's type: a scale change of the target (its
    # autoscaler, an HPA, LB Lab, someone else), a stateful store's failover; each a dashed line.
    # and a fault a chaos tool ended on its own (Chaos Mesh, its duration elapsed)
    "timeline": {"scaled": {"color": "#2ca02c"}, "failover": {"color": "#9467bd"}, "fault_cleared": {"color": WARN}},
}
ALERT_STYLE = {"fillcolor": BAD, "opacity": 0.12, "min_width_s": 0.5}
THRESHOLD_COLOR = BAD


def _layout(*, chart_id: str, title: str, x_title: str, y_title: str, hovermode: str = "x unified") -> dict:
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "xaxis": {"title": {"text": x_title}, "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero"},
        "height": CHART_HEIGHT_PX,
        "margin": {"l": 60, "r": 20, "t": 45, "b": 45},
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        "hovermode": hovermode,
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12, "color": INK},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        # A constant uirevision: live updates keep the zoom and hidden traces the user chose.
        "uirevision": chart_id,
        "shapes": [],
        "annotations": [],
    }


def _spec(chart_id: str, title: str, kind: str, y_title: str, *, x_title: str = X_TITLE, **extra) -> dict:
    hovermode = "closest" if kind == "pod_bar" else "x unified"
    layout = _layout(chart_id=chart_id, title=title, x_title=x_title, y_title=y_title, hovermode=hovermode)
    if kind == "time_per_pod":  # a pod per line: a legend on the side, scrolling, not over the title
        layout["legend"] = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
    timed = kind != "pod_bar"
    return {
        "id": chart_id, "title": title, "kind": kind, "x_title": x_title, "y_title": y_title,
        "layout": layout,
        "marks": copy.deepcopy(MARKS) if timed else None,
        "clock_xaxis": copy.deepcopy(CLOCK_XAXIS) if timed else None,
        **extra,
    }


# The charts of what the pods' processes use: only targets whose pods LB Lab can measure have them.
POD_USAGE_CHARTS = ("cpu", "memory")


def chart_specs(*, threshold: float, pod_usage: bool = True) -> list[dict]:
    """The charts of the live run page, in page order (see the module docstring for the keys).
    `pod_usage` False leaves out CPU and memory per pod (a target whose pods LB Lab cannot see:
    the page says why instead of drawing empty axes)."""
    per_pod = {"palette": list(PALETTE)}
    balance = _spec(
        "balance", "Balance score", "time", "score (%)",
        series=[{"field": "score", "name": "balance score", "color": ACCENT}],
        threshold={"value": float(threshold), "color": THRESHOLD_COLOR},
        alerts=dict(ALERT_STYLE),
    )
    balance["layout"]["yaxis"]["range"] = [0, 102]  # a score is a percentage: a steady 99 % must not look jagged
    specs = [
        _spec("throughput", "Throughput", "time", "per second", series=[
            {"field": "rps", "name": "requests/s", "color": ACCENT},
            {"field": "failures_per_s", "name": "failures/s", "color": BAD},
        ]),
        _spec("latency", "Latency", "time", "ms", series=[
            {"field": "p50_ms", "name": "p50", "color": PALETTE[2]},
            {"field": "p95_ms", "name": "p95", "color": PALETTE[1]},
            {"field": "p99_ms", "name": "p99", "color": PALETTE[3]},
        ]),
        _spec("users", "Users", "time", "users", series=[{"field": "users", "name": "users", "color": ACCENT}]),
        _spec("pod_requests", "Requests per pod", "pod_bar", "requests (total)", x_title="pod",
              pod_field="requests", scale=1, **per_pod),
        _spec("pod_throughput", "Requests per second per pod", "time_per_pod", "requests/s",
              pod_field="requests", scale=1, **per_pod),
        balance,
        _spec("cpu", "CPU per pod", "time_per_pod", "cores", pod_field="cpu", scale=1, **per_pod),
        _spec("memory", "Memory per pod", "time_per_pod", "MiB", pod_field="memory_bytes", scale=1 / MIB, **per_pod),
        _spec("connections", "Active connections", "time", "connections", series=[
            {"field": "active_connections", "name": "active connections", "color": ACCENT},
        ]),
    ]
    return [spec for spec in specs if pod_usage or spec["id"] not in POD_USAGE_CHARTS]


def wall_clock_ms(moment: datetime) -> int:
    """`moment`'s wall-clock reading as a Plotly date axis takes a number (milliseconds, read as
    UTC): pass it in the time zone the page shows (Django's localtime), so the axis shows that
    zone's clock. live_run.js computes the same from the `status` message's started_at."""
    return calendar.timegm(moment.timetuple()) * 1000 + moment.microsecond // 1000


def seconds_since_start(t: float) -> float:
    """A time chart's x for a t until the run's start is known: t itself."""
    return t


def clock_x(clock_origin_ms: int | None) -> Callable[[float], float | int]:
    """A time chart's x for a t: t itself, or the clock once the run's start is known
    (live_run.js's xOf mirrors this)."""
    if clock_origin_ms is None:
        return seconds_since_start
    return lambda t: clock_origin_ms + round(t * 1000)

def plotly_text(label) -> str:
    """A label as text: Plotly reads its labels (trace names, categories, annotations) as HTML-like
    markup and draws `<a href>` as a clickable link, so a name that came from a target (a pod) must
    arrive with `<`, `>` and `&` as entities, which Plotly shows as the characters themselves.
    live_run.js's plotlyText mirrors this."""
    return str(label).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _number(value):
    """A plotted value: None stays a gap, and so does anything JSON (and so the browser) can't carry."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _scaled(value, scale):
    value = _number(value)
    return value if value is None or scale == 1 else value * scale


def _line(name: str, color: str, x: list, y: list) -> dict:
    return {"type": "scatter", "mode": "lines", "name": name, "line": {"color": color, "width": 2}, "x": x, "y": y}


def _pods_in_order(samples: Sequence[Mapping]) -> list[str]:
    """Pods in the order they first appear; pods new in the same sample in name order."""
    seen: dict[str, None] = {}
    for sample in samples:
        for pod in sorted(set(sample.get("pods") or {}) - seen.keys()):
            seen[pod] = None
    return list(seen)


def _short(value) -> str:
    """A before/after value as the label shows it: numbers as JavaScript's String() writes them."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(_js_numbers(value), separators=(",", ":"), ensure_ascii=False)


def _js_numbers(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _js_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_js_numbers(item) for item in value]
    return value


def tuning_label(decision: Mapping, style: Mapping = MARKS["tuning"]) -> str:
    """ "algorithm: l4_connection -> least_conn". When before and after are objects, one part per
    key whose value changed (every key of `to` when none did); otherwise the action's subject."""
    before, after = decision.get("from"), decision.get("to")
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        keys = [key for key in after if before.get(key) != after.get(key)] or list(after)
        label = ", ".join(f"{key}: {_short(before.get(key))} -> {_short(after.get(key))}" for key in keys)
    else:
        action = str(decision.get("action") or "")
        label = f"{style['subjects'].get(action, action)}: {_short(before)} -> {_short(after)}"
    limit = style["label_max_chars"]
    return label if len(label) <= limit else label[: limit - 1] + "…"


def scaling_label(change: Mapping) -> str:
    """ "replicas 3 -> 5 by hpa (cpu 82/60 %)": the change, who made it and the autoscaler's
    reading when it decided."""
    label = f"replicas {_short(change.get('previous'))} -> {_short(change.get('replicas'))} by {change.get('by') or '?'}"
    readings = [f"{metric.get('name')} {_short(metric.get('current'))}/{_short(metric.get('target'))}"
                f"{' ' + metric['unit'] if metric.get('unit') else ''}" for metric in change.get("metrics") or ()]
    return f"{label} ({', '.join(readings)})" if readings else label


def timeline_label(entry: Mapping) -> str:
    """A timeline entry as its chart mark says it: a scale change (`scaling_label`), the stateful
    store's failover ("failover to redis-1"), or a fault's end ("latency ended by chaos-mesh")."""
    if entry.get("type") == "failover":
        return f"failover to {entry.get('server') or '?'}"
    if entry.get("type") == "fault_cleared":
        return f"{entry.get('kind') or 'fault'} ended by {entry.get('by') or '?'}"
    return scaling_label(entry)


def _band(x0, x1, style: Mapping, x_of: Callable = seconds_since_start) -> dict:
    """A shaded span over the full height, from t `x0` to t `x1`. An instant (no end, or an end
    not after the start) gets the minimum width and an outline, so it stays visible however
    long the run is."""
    outline = {"width": 0}
    if x1 is None or x1 <= x0:
        x1 = x0 + style["min_width_s"]
        outline = {"width": 1, "color": style["fillcolor"]}
    return {"type": "rect", "xref": "x", "yref": "paper", "x0": x_of(x0), "x1": x_of(x1), "y0": 0, "y1": 1,
            "fillcolor": style["fillcolor"], "opacity": style["opacity"], "line": outline, "layer": "below"}


def marks_for(spec: Mapping, *, events: Mapping | None, alerts: Sequence[Mapping], last_t,
              x_of: Callable = seconds_since_start) -> tuple[list, list]:
    """The (shapes, annotations) of a chart: threshold line, alert spans (an open one reaches the
    last t), chaos bands, tuning lines, timeline lines (scale changes, failovers), in that order, placed at `x_of(t)` (`clock_x`).
    live_run.js's marksFor mirrors this."""
    shapes: list[dict] = []
    annotations: list[dict] = []
    threshold = spec.get("threshold")
    if threshold:
        shapes.append({"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": threshold["value"],
                       "y1": threshold["value"], "line": {"color": threshold["color"], "width": 1.5, "dash": "dash"}})
        annotations.append({"xref": "paper", "yref": "y", "x": 1, "y": threshold["value"], "xanchor": "right",
                            "yanchor": "bottom", "showarrow": False, "text": f"threshold {_short(threshold['value'])} %",
                            "font": {"size": 10, "color": threshold["color"]}})
    if spec.get("alerts"):
        for alert in alerts:
            end = alert.get("end_t")
            shapes.append(_band(alert["start_t"], end if end is not None else last_t, spec["alerts"], x_of))
    marks = spec.get("marks")
    if marks and events:
        chaos_style = marks["chaos"]
        for injection in events.get("chaos") or ():
            if injection.get("started_at_s") is None:
                continue  # scheduled, not injected yet
            shapes.append(_band(injection["started_at_s"], injection.get("ended_at_s"), chaos_style, x_of))
            target = injection.get("target")
            annotations.append({"xref": "x", "yref": "paper", "x": x_of(injection["started_at_s"]), "y": 1,
                                "xanchor": "left",
                                "yanchor": "top", "showarrow": False,
                                "text": plotly_text(f"{injection.get('kind')} {target}" if target else injection.get("kind")),
                                "font": {"size": 10, "color": chaos_style["label_color"]}})
        tuning_style = marks["tuning"]
        for decision in events.get("tuning") or ():
            at = x_of(decision["t"])
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at,
                           "y0": 0, "y1": 1, "line": {"color": tuning_style["color"], "width": 1.5, "dash": "dot"}})
            annotations.append({"xref": "x", "yref": "paper", "x": at, "y": 0, "xanchor": "left",
                                "yanchor": "bottom", "showarrow": False,
                                "text": tuning_label(decision, tuning_style),
                                "hovertext": str(decision.get("reason") or ""),
                                "font": {"size": 10, "color": tuning_style["color"]}})
        for entry in events.get("timeline") or ():
            style = marks["timeline"].get(entry.get("type"))
            if style is None or entry.get("t") is None:
                continue  # a kind the charts do not mark, or before the load's clock was known
            at = x_of(entry["t"])
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at,
                           "y0": 0, "y1": 1, "line": {"color": style["color"], "width": 1.5, "dash": "dash"}})
            annotations.append({"xref": "x", "yref": "paper", "x": at, "y": 0.5, "xanchor": "left",
                                "yanchor": "middle", "showarrow": False, "text": plotly_text(timeline_label(entry)),
                                "font": {"size": 10, "color": style["color"]}})
    return shapes, annotations


def _latest_balance_alerts(alerts: Sequence[Mapping]) -> list[Mapping]:
    """One balance alert per id (start_t when it has none), the last message wins (its end_t
    closes the span), as the page keeps them."""
    latest: dict = {}
    for alert in alerts:
        if alert.get("kind", "balance") == "balance":
            latest[alert.get("id", alert["start_t"])] = alert
    return list(latest.values())


def run_figures(specs: Sequence[Mapping], samples: Sequence[Mapping], *, events: Mapping | None = None,
                alerts: Sequence[Mapping] = (), clock_origin_ms: int | None = None) -> dict[str, dict]:
    """Every chart of `specs` (id -> figure) from `sample` messages (oldest first), with the
    run's `events` message (chaos and tuning) and its `alert` messages; with the run's start
    (`wall_clock_ms`), time charts read clock time."""
    x_of = clock_x(clock_origin_ms)
    ts = [sample["t"] for sample in samples]
    xs = [x_of(t) for t in ts]
    last_t = ts[-1] if ts else None
    pods = _pods_in_order(samples)
    spans = _latest_balance_alerts(alerts)
    figures = {}
    for spec in specs:
        kind = spec["kind"]
        if kind == "time":
            data = [_line(series["name"], series["color"], list(xs), [_number(sample.get(series["field"])) for sample in samples])
                    for series in spec["series"]]
        elif kind == "time_per_pod":
            palette, field, scale = spec["palette"], spec["pod_field"], spec["scale"]
            data = [_line(plotly_text(pod), palette[index % len(palette)], list(xs),
                          [_scaled((sample.get("pods") or {}).get(pod, {}).get(field), scale) for sample in samples])
                    for index, pod in enumerate(pods)]
        elif kind == "pod_bar":
            palette, field = spec["palette"], spec["pod_field"]
            totals = dict.fromkeys(pods, 0)
            for sample in samples:
                for pod, figures_of_pod in (sample.get("pods") or {}).items():
                    totals[pod] += _number(figures_of_pod.get(field)) or 0
            data = [{"type": "bar", "name": spec["y_title"], "x": [plotly_text(pod) for pod in pods],
                     "y": [totals[pod] * spec["scale"] for pod in pods],
                     "marker": {"color": [palette[index % len(palette)] for index in range(len(pods))]}}]
        else:
            raise ValueError(f"unknown chart kind {kind!r} in spec {spec['id']!r}")
        layout = copy.deepcopy(spec["layout"])
        if clock_origin_ms is not None and spec.get("clock_xaxis"):
            layout["xaxis"].update(copy.deepcopy(spec["clock_xaxis"]))
        layout["shapes"], layout["annotations"] = marks_for(spec, events=events, alerts=spans, last_t=last_t, x_of=x_of)
        figures[spec["id"]] = {"data": data, "layout": layout}
    return figures


COMPARE_CHARTS = (
    # id, field of the series, title, y axis title
    ("throughput", "rps", "Throughput", "requests/s"),
    ("p95", "p95_ms", "Latency p95", "ms"),
    ("score", "score", "Balance score", "score (%)"),
    ("pod_spread", "pod_spread", "Busiest pod against the mean, each second", "max / mean (1 = even)"),
)


def compare_figures(series: Mapping[str, Mapping], labels: Mapping[str, str], *, threshold: float) -> dict[str, dict]:
    """Runs overlaid on one time axis (seconds since each run's start): one figure per entry of
    COMPARE_CHARTS, a line per run, each run in the same colour in every figure (its position in
    `series`). `series[key]` holds lists of equal length under "t" and each plotted field."""
    if len(series) > len(PALETTE):
        raise ValueError(f"at most {len(PALETTE)} runs can be told apart by colour, got {len(series)}")
    for key, run in series.items():
        lengths = {name: len(run.get(name) or ()) for name in ("t", *(field for _, field, _, _ in COMPARE_CHARTS))}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"run {key}: the series differ in length {lengths}")
    colours = {key: PALETTE[index] for index, key in enumerate(series)}
    figures = {}
    for chart_id, field, title, y_title in COMPARE_CHARTS:
        layout = _layout(chart_id=f"compare-{chart_id}", title=title, x_title=X_TITLE, y_title=y_title)
        # run labels are long: under the plot, where they cannot cover the title
        layout["legend"] = {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.3, "yanchor": "top"}
        layout["margin"] = {**layout["margin"], "b": 90}
        data = [{**_line(plotly_text(labels.get(key, key)), colours[key], list(run.get("t") or ()),
                         [_number(value) for value in run.get(field) or ()]), "legendgroup": str(key)}
                for key, run in series.items()]
        if chart_id == "score":
            layout["yaxis"]["range"] = [0, 102]
            spec = {"threshold": {"value": float(threshold), "color": THRESHOLD_COLOR}}
            layout["shapes"], layout["annotations"] = marks_for(spec, events=None, alerts=(), last_t=None)
        figures[chart_id] = {"data": data, "layout": layout}
    return figures


def figure_payload(figure: Mapping) -> dict:
    """What static/js/plotly_figures.js draws from a json_script element: the figure and the config."""
    return {"figure": figure, "config": PLOTLY_CONFIG}
