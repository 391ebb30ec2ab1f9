/* Show every <time datetime="...Z"> in the reader's own time zone.
   The server writes the time in UTC, labelled as such; without script that text stays.
   The original UTC text is kept in the title, so hovering shows it. */
(function () {
  "use strict";
  if (typeof Intl === "undefined" || !Intl.DateTimeFormat) { return; }

  var FORMATS = {
    datetime: { year: "numeric", month: "short", day: "numeric",
                hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
    date: { year: "numeric", month: "short", day: "numeric" },
    time: { hour: "2-digit", minute: "2-digit", timeZoneName: "short" }
  };
  var formatters = {};

  function formatterFor(kind) {
    if (!FORMATS[kind]) { kind = "datetime"; }
    if (!formatters[kind]) {
      try {
        formatters[kind] = new Intl.DateTimeFormat(undefined, FORMATS[kind]);
      } catch (e) {
        formatters[kind] = null;
      }
    }
    return formatters[kind];
  }

  function localise(root) {
    var nodes = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (el.getAttribute("data-localised") === "1") { continue; }
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { continue; }
      var fmt = formatterFor(el.getAttribute("data-format") || "datetime");
      if (!fmt) { continue; }
      if (!el.title) { el.title = el.textContent; }
      el.textContent = fmt.format(when);
      el.setAttribute("data-localised", "1");
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localise(document); });
  } else {
    localise(document);
  }
})();
