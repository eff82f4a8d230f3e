// The UI's only script (the Content-Security-Policy allows no other): a click anywhere on a
// table row with data-href follows it, as its first link would. Everything works without it.
"use strict";
document.addEventListener("click", function (event) {
  var target = event.target;
  if (!(target instanceof Element) || target.closest("a, button, input, select, textarea, summary")) {
    return;
  }
  var row = target.closest("tr[data-href]");
  if (row) {
    window.location.assign(row.getAttribute("data-href"));
  }
});
// Choosing a project in the header's switcher goes there (its Switch button does without
// script).
document.addEventListener("change", function (event) {
  var target = event.target;
  if (target instanceof HTMLSelectElement && target.id === "project-switch" && target.form) {
    target.form.submit();
  }
});
