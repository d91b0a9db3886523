// Live refresh: every N seconds (data-refresh on <main id="live">) fetch this page again and swap in its <main>.
// Without JavaScript a <noscript> meta refresh reloads the page instead. Paused while the tab is hidden or the
// operator is typing in a form, so nothing they type is lost.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var every = live ? Number(live.getAttribute("data-refresh")) : 0;
  if (!every || !window.fetch || !window.DOMParser) { return; }
  function busy() {
    var el = document.activeElement;
    return !!el && el.form !== undefined && el.form !== null;
  }
  function tick() {
    if (document.hidden || busy()) { return; }
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (!fresh) { return; }
        var open = {};
        live.querySelectorAll("details[open]").forEach(function (d) { if (d.closest("[id]")) { open[d.closest("[id]").id] = true; } });
        live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
        live.querySelectorAll("details").forEach(function (d) { var o = d.closest("[id]"); if (o && open[o.id]) { d.open = true; } });
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(tick, every * 1000);
})();
