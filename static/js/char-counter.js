// A live count on limited text fields ("12 of 200 characters"). The browser's maxlength
// would silently cut a longer paste, so with this script the field takes it and the count
// says how much is over; the server refuses it with the same limit.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form input[maxlength], form textarea[maxlength]")
      .forEach(function (field, index) {
        var max = parseInt(field.getAttribute("maxlength"), 10);
        if (!(max > 0) || field.type === "email" || field.type === "hidden") { return; }
        field.removeAttribute("maxlength");
        var count = document.createElement("p");
        count.className = "char-count";
        count.id = (field.id || "field-" + index) + "-count";
        // Read on focus (described by); said aloud only when crossing the limit.
        var alert = document.createElement("span");
        alert.className = "visually-hidden";
        alert.setAttribute("aria-live", "polite");
        var wasOver = false;
        function update() {
          var length = field.value.length;
          var over = length > max;
          count.textContent = length + " of " + max + " characters" +
            (over ? ": " + (length - max) + " too many" : "");
          count.classList.toggle("over", over);
          if (over !== wasOver) {
            alert.textContent = over ? "Over the limit of " + max + " characters." : "";
            wasOver = over;
          }
        }
        field.insertAdjacentElement("afterend", count);
        count.insertAdjacentElement("afterend", alert);
        var described = field.getAttribute("aria-describedby");
        field.setAttribute("aria-describedby", (described ? described + " " : "") + count.id);
        field.addEventListener("input", update);
        update();
      });
  });
})();
