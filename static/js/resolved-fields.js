// The update form: a Resolved update does not repeat what the open incident said. The
// Impact and Workaround start from the last update's (data-carried); choosing Resolved
// empties each one still as it was carried, choosing another status puts back what this
// script emptied. Without this script the domain drops an Impact or a Workaround that a
// Resolved update carries over unchanged.
(function () {
  "use strict";
  function text(value) { return (value || "").replace(/\r\n?/g, "\n"); }
  document.addEventListener("DOMContentLoaded", function () {
    var status = document.querySelector("select[data-resolved-empties]");
    if (!status || !status.form) { return; }
    var fields = status.form.querySelectorAll("textarea[data-carried]");
    function apply() {
      var resolved = status.value === "resolved";
      fields.forEach(function (field) {
        var carried = text(field.getAttribute("data-carried"));
        if (resolved && carried && text(field.value) === carried) {
          field.value = "";
          field.setAttribute("data-emptied", "");
        } else if (!resolved && field.hasAttribute("data-emptied")) {
          if (!field.value) { field.value = carried; }
          field.removeAttribute("data-emptied");
        }
      });
    }
    status.addEventListener("change", apply);
    apply();  // a form shown again (the back button, an error) with Resolved chosen
  });
})();
