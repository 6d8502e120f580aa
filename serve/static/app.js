// Every page: a submitted form's buttons are disabled at once, so a second
// click does not send the form again. (The server applies a plan once
// however many times it is posted; this spares the wait.)
(function () {
  "use strict";
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset.submitted === "true") { e.preventDefault(); return; }
    form.dataset.submitted = "true";
    form.setAttribute("aria-busy", "true");
    setTimeout(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button[type=submit], button:not([type])"), function (b) { b.disabled = true; });
    }, 0);
  });
  // Bad input: move focus to the problems so a screen reader reads them.
  var problems = document.querySelector("[role=alert][tabindex='-1']");
  if (problems) problems.focus();
})();
