"""The live run page as a Locust or Grafana user reads it, in Chromium: the page the server renders
(templates/tests_app/loadtestrun_detail.html), served with the real static files from a
loopback server, and a fake WebSocket the test drives message by message (the live protocol).

Header fields (started, elapsed, remaining) and headline numbers follow the messages; the time
charts read clock time once the run's start is known, hovering shows it, and a zoom on one
chart is applied to every time chart; the per-endpoint and failures tables fill from
`request_stats`."""

from __future__ import annotations

import mimetypes
import threading
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import plotly
import pytest
from django.urls import reverse

from metrics_app import figures
from metrics_app.figures import chart_specs, run_figures
from tests.factories import LoadTestRunFactory, ScenarioFactory
from tests.metrics_app.test_live_run_js import CHART_STATE, EVENTS, FAKE_WEBSOCKET, sample, wait_samples
from tests_app.engine.testing import LoopbackHTTPServer, QuietHandler

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

REPO = Path(__file__).resolve().parents[2]
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
STARTED_AT = "2025-03-04T13:30:15.250+01:00"  # as the status message carries it (the pages' zone)
ORIGIN_MS = figures.wall_clock_ms(datetime(2025, 3, 4, 13, 30, 15, 250_000))
THRESHOLD = 90.0
DURATION_S = 30.0


