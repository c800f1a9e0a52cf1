// Draws figures built on the server (metrics_app/figures.py): every element
// data-plotly-figure="<id>" gets the figure of <script id="<id>" type="application/json">,
// a json_script payload {"figure": {"data": [...], "layout": {...}}, "config": {...}}.
(function () {
  "use strict";
  if (typeof window.Plotly === "undefined") return;
  document.querySelectorAll("[data-plotly-figure]").forEach(function (element) {
    var source = document.getElementById(element.getAttribute("data-plotly-figure"));
    if (!source) return;
    var payload = JSON.parse(source.textContent);
    var figure = payload.figure || { data: [], layout: {} };
    window.Plotly.newPlot(element, figure.data || [], figure.layout || {}, payload.config || {}).then(function () {
      element.dataset.plotted = "true";
    });
  });
})();
