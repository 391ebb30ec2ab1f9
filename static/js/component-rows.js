// Incident forms: each component's "affected" box and its status work together.
// Choosing a status other than Operational ticks "affected"; ticking "affected" while the
// status says "No change" suggests the severity's usual status. Without this script the
// server still counts a component taken down as affected.
(function () {
  "use strict";
  function usualStatus(rows) {
    var form = rows.closest("form");
    var checked = form && form.querySelector("input[name=severity]:checked");
    if (checked && checked.getAttribute("data-usual-status")) {
      return checked.getAttribute("data-usual-status");
    }
    return rows.getAttribute("data-usual-status") || "";
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-component-rows]").forEach(function (rows) {
      rows.querySelectorAll("[data-component-row]").forEach(function (row) {
        var box = row.querySelector("input[data-affected]");
        var select = row.querySelector("select[data-component-status]");
        if (!box || !select) { return; }
        select.addEventListener("change", function () {
          if (select.value && select.value !== "operational") { box.checked = true; }
        });
        box.addEventListener("change", function () {
          var usual = usualStatus(rows);
          if (box.checked && !select.value && usual) { select.value = usual; }
        });
      });
    });
  });
})();