class Site:
    """The run page rendered by Django, the static files from the repository, the paths asked for."""

    def __init__(self, page: bytes, run_id: int):
        self.page, self.run_id = page, run_id
        self.requested: list[str] = []
        self.lock = threading.Lock()

    def body(self, path: str) -> tuple[str, bytes] | None:
        if path == f"/runs/{self.run_id}/":
            return "text/html; charset=utf-8", self.page
        if path == f"/runs/{self.run_id}/results/":
            return ("text/html; charset=utf-8",
                    b'<div class="card"><h2>Results</h2><table class="pods"><tr><td>pod-a</td></tr></table></div>')
        if path == "/static/plotly/plotly.min.js":
            return "text/javascript", PLOTLY_JS.read_bytes()
        if path.startswith("/static/"):
            file = REPO / "static" / path.removeprefix("/static/")
            if file.is_file():
                return mimetypes.guess_type(file.name)[0] or "application/octet-stream", file.read_bytes()
        return None

    def handler(self):
        site = self

        class Handler(QuietHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                path = urlsplit(self.path).path
                with site.lock:
                    site.requested.append(path)
                found = site.body(path)
                if found is None:
                    self.send_error(404)
                    return
                content_type, body = found
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def run(alice):
    scenario = ScenarioFactory(owner=alice, duration_s=int(DURATION_S), threshold_balance=THRESHOLD)
    return LoadTestRunFactory(owner=alice, scenario=scenario, status="running")


@pytest.fixture
def rendered(client, alice, run) -> Site:
    """The page as the server renders it, before the browser starts: once Playwright's loop runs
    in this thread, ORM calls get connections of their own (SQLite would then wait on the
    test's own open transaction)."""
    client.force_login(alice)
    return Site(client.get(reverse("run-detail", args=[run.pk])).content, run.pk)


@pytest.fixture
def page(rendered, browser):
    site = rendered
    with LoopbackHTTPServer(site.handler()) as server:
        page = browser.page
        page.add_init_script(FAKE_WEBSOCKET)
        page.goto(f"{server.url}/runs/{site.run_id}/")
        page.wait_for_function("() => window.__ws.state.urls.length === 1")
        yield page


def deliver(page, messages) -> None:
    page.evaluate("(messages) => window.__ws.deliver(messages)", messages)


def status(value: str, *, finished: bool = False, started_at: str | None = STARTED_AT) -> dict:
    return {"type": "status", "run": 7, "status": value, "started_at": started_at, "threshold": THRESHOLD,
            "window_s": 10, "duration_s": DURATION_S, "verdict_passed": None, "verdict_reasons": [],
            "finished": finished}


def text(page, selector: str) -> str:
    return page.text_content(selector).strip()


def test_header_and_headline_numbers_follow_the_live_messages(page, browser):
    assert [text(page, f"#run-{field}") for field in ("elapsed", "remaining")] == ["–", "–"]
    samples = [sample(t) for t in (1, 2, 3)]
    deliver(page, [status("running"), EVENTS, *samples])
    wait_samples(page, 3)
    assert text(page, "#run-started") == "2025-03-04 13:30:15"
    assert (text(page, "#run-elapsed"), text(page, "#run-remaining")) == ("3 s", "27 s")
    last = samples[-1]
    requests = sum(s["requests"] for s in samples)
    failures = sum(s["failures"] for s in samples)
    assert text(page, "#headline-rps") == f"{last['rps']:.1f}"
    assert text(page, "#headline-requests") == f"{requests:,}"
    assert text(page, "#headline-errors") == f"{100 * failures / requests:.2f} %"
    assert text(page, "#headline-p95") == f"{last['p95_ms']:.1f} ms"
    assert text(page, "#headline-score") == f"{last['score']:.1f} %"

    deliver(page, [sample(4)])
    wait_samples(page, 4)
    assert (text(page, "#run-elapsed"), text(page, "#run-remaining")) == ("4 s", "26 s")
    assert text(page, "#headline-requests") == f"{requests + sample(4)['requests']:,}"

    deliver(page, [{**status("passed", finished=True), "verdict_passed": True}])
    page.wait_for_selector("#run-results table.pods")
    assert text(page, "#run-remaining") == "–"  # ended: nothing remains
    assert page.is_hidden("#live-requests")  # the results hold the final tables
    assert browser.console_problems == []


def test_time_charts_read_clock_time_even_for_seconds_drawn_before_the_start_was_known(page, browser):
    # The database tail may send a run's first seconds before the status that says it started.
    deliver(page, [status("queued", started_at=None), EVENTS, sample(1), sample(2)])
    wait_samples(page, 2)
    assert page.evaluate("() => document.getElementById('chart-throughput').data[0].x") == [1.0, 2.0]
    deliver(page, [status("running"), sample(3)])
    wait_samples(page, 3)
    samples = [sample(t) for t in (1, 2, 3)]
    expected = run_figures(chart_specs(threshold=THRESHOLD), samples, events=EVENTS, clock_origin_ms=ORIGIN_MS)
    shown = page.evaluate(CHART_STATE)
    assert set(shown) == set(expected)
    for chart_id, figure in expected.items():
        drawn = [(trace["name"], trace["x"], trace["y"]) for trace in shown[chart_id]["data"]]
        assert drawn == [(trace["name"], trace["x"], trace["y"]) for trace in figure["data"]], chart_id
        assert shown[chart_id]["shapes"] == figure["layout"]["shapes"], chart_id
        assert shown[chart_id]["annotations"] == figure["layout"]["annotations"], chart_id
    assert shown["throughput"]["data"][0]["x"] == [ORIGIN_MS + 1000, ORIGIN_MS + 2000, ORIGIN_MS + 3000]
    assert page.evaluate("() => document.getElementById('chart-users').layout.xaxis.type") == "date"
    assert page.evaluate("() => document.getElementById('chart-pod_requests').layout.xaxis.type") != "date"
    assert browser.console_problems == []


PLOT_POINT = """([chartId, x]) => {
  const element = document.getElementById(chartId);
  const xa = element._fullLayout.xaxis, ya = element._fullLayout.yaxis;
  const box = element.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya._length / 2];
}"""


NO_EVENTS = {"type": "events", "chaos": [], "tuning": []}  # EVENTS' chaos at 100 s would widen the axis


def test_hovering_a_time_chart_shows_the_date_and_time_of_the_second(page, browser):
    deliver(page, [status("running"), NO_EVENTS, *[sample(t) for t in range(1, 6)]])
    wait_samples(page, 5)
    page.locator("#chart-latency").scroll_into_view_if_needed()
    x, y = page.evaluate(PLOT_POINT, ["chart-latency", ORIGIN_MS + 3000])
    page.mouse.move(x, y)
    page.wait_for_selector("#chart-latency .hoverlayer .legend")
    hover = page.text_content("#chart-latency .hoverlayer")
    assert "2025-03-04 13:30:18" in hover  # started 13:30:15.250, third second
    assert "p95" in hover
    assert browser.console_problems == []


def test_a_zoom_on_one_chart_applies_to_every_time_chart_and_a_reset_too(page, browser):
    deliver(page, [status("running"), NO_EVENTS, *[sample(t) for t in range(1, 21)]])
    wait_samples(page, 20)
    page.locator("#chart-throughput").scroll_into_view_if_needed()
    x0, y = page.evaluate(PLOT_POINT, ["chart-throughput", ORIGIN_MS + 5000])
    x1, _ = page.evaluate(PLOT_POINT, ["chart-throughput", ORIGIN_MS + 10000])
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=4)
    page.mouse.move(x1, y, steps=4)
    page.mouse.up()
    time_charts = [spec["id"] for spec in chart_specs(threshold=THRESHOLD) if spec["clock_xaxis"]]
    page.wait_for_function("""(ids) => ids.every((id) =>
      document.getElementById('chart-' + id)._fullLayout.xaxis.autorange === false)""", arg=time_charts)
    ranges = page.evaluate("""(ids) => ids.map((id) =>
      document.getElementById('chart-' + id)._fullLayout.xaxis.range.slice())""", time_charts)
    assert all(range_ == ranges[0] for range_ in ranges), dict(zip(time_charts, ranges, strict=True))
    assert ranges[0][0].startswith("2025-03-04 13:30:2") and ranges[0][1].startswith("2025-03-04 13:30:2")
    assert page.evaluate("() => document.getElementById('chart-pod_requests')._fullLayout.xaxis.autorange") is True

    page.locator("#chart-latency").scroll_into_view_if_needed()
    x, y = page.evaluate(PLOT_POINT, ["chart-latency", ORIGIN_MS + 7000])
    page.mouse.dblclick(x, y)  # back to the whole run, everywhere
    page.wait_for_function("""(ids) => ids.every((id) =>
      document.getElementById('chart-' + id)._fullLayout.xaxis.autorange === true)""", arg=time_charts)
    assert browser.console_problems == []


