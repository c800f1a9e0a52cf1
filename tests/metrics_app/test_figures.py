"""The Plotly figures of metrics_app.figures: pure dicts built from `sample` messages."""

import json
from datetime import UTC, datetime

import pytest

from metrics_app import figures
from metrics_app.figures import PLOTLY_CONFIG, chart_specs, compare_figures, run_figures, tuning_label

CHART_IDS = ["throughput", "latency", "users", "pod_requests", "pod_throughput", "balance", "cpu", "memory",
             "connections"]
TIME_CHARTS = [chart_id for chart_id in CHART_IDS if chart_id != "pod_requests"]


def sample(t, pods, **figures_of_second):
    second = {"type": "sample", "t": t, "users": 4, "requests": sum(p["requests"] for p in pods.values()), "failures": 0,
              "rps": float(sum(p["requests"] for p in pods.values())), "failures_per_s": 0.0, "p50_ms": 1.0,
              "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 9.0, "active_connections": 4, "unattributed": 0, "score": 99.0}
    second["pods"] = pods
    second.update(figures_of_second)
    return second


def pod(requests, cpu=0.1, memory_bytes=32 * 1024 * 1024):
    return {"requests": requests, "failures": 0, "p95_ms": 2.0, "cpu": cpu, "memory_bytes": memory_bytes, "ready": True}


@pytest.fixture
def samples():
    return [
        sample(1.0, {"pod-a": pod(10), "pod-b": pod(12)}, rps=22.0, failures_per_s=1.0, p50_ms=1.5, p95_ms=4.0, p99_ms=8.0,
               score=90.0, active_connections=3),
        sample(2.0, {"pod-b": pod(20, cpu=0.25), "pod-a": pod(18)}, rps=38.0, p50_ms=1.1, p95_ms=3.5, p99_ms=6.0, score=None),
        sample(3.0, {"pod-c": pod(5, cpu=None, memory_bytes=16 * 1024 * 1024), "pod-a": pod(7), "pod-b": pod(9)}, rps=21.0),
    ]


def traces_by_name(figure):
    return {trace["name"]: trace for trace in figure["data"]}


def test_specs_cover_every_chart_and_serialise():
    specs = chart_specs(threshold=90.0)
    assert [spec["id"] for spec in specs] == CHART_IDS
    assert json.loads(json.dumps(specs, allow_nan=False)) == specs
    by_id = {spec["id"]: spec for spec in specs}
    assert by_id["balance"]["threshold"]["value"] == 90.0
    assert [series["field"] for series in by_id["throughput"]["series"]] == ["rps", "failures_per_s"]
    assert [series["field"] for series in by_id["latency"]["series"]] == ["p50_ms", "p95_ms", "p99_ms"]
    assert by_id["memory"]["pod_field"] == "memory_bytes" and by_id["pod_requests"]["kind"] == "pod_bar"
    assert all(spec["layout"]["uirevision"] == spec["id"] for spec in specs)  # live updates keep the user's zoom
    assert all(spec["title"] and spec["x_title"] and spec["y_title"] for spec in specs)
    assert PLOTLY_CONFIG == {"displaylogo": False, "responsive": True}


def test_time_traces_hold_the_samples_values(samples):
    result = run_figures(chart_specs(threshold=95.0), samples)
    throughput = traces_by_name(result["throughput"])
    assert throughput["requests/s"]["x"] == [1.0, 2.0, 3.0]
    assert throughput["requests/s"]["y"] == [22.0, 38.0, 21.0]
    assert throughput["failures/s"]["y"] == [1.0, 0.0, 0.0]
    latency = traces_by_name(result["latency"])
    assert [latency[name]["y"] for name in ("p50", "p95", "p99")] == [[1.5, 1.1, 1.0], [4.0, 3.5, 2.0], [8.0, 6.0, 3.0]]
    assert result["balance"]["data"][0]["y"] == [90.0, None, 99.0]  # a second without traffic is a gap
    assert result["connections"]["data"][0]["y"] == [3, 4, 4]


def test_a_pod_appearing_later_gets_its_own_trace_with_leading_gaps(samples):
    result = run_figures(chart_specs(threshold=95.0), samples)
    per_pod = result["pod_throughput"]["data"]
    assert [trace["name"] for trace in per_pod] == ["pod-a", "pod-b", "pod-c"]  # first-seen order
    assert [trace["y"] for trace in per_pod] == [[10, 18, 7], [12, 20, 9], [None, None, 5]]
    assert all(trace["x"] == [1.0, 2.0, 3.0] for trace in per_pod)
    assert len({trace["line"]["color"] for trace in per_pod}) == 3
    cpu = traces_by_name(result["cpu"])
    assert cpu["pod-b"]["y"] == [0.1, 0.25, 0.1] and cpu["pod-c"]["y"] == [None, None, None]
    memory = traces_by_name(result["memory"])
    assert memory["pod-a"]["y"] == [32.0, 32.0, 32.0] and memory["pod-c"]["y"] == [None, None, 16.0]


def test_pod_bar_sums_each_pods_requests_in_the_line_colours(samples):
    result = run_figures(chart_specs(threshold=95.0), samples)
    (bar,) = result["pod_requests"]["data"]
    assert bar["type"] == "bar"
    assert dict(zip(bar["x"], bar["y"], strict=True)) == {"pod-a": 35, "pod-b": 41, "pod-c": 5}
    line_colours = [trace["line"]["color"] for trace in result["pod_throughput"]["data"]]
    assert bar["marker"]["color"] == line_colours


def test_pods_new_in_the_same_second_are_ordered_by_name():
    result = run_figures(chart_specs(threshold=95.0), [sample(1.0, {"pod-z": pod(1), "pod-m": pod(1)})])
    assert [trace["name"] for trace in result["pod_throughput"]["data"]] == ["pod-m", "pod-z"]


def test_balance_threshold_line_and_alert_spans(samples):
    alerts = [
        {"type": "alert", "start_t": 1.0, "end_t": None, "score": 71.0, "worst_pod": "pod-a", "message": "m"},
        {"type": "alert", "start_t": 1.0, "end_t": 2.0, "score": 60.0, "worst_pod": "pod-a", "message": "m"},  # closes it
        {"type": "alert", "start_t": 2.5, "end_t": None, "score": 80.0, "worst_pod": "pod-b", "message": "m"},
    ]
    layout = run_figures(chart_specs(threshold=87.5), samples, alerts=alerts)["balance"]["layout"]
    threshold_lines = [shape for shape in layout["shapes"] if shape["type"] == "line" and shape["yref"] == "y"]
    assert [(line["y0"], line["y1"], line["x0"], line["x1"], line["xref"]) for line in threshold_lines] == [
        (87.5, 87.5, 0, 1, "paper")]
    assert any(note["text"] == "threshold 87.5 %" for note in layout["annotations"])
    spans = [(shape["x0"], shape["x1"]) for shape in layout["shapes"] if shape["type"] == "rect"]
    assert spans == [(1.0, 2.0), (2.5, 3.0)]  # one span per start; the open one reaches the last second
    assert layout["yaxis"]["range"] == [0, 102]


def test_a_pods_error_alert_is_not_shaded_as_a_balance_span_nor_merged_with_one(samples):
    alerts = [
        {"type": "alert", "kind": "balance", "id": "balance@1", "start_t": 1.0, "end_t": None, "score": 71.0,
         "worst_pod": "pod-a", "message": "m"},
        {"type": "alert", "kind": "pod_errors", "id": "pod_errors:pod-b@1", "start_t": 1.0, "end_t": 1.5,
         "pod": "pod-b", "value": 30.0, "others": 0.0, "message": "m"},  # same start: must not close the balance one
    ]
    layout = run_figures(chart_specs(threshold=95.0), samples, alerts=alerts)["balance"]["layout"]
    assert [(shape["x0"], shape["x1"]) for shape in layout["shapes"] if shape["type"] == "rect"] == [(1.0, 3.0)]


def test_chaos_is_shaded_and_tuning_marked_on_every_time_chart(samples):
    events = {
        "type": "events",
        "chaos": [
            {"id": 1, "kind": "latency", "target": "pod-a", "severity": "medium", "started_at_s": 1.5, "ended_at_s": 2.5,
             "recovered_at_s": 2.6, "rto_s": 0.1, "rolled_back": True},
            {"id": 2, "kind": "pod_kill", "target": "pod-b", "severity": "high", "started_at_s": 2.0, "ended_at_s": 2.0,
             "recovered_at_s": None, "rto_s": None, "rolled_back": False},
            {"id": 3, "kind": "errors", "target": None, "severity": "low", "started_at_s": 2.8, "ended_at_s": None,
             "recovered_at_s": None, "rto_s": None, "rolled_back": False},
        ],
        "tuning": [{"t": 2.2, "action": "set_algorithm", "from": {"algorithm": "l4_connection"},
                    "to": {"algorithm": "least_conn"}, "score_before": 41.0, "score_after": None, "outcome": "applied",
                    "reason": "connections pinned"}],
    }
    result = run_figures(chart_specs(threshold=95.0), samples, events=events)
    min_width = figures.MARKS["chaos"]["min_width_s"]
    for chart_id in TIME_CHARTS:
        layout = result[chart_id]["layout"]
        bands = [(shape["x0"], shape["x1"]) for shape in layout["shapes"] if shape["type"] == "rect"]
        assert bands == [(1.5, 2.5), (2.0, 2.0 + min_width), (2.8, 2.8 + min_width)], chart_id
        outlines = [shape["line"]["width"] for shape in layout["shapes"] if shape["type"] == "rect"]
        assert outlines == [0, 1, 1], chart_id  # an instant is outlined so it shows on a long run
        tuning_lines = [shape for shape in layout["shapes"] if shape["type"] == "line" and shape["xref"] == "x"]
        assert [(line["x0"], line["x1"], line["yref"]) for line in tuning_lines] == [(2.2, 2.2, "paper")], chart_id
        texts = {note["text"]: note for note in layout["annotations"]}
        assert texts["algorithm: l4_connection -> least_conn"]["x"] == 2.2
        assert texts["algorithm: l4_connection -> least_conn"]["hovertext"] == "connections pinned"
        assert texts["pod_kill pod-b"]["x"] == 2.0 and texts["errors"]["x"] == 2.8
    assert result["pod_requests"]["layout"]["shapes"] == []  # no time axis, nothing to mark


def test_tuning_labels_name_what_changed():
    assert tuning_label({"action": "set_algorithm", "from": "l4_connection", "to": "least_conn"}) == (
        "algorithm: l4_connection -> least_conn")
    assert tuning_label({"action": "scale", "from": 3, "to": 5.0}) == "replicas: 3 -> 5"
    assert tuning_label({"action": "scale", "from": {"replicas": 3, "algorithm": "p2c"},
                         "to": {"replicas": 4, "algorithm": "p2c"}}) == "replicas: 3 -> 4"
    weights = tuning_label({"action": "set_weights", "from": {"weights": {"pod-0": 1.0, "pod-1": 1.0}},
                            "to": {"weights": {"pod-0": 2.0, "pod-1": 1.0, "pod-2": 1.5, "pod-3": 1.0}}})
    assert weights.startswith('weights: {"pod-0":1,"pod-1":1} -> {"pod-0":2,')
    assert len(weights) == figures.MARKS["tuning"]["label_max_chars"] and weights.endswith("…")


def test_every_figure_serialises_and_non_finite_values_become_gaps(samples):
    samples[0]["rps"] = float("nan")
    samples[1]["pods"]["pod-a"]["cpu"] = float("inf")
    result = run_figures(chart_specs(threshold=95.0), samples)
    assert set(result) == set(CHART_IDS)
    for figure in result.values():
        assert json.loads(json.dumps(figure, allow_nan=False)) == figure
    assert result["throughput"]["data"][0]["y"][0] is None
    assert traces_by_name(result["cpu"])["pod-a"]["y"][1] is None


def test_no_samples_give_empty_but_valid_figures():
    result = run_figures(chart_specs(threshold=95.0), [], events={"chaos": [], "tuning": []})
    assert set(result) == set(CHART_IDS)
    for chart_id, figure in result.items():
        assert json.loads(json.dumps(figure, allow_nan=False)) == figure
        assert figure["layout"]["title"]["text"], chart_id
    assert all(trace["x"] == [] and trace["y"] == [] for trace in result["throughput"]["data"])
    assert len(result["throughput"]["data"]) == 2
    assert result["pod_throughput"]["data"] == []
    assert result["pod_requests"]["data"][0]["x"] == [] and result["pod_requests"]["data"][0]["y"] == []
    assert [shape["y0"] for shape in result["balance"]["layout"]["shapes"]] == [95.0]  # the threshold still shows


def test_an_open_alert_without_samples_is_a_thin_band():
    alerts = [{"start_t": 4.0, "end_t": None, "score": 10.0, "worst_pod": None, "message": "m"}]
    layout = run_figures(chart_specs(threshold=95.0), [], alerts=alerts)["balance"]["layout"]
    (band,) = [shape for shape in layout["shapes"] if shape["type"] == "rect"]
    assert (band["x0"], band["x1"]) == (4.0, 4.0 + figures.ALERT_STYLE["min_width_s"])


def test_users_are_drawn_over_time(samples):
    samples[1]["users"] = 9
    users = run_figures(chart_specs(threshold=95.0), samples)["users"]
    assert [(trace["name"], trace["x"], trace["y"]) for trace in users["data"]] == [("users", [1.0, 2.0, 3.0], [4, 9, 4])]


def test_without_pod_usage_the_cpu_and_memory_charts_are_left_out():
    ids = [spec["id"] for spec in chart_specs(threshold=95.0, pod_usage=False)]
    assert ids == [chart_id for chart_id in CHART_IDS if chart_id not in ("cpu", "memory")]


def test_with_the_runs_start_time_charts_read_clock_time(samples):
    started = datetime(2025, 3, 4, 12, 30, 15, 250_000)  # the run's start, in the zone the page shows
    origin = figures.wall_clock_ms(started)
    assert origin == int(datetime(2025, 3, 4, 12, 30, 15, 250_000, tzinfo=UTC).timestamp() * 1000)
    events = {"chaos": [{"kind": "pod_kill", "target": "pod-b", "started_at_s": 2.0, "ended_at_s": 2.0}],
              "tuning": [{"t": 2.5, "action": "scale", "from": 2, "to": 3, "reason": "r"}]}
    alerts = [{"start_t": 1.0, "end_t": None, "score": 50.0, "worst_pod": "pod-a", "message": "m"}]
    result = run_figures(chart_specs(threshold=95.0), samples, events=events, alerts=alerts, clock_origin_ms=origin)
    for chart_id in TIME_CHARTS:
        figure = result[chart_id]
        assert all(trace["x"] == [origin + 1000, origin + 2000, origin + 3000] for trace in figure["data"]), chart_id
        xaxis = figure["layout"]["xaxis"]
        assert xaxis["type"] == "date" and xaxis["hoverformat"] == "%Y-%m-%d %H:%M:%S", chart_id
        bands = [(shape["x0"], shape["x1"]) for shape in figure["layout"]["shapes"] if shape["type"] == "rect"]
        assert (origin + 2000, origin + 2000 + 1000 * figures.MARKS["chaos"]["min_width_s"]) in bands
        tuning = [shape["x0"] for shape in figure["layout"]["shapes"] if shape["type"] == "line" and shape["xref"] == "x"]
        assert tuning == [origin + 2500]
    balance_bands = [(s["x0"], s["x1"]) for s in result["balance"]["layout"]["shapes"] if s["type"] == "rect"]
    assert (origin + 1000, origin + 3000) in balance_bands  # the open alert reaches the last second
    assert result["pod_requests"]["data"][0]["x"] == ["pod-a", "pod-b", "pod-c"]  # no time axis
    assert "type" not in result["pod_requests"]["layout"]["xaxis"]


def compared_run(offset):
    return {"t": [1.0, 2.0, 3.0], "rps": [100.0 + offset, None, 90.0], "p95_ms": [3.0, 3.5 + offset, 4.0],
            "score": [98.0, 97.0 - offset, None], "pod_spread": [2.0, 4.0, 6.0 + offset]}


def test_compare_overlays_runs_with_one_colour_each_across_figures():
    series = {"7": compared_run(0), "9": compared_run(1), "12": compared_run(2)}
    labels = {"7": "#7 round_robin", "9": "#9 least_conn", "12": "#12 p2c"}
    result = compare_figures(series, labels, threshold=92.0)
    assert list(result) == ["throughput", "p95", "score", "pod_spread"]
    colours_per_figure = [[trace["line"]["color"] for trace in figure["data"]] for figure in result.values()]
    assert all(colours == colours_per_figure[0] for colours in colours_per_figure)
    assert len(set(colours_per_figure[0])) == 3
    for figure in result.values():
        assert [trace["name"] for trace in figure["data"]] == list(labels.values())
        assert all(trace["x"] == [1.0, 2.0, 3.0] for trace in figure["data"])
        assert json.loads(json.dumps(figure, allow_nan=False)) == figure
    assert [trace["y"] for trace in result["throughput"]["data"]] == [[100.0, None, 90.0], [101.0, None, 90.0],
                                                                     [102.0, None, 90.0]]
    assert result["pod_spread"]["data"][2]["y"] == [2.0, 4.0, 8.0]
    assert [shape["y0"] for shape in result["score"]["layout"]["shapes"]] == [92.0]
    assert result["throughput"]["layout"]["shapes"] == []


def test_compare_rejects_series_of_unequal_length_and_more_runs_than_colours():
    broken = compared_run(0)
    broken["score"] = [1.0]
    with pytest.raises(ValueError, match="differ in length"):
        compare_figures({"1": broken, "2": compared_run(0)}, {}, threshold=95.0)
    too_many = {str(key): compared_run(0) for key in range(len(figures.PALETTE) + 1)}
    with pytest.raises(ValueError, match="at most"):
        compare_figures(too_many, {}, threshold=95.0)


def test_compare_without_labels_names_runs_by_key():
    result = compare_figures({"3": compared_run(0), "4": compared_run(0)}, {}, threshold=95.0)
    assert [trace["name"] for trace in result["p95"]["data"]] == ["3", "4"]


def test_labels_a_target_controls_reach_plotly_as_text():
    """Plotly reads `<a href>` in a trace name, a category or an annotation as a link."""
    pod = '<a href="https://evil.test/">x</a>&'
    escaped = "&lt;a href=\"https://evil.test/\"&gt;x&lt;/a&gt;&amp;"
    samples = [{"t": 1.0, "pods": {pod: {"requests": 3, "cpu": 0.1, "memory_bytes": 1}}}]
    events = {"chaos": [{"kind": "pod_kill", "target": pod, "started_at_s": 0.5, "ended_at_s": 0.5}], "tuning": []}
    figures = run_figures(chart_specs(threshold=95.0), samples, events=events)
    assert figures["pod_throughput"]["data"][0]["name"] == escaped
    assert figures["pod_requests"]["data"][0]["x"] == [escaped]
    assert figures["throughput"]["layout"]["annotations"][0]["text"] == f"pod_kill {escaped}"
    compared = compare_figures({"1": {"t": [1.0], "rps": [1.0], "p95_ms": [1.0], "score": [1.0], "pod_spread": [1.0]}},
                               {"1": pod}, threshold=95.0)
    assert compared["throughput"]["data"][0]["name"] == escaped
