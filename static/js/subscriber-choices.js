/* The subscribe form and the preferences page, helped a little (everything works
   without this):
   - the time zone list starts at the browser's own zone on the subscribe form (without
     script it starts at the site's zone);
   - ticking a feature chooses "Only the features I use". */
(function () {
  "use strict";

  function preselectBrowserZone() {
    var select = document.querySelector("select[data-zone-from-browser]");
    if (!select || typeof Intl === "undefined" || !Intl.DateTimeFormat) { return; }
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return;
    }
    for (var i = 0; zone && i < select.options.length; i++) {
      if (select.options[i].value === zone) {
        select.selectedIndex = i;
        return;
      }
    }
  }

  function tickingChoosesSome() {
    var some = document.getElementById("scope-some");
    var boxes = document.querySelectorAll(".components-choice input[type=checkbox]");
    if (!some) { return; }
    for (var i = 0; i < boxes.length; i++) {
      boxes[i].addEventListener("change", function (event) {
        if (event.target.checked) { some.checked = true; }
      });
    }
  }

  function start() {
    preselectBrowserZone();
    tickingChoosesSome();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
