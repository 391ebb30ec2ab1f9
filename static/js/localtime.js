/* Show every <time datetime="...Z"> in the reader's own time zone, and every data-gap
   window (<span class="time-window" data-from data-until data-told>) too, so that all the
   times of a card are in one zone, with its name.
   The server writes them in SITE_TIMEZONE, named; without script that text stays.
   The server's text is kept in the title, so hovering shows it. */
(function () {
  "use strict";
  if (typeof Intl === "undefined" || !Intl.DateTimeFormat) { return; }

  var FORMATS = {
    datetime: { year: "numeric", month: "short", day: "numeric",
                hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
    date: { year: "numeric", month: "short", day: "numeric" },
    time: { hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
    // The data-gap window's pieces (statuspage/present.py's window_text, in this zone).
    clock: { hour: "2-digit", minute: "2-digit" },
    day: { day: "numeric", month: "long" },
    zone: { timeZoneName: "short" }
  };
  var formatters = {};

  function formatterFor(kind) {
    if (!FORMATS[kind]) { kind = "datetime"; }
    if (!(kind in formatters)) {
      try {
        formatters[kind] = new Intl.DateTimeFormat(undefined, FORMATS[kind]);
      } catch (e) {
        formatters[kind] = null;
      }
    }
    return formatters[kind];
  }

  function zoneName(when) {
    var parts = formatterFor("zone").formatToParts(when);
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].type === "timeZoneName") { return parts[i].value; }
    }
    return "";
  }

  // The calendar day in the reader's zone, comparable as text.
  function dayKey(when) {
    var parts = formatterFor("day").formatToParts(when);
    var found = {};
    for (var i = 0; i < parts.length; i++) { found[parts[i].type] = parts[i].value; }
    return found.month + " " + found.day;
  }

  // "14:05 and 14:50 CET"; "... on 25 November" on another day than the page was written;
  // "25 November 23:30 and 26 November 00:40 CET" across midnight.
  function windowText(first, last, told) {
    var oneZone = zoneName(first) === zoneName(last);
    var clock = formatterFor("clock"), day = formatterFor("day");
    var a = clock.format(first) + (oneZone ? "" : " " + zoneName(first));
    var b = clock.format(last) + " " + zoneName(last);
    if (dayKey(first) !== dayKey(last)) {
      return day.format(first) + " " + a + " and " + day.format(last) + " " + b;
    }
    if (told && dayKey(first) === dayKey(told)) { return a + " and " + b; }
    return a + " and " + b + " on " + day.format(first);
  }

  function localiseWindows(root) {
    var nodes = (root || document).querySelectorAll("span.time-window[data-from]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (el.getAttribute("data-localised") === "1") { continue; }
      var first = new Date(el.getAttribute("data-from"));
      var last = new Date(el.getAttribute("data-until"));
      var told = new Date(el.getAttribute("data-told"));
      if (isNaN(first.getTime()) || isNaN(last.getTime())) { continue; }
      try {
        var text = windowText(first, last, isNaN(told.getTime()) ? null : told);
      } catch (e) {
        continue;
      }
      if (!el.title) { el.title = el.textContent; }
      el.textContent = text;
      el.setAttribute("data-localised", "1");
    }
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
    localiseWindows(root);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localise(document); });
  } else {
    localise(document);
  }
})();
