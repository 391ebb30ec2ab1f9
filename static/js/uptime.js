/* Uptime bars: one tab stop per component (arrow keys, Home and End move between days),
   Escape hides a tooltip, a tap opens or closes one.
   Without this script every bar is focusable and its tooltip still opens on focus. */
(function () {
  "use strict";
  function setUp(list) {
    var bars = list.querySelectorAll(":scope > li");
    if (!bars.length) { return; }
    for (var i = 0; i < bars.length; i++) { bars[i].tabIndex = -1; }
    bars[bars.length - 1].tabIndex = 0;
    function move(from, to) {
      to = Math.max(0, Math.min(bars.length - 1, to));
      bars[from].tabIndex = -1;
      bars[from].classList.remove("open", "dismissed");
      bars[to].tabIndex = 0;
      bars[to].focus();
    }
    list.addEventListener("keydown", function (event) {
      var at = Array.prototype.indexOf.call(bars, event.target);
      if (at < 0) { return; }
      var keys = { ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: bars.length - 1 };
      if (event.key === "Escape") {
        event.target.classList.add("dismissed");
      } else if (event.key in keys) {
        event.preventDefault();
        move(at, keys[event.key]);
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
