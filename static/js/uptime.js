/* Uptime bars: one tab stop per component (arrow keys, Home and End move between the days
   shown), Escape hides a tooltip, a tap opens or closes one. On a phone only the last
   ``data-phone-days`` days are shown, wider, with a button for all of them (the CSS keeps
   the others hidden on a phone only).
   Without this script every bar is focusable and its tooltip still opens on focus. */
(function () {
  "use strict";
  function shown(bars) {
    return Array.prototype.filter.call(bars, function (bar) {
      return bar.getClientRects().length > 0;
    });
  }
  function addToggle(list, bars) {
    var recent = parseInt(list.getAttribute("data-phone-days"), 10);
    var all = parseInt(list.getAttribute("data-all-days"), 10) || bars.length;
    if (!recent || recent >= bars.length) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "bars-toggle";
    if (list.id) { button.setAttribute("aria-controls", list.id); }
    function show(everything) {
      list.classList.toggle("recent", !everything);
      // The tab stop stays on a day that is shown (today, when its day was hidden).
      for (var i = 0; i < bars.length; i++) {
        if (bars[i].tabIndex === 0 && !shown([bars[i]]).length) {
          bars[i].tabIndex = -1;
          bars[bars.length - 1].tabIndex = 0;
        }
      }
      button.setAttribute("aria-expanded", everything ? "true" : "false");
      button.textContent = everything ? "Show the last " + recent + " days"
                                      : "Show all " + all + " days";
    }
    button.addEventListener("click", function () {
      show(list.classList.contains("recent"));
    });
    show(false);
    list.parentNode.insertBefore(button, list.nextSibling);
  }
  function setUp(list) {
    var bars = list.querySelectorAll(":scope > li");
    if (!bars.length) { return; }
    for (var i = 0; i < bars.length; i++) { bars[i].tabIndex = -1; }
    bars[bars.length - 1].tabIndex = 0;
    addToggle(list, bars);
    function move(from, to) {
      var visible = shown(bars);
      var at = visible.indexOf(from);
      to = visible[Math.max(0, Math.min(visible.length - 1, to(at, visible.length)))];
      if (!to) { return; }
      from.tabIndex = -1;
      from.classList.remove("open", "dismissed");
      to.tabIndex = 0;
      to.focus();
    }
    list.addEventListener("keydown", function (event) {
      var bar = event.target;
      if (Array.prototype.indexOf.call(bars, bar) < 0) { return; }
      var keys = {
        ArrowLeft: function (at) { return at - 1; },
        ArrowRight: function (at) { return at + 1; },
        Home: function () { return 0; },
        End: function (at, count) { return count - 1; }
      };
      if (event.key === "Escape") {
        bar.classList.add("dismissed");
      } else if (event.key in keys) {
        event.preventDefault();
        move(bar, keys[event.key]);
      }
    });
    list.addEventListener("click", function (event) {
      if (event.target.closest("a")) { return; }
      var bar = event.target.closest("li");
      var at = Array.prototype.indexOf.call(bars, bar);
      if (at < 0) { return; }
      var wasOpen = bar.classList.contains("open");
      for (var j = 0; j < bars.length; j++) {
        bars[j].classList.remove("open", "dismissed");
        bars[j].tabIndex = j === at ? 0 : -1;
      }
      if (!wasOpen) { bar.classList.add("open"); }
      bar.focus();
    });
    list.addEventListener("focusout", function (event) {
      if (!list.contains(event.relatedTarget)) {
        for (var j = 0; j < bars.length; j++) { bars[j].classList.remove("open", "dismissed"); }
      }
    });
  }
  function start() {
    var lists = document.querySelectorAll("ol.bars");
    for (var i = 0; i < lists.length; i++) { setUp(lists[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
