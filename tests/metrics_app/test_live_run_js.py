"""static/js/live_run.js in Chromium, without the Django server: a loopback HTTP server serves
a harness page with the run page's markup, the real script and plotly.js; the WebSocket is a
fake put in place before the page loads, which the test drives message by message (the live
protocol: status, events, backlog, live samples, alerts, finished status)."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlsplit

import plotly
import pytest
from django.utils.html import json_script

from metrics_app.figures import PLOTLY_CONFIG, chart_specs, run_figures
from tests_app.engine.testing import LoopbackHTTPServer, QuietHandler

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
LIVE_RUN_JS = REPO / "static" / "js" / "live_run.js"
LINKED_ZOOM_JS = REPO / "static" / "js" / "linked_zoom.js"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
THRESHOLD = 90.0
SPECS = chart_specs(threshold=THRESHOLD)
RESULTS_FRAGMENT = b'<div class="card"><h2>Results</h2><table class="pods"><tr><td>pod-a</td></tr></table></div>'

# Replaces window.WebSocket before any script runs. Each socket opens on the next task; the
# test delivers messages with __ws.deliver (all in one task, like a burst off the wire) and
# drops the current socket with __ws.drop (an abnormal close, 1006).
FAKE_WEBSOCKET = """
(() => {
  const state = {urls: [], sockets: [], clientCloses: []};
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = FakeWebSocket.CONNECTING;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      state.urls.push(url);
      state.sockets.push(this);
      setTimeout(() => {
        if (this.readyState !== FakeWebSocket.CONNECTING) return;
        this.readyState = FakeWebSocket.OPEN;
        if (this.onopen) this.onopen(new Event("open"));
      }, 0);
    }
    send() {}
    close(code = 1000, reason = "") {
      if (this.readyState >= FakeWebSocket.CLOSING) return;
      this.readyState = FakeWebSocket.CLOSED;
      state.clientCloses.push(code);
      setTimeout(() => { if (this.onclose) this.onclose(new CloseEvent("close", {code, reason, wasClean: true})); }, 0);
    }
  }
  Object.assign(FakeWebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = FakeWebSocket;
  window.__ws = {
    state,
    current: () => state.sockets[state.sockets.length - 1],
    deliver(messages) {
      const socket = window.__ws.current();
      for (const message of messages) {
        if (socket.onmessage) socket.onmessage(new MessageEvent("message", {data: JSON.stringify(message)}));
      }
    },
    drop() {
      const socket = window.__ws.current();
      socket.readyState = FakeWebSocket.CLOSED;
      if (socket.onclose) socket.onclose(new CloseEvent("close", {code: 1006, wasClean: false}));
    },
  };
})();
"""


def harness_page(*, status: str, results_html: str = "") -> bytes:
    """The markup of templates/tests_app/loadtestrun_detail.html that live_run.js reads."""
    charts = "".join(f'<div id="chart-{spec["id"]}" class="chart"></div>' for spec in SPECS)
    stop_form = '' if results_html else '<form id="stop-form" method="post" action="/stop/"><button>Stop</button></form>'
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Run 7</title>
<link rel="icon" href="data:,"></head><body>
<div id="run-live" data-ws-path="/ws/runs/7/" data-results-url="/runs/7/results/" data-status="{status}" data-samples="0">
<h1>Run 7 <span id="run-status" class="badge {status}">{status.title()}</span></h1>
{stop_form}
<ul id="alerts" class="alerts"></ul>
<div class="charts">{charts}</div>
<div id="run-results">{results_html}</div>
</div>
{json_script(SPECS, "chart-specs")}
{json_script(PLOTLY_CONFIG, "plotly-config")}
<script src="/static/plotly/plotly.min.js"></script>
<script src="/static/js/linked_zoom.js"></script>
<script src="/static/js/live_run.js"></script>
</body></html>""".encode()


