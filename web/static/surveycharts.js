// serviceflow survey charts (issue 13), our own file (not vendored). Each element
// <div data-chart="{…}"> of a page (the survey cycle page) becomes a Chartist chart,
// drawn as SVG from the JSON of its attribute: {"type": "bar", "labels": […],
// "series": [[…], …], "options": {…}}. The same figures are in a table beside it, for
// readers without script. No inline script: the CSP forbids it.
(function () {
  "use strict";
  var C = window.Chartist;
  if (!C || !C.Svg || !C.BarChart) {
    return;
  }
  // Chartist sets a few inline styles through the style attribute (the SVG's size, a
  // label's overflow), which the CSP's style-src 'self' refuses. Set them through the
  // CSSOM instead, which the CSP allows.
  var attr = C.Svg.prototype.attr;
  C.Svg.prototype.attr = function (attributes, ns) {
    if (attributes && typeof attributes === "object" && Object.prototype.hasOwnProperty.call(attributes, "style")) {
      var rest = {};
      Object.keys(attributes).forEach(function (k) {
        if (k !== "style") {
          rest[k] = attributes[k];
        }
      });
      if (attributes.style !== undefined) {
        this.getNode().style.cssText = String(attributes.style);
      }
      return attr.call(this, rest, ns);
    }
    return attr.apply(this, arguments);
  };

  function draw(el) {
    if (el.getAttribute("data-drawn") === "true") {
      return;
    }
    var spec;
    try {
      spec = JSON.parse(el.getAttribute("data-chart"));
    } catch (e) {
      return;
    }
    var data = { labels: spec.labels || [], series: spec.series || [] };
    var options = spec.options || {};
    if (options.integers) { // whole numbers on the value axis (counts)
      var axis = options.horizontalBars ? "axisX" : "axisY";
      options[axis] = options[axis] || {};
      options[axis].onlyInteger = true;
      delete options.integers;
    }
    if (options.thinLabels) { // a label every few bars, as many as the width holds
      var step = Math.max(1, Math.ceil(data.labels.length * 48 / Math.max(el.clientWidth, 1)));
      options.axisX = options.axisX || {};
      options.axisX.labelInterpolationFnc = function (v, i) { return i % step === 0 ? v : null; };
      delete options.thinLabels;
    }
    el.setAttribute("data-drawn", "true");
    if (spec.type === "line") {
      new C.LineChart(el, data, options);
    } else {
      new C.BarChart(el, data, options);
    }
  }

  function drawAll(root) {
    if (!root || !root.querySelectorAll) {
      return;
    }
    if (root.hasAttribute && root.hasAttribute("data-chart")) {
      draw(root);
    }
    Array.prototype.forEach.call(root.querySelectorAll("[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
  // Pages reached through htmx (boosted links and forms) swap the body: draw theirs.
  document.addEventListener("htmx:load", function (e) { drawAll(e.target); });
})();
