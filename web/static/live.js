// serviceflow live updates (issue 11), our own file (not vendored). The page's region
// <div id="live" data-live> is fetched again, through htmx, when the server-sent events
// of /events say that tasks or escalations changed. No inline script: the CSP forbids it.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="sf-events"]');
  if (!meta || typeof EventSource === "undefined") {
    return;
  }
  var timer = null;
  function refresh() {
    if (timer !== null) {
      return; // a burst of changes makes one fetch
    }
    timer = setTimeout(function () {
      timer = null;
      var region = document.getElementById("live");
      if (!region || !region.hasAttribute("data-live") || !window.htmx) {
        return;
      }
      window.htmx.ajax("GET", window.location.pathname + window.location.search,
        { target: "#live", select: "#live", swap: "outerHTML" });
    }, 150);
  }
  var opened = false;
  var source = new EventSource(meta.getAttribute("content"));
  source.addEventListener("change", refresh);
  source.addEventListener("open", function () {
    if (opened) {
      refresh(); // reconnected: changes may have happened meanwhile
    }
    opened = true;
  });
})();
