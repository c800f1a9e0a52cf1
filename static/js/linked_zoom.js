// Zoom and pan stay in step across charts that share a time axis, as on a Grafana dashboard:
// a range chosen on one chart (drag to zoom, pan, double-click to reset) is applied to the
// others. Used by the live run page, the report and the compare page.
(function () {
  "use strict";

  // The x-axis change a relayout event made, as an update for the other charts; null if none.
  function xRangeUpdate(event) {
    if (event["xaxis.autorange"]) return { "xaxis.autorange": true };
    if (Object.prototype.hasOwnProperty.call(event, "xaxis.range[0]")) {
      return { "xaxis.range": [event["xaxis.range[0]"], event["xaxis.range[1]"]] };
    }
    if (Array.isArray(event["xaxis.range"])) return { "xaxis.range": event["xaxis.range"].slice() };
    return null;
  }

  // `elements`: plotted charts (Plotly graph divs) whose x axes mean the same time.
  window.lblabLinkZoom = function (elements) {
    var following = false;  // the others are being brought in step: their own events are echoes
    elements.forEach(function (element) {
      element.on("plotly_relayout", function (event) {
        if (following) return;
        var update = xRangeUpdate(event);
        if (!update) return;
        following = true;
        var others = elements.filter(function (other) { return other !== element; });
        Promise.all(others.map(function (other) { return window.Plotly.relayout(other, update); }))
          .finally(function () { following = false; });
      });
    });
  };
})();