class Site:
    """The pages and files the harness needs, and the paths the browser asked for."""

    def __init__(self):
        self.files: dict[str, tuple[str, bytes]] = {
            "/static/plotly/plotly.min.js": ("text/javascript", PLOTLY_JS.read_bytes()),
            "/static/js/live_run.js": ("text/javascript", LIVE_RUN_JS.read_bytes()),
            "/static/js/linked_zoom.js": ("text/javascript", LINKED_ZOOM_JS.read_bytes()),
            "/runs/7/results/": ("text/html; charset=utf-8", RESULTS_FRAGMENT),
        }
        self.requested: list[str] = []
        self.lock = threading.Lock()

    def handler(self):
        site = self

        class Handler(QuietHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                with site.lock:
                    site.requested.append(path)
                if path not in site.files:
                    self.send_error(404)
                    return
                content_type, body = site.files[path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def site():
    harness = Site()
    with LoopbackHTTPServer(harness.handler()) as server:
        harness.url = server.url
        yield harness


def pods_at(t: int) -> dict:
    pods = {"pod-a": 10 + t % 3, "pod-b": 11}
    if t >= 20:  # a pod that appears later (a scale-up)
        pods["pod-c"] = 9
    return {name: {"requests": requests, "failures": 0, "p95_ms": 2.0 + requests / 10, "cpu": 0.05 * requests,
                   "memory_bytes": (30 + requests) * 1024 * 1024, "ready": True} for name, requests in pods.items()}


def sample(t: int) -> dict:
    pods = pods_at(t)
    requests = sum(pod["requests"] for pod in pods.values())
    return {"type": "sample", "t": float(t), "users": 6, "requests": requests, "failures": t % 2, "rps": float(requests),
            "failures_per_s": float(t % 2), "p50_ms": 1.0 + t / 1000, "p95_ms": 3.0 + t / 500, "p99_ms": 5.0 + t / 250,
            "max_ms": 9.0, "active_connections": 6, "pods": pods, "unattributed": 0,
            "score": None if t == 1 else 95.0 - (t % 7)}


def status(value: str, *, finished: bool = False, verdict: bool | None = None) -> dict:
    return {"type": "status", "run": 7, "status": value, "threshold": THRESHOLD, "window_s": 10, "duration_s": 1900.0,
            "verdict_passed": verdict, "verdict_reasons": [], "finished": finished}


EVENTS = {
    "type": "events",
    "chaos": [
        {"id": 1, "kind": "pod_kill", "target": "pod-b", "severity": "high", "started_at_s": 30.0, "ended_at_s": 30.0,
         "recovered_at_s": 32.0, "rto_s": 2.0, "rolled_back": True},
        {"id": 2, "kind": "latency", "target": "pod-a", "severity": "medium", "started_at_s": 100.0, "ended_at_s": 160.0,
         "recovered_at_s": 161.0, "rto_s": 1.0, "rolled_back": True},
    ],
    "tuning": [{"t": 45.0, "action": "set_algorithm", "from": {"algorithm": "l4_connection"},
                "to": {"algorithm": "least_conn"}, "score_before": 41.0, "score_after": 98.7, "outcome": "improved",
                "reason": "connections pinned to pods"}],
    "timeline": [{"t": 60.5, "type": "scaled", "replicas": 5, "previous": 3, "by": "hpa", "desired": 5,
                  "metrics": [{"name": "cpu", "current": 82, "target": 60, "unit": "%"}]},
                 {"t": 90.25, "type": "failover", "server": "redis-1", "old": "127.0.0.1:7001", "new": "127.0.0.1:7002"},
                 {"t": 120.0, "type": "scaled", "replicas": 2, "previous": 5, "by": "external"},
                 {"t": None, "type": "scaled", "replicas": 3, "previous": 2, "by": "lblab"},  # before the clock: not drawn
                 {"t": 130.0, "type": "store_event", "event": "+sdown"}],  # a kind the charts do not mark
}
ALERT_OPEN = {"type": "alert", "start_t": 1795.0, "end_t": None, "score": 71.0, "worst_pod": "pod-b",
              "message": "Balance 71 % under 90 % since 1795 s: <b>pod-b</b> over its share"}
ALERT_CLOSED = {**ALERT_OPEN, "end_t": 1801.0, "score": 64.0}

CHART_STATE = """() => {
  const charts = {};
  document.querySelectorAll(".chart").forEach((element) => {
    charts[element.id.slice("chart-".length)] = {
      data: (element.data || []).map((trace) => ({
        name: trace.name, x: Array.from(trace.x), y: Array.from(trace.y),
        color: trace.line ? trace.line.color : trace.marker.color,
      })),
      shapes: (element.layout.shapes || []), annotations: (element.layout.annotations || []),
      drawn: element.querySelectorAll(".main-svg").length > 0,
    };
  });
  return charts;
}"""


def samples_shown(page) -> int:
    return int(page.get_attribute("#run-live", "data-samples"))


def wait_samples(page, count: int) -> None:
    page.wait_for_function(f"() => Number(document.querySelector('#run-live').dataset.samples) === {count}")


def assert_charts_match_the_report(page, samples, *, alerts=()) -> None:
    """What the page drew is what figures.run_figures builds for the report from the same messages."""
    expected = run_figures(SPECS, samples, events=EVENTS, alerts=alerts)
    shown = page.evaluate(CHART_STATE)
    assert set(shown) == set(expected)
    for chart_id, figure in expected.items():
        assert shown[chart_id]["drawn"], chart_id
        drawn = [(trace["name"], trace["x"], trace["y"], trace["color"]) for trace in shown[chart_id]["data"]]
        built = [(trace["name"], trace["x"], trace["y"], trace.get("line", trace.get("marker", {})).get("color"))
                 for trace in figure["data"]]
        assert drawn == built, chart_id
        assert shown[chart_id]["shapes"] == figure["layout"]["shapes"], chart_id
        assert shown[chart_id]["annotations"] == figure["layout"]["annotations"], chart_id


def open_page(browser, site, *, status_attr: str, results_html: str = ""):
    site.files["/runs/7/"] = ("text/html; charset=utf-8", harness_page(status=status_attr, results_html=results_html))
    page = browser.page
    page.add_init_script(FAKE_WEBSOCKET)
    page.goto(site.url + "/runs/7/")
    page.wait_for_function("() => window.__ws.state.urls.length === 1")
    return page


def test_live_page_draws_backlog_live_samples_alerts_and_reconnects_without_duplicates(browser, site):
    host = urlsplit(site.url).netloc
    page = open_page(browser, site, status_attr="queued")
    assert page.evaluate("() => window.__ws.state.urls") == [f"ws://{host}/ws/runs/7/"]  # the whole backlog first

    # Counted from here on: a backlog arriving in one burst must be drawn in one frame, not once per sample.
    page.evaluate("""() => {
      window.__extendCalls = 0;
      const extend = window.Plotly.extendTraces;
      window.Plotly.extendTraces = function () { window.__extendCalls += 1; return extend.apply(this, arguments); };
    }""")
    backlog = [sample(t) for t in range(1, 1801)]
    page.evaluate("(messages) => window.__ws.deliver(messages)", [status("running"), EVENTS, *backlog])
    wait_samples(page, 1800)
    time_charts = sum(spec["kind"] in ("time", "time_per_pod") for spec in SPECS)
    assert page.evaluate("() => window.__extendCalls") == time_charts
    assert page.get_attribute("#run-live", "data-status") == "running"
    assert page.text_content("#run-status") == "Running"
    assert page.locator("#chart-pod_throughput .scatterlayer .trace").count() == 3  # a trace per pod
    assert_charts_match_the_report(page, backlog)

    page.evaluate("(messages) => window.__ws.deliver(messages)", [ALERT_OPEN, sample(1801)])
    wait_samples(page, 1801)
    assert page.locator("#alerts li").count() == 1
    assert page.text_content("#alerts li") == ALERT_OPEN["message"]  # as text: the markup in it is not HTML
    assert page.locator("#alerts li b").count() == 0
    assert_charts_match_the_report(page, backlog + [sample(1801)], alerts=[ALERT_OPEN])  # the open alert reaches t=1801

    dropped = page.evaluate("""() => {
      window.__ws.drop();
      return [document.querySelector('#run-live').dataset.connection, document.querySelector('#run-status').textContent];
    }""")
    assert dropped == ["reconnecting", "Running (reconnecting…)"]
    page.wait_for_function("() => window.__ws.state.urls.length === 2")
    assert page.evaluate("() => window.__ws.state.urls[1]") == f"ws://{host}/ws/runs/7/?since=1801"
    # The server replays from `since`; seconds the page already has must not come back twice.
    replay = [status("running"), EVENTS, sample(1800), sample(1801), ALERT_CLOSED, sample(1802), sample(1803)]
    page.evaluate("(messages) => window.__ws.deliver(messages)", replay)
    wait_samples(page, 1803)
    xs = page.evaluate("() => document.getElementById('chart-throughput').data[0].x")
    assert xs == [float(t) for t in range(1, 1804)]
    assert page.locator("#alerts li").count() == 1  # the same alert, now closed
    assert page.get_attribute("#alerts li", "class") == "closed"
    assert "back at or above the threshold at 1801 s" in page.text_content("#alerts li")
    every_sample = [sample(t) for t in range(1, 1804)]
    assert_charts_match_the_report(page, every_sample, alerts=[ALERT_OPEN, ALERT_CLOSED])

    assert "/runs/7/results/" not in site.requested
    page.evaluate("(messages) => window.__ws.deliver(messages)", [status("passed", finished=True, verdict=True)])
    page.wait_for_selector("#run-results table.pods")
    assert page.get_attribute("#run-live", "data-status") == "passed"
    assert page.text_content("#run-status") == "Passed"
    assert page.is_hidden("#stop-form")
    page.wait_for_function("() => window.__ws.state.clientCloses.length === 1")  # the page closes a finished run's socket
    page.wait_for_function("() => document.querySelector('#run-live').dataset.connection === 'closed'")
    assert page.evaluate("() => window.__ws.state.urls.length") == 2  # and does not reconnect
    assert site.requested.count("/runs/7/results/") == 1
    assert browser.console_problems == []


def test_a_finished_run_still_draws_its_backlog_and_keeps_its_rendered_results(browser, site):
    page = open_page(browser, site, status_attr="failed", results_html='<table class="pods" id="rendered"></table>')
    backlog = [sample(t) for t in range(1, 61)]
    # A finished run: the status comes first, the whole history after it.
    page.evaluate("(messages) => window.__ws.deliver(messages)", [status("failed", finished=True, verdict=False), EVENTS])
    page.evaluate("(messages) => window.__ws.deliver(messages)", backlog)
    wait_samples(page, 60)
    assert_charts_match_the_report(page, backlog)
    page.wait_for_function("() => window.__ws.state.clientCloses.length === 1")
    assert page.locator("#run-results #rendered").count() == 1  # the server-rendered results stay
    assert "/runs/7/results/" not in site.requested
    assert page.evaluate("() => window.__ws.state.urls.length") == 1
    assert browser.console_problems == []


def test_a_socket_dropped_before_any_sample_reconnects_for_the_whole_backlog(browser, site):
    host = urlsplit(site.url).netloc
    page = open_page(browser, site, status_attr="running")
    page.evaluate("(messages) => window.__ws.deliver(messages)", [status("running"), EVENTS])
    page.evaluate("() => window.__ws.drop()")
    page.wait_for_function("() => window.__ws.state.urls.length === 2")
    assert page.evaluate("() => window.__ws.state.urls[1]") == f"ws://{host}/ws/runs/7/"
    page.evaluate("(messages) => window.__ws.deliver(messages)", [status("running"), EVENTS, sample(1), sample(2)])
    wait_samples(page, 2)
    assert_charts_match_the_report(page, [sample(1), sample(2)])
    assert browser.console_problems == []


HOSTILE_POD = '<a href="https://evil.test/">click</a> & <b>me</b>'


def test_a_pod_name_with_markup_is_drawn_as_text_never_a_link(browser, site):
    """Plotly draws <a href> in trace names and categories as links: a pod's name comes from the
    target, so the page and the report draw it as the characters it is."""
    page = open_page(browser, site, status_attr="running")
    hostile = [{**sample(t), "pods": {**sample(t)["pods"], HOSTILE_POD: sample(t)["pods"]["pod-a"]}} for t in (1, 2, 3)]
    events = {**EVENTS, "chaos": [{**EVENTS["chaos"][0], "target": HOSTILE_POD}]}
    page.evaluate("(messages) => window.__ws.deliver(messages)", [status("running"), events, *hostile])
    wait_samples(page, 3)
    page.wait_for_selector("#chart-pod_throughput .legendtext")
    assert page.locator(".chart svg a").count() == 0  # no link anywhere in the charts
    legend = page.locator("#chart-pod_throughput .legendtext").all_text_contents()
    assert HOSTILE_POD in legend
    assert any(HOSTILE_POD in text for text in page.locator("#chart-pod_requests .xtick text").all_text_contents())
    assert any(HOSTILE_POD in text for text in page.locator("#chart-throughput .annotation-text").all_text_contents())
    expected = run_figures(SPECS, hostile, events=events)
    shown = page.evaluate(CHART_STATE)
    assert [trace["name"] for trace in shown["pod_throughput"]["data"]] == \
        [trace["name"] for trace in expected["pod_throughput"]["data"]]
    assert shown["pod_requests"]["data"][0]["x"] == expected["pod_requests"]["data"][0]["x"]
    assert browser.console_problems == []
