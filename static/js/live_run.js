// The live run page: the charts declared by metrics_app/figures.py chart_specs (shipped in
// <script id="chart-specs">), fed sample by sample by the run's WebSocket (live protocol:
// status, events, backlog, then live samples and alerts, and the per-endpoint and failures
// tables in request_stats). The drawing rules mirror figures.run_figures and
// figures.marks_for, so the live charts and the report agree. The header (started, elapsed,
// remaining) and the headline numbers come from the same messages as the charts.
(function () {
  "use strict";

  var RECONNECT_FIRST_MS = 1000;
  var RECONNECT_MAX_MS = 10000;
  // The server sends a finished run's status first and its backlog after it, with no end marker:
  // once finished, the socket is closed when nothing has arrived for this long.
  var FINISHED_QUIET_MS = 1500;
  var DEFAULT_CONFIG = { displaylogo: false, responsive: true };

  var root = document.getElementById("run-live");
  var specsElement = document.getElementById("chart-specs");
  if (!root || !specsElement || typeof window.Plotly === "undefined") return;
  var Plotly = window.Plotly;
  var specs = JSON.parse(specsElement.textContent);
  var configElement = document.getElementById("plotly-config");
  var config = configElement ? JSON.parse(configElement.textContent) : DEFAULT_CONFIG;

  var ts = [];            // every t drawn, oldest first
  var clockOrigin = null; // the run's start as a date axis reads it (figures.wall_clock_ms); null: x is t
  var durationS = null;   // as planned (status): what "remaining" counts down from
  var totals = { requests: 0, failures: 0 };  // of every sample drawn
  var latest = null;      // the last sample drawn
  var pods = [];          // pods in the order they first appeared
  var events = { chaos: [], tuning: [], timeline: [] };
  var alerts = new Map(); // String(start_t) -> the latest alert message with that start
  var alertItems = new Map();
  var pending = [];       // samples received, not drawn yet
  var lastT = null;       // the last t received (drawn or pending): the reconnect's `since`
  var marksDirty = null;   // null, "alerts" (the charts that shade alerts) or "all"
  var frameRequested = false;
  var charts = [];

  var socket = null;
  var reconnectDelay = RECONNECT_FIRST_MS;
  var reconnectTimer = null;
  var quietTimer = null;
  var connection = "connecting";
  var leaving = false;
  var finished = false;
  var status = root.dataset.status || "";

  // ---- values and marks (mirrors of metrics_app/figures.py) ----

  function number(value) {
    return typeof value === "number" && isFinite(value) ? value : null;
  }

  // A time chart's x for a t: t, or the clock once the run's start is known (figures.clock_x).
  function xOf(t) {
    return clockOrigin === null ? t : clockOrigin + Math.round(t * 1000);
  }

  function scaled(value, scale) {
    value = number(value);
    return value === null || scale === 1 ? value : value * scale;
  }

  function podValue(sample, pod, field) {
    var figures = sample.pods ? sample.pods[pod] : undefined;
    return figures ? figures[field] : undefined;
  }

  // A label as text: Plotly draws <a href> in labels as a link; a pod's name comes from the
  // target (figures.plotly_text mirrors this).
  function plotlyText(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function line(name, color, x, y) {
    return { type: "scatter", mode: "lines", name: name, line: { color: color, width: 2 }, x: x, y: y };
  }

  function shortValue(value) {
    if (value === null || value === undefined) return "none";
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "number" || typeof value === "string") return String(value);
    return JSON.stringify(value);
  }

  function isObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
  }

  function orNull(value) {
    return value === undefined ? null : value;
  }

  function tuningLabel(decision, style) {
    var before = decision.from;
    var after = decision.to;
    var label;
    if (isObject(before) && isObject(after)) {
      var keys = Object.keys(after).filter(function (key) {
        return JSON.stringify(orNull(before[key])) !== JSON.stringify(orNull(after[key]));
      });
      if (!keys.length) keys = Object.keys(after);
      label = keys.map(function (key) {
        return key + ": " + shortValue(before[key]) + " -> " + shortValue(after[key]);
      }).join(", ");
    } else {
      var action = String(decision.action || "");
      var subject = Object.prototype.hasOwnProperty.call(style.subjects, action) ? style.subjects[action] : action;
      label = subject + ": " + shortValue(before) + " -> " + shortValue(after);
    }
    var chars = Array.from(label);
    return !style.label_max_chars || chars.length <= style.label_max_chars ? label : chars.slice(0, style.label_max_chars - 1).join("") + "…";
  }

  function scalingLabel(change) {  // as metrics_app/figures.py scaling_label
    var label = "replicas " + shortValue(change.previous) + " -> " + shortValue(change.replicas) + " by " + (change.by || "?");
    var readings = (change.metrics || []).map(function (metric) {
      return metric.name + " " + shortValue(metric.current) + "/" + shortValue(metric.target) + (metric.unit ? " " + metric.unit : "");
    });
    return readings.length ? label + " (" + readings.join(", ") + ")" : label;
  }

  function timelineLabel(entry) {  // as metrics_app/figures.py timeline_label
    if (entry.type === "failover") return "failover to " + (entry.server || "?");
    if (entry.type === "fault_cleared") return (entry.kind || "fault") + " ended by " + (entry.by || "?");
    return scalingLabel(entry);
  }

  function band(x0, x1, style) {
    var outline = { width: 0 };
    if (x1 === null || x1 === undefined || x1 <= x0) {
      x1 = x0 + style.min_width_s;
      outline = { width: 1, color: style.fillcolor };  // an instant stays visible on a long run
    }
    return {
      type: "rect", xref: "x", yref: "paper", x0: xOf(x0), x1: xOf(x1), y0: 0, y1: 1,
      fillcolor: style.fillcolor, opacity: style.opacity, line: outline, layer: "below"
    };
  }

  function marksFor(spec) {
    var shapes = [];
    var annotations = [];
    var lastDrawnT = ts.length ? ts[ts.length - 1] : null;
    var threshold = spec.threshold;
    if (threshold) {
      shapes.push({
        type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: threshold.value, y1: threshold.value,
        line: { color: threshold.color, width: 1.5, dash: "dash" }
      });
      annotations.push({
        xref: "paper", yref: "y", x: 1, y: threshold.value, xanchor: "right", yanchor: "bottom", showarrow: false,
        text: "threshold " + shortValue(threshold.value) + " %", font: { size: 10, color: threshold.color }
      });
    }
    if (spec.alerts) {
      alerts.forEach(function (alert) {
        if (alert.kind && alert.kind !== "balance") return;  // a pod's error or latency alert: listed, not shaded
        var end = alert.end_t;
        shapes.push(band(alert.start_t, end !== null && end !== undefined ? end : lastDrawnT, spec.alerts));
      });
    }
    var marks = spec.marks;
    if (marks) {
      (events.chaos || []).forEach(function (injection) {
        if (injection.started_at_s === null || injection.started_at_s === undefined) return;
        shapes.push(band(injection.started_at_s, injection.ended_at_s, marks.chaos));
        annotations.push({
          xref: "x", yref: "paper", x: xOf(injection.started_at_s), y: 1, xanchor: "left", yanchor: "top", showarrow: false,
          text: plotlyText(injection.target ? injection.kind + " " + injection.target : injection.kind),
          font: { size: 10, color: marks.chaos.label_color }
        });
      });
      (events.tuning || []).forEach(function (decision) {
        var at = xOf(decision.t);
        shapes.push({
          type: "line", xref: "x", yref: "paper", x0: at, x1: at, y0: 0, y1: 1,
          line: { color: marks.tuning.color, width: 1.5, dash: "dot" }
        });
        annotations.push({
          xref: "x", yref: "paper", x: at, y: 0, xanchor: "left", yanchor: "bottom", showarrow: false,
          text: tuningLabel(decision, marks.tuning), hovertext: String(decision.reason || ""),
          font: { size: 10, color: marks.tuning.color }
        });
      });
      (events.timeline || []).forEach(function (entry) {
        var style = Object.prototype.hasOwnProperty.call(marks.timeline, entry.type) ? marks.timeline[entry.type] : null;
        // a kind the charts do not mark, or before the load's clock was known
        if (style === null || entry.t === null || entry.t === undefined) return;
        var at = xOf(entry.t);
        shapes.push({
          type: "line", xref: "x", yref: "paper", x0: at, x1: at, y0: 0, y1: 1,
          line: { color: style.color, width: 1.5, dash: "dash" }
        });
        annotations.push({
          xref: "x", yref: "paper", x: at, y: 0.5, xanchor: "left", yanchor: "middle", showarrow: false,
          text: plotlyText(timelineLabel(entry)), font: { size: 10, color: style.color }
        });
      });
    }
    return { shapes: shapes, annotations: annotations };
  }

  // ---- charts ----

  function indices(count) {
    var list = [];
    for (var i = 0; i < count; i += 1) list.push(i);
    return list;
  }

  function barTrace(spec, totals) {
    var palette = spec.palette;
    return {
      type: "bar", name: spec.y_title, x: pods.map(plotlyText),
      y: pods.map(function (pod) { return (totals[pod] || 0) * spec.scale; }),
      marker: { color: pods.map(function (pod, index) { return palette[index % palette.length]; }) }
    };
  }

  function createChart(spec) {
    var element = document.getElementById("chart-" + spec.id);
    if (!element) return null;
    var chart = { spec: spec, element: element, podTraces: 0, totals: {} };
    var layout = JSON.parse(JSON.stringify(spec.layout));
    var marks = marksFor(spec);
    layout.shapes = marks.shapes;
    layout.annotations = marks.annotations;
    var data = [];
    if (spec.kind === "time") {
      data = spec.series.map(function (series) { return line(series.name, series.color, [], []); });
    } else if (spec.kind === "pod_bar") {
      data = [barTrace(spec, chart.totals)];
    }
    chart.ready = Plotly.newPlot(element, data, layout, config);
    return chart;
  }

  function drawSamples(chart, batch, tsBefore) {
    var spec = chart.spec;
    var xs = batch.map(function (sample) { return xOf(sample.t); });
    if (spec.kind === "time") {
      Plotly.extendTraces(chart.element, {
        x: spec.series.map(function () { return xs.slice(); }),
        y: spec.series.map(function (series) {
          return batch.map(function (sample) { return number(sample[series.field]); });
        })
      }, indices(spec.series.length));
    } else if (spec.kind === "time_per_pod") {
      if (pods.length > chart.podTraces) {
        // A pod that appears later gets a trace over every earlier t, as gaps.
        Plotly.addTraces(chart.element, pods.slice(chart.podTraces).map(function (pod, offset) {
          var color = spec.palette[(chart.podTraces + offset) % spec.palette.length];
          return line(plotlyText(pod), color, tsBefore.map(xOf), tsBefore.map(function () { return null; }));
        }));
        chart.podTraces = pods.length;
      }
      if (!pods.length) return;
      Plotly.extendTraces(chart.element, {
        x: pods.map(function () { return xs.slice(); }),
        y: pods.map(function (pod) {
          return batch.map(function (sample) { return scaled(podValue(sample, pod, spec.pod_field), spec.scale); });
        })
      }, indices(pods.length));
    } else if (spec.kind === "pod_bar") {
      batch.forEach(function (sample) {
        Object.keys(sample.pods || {}).forEach(function (pod) {
          chart.totals[pod] = (chart.totals[pod] || 0) + (number(podValue(sample, pod, spec.pod_field)) || 0);
        });
      });
      var bar = barTrace(spec, chart.totals);
      Plotly.restyle(chart.element, { x: [bar.x], y: [bar.y], "marker.color": [bar.marker.color] }, [0]);
    }
  }

  function hasOpenAlert() {
    var open = false;
    alerts.forEach(function (alert) { if (alert.end_t === null || alert.end_t === undefined) open = true; });
    return open;
  }

  function redraw() {
    frameRequested = false;
    var batch = pending;
    pending = [];
    if (batch.length) {
      var tsBefore = ts.slice();
      batch.forEach(function (sample) {
        ts.push(sample.t);
        totals.requests += number(sample.requests) || 0;
        totals.failures += number(sample.failures) || 0;
        Object.keys(sample.pods || {}).filter(function (pod) { return pods.indexOf(pod) < 0; }).sort()
          .forEach(function (pod) { pods.push(pod); });
      });
      latest = batch[batch.length - 1];
      charts.forEach(function (chart) { drawSamples(chart, batch, tsBefore); });
      renderNumbers();
      if (hasOpenAlert() && !marksDirty) marksDirty = "alerts";  // an open alert's span reaches the last t
    }
    if (marksDirty) {
      var which = marksDirty;
      marksDirty = null;
      charts.forEach(function (chart) {
        if (which === "alerts" ? !chart.spec.alerts : !chart.spec.marks && !chart.spec.threshold && !chart.spec.alerts) return;
        var marks = marksFor(chart.spec);
        Plotly.relayout(chart.element, { shapes: marks.shapes, annotations: marks.annotations });
      });
    }
    root.dataset.samples = String(ts.length);
  }

  function scheduleRedraw() {
    if (frameRequested) return;
    frameRequested = true;
    window.requestAnimationFrame(redraw);
  }

  // The run's start became known: time charts switch to clock time, what is drawn included.
  function startClock(startedAt) {
    // "2025-03-04T13:30:15.250+01:00": the wall-clock part read as UTC, as figures.wall_clock_ms does
    clockOrigin = Date.parse(startedAt.slice(0, 23) + "Z");
    charts.forEach(function (chart) {
      var spec = chart.spec;
      if (!spec.clock_xaxis) return;
      var traces = (chart.element.data || []).length;
      var layout = {};
      Object.keys(spec.clock_xaxis).forEach(function (key) { layout["xaxis." + key] = spec.clock_xaxis[key]; });
      if (traces) {
        var xs = indices(traces).map(function () { return ts.map(xOf); });
        Plotly.update(chart.element, { x: xs }, layout, indices(traces));
      } else {
        Plotly.relayout(chart.element, layout);
      }
    });
    marksDirty = "all";
    scheduleRedraw();
  }

  // ---- header, headline numbers, request tables ----

  function setText(id, text) {
    var element = document.getElementById(id);
    if (element) element.textContent = text;
  }

  function formatSpan(seconds) {
    var whole = Math.max(0, Math.round(seconds));
    if (whole < 60) return whole + " s";
    var rest = whole % 60;
    return Math.floor(whole / 60) + " min " + (rest < 10 ? "0" : "") + rest + " s";
  }

  function fixed(value, digits, unit) {
    value = number(value);
    return value === null ? "–" : value.toFixed(digits) + (unit || "");
  }

  function renderNumbers() {
    if (latest) {
      setText("run-elapsed", formatSpan(latest.t));
      setText("headline-rps", fixed(latest.rps, 1));
      setText("headline-p95", fixed(latest.p95_ms, 1, " ms"));
      setText("headline-score", fixed(latest.score, 1, " %"));
      setText("headline-requests", totals.requests.toLocaleString("en-US"));
      setText("headline-errors", totals.requests ? fixed(100 * totals.failures / totals.requests, 2, " %") : "–");
    }
    var remaining = finished || durationS === null || !latest ? null : durationS - latest.t;
    setText("run-remaining", remaining === null ? "–" : formatSpan(remaining));
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;  // names and messages come from the target: text, never HTML
    row.appendChild(td);
  }

  function fillRows(table, rows) {
    var body = table.tBodies[0];
    body.replaceChildren();
    rows.forEach(function (cells) {
      var row = document.createElement("tr");
      cells.forEach(function (text) { cell(row, text); });
      body.appendChild(row);
    });
  }

  function showRequestStats(message) {
    var endpoints = document.getElementById("live-endpoints");
    if (endpoints) {
      fillRows(endpoints, (message.endpoints || []).map(function (row) {
        return [row.endpoint, String(row.requests), String(row.failures), fixed(row.rps, 1), fixed(row.p50_ms, 1),
          fixed(row.p95_ms, 1), fixed(row.p99_ms, 1), fixed(row.max_ms, 1)];
      }));
    }
    var errors = document.getElementById("live-errors");
    var none = document.getElementById("live-no-errors");
    var groups = message.errors || [];
    if (errors) {
      fillRows(errors, groups.map(function (error) {
        return [error.endpoint, error.type, error.status === null || error.status === undefined ? "–" : String(error.status),
          error.message, String(error.count), fixed(error.first_s, 1, " s"), fixed(error.last_s, 1, " s")];
      }));
      errors.hidden = groups.length === 0;
    }
    if (none) none.hidden = groups.length > 0;
    root.dataset.statsT = String(message.t);
  }

  // The run's injections as the report's chaos table shows them (metrics_app/reports.py
  // chaos_rows, format_figure): from the `events` message, each injection's recovery figures
  // filled in as the run measures them (tests_app/live_recovery.py), "–" until then.
  function injectionTitle(injection) {
    var title = "step " + injection.step + ": " + (injection.kind || "fault");
    if (injection.target) title += " on " + injection.target;
    if (injection.severity) title += " (" + injection.severity + ")";
    return title;
  }

  function showInjections() {
    var table = document.getElementById("live-injections");
    if (!table) return;
    var chaos = events.chaos || [];
    fillRows(table, chaos.map(function (injection) {
      var outcome = injection.passed === true ? "passed" : (injection.passed === false ? "failed" : "–");
      var availability = number(injection.availability);
      var failed = number(injection.requests_failed);
      return [injectionTitle(injection), fixed(injection.started_at_s, 1, " s"), fixed(injection.ended_at_s, 1, " s"),
        outcome, fixed(injection.rto_s, 1, " s"), fixed(injection.healing_s, 1, " s"),
        fixed(injection.balance_recovery_s, 1, " s"), availability === null ? "–" : fixed(availability * 100, 2, " %"),
        failed === null ? "–" : String(failed), fixed(injection.p95_during_ms, 1, " ms")];
    }));
    var card = document.getElementById("live-chaos");
    if (card) card.hidden = chaos.length === 0;
  }

  // The tuner's decisions as the report's tuning table shows them (metrics_app/reports.py): from the
  // `events` message, the observed score and the prediction error filled in once each is judged.
  function signedPoints(value) {  // as metrics_app/reports.py signed_points: "+1.2", "-0.8", "0.0"
    if (value === null) return "–";
    var text = (value >= 0 ? "+" : "") + value.toFixed(1);
    return text === "+0.0" || text === "-0.0" ? "0.0" : text;
  }

  function showDecisions() {
    var table = document.getElementById("live-decisions");
    if (!table) return;
    var decisions = events.tuning || [];
    var marked = specs.filter(function (spec) { return spec.marks; })[0];
    var style = { subjects: marked ? marked.marks.tuning.subjects : {} };  // the full label: no length limit
    fillRows(table, decisions.map(function (decision) {
      var error = number(decision.prediction_error);
      return [fixed(decision.t, 1, " s"), String(decision.action || ""), tuningLabel(decision, style),
        String(decision.reason || ""), fixed(decision.score_before, 1), fixed(decision.predicted_score, 1),
        fixed(decision.score_after, 1), signedPoints(error),
        String(decision.outcome || "")];
    }));
    var card = document.getElementById("live-tuning");
    if (card) card.hidden = decisions.length === 0;
  }

  // ---- status, alerts, results ----

  function statusLabel(value) {
    return value ? value.charAt(0).toUpperCase() + value.slice(1) : "";
  }

  function renderStatus() {
    root.dataset.status = status;
    root.dataset.connection = connection;
    var badge = document.getElementById("run-status");
    if (!badge) return;
    badge.textContent = statusLabel(status) + (connection === "reconnecting" ? " (reconnecting…)" : "");
    badge.className = "badge " + status;
  }

  function formatSeconds(t) {
    return (Math.round(t * 10) / 10) + " s";
  }

  function alertText(alert) {
    var text = alert.message || ("Balance score " + shortValue(alert.score) + " % under the threshold from " +
      formatSeconds(alert.start_t));
    if (alert.kind && alert.kind !== "balance") return text;  // a pod's alert says when it closed itself
    if (alert.end_t !== null && alert.end_t !== undefined) {
      text += " (back at or above the threshold at " + formatSeconds(alert.end_t) + ")";
    }
    return text;
  }

  function showAlert(alert) {
    var key = alert.id || String(alert.start_t);  // an alert's opening and closing share its id
    alerts.set(key, alert);
    if (!marksDirty) marksDirty = "alerts";
    scheduleRedraw();
    var list = document.getElementById("alerts");
    if (!list) return;
    var item = alertItems.get(key);
    if (!item) {
      item = document.createElement("li");
      item.dataset.startT = String(alert.start_t);
      item.dataset.kind = alert.kind || "balance";
      list.appendChild(item);
      alertItems.set(key, item);
    }
    item.textContent = alertText(alert);
    item.classList.toggle("closed", alert.end_t !== null && alert.end_t !== undefined);
  }

  function loadResults() {
    var results = document.getElementById("run-results");
    var url = root.dataset.resultsUrl;
    // A page rendered for a finished run already holds its results.
    if (!results || !url || results.children.length) return;
    root.dataset.results = "loading";
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        results.innerHTML = html;  // our own server-rendered (escaped) fragment, not message data
        root.dataset.results = "loaded";
      })
      .catch(function () {
        var note = document.createElement("p");
        note.className = "muted";
        note.textContent = "The results could not be loaded: reload the page to see them.";
        results.replaceChildren(note);
        root.dataset.results = "failed";
      });
  }

  function closeWhenQuiet() {
    if (quietTimer !== null) window.clearTimeout(quietTimer);
    quietTimer = window.setTimeout(function () {
      quietTimer = null;
      if (socket) socket.close(1000, "run finished");
    }, FINISHED_QUIET_MS);
  }

  function showStatus(message) {
    status = message.status;
    if (typeof message.duration_s === "number") durationS = message.duration_s;
    if (message.started_at) {
      setText("run-started", message.started_at.slice(0, 10) + " " + message.started_at.slice(11, 19));
      if (clockOrigin === null) startClock(message.started_at);
    }
    renderStatus();
    if (message.finished && !finished) {
      finished = true;
      var stopForm = document.getElementById("stop-form");
      if (stopForm) stopForm.hidden = true;
      var live = document.getElementById("live-requests");
      if (live) live.hidden = true;  // the results hold the run's final tables
      loadResults();
    }
    renderNumbers();
  }

  // ---- the socket ----

  function handle(message) {
    if (message.type === "sample") {
      if (typeof message.t !== "number" || (lastT !== null && message.t <= lastT)) return;  // each t once
      lastT = message.t;
      pending.push(message);
      scheduleRedraw();
    } else if (message.type === "status") {
      showStatus(message);
    } else if (message.type === "events") {
      events = { chaos: message.chaos || [], tuning: message.tuning || [], timeline: message.timeline || [] };
      showInjections();
      showDecisions();
      marksDirty = "all";
      scheduleRedraw();
    } else if (message.type === "alert") {
      showAlert(message);
    } else if (message.type === "request_stats") {
      showRequestStats(message);
    }
  }

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var since = lastT === null ? "" : "?since=" + encodeURIComponent(String(lastT));
    return scheme + "//" + window.location.host + root.dataset.wsPath + since;
  }

  function connect() {
    reconnectTimer = null;
    var current = new WebSocket(socketUrl());
    socket = current;
    current.onopen = function () {
      if (socket !== current) return;
      connection = "open";
      renderStatus();
    };
    current.onmessage = function (event) {
      if (socket !== current) return;
      reconnectDelay = RECONNECT_FIRST_MS;  // a socket that delivers is healthy again
      handle(JSON.parse(event.data));
      if (finished) closeWhenQuiet();
    };
    current.onclose = function () {
      if (socket !== current) return;
      socket = null;
      if (finished || leaving) {
        connection = "closed";
      } else {
        connection = "reconnecting";
        reconnectTimer = window.setTimeout(connect, reconnectDelay);
        reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
      }
      renderStatus();
    };
  }

  window.addEventListener("pagehide", function () {
    leaving = true;
    if (reconnectTimer !== null) window.clearTimeout(reconnectTimer);
    if (socket) socket.close(1000, "page closed");
  });
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    leaving = false;  // back from the back/forward cache: pick up where the page left off
    if (!finished && !socket) connect();
  });

  charts = specs.map(createChart).filter(function (chart) { return chart !== null; });
  Promise.all(charts.map(function (chart) { return chart.ready; })).then(function () {
    var timed = charts.filter(function (chart) { return chart.spec.clock_xaxis; });
    window.lblabLinkZoom(timed.map(function (chart) { return chart.element; }));
    renderStatus();
    connect();
  });
})();
