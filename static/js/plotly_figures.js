// Draws figures built on the server (metrics_app/figures.py): every element
// data-plotly-figure="<id>" gets the figure of <script id="<id>" type="application/json">,
// a json_script payload {"figure": {"data": [...], "layout": {...}}, "config": {...}}.
// The figures with a time axis (all but bar charts) zoom together (linked_zoom.js).
(function () {
  "use strict";
  if (typeof window.Plotly === "undefined") return;
  var drawn = [];
  document.querySelectorAll("[data-plotly-figure]").forEach(function (element) {
    var source = document.getElementById(element.getAttribute("data-plotly-figure"));
    if (!source) return;
    var payload = JSON.parse(source.textContent);
    var figure = payload.figure || { data: [], layout: {} };
    var timed = !(figure.data || []).some(function (trace) { return trace.type === "bar"; });
    drawn.push(window.Plotly.newPlot(element, figure.data || [], figure.layout || {}, payload.config || {}).then(function () {
      element.dataset.plotted = "true";
      return timed ? element : null;
    }));
  });
  Promise.all(drawn).then(function (elements) {
    window.lblabLinkZoom(elements.filter(function (element) { return element !== null; }));
  });
})();