def test_request_stats_fill_the_endpoint_and_failure_tables_as_text(page, browser):
    deliver(page, [status("running"), EVENTS, sample(1)])
    wait_samples(page, 1)
    assert page.is_visible("#live-no-errors") and page.is_hidden("#live-errors")
    endpoints = [{"endpoint": "GET /api/items", "requests": 300, "failures": 0, "rps": 30.04, "failures_per_s": 0.0,
                  "p50_ms": 1.0, "p95_ms": 2.94, "p99_ms": 4.8, "max_ms": 9.0},
                 {"endpoint": "GET /broken", "requests": 100, "failures": 100, "rps": 10.0, "failures_per_s": 10.0,
                  "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}]
    errors = [{"endpoint": "GET /broken", "type": "HTTPError", "status": 503, "message": "<img src=x onerror=alert(1)>",
               "count": 100, "first_s": 0.04, "last_s": 9.96},
              {"endpoint": "GET /api/items", "type": "ConnectionResetError", "status": None,
               "message": "[Errno 104] Connection reset by peer", "count": 1, "first_s": 3.0, "last_s": 3.0}]
    deliver(page, [{"type": "request_stats", "t": 1.0, "endpoints": endpoints, "errors": errors}])
    page.wait_for_function("() => document.querySelector('#run-live').dataset.statsT === '1'")
    rows = page.evaluate("""() => Array.from(document.querySelectorAll('#live-endpoints tbody tr'))
      .map((row) => Array.from(row.cells).map((cell) => cell.textContent))""")
    assert rows == [["GET /api/items", "300", "0", "30.0", "1.0", "2.9", "4.8", "9.0"],
                    ["GET /broken", "100", "100", "10.0", "–", "–", "–", "–"]]
    failures = page.evaluate("""() => Array.from(document.querySelectorAll('#live-errors tbody tr'))
      .map((row) => Array.from(row.cells).map((cell) => cell.textContent))""")
    assert failures == [["GET /broken", "HTTPError", "503", "<img src=x onerror=alert(1)>", "100", "0.0 s", "10.0 s"],
                        ["GET /api/items", "ConnectionResetError", "–", "[Errno 104] Connection reset by peer", "1",
                         "3.0 s", "3.0 s"]]
    assert page.locator("#live-errors img").count() == 0  # the target's text is never HTML
    assert page.is_visible("#live-errors") and page.is_hidden("#live-no-errors")
    assert browser.console_problems == []


INJECTION_ROWS = """() => Array.from(document.querySelectorAll('#live-injections tbody tr'))
  .map((row) => Array.from(row.cells).map((cell) => cell.textContent))"""


def test_the_injection_table_fills_in_each_recovery_as_it_is_sent(page, browser):
    killed = {"id": 1, "step": 0, "kind": "pod_kill", "target": "pod-b-x1y2z", "severity": "medium",
              "started_at_s": 3.015, "ended_at_s": 3.024, "rolled_back": True, "rollback": "rolled_back",
              **dict.fromkeys(("recovered_at_s", "rto_s", "healing_s", "balance_recovery_s", "availability",
                               "requests_failed", "p95_during_ms", "p95_after_ms", "passed")), "reason": ""}
    deliver(page, [status("running"), NO_EVENTS, sample(1)])
    wait_samples(page, 1)
    assert page.is_hidden("#live-chaos")  # no injection yet
    deliver(page, [{**NO_EVENTS, "chaos": [killed]}, sample(2)])
    wait_samples(page, 2)
    assert page.is_visible("#live-chaos")
    assert page.evaluate(INJECTION_ROWS) == [
        ["step 0: pod_kill on pod-b-x1y2z (medium)", "3.0 s", "3.0 s", "–", "–", "–", "–", "–", "–", "–"]]
    # the run measured its recovery: the same row, its figures filled in
    recovered = {**killed, "recovered_at_s": 3.1, "rto_s": 0.085, "healing_s": 1.334, "availability": 0.846154,
                 "requests_failed": 8, "p95_during_ms": 170.0, "passed": True,
                 "reason": "pod_kill recovered in 0.1 s, within 30 s"}
    deliver(page, [{**NO_EVENTS, "chaos": [recovered]}, sample(3)])
    wait_samples(page, 3)
    assert page.evaluate(INJECTION_ROWS) == [
        ["step 0: pod_kill on pod-b-x1y2z (medium)", "3.0 s", "3.0 s", "passed", "0.1 s", "1.3 s", "–", "84.62 %",
         "8", "170.0 ms"]]
    assert browser.console_problems == []
